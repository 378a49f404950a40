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

use super::error::responses::{Internal, Malformed, NotFound, Unauthorized, Unavailable};
use super::error::{ApiError, ErrorBody};
use super::intake::{ID_IN_PATH, path_id};
use super::session::ConsoleSettings;
use super::{consultation_views, json_body};
use crate::domain::{AuditEntry, ConsultationId, ConsultationRequest, DeadlineRequest};
use crate::secretariat::people::People;
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
    /// The Secretariat's people: the console's sign-in and sessions.
    pub people: Arc<People>,
    pub console: Arc<ConsoleSettings>,
}

/// The admin API (the console's pages are `console::router`, served beside it).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/admin/consultations", post(create).get(list))
        .route("/api/admin/consultations/{id}", patch(move_deadline))
        .route("/api/admin/consultations/{id}/audit", get(audit_log))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// The header a script signed in to the console sends with an unsafe request: the session's
/// form token (the console's pages carry it in their forms).
pub const CSRF_TOKEN_HEADER: &str = "x-csrf-token";

/// The token (locally), or a console session: a session names its person in the audit log,
/// and for a request that changes something it must also carry the session's form token in
/// `X-CSRF-Token` and come from this host (`Origin`), as the console's forms do.
async fn authorize(
    State(s): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let in_own_header = header(ADMIN_TOKEN_HEADER).is_some_and(|t| s.token.matches(t));
    if in_own_header || s.token.accepts(header(header::AUTHORIZATION.as_str())) {
        return Ok(next.run(request).await);
    }
    let Some((id, who)) = super::session::session(&s.people, headers).await? else {
        return Err(ApiError::Unauthorized);
    };
    if !request.method().is_safe() {
        let token_ok = header(CSRF_TOKEN_HEADER).is_some_and(|t| id.accepts_form_token(t));
        if !token_ok || !super::session::same_origin(headers) {
            return Err(ApiError::Unauthorized);
        }
    }
    request
        .extensions_mut()
        .insert(Caller(who.account.name.to_string()));
    Ok(next.run(request).await)
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

/// Open a consultation
///
/// Creates a consultation and asks for its pages to be published. Without `deadline`, the
/// deadline follows Resolution 1344: one calendar month before `meeting_date`, at the end of
/// that day in Geneva (`deadline_rule` `resolution-1344`). Without `opens_at`, the
/// consultation opens at once.
///
/// A body that is not JSON, lacks a required member, has a member of the wrong JSON type or an
/// unknown member is `malformed` (400); a body that reads but breaks a rule is `invalid` (422)
/// and names the field.
#[utoipa::path(
    post,
    path = "/api/admin/consultations",
    operation_id = "createConsultation",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    request_body = ConsultationRequest,
    responses(
        (status = 201, description = "Created.", body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The id is taken: choose another.", body = ErrorBody,
            example = json!({"error": {"code": "conflict", "message": "consultation internet-access-2027: choose another id"}})),
        (status = 422, description = "A field breaks a rule; `field` names it (`id`, `title`, \
            `questions`, `questions[i]`, `meeting_date`, `opens_at` or `deadline`).",
            body = ErrorBody, examples(
                ("id" = (value = json!({"error": {"code": "invalid", "message": "must be 3 to 64 characters: lowercase letters a-z, digits and hyphens", "field": "id"}}))),
                ("deadline" = (value = json!({"error": {"code": "invalid", "message": "the deadline 2020-01-01T00:00:00Z has already passed", "field": "deadline"}}))),
            )),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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

/// List all consultations
#[utoipa::path(
    get,
    path = "/api/admin/consultations",
    operation_id = "listConsultationsAdmin",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    responses(
        (status = 200, description = "Every consultation, whatever its status.",
            body = Vec<ConsultationView>),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn list(State(s): State<AdminState>) -> Result<Json<Vec<ConsultationView>>, ApiError> {
    let now = s.secretariat.clock.now();
    consultation_views(s.secretariat.consultations.as_ref(), now).await
}

/// Move the deadline (extension, correction) or reopen a closed consultation
///
/// `PATCH` with `{"deadline"}` or `{"meeting_date"}` (and an optional `reason`): an extension
/// or correction while open, or a reopening once closed. Every change is kept in the
/// append-only audit log and moves the closing schedule; the page lists the deadline history.
#[utoipa::path(
    patch,
    path = "/api/admin/consultations/{id}",
    operation_id = "moveDeadline",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body = DeadlineRequest,
    responses(
        (status = 200, description = "The consultation as it now stands.",
            body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "The new deadline has passed, comes before the opening, or \
            both or neither of `meeting_date` and `deadline` were given.", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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

/// The consultation's append-only audit log, oldest first
#[utoipa::path(
    get,
    path = "/api/admin/consultations/{id}/audit",
    operation_id = "auditLog",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    responses(
        (status = 200, description = "Every change: creation, deadline moves, reopenings, the \
            closing and the dossier.", body = Vec<AuditEntry>),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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
