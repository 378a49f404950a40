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
use utoipa::ToSchema;

use crate::publish::health::{FailingPublication, PublicationHealth};

/// The host's health.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    status: HealthStatus,
    publication: Publication,
}

/// `degraded` while some consultation's publication keeps failing, else `ok`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    Ok,
    Degraded,
}

/// How publication fares.
#[derive(Debug, Serialize, ToSchema)]
struct Publication {
    /// The consultations whose publication keeps failing: since when, why, and when it is
    /// tried again.
    failing: Vec<FailingPublication>,
}

pub fn router(health: Arc<PublicationHealth>) -> Router {
    Router::new()
        .route("/api/health", get(show))
        .with_state(health)
}

/// Whether the host is well (the local host)
///
/// Always 200 while the host answers. `status` is `degraded` while some consultation's
/// publication keeps failing; `publication.failing` says which, since when, why and when it is
/// tried again.
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health",
    tag = "meta",
    responses((status = 200, description = "The host's health.", body = Health))
)]
async fn show(State(health): State<Arc<PublicationHealth>>) -> Json<Health> {
    let failing = health.failing();
    Json(Health {
        status: if failing.is_empty() {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        publication: Publication { failing },
    })
}
