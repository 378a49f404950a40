//! The intake function's router: responses in, and the public read API.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;

use super::error::ApiError;
use super::{PageLanguage, consultation_views, json_body};
use crate::domain::limits::{Budget, Limits, TooLarge};
use crate::domain::{
    Arg, Channel, ConsultationId, IdempotencyKey, Language, ResponseId, SubmitterFields, Text,
};
use crate::intake::spool::{Spool, SpoolError, SpooledFile, spool_bytes};
use crate::intake::uploads::{Grant, Uploads};
use crate::intake::{Intake, IntakeError, Submission, Submitted};
use crate::ports::{Clock, Consultations};
use crate::site::views::ConsultationView;

/// The OpenAPI description of the whole HTTP contract.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Form parts beyond the files, text and five submitter fields are tolerated up to this count.
const MAX_PARTS: usize = 64;
/// After refusing a request, at most this much of its remaining body is read and discarded,
/// so the client sees the error instead of a reset connection.
const DRAIN_BYTES: u64 = 256 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct IntakeState {
    pub intake: Arc<Intake>,
    pub consultations: Arc<dyn Consultations>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// Presigned uploads, taken by a JSON response's `uploads`.
    pub uploads: Arc<Uploads>,
}

pub fn router(state: IntakeState) -> Router {
    Router::new()
        .route("/api/consultations", get(list))
        .route("/api/consultations/{id}", get(show))
        .route(
            "/api/consultations/{id}/responses",
            // Limits are enforced while streaming (see `Budget`), not by buffering the body.
            post(submit).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/consultations/{id}/responses/{response}",
            get(response_status),
        )
        .route("/api/consultations/{id}/uploads", post(grant_upload))
        .route("/api/openapi.json", get(openapi))
        .layer(axum::middleware::from_fn(super::error::localize))
        .with_state(state)
}

/// Where the local host receives presigned uploads (on AWS the client PUTs to S3 instead).
pub fn local_uploads_router(state: IntakeState) -> Router {
    Router::new()
        .route(
            "/api/uploads/{id}/{upload}",
            // The declared size is enforced while streaming.
            axum::routing::put(receive_upload).layer(DefaultBodyLimit::disable()),
        )
        .layer(axum::middleware::from_fn(super::error::localize))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRequest {
    name: String,
    size: u64,
}

async fn grant_upload(
    State(s): State<IntakeState>,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let id = path_id(&raw)?;
    let request: UploadRequest = json_body(&body)?;
    let grant = s
        .uploads
        .grant(&id, &request.name, request.size, s.limits)
        .await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

async fn receive_upload(
    State(s): State<IntakeState>,
    Path((raw, upload)): Path<(String, String)>,
    request: Request,
) -> Response {
    // One file at most: a larger declared body is refused before it is read.
    if declared_over(request.headers(), s.limits.max_file_bytes) {
        let name = upload.clone();
        return ApiError::TooLarge(
            crate::domain::limits::file_too_large(&name, s.limits.max_file_bytes).0,
        )
        .at_once(None);
    }
    let id = match path_id(&raw) {
        Ok(id) => id,
        Err(e) => return refuse(e, request.into_body(), None, None).await,
    };
    let mut body: crate::ports::ByteStream = Box::pin(
        request
            .into_body()
            .into_data_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    );
    match s.uploads.receive(&id, &upload, &mut body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => refuse(ApiError::from(e), Body::from_stream(body), None, Some(&id)).await,
    }
}

/// A consultation id from a path: one that cannot exist is simply not found.
pub fn path_id(raw: &str) -> Result<ConsultationId, ApiError> {
    ConsultationId::parse(raw).map_err(|_| ApiError::no_consultation(raw))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn list(State(s): State<IntakeState>) -> Result<Json<Vec<ConsultationView>>, ApiError> {
    consultation_views(s.consultations.as_ref(), s.clock.now()).await
}

async fn show(
    State(s): State<IntakeState>,
    Path(raw): Path<String>,
) -> Result<Json<ConsultationView>, ApiError> {
    let id = path_id(&raw)?;
    let record = s
        .consultations
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::no_consultation(&id))?;
    Ok(Json(ConsultationView::new(&record, s.clock.now())))
}

async fn submit(
    State(s): State<IntakeState>,
    Path(raw): Path<String>,
    Query(page): Query<PageLanguage>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let channel = channel_of(&headers);
    let html = (channel == Channel::Web).then_some(page.language());
    // A body declared larger than a response may be is refused before a byte of it is read
    // (and not drained: the connection closes after the answer).
    if let Some(refusal) = declared_too_large(&headers, s.limits) {
        return refusal.at_once(html);
    }
    let id = match path_id(&raw) {
        Ok(id) => id,
        Err(e) => return refuse(e, request.into_body(), html, None).await,
    };
    if let Err(e) = s.intake.check_accepting(&id).await {
        return refuse(e.into(), request.into_body(), html, Some(&id)).await;
    }
    // The client's name for this response: sent again, it gets the first receipt.
    let repeatable = match idempotency_key(&headers) {
        Ok(key) => key.map(|key| key.response_id(&id)),
        Err(e) => return refuse(e, request.into_body(), html, Some(&id)).await,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let submission = if content_type.starts_with("multipart/form-data") {
        read_multipart(request, s.limits, channel).await
    } else if content_type.starts_with("application/json") {
        read_json(request, &s, &id, repeatable.as_ref()).await
    } else {
        let e = ApiError::UnsupportedMediaType(Text::key("err_body_type"));
        return refuse(e, request.into_body(), html, Some(&id)).await;
    };
    let result = match submission {
        Ok(submission) => {
            let submission = Submission {
                id: repeatable,
                ..submission
            };
            match s.intake.submit(&id, submission).await {
                // Sent again under its key: the first receipt, again.
                Err(IntakeError::AlreadyStored(stored)) => {
                    Ok(Submitted::Numbered(s.intake.receipt_of(&stored)))
                }
                other => other.map_err(ApiError::from),
            }
        }
        Err(e) => Err(e),
    };
    match (result, html) {
        (Ok(Submitted::Numbered(receipt)), None) => {
            (StatusCode::CREATED, Json(receipt)).into_response()
        }
        (Ok(Submitted::Numbered(receipt)), Some(lang)) => {
            let page = crate::site::pages::receipt_page(lang, &receipt);
            (StatusCode::CREATED, Html(page)).into_response()
        }
        // Stored, its number not yet given: 202, and where to ask for it.
        (Ok(Submitted::Pending(pending)), html) => {
            let location = status_url(&pending.consultation, &pending.id);
            let body = match html {
                None => Json(&pending).into_response(),
                Some(lang) => Html(crate::site::pages::pending_receipt_page(
                    lang,
                    &pending,
                    &format!("{location}?lang={}", lang.code()),
                ))
                .into_response(),
            };
            (StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response()
        }
        (Err(e), None) => e.into_response(),
        (Err(e), Some(lang)) => e.into_html_response_in(lang, Some(&id)),
    }
}

/// The `Idempotency-Key` header, if sent; a 400 if it is not 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::Malformed(Text::with(
                "err_idempotency_key",
                [("max", Arg::plain(IdempotencyKey::MAX_LEN))],
            ))
        })
}

/// Where a pending response's receipt can be asked for.
fn status_url(consultation: &ConsultationId, response: &ResponseId) -> String {
    format!("/api/consultations/{consultation}/responses/{response}")
}

/// `GET /api/consultations/{id}/responses/{response}`: the full receipt once the response is
/// numbered, the pending receipt (`"status": "pending"`) until then; 404 for an id not stored.
async fn response_status(
    State(s): State<IntakeState>,
    Path((raw, response)): Path<(String, String)>,
    Query(page): Query<PageLanguage>,
    headers: HeaderMap,
) -> Response {
    let html = (channel_of(&headers) == Channel::Web).then_some(page.language());
    match status_of(&s, &raw, &response).await {
        Ok(Submitted::Numbered(receipt)) => match html {
            None => Json(receipt).into_response(),
            Some(lang) => Html(crate::site::pages::receipt_page(lang, &receipt)).into_response(),
        },
        Ok(Submitted::Pending(pending)) => match html {
            None => Json(pending).into_response(),
            Some(lang) => {
                let here = format!(
                    "{}?lang={}",
                    status_url(&pending.consultation, &pending.id),
                    lang.code()
                );
                Html(crate::site::pages::pending_receipt_page(
                    lang, &pending, &here,
                ))
                .into_response()
            }
        },
        Err(e) => match html {
            None => e.into_response(),
            Some(lang) => e.into_html_response_in(lang, None),
        },
    }
}

async fn status_of(s: &IntakeState, raw: &str, response: &str) -> Result<Submitted, ApiError> {
    let id = path_id(raw)?;
    let unknown = || {
        ApiError::NotFound(Text::with(
            "err_no_response",
            [("response", Arg::plain(response))],
        ))
    };
    let response_id = ResponseId::parse(response).ok_or_else(unknown)?;
    s.intake
        .status(&id, &response_id)
        .await?
        .ok_or_else(unknown)
}

/// A browser form asks for HTML; a program asks for JSON.
fn channel_of(headers: &HeaderMap) -> Channel {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("text/html") {
        Channel::Web
    } else {
        Channel::Api
    }
}

/// Answers with `error` (as a page in `html`'s language when a browser asked) after reading and
/// discarding (boundedly) what the client still sends.
/// Room for a multipart body's boundaries, part headers and form fields on top of the files.
const MULTIPART_ALLOWANCE: u64 = 1024 * 1024;

/// Whether the request's `Content-Length` says it is larger than `bound`.
fn declared_over(headers: &HeaderMap, bound: u64) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|declared| declared > bound)
}

/// The refusal of a request whose `Content-Length` is over what any response may carry.
fn declared_too_large(headers: &HeaderMap, limits: Limits) -> Option<ApiError> {
    declared_over(headers, limits.max_total_bytes + MULTIPART_ALLOWANCE).then(|| {
        ApiError::TooLarge(Text::with(
            "err_total_too_large",
            [("mb", Arg::plain(limits.max_total_bytes / (1024 * 1024)))],
        ))
    })
}

async fn refuse(
    error: ApiError,
    body: Body,
    html: Option<Language>,
    consultation: Option<&ConsultationId>,
) -> Response {
    let mut stream = body.into_data_stream();
    let mut drained = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            drained += chunk.len() as u64;
            if drained > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
    match html {
        Some(lang) => error.into_html_response_in(lang, consultation),
        None => error.into_response(),
    }
}

fn field_twice(name: &str) -> ApiError {
    ApiError::Malformed(Text::with("err_field_twice", [("field", Arg::field(name))]))
}

fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::Malformed(Text::with("err_multipart", [("detail", Arg::plain(e))]))
}

impl From<SpoolError> for ApiError {
    fn from(e: SpoolError) -> Self {
        match e {
            SpoolError::TooLarge(t) => ApiError::TooLarge(t.0),
            SpoolError::Io(io) => ApiError::Internal(Box::new(io)),
        }
    }
}

async fn read_multipart(
    request: Request,
    limits: Limits,
    channel: Channel,
) -> Result<Submission, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(e.body_text()))?;
    let result = read_parts(&mut multipart, limits, channel).await;
    if result.is_err() {
        drain_multipart(&mut multipart).await;
    }
    result
}

async fn read_parts(
    multipart: &mut Multipart,
    limits: Limits,
    channel: Channel,
) -> Result<Submission, ApiError> {
    let mut budget = Budget::new(limits);
    let mut fields = SubmitterFields::default();
    let mut text: Option<SpooledFile> = None;
    let mut files = Vec::new();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARTS + limits.max_files {
            return Err(ApiError::TooLarge(Text::with(
                "err_too_many_parts",
                [("count", Arg::count(MAX_PARTS))],
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let mut first = field.chunk().await.map_err(malformed)?;
                while first.as_ref().is_some_and(|chunk| chunk.is_empty()) {
                    first = field.chunk().await.map_err(malformed)?;
                }
                // A form's file input left empty sends a part with no name and no bytes
                // (browsers differ on whether that part has an empty chunk).
                if first.is_none() && file_name.is_empty() {
                    continue;
                }
                budget
                    .start_file()
                    .map_err(|e: TooLarge| ApiError::TooLarge(e.0))?;
                let label = if file_name.is_empty() {
                    "a file".to_owned()
                } else {
                    file_name.clone()
                };
                let mut spool = Spool::create(label).map_err(SpoolError::from)?;
                let mut next = first;
                while let Some(chunk) = next {
                    spool.write_within(&chunk, &mut budget).await?;
                    next = field.chunk().await.map_err(malformed)?;
                }
                files.push(spool.finish(file_name).await.map_err(SpoolError::from)?);
            }
            "text" => {
                if text.is_some() {
                    return Err(field_twice("text"));
                }
                let mut spool = Spool::create("the text").map_err(SpoolError::from)?;
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    spool.write_within(&chunk, &mut budget).await?;
                }
                text = Some(
                    spool
                        .finish(String::new())
                        .await
                        .map_err(SpoolError::from)?,
                );
            }
            _ => {
                let value = read_small(&mut field, &name, limits.max_field_bytes).await?;
                let slot = match name.as_str() {
                    "name" => &mut fields.name,
                    "organization" => &mut fields.organization,
                    "email" => &mut fields.email,
                    "category" => &mut fields.category,
                    "country" => &mut fields.country,
                    _ => continue, // e.g. a submit button's name: harmless, ignored
                };
                if slot.is_some() {
                    return Err(field_twice(&name));
                }
                *slot = Some(value);
            }
        }
    }
    Ok(Submission {
        id: None,
        channel,
        fields,
        text,
        files,
    })
}

/// A short form field, read with a bound; it must be UTF-8 text.
async fn read_small(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    max: usize,
) -> Result<String, ApiError> {
    let mut value = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if value.len() + chunk.len() > max {
            return Err(ApiError::TooLarge(Text::with(
                "err_field_too_long",
                [("field", Arg::field(name)), ("count", Arg::count(max))],
            )));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| {
        ApiError::Invalid(crate::domain::ValidationError::text(
            name,
            Text::key("err_not_utf8"),
        ))
    })
}

async fn drain_multipart(multipart: &mut Multipart) {
    let mut drained = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                drained += chunk.len() as u64;
                if drained > DRAIN_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonSubmission {
    name: Option<String>,
    organization: Option<String>,
    email: Option<String>,
    category: Option<String>,
    country: Option<String>,
    text: Option<String>,
    /// Ids of presigned uploads received for this consultation, attached in this order.
    #[serde(default)]
    uploads: Vec<String>,
    /// How the response was sent, as the client says: the site's own form script says `web`,
    /// so the Group's counts by channel see every response made on the site as one.
    #[serde(default)]
    channel: JsonChannel,
}

/// The channels a JSON submission may declare (email is never sent as JSON).
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum JsonChannel {
    Web,
    #[default]
    Api,
}

async fn read_json(
    request: Request,
    s: &IntakeState,
    consultation: &ConsultationId,
    repeatable: Option<&ResponseId>,
) -> Result<Submission, ApiError> {
    let limits = s.limits;
    let max = usize::try_from(limits.max_file_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let bytes = axum::body::to_bytes(request.into_body(), max)
        .await
        .map_err(|_| {
            ApiError::TooLarge(Text::with(
                "err_json_too_large",
                [("mb", Arg::plain(limits.max_file_bytes / (1024 * 1024)))],
            ))
        })?;
    let body: JsonSubmission = json_body(&bytes)?;
    let mut budget = Budget::new(limits);
    let text = match body.text {
        Some(t) => Some(spool_bytes("the text", t.as_bytes(), &mut budget).await?),
        None => None,
    };
    let fields = SubmitterFields {
        name: body.name,
        organization: body.organization,
        email: body.email,
        category: body.category,
        country: body.country,
    };
    let files = s
        .uploads
        .take(consultation, &body.uploads, &mut budget, repeatable)
        .await?;
    if !body.uploads.is_empty() {
        // A response that would be refused for its fields must not use up its uploads.
        fields.clone().parse()?;
        s.uploads
            .claim(consultation, &body.uploads, repeatable)
            .await?;
    }
    Ok(Submission {
        id: None,
        channel: match body.channel {
            JsonChannel::Web => Channel::Web,
            JsonChannel::Api => Channel::Api,
        },
        fields,
        text,
        files,
    })
}
