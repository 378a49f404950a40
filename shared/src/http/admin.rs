//! The admin function's router: the Secretariat opens consultations. Separate from intake so
//! each Lambda gets only the permissions it needs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::intake::path_id;
use super::{consultation_views, json_body};
use crate::domain::AuditEntry;
use crate::secretariat::{AdminError, Secretariat};
use crate::site::views::ConsultationView;

/// The Secretariat's bearer token. Compared in constant time.
pub struct AdminToken(String);

/// Carries the admin token where `Authorization` is taken by an AWS SigV4 signature (on AWS
/// the admin routes need both: IAM auth at API Gateway, then this token).
pub const ADMIN_TOKEN_HEADER: &str = "x-verbatim-admin-token";

impl AdminToken {
    /// Refuses tokens too short to resist guessing.
    pub fn new(token: impl Into<String>) -> Result<Self, String> {
        let token = token.into();
        if token.len() < 16 {
            return Err("the admin token must be at least 16 characters".into());
        }
        Ok(Self(token))
    }

    /// A fresh random token (256 bits, hex).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(hex::encode(bytes))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }

    fn accepts(&self, header: Option<&str>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        self.matches(given)
    }

    fn matches(&self, given: &str) -> bool {
        given.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// Who sent an admin request, as the deployment knows them, put in the request's extensions
/// by the host (on AWS: the admin function, from the IAM principal API Gateway checked); it
/// goes into the audit log. The local host's token is shared, so it names no one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

#[derive(Clone)]
pub struct AdminState {
    pub secretariat: Arc<Secretariat>,
    pub token: Arc<AdminToken>,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/admin/consultations", post(create).get(list))
        .route("/api/admin/consultations/{id}", patch(move_deadline))
        .route("/api/admin/consultations/{id}/audit", get(audit_log))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

async fn authorize(
    State(s): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let in_own_header = header(ADMIN_TOKEN_HEADER).is_some_and(|t| s.token.matches(t));
    if in_own_header || s.token.accepts(header(header::AUTHORIZATION.as_str())) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound(id) => Self::no_consultation(id),
            AdminError::Invalid(v) => Self::Invalid(v),
            AdminError::Store(s) => s.into(),
        }
    }
}

async fn create(
    State(s): State<AdminState>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Result<(StatusCode, Json<ConsultationView>), ApiError> {
    let by = caller.map(|Extension(Caller(who))| who);
    let record = s.secretariat.open(json_body(&body)?, by).await?;
    let now = s.secretariat.clock.now();
    Ok((
        StatusCode::CREATED,
        Json(ConsultationView::new(&record, now)),
    ))
}

async fn list(State(s): State<AdminState>) -> Result<Json<Vec<ConsultationView>>, ApiError> {
    let now = s.secretariat.clock.now();
    consultation_views(s.secretariat.consultations.as_ref(), now).await
}

/// `PATCH` with `{"deadline"}` or `{"meeting_date"}` (and an optional `reason`): an extension
/// or correction while open, or a reopening once closed.
async fn move_deadline(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Result<Json<ConsultationView>, ApiError> {
    let id = path_id(&raw)?;
    let by = caller.map(|Extension(Caller(who))| who);
    let record = s
        .secretariat
        .move_deadline(&id, json_body(&body)?, by)
        .await?;
    Ok(Json(ConsultationView::new(
        &record,
        s.secretariat.clock.now(),
    )))
}

async fn audit_log(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let id = path_id(&raw)?;
    Ok(Json(s.secretariat.audit_log(&id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let token = AdminToken::new("0123456789abcdef").unwrap();
        assert!(token.accepts(Some("Bearer 0123456789abcdef")));
        assert!(!token.accepts(Some("Bearer 0123456789abcdeX")));
        assert!(!token.accepts(Some("0123456789abcdef")));
        assert!(!token.accepts(None));
        assert!(AdminToken::new("short").is_err());
        assert_eq!(AdminToken::generate().reveal().len(), 64);
    }
}
