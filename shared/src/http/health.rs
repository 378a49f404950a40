//! `GET /api/health`: whether the host is well, for operators and their monitors.
//!
//! Always 200 while the host answers (intake works even when publication does not, so a load
//! balancer must not take the host out for it); `status` is `degraded` while some
//! consultation's publication keeps failing, and `publication.failing` says which, since when,
//! why, and when it is tried again.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::publish::health::{FailingPublication, PublicationHealth};

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    publication: Publication,
}

#[derive(Debug, Serialize)]
struct Publication {
    failing: Vec<FailingPublication>,
}

pub fn router(health: Arc<PublicationHealth>) -> Router {
    Router::new()
        .route("/api/health", get(show))
        .with_state(health)
}

async fn show(State(health): State<Arc<PublicationHealth>>) -> Json<Health> {
    let failing = health.failing();
    Json(Health {
        status: if failing.is_empty() { "ok" } else { "degraded" },
        publication: Publication { failing },
    })
}
