//! The admin function's router: the Secretariat opens consultations. Separate from intake so
//! each Lambda gets only the permissions it needs.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, put};
use axum::{Extension, Json, Router};
use subtle::ConstantTimeEq;

use super::error::responses::{Internal, Malformed, NotFound, Unauthorized, Unavailable};
use super::error::{ApiError, ErrorBody};
use super::intake::{ID_IN_PATH, path_id};
use super::session::ConsoleSettings;
use super::{consultation_views, json_body};
use crate::domain::Text;
use crate::domain::account::{Account, AccountName, Password, TotpSecret};
use crate::domain::{AuditEntry, ConsultationId, ConsultationRequest, DeadlineRequest};
use crate::secretariat::people::{AccountError, People};
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

pub use super::caller::Caller;

#[derive(Clone)]
pub struct AdminState {
    pub secretariat: Arc<Secretariat>,
    pub token: Arc<AdminToken>,
    /// The Secretariat's people: the console's sign-in and sessions.
    pub people: Arc<People>,
    pub console: Arc<ConsoleSettings>,
}

/// The use cases' entry point, for routes written outside this module (`outcome`).
impl axum::extract::FromRef<AdminState> for Arc<Secretariat> {
    fn from_ref(state: &AdminState) -> Self {
        state.secretariat.clone()
    }
}

/// The admin API (the console's pages are `console::router`, served beside it).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/admin/consultations", post(create).get(list))
        .route("/api/admin/consultations/{id}", patch(move_deadline))
        .route("/api/admin/consultations/{id}/audit", get(audit_log))
        .merge(super::outcome::routes())
        .merge(super::documents::routes())
        .merge(super::kept::routes())
        .route("/api/admin/users", get(list_users).post(add_user))
        .route("/api/admin/users/{name}", delete(remove_user))
        .route("/api/admin/users/{name}/password", put(reset_password))
        .route("/api/admin/users/{name}/totp", put(set_totp))
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
        if !token_ok || !super::session::same_origin(&s.console, headers) {
            return Err(ApiError::Unauthorized);
        }
    }
    request
        .extensions_mut()
        .insert(Caller(who.account.name.to_string()));
    request.extensions_mut().insert(SessionAccount(who.account));
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

/// The account of a request authorized by a console session (absent with the token, which may
/// do everything).
#[derive(Debug, Clone)]
pub struct SessionAccount(pub Account);

/// Managing accounts: the token, or an administrator's session.
fn may_manage(session: &Option<Extension<SessionAccount>>) -> Result<(), ApiError> {
    match session {
        Some(Extension(SessionAccount(account))) if !account.admin => Err(ApiError::Unauthorized),
        _ => Ok(()),
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Taken(name) => Self::Conflict(Text::english(format!(
                "account {name}: choose another name"
            ))),
            AccountError::NoSuchAccount(name) => {
                Self::NotFound(Text::english(format!("there is no account {name}")))
            }
            AccountError::Invalid(v) => Self::Invalid(v),
            AccountError::Store(s) => s.into(),
        }
    }
}

fn account_name(raw: &str) -> Result<AccountName, ApiError> {
    AccountName::parse(raw)
        .map_err(|_| ApiError::NotFound(Text::english(format!("there is no account {raw}"))))
}

/// An account as the API shows it: never its password hash nor its TOTP secret.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccountView {
    /// 2 to 64 characters: lowercase letters, digits, `.`, `-`, `_`, starting with a letter.
    #[schema(example = "ada.lovelace")]
    pub name: String,
    /// May manage accounts.
    pub admin: bool,
    /// Signs in with a TOTP code too.
    pub totp: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            name: a.name.to_string(),
            admin: a.admin,
            totp: a.totp.is_some(),
            created_at: a.created_at,
        }
    }
}

/// A new account.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 2 to 64 characters: lowercase letters a-z, digits, `.`, `-` and `_`, starting with a
    /// letter.
    #[schema(example = "ada.lovelace", pattern = "^[a-z][a-z0-9._-]{1,63}$")]
    pub name: String,
    /// At least 12 characters and at most 1,024 bytes.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

/// A new password.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// At least 12 characters and at most 1,024 bytes.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// A second factor to set up: the secret (base32) and the code an app shows for it now.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTotp {
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The six digits the app shows now for `secret` (a step early or late is accepted).
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// The Secretariat's accounts
#[utoipa::path(
    get,
    path = "/api/admin/users",
    operation_id = "listUsers",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    responses(
        (status = 200, description = "Every account, by name.", body = Vec<AccountView>),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn list_users(
    State(s): State<AdminState>,
    session: Option<Extension<SessionAccount>>,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    may_manage(&session)?;
    Ok(Json(
        s.people
            .list()
            .await?
            .iter()
            .map(AccountView::from)
            .collect(),
    ))
}

/// Add a person's account
///
/// With a console session, only an administrator may.
#[utoipa::path(
    post,
    path = "/api/admin/users",
    operation_id = "addUser",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "Added.", body = AccountView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The name is taken.", body = ErrorBody),
        (status = 422, description = "The name or password breaks a rule (`field`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn add_user(
    State(s): State<AdminState>,
    session: Option<Extension<SessionAccount>>,
    body: Bytes,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    may_manage(&session)?;
    let new: NewAccount = json_body(&body)?;
    let name = AccountName::parse(new.name)?;
    let password = Password::parse(new.password)?;
    let account = s.people.add(name, password, new.admin).await?;
    Ok((StatusCode::CREATED, Json(AccountView::from(&account))))
}

/// Remove an account; its sessions end
#[utoipa::path(
    delete,
    path = "/api/admin/users/{name}",
    operation_id = "removeUser",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("name" = String, Path, description = "The account's name.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn remove_user(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    session: Option<Extension<SessionAccount>>,
) -> Result<StatusCode, ApiError> {
    may_manage(&session)?;
    s.people.remove(&account_name(&raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give an account a new password; its sessions end
///
/// An administrator (or the token) for any account; anyone signed in for their own.
#[utoipa::path(
    put,
    path = "/api/admin/users/{name}/password",
    operation_id = "resetPassword",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("name" = String, Path, description = "The account's name.")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Changed."),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "The password is too short or too long.", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn reset_password(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    session: Option<Extension<SessionAccount>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let name = account_name(&raw)?;
    if !is_self(&session, &name) {
        may_manage(&session)?;
    }
    let new: NewPassword = json_body(&body)?;
    s.people
        .reset_password(&name, Password::parse(new.password)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn is_self(session: &Option<Extension<SessionAccount>>, name: &AccountName) -> bool {
    matches!(session, Some(Extension(SessionAccount(a))) if &a.name == name)
}

/// Set up an account's second factor (TOTP)
///
/// The secret (RFC 6238: SHA-1, 6 digits, 30 s) and a code an authenticator app shows for it
/// now, which proves the app has it. Anyone signed in for their own account; the token for any.
#[utoipa::path(
    put,
    path = "/api/admin/users/{name}/totp",
    operation_id = "setTotp",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("name" = String, Path, description = "The account's name.")),
    request_body = NewTotp,
    responses(
        (status = 204, description = "Set up: sign-ins ask for a code from now on."),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "The secret is not base32, or the code is not the one of now (`field`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn set_totp(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    session: Option<Extension<SessionAccount>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let name = account_name(&raw)?;
    if session.is_some() && !is_self(&session, &name) {
        return Err(ApiError::Unauthorized);
    }
    let new: NewTotp = json_body(&body)?;
    let secret = TotpSecret::parse_base32(&new.secret)?;
    s.people.set_totp(&name, secret, &new.code).await?;
    Ok(StatusCode::NO_CONTENT)
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
