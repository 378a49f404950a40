//! `GET /api/admin/consultations/{id}/kept` and `…/kept/{reason}/{name}`: what was kept
//! privately instead of being published (late, early and returned mail, automatic replies,
//! responses set aside after the seal), listed and downloaded as received. Part of the admin
//! router, behind its authorization; the console's page shows the same (`console::kept`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::error::responses::{Internal, NotFound, Unauthorized, Unavailable};
use super::intake::{ID_IN_PATH, path_id};
use crate::domain::kept::KeptList;
use crate::domain::kept::KeptReason;
use crate::domain::{Arg, ConsultationId, Text};
use crate::ports::Object;
use crate::secretariat::Secretariat;

/// How many of each reason a listing gives (the rest: `more`).
pub const KEPT_LISTED: usize = 200;

pub(super) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Secretariat>: FromRef<S>,
{
    Router::new()
        .route("/api/admin/consultations/{id}/kept", get(list))
        .route(
            "/api/admin/consultations/{id}/kept/{reason}/{name}",
            get(download),
        )
}

/// What was kept, not published
///
/// Mail that could not be a response (`late`, `early`, `bounces`, `auto-replies`,
/// `no-sender`) and responses received in time but still unnumbered when the closing was
/// sealed (`after-seal`), at most 200 of each reason (those with more are in `more`). Private:
/// nothing of it is on the site.
#[utoipa::path(
    get,
    path = "/api/admin/consultations/{id}/kept",
    operation_id = "keptList",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    responses(
        (status = 200, description = "What was kept, by reason.", body = KeptList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn list(
    State(secretariat): State<Arc<Secretariat>>,
    Path(raw): Path<String>,
) -> Result<Json<KeptList>, ApiError> {
    let id = path_id(&raw)?;
    Ok(Json(secretariat.kept(&id, KEPT_LISTED).await?))
}

/// One thing kept, as received
///
/// The message (`message/rfc822`) or the response's record (`application/json`), byte for
/// byte, as a download.
#[utoipa::path(
    get,
    path = "/api/admin/consultations/{id}/kept/{reason}/{name}",
    operation_id = "keptFile",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(
        ("id" = ConsultationId, Path, description = ID_IN_PATH),
        ("reason" = KeptReason, Path, description = "Why it was kept."),
        ("name" = String, Path, description = "Its name, as the listing gives it."),
    ),
    responses(
        (status = 200, description = "The bytes as received: `message/rfc822` for mail, \
            `application/json` for a response's record.",
            content((Vec<u8> = "message/rfc822"), (Vec<u8> = "application/json"))),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn download(
    State(secretariat): State<Arc<Secretariat>>,
    Path((raw, reason, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let id = path_id(&raw)?;
    kept_download(&secretariat, &id, &reason, &name).await
}

/// The download of a kept file, for the API and the console: a 404 naming it if there is none.
pub(crate) async fn kept_download(
    secretariat: &Secretariat,
    id: &ConsultationId,
    reason: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let unknown = || {
        ApiError::NotFound(Text::with(
            "err_kept_unknown",
            [("name", Arg::plain(name)), ("reason", Arg::plain(reason))],
        ))
    };
    let reason = KeptReason::parse(reason).ok_or_else(unknown)?;
    let Some(object) = secretariat.kept_file(id, reason, name).await? else {
        return Err(unknown());
    };
    Ok(attachment(object, reason.media_type(), name))
}

fn attachment(object: Object, media_type: &'static str, name: &str) -> Response {
    let mut response = Body::from_stream(object.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    // `name` is plain (letters, digits, `-_.`: see `KeptReason::key`), so it needs no quoting.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
