//! `GET /api/health`: whether the host is well, for operators and their monitors.
//!
//! Always 200 while the host answers (intake works even when publication does not, so a load
//! balancer must not take the host out for it); `status` is `degraded` while some
//! consultation's publication keeps failing (`publication.failing` says which, since when,
//! why, and when it is tried again) or while some closing cannot seal because responses
//! received in time are still pending (`closing.waiting_seal`).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::closing::{ClosingHealth, WaitingSeal};
use crate::publish::health::{FailingPublication, PublicationHealth};

/// The host's health.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    status: HealthStatus,
    publication: Publication,
    closing: Closing,
}

/// `degraded` while some consultation's publication keeps failing or its seal waits, else
/// `ok`.
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

/// How the closings fare.
#[derive(Debug, Serialize, ToSchema)]
struct Closing {
    /// The consultations past their deadline whose seal waits because responses received in
    /// time are still pending (sealing would leave them out of the dossier): how many, since
    /// when, and when it is tried again.
    waiting_seal: Vec<WaitingSeal>,
}

#[derive(Clone)]
struct HealthState {
    publication: Arc<PublicationHealth>,
    closing: Arc<ClosingHealth>,
}

pub fn router(publication: Arc<PublicationHealth>, closing: Arc<ClosingHealth>) -> Router {
    Router::new()
        .route("/api/health", get(show))
        .with_state(HealthState {
            publication,
            closing,
        })
}

/// Whether the host is well (the local host)
///
/// Always 200 while the host answers. `status` is `degraded` while some consultation's
/// publication keeps failing (`publication.failing` says which, since when, why and when it is
/// tried again) or its closing waits to seal for pending responses (`closing.waiting_seal`).
#[utoipa::path(
    get,
    path = "/api/health",
    operation_id = "health",
    tag = "meta",
    responses((status = 200, description = "The host's health.", body = Health))
)]
async fn show(State(health): State<HealthState>) -> Json<Health> {
    let failing = health.publication.failing();
    let waiting_seal = health.closing.waiting();
    Json(Health {
        status: if failing.is_empty() && waiting_seal.is_empty() {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        publication: Publication { failing },
        closing: Closing { waiting_seal },
    })
}
