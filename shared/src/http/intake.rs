//! The intake function's router: responses in, and the public read API.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::error::responses::{Internal, RateLimited, Unavailable};
use super::error::{ApiError, ErrorBody};
use super::{PageLanguage, ReadQuery, consultation_views, json_body};
use crate::domain::MAX_QUESTIONS;
use crate::domain::answer;
use crate::domain::limits::{Budget, Limits, TooLarge};
use crate::domain::{
    Arg, Channel, ConsultationId, IdempotencyKey, Language, PendingReceipt, Receipt, ResponseId,
    SubmitterFields, Text, UploadId,
};
use crate::intake::spool::{Spool, SpoolError, SpooledFile, spool_bytes};
use crate::intake::uploads::{Grant, MAX_NAME_BYTES, Uploads};
use crate::intake::{Intake, IntakeError, Submission, Submitted};
use crate::ports::{Clock, Consultations};
use crate::site::views::ConsultationView;

/// Form parts beyond the files, text and five submitter fields are tolerated up to this count.
pub(crate) const MAX_PARTS: usize = 64;
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

/// What a client asks a presigned upload for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Réponse finale.pdf", "size": 18874368}))]
pub(crate) struct UploadRequest {
    #[schema(schema_with = upload_name_schema)]
    name: String,
    #[schema(schema_with = upload_size_schema)]
    #[serde(deserialize_with = "whole_number")]
    size: u64,
}

/// A count from JSON, which does not tell integers from other numbers: `1048576.0` is the
/// number `1048576` (as JSON Schema's `integer` says), so it is read as such; `1.5` is not.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(d)?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
                .map(|f| f as u64)
        })
        .ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Other(&number.to_string()),
                &"a whole number of bytes",
            )
        })
}

fn upload_name_schema() -> ObjectBuilder {
    use crate::domain::schema::{CONTROL, WHITE_SPACE};
    let any = format!("[^{CONTROL}]*");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_BYTES))
        .pattern(Some(format!("^{any}[^{WHITE_SPACE}{CONTROL}]{any}$")))
        .description(Some(format!(
            "The file's name (not blank, at most {MAX_NAME_BYTES} bytes, no control \
             characters); published sanitized and de-duplicated, as for a multipart file."
        )))
}

fn upload_size_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(Limits::default().max_file_bytes))
        .description(Some(
            "The file's exact size in bytes: the PUT must send exactly this many; at most the \
             limit for one file (else 413).",
        ))
}

/// Get a presigned upload for one large file
///
/// For files too large for one request (API Gateway stops requests at 10 MB): ask for an
/// upload with the file's name and exact size, PUT the bytes to the returned `url` with the
/// returned `headers`, then send the response as JSON naming the upload in `uploads`. Checked
/// here: the consultation exists (404) and accepts responses now (409), the name, and the size
/// against the limit for one file (413). The file's content and the response's total are
/// checked when the response is sent. An upload expires an hour after it is granted.
#[utoipa::path(
    post,
    path = "/api/consultations/{id}/uploads",
    operation_id = "grantUpload",
    tag = "responses",
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body = UploadRequest,
    responses(
        (status = 201, description = "Granted.", body = Grant),
        (status = 400, response = super::error::responses::Malformed),
        (status = 404, response = super::error::responses::NotFound),
        (status = 409, description = "The consultation does not accept responses now \
            (`consultation_closed`, `consultation_not_open`).", body = ErrorBody,
            example = json!({"error": {"code": "consultation_closed", "message": "the consultation closed at 28 February 2027, 23:59 Geneva time (UTC+01:00) (2027-02-28 22:59:59 UTC); responses are no longer accepted"}})),
        (status = 413, description = "The declared size is over the limit for one file.",
            body = ErrorBody,
            example = json!({"error": {"code": "payload_too_large", "message": "big.pdf is larger than 25 MB, the limit for one file"}})),
        (status = 422, description = "The name is blank, too long or has a control character, \
            or the size is 0.", body = ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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

/// Send a presigned upload's bytes (local host only)
///
/// Only on the local host, which is its own upload store; on AWS the grant's `url` points to
/// S3 instead. The body is stored as sent, and must be exactly the declared size. An upload is
/// received once.
#[utoipa::path(
    put,
    path = "/api/uploads/{id}/{upload}",
    operation_id = "receiveUpload",
    tag = "responses",
    params(
        ("id" = ConsultationId, Path, description = ID_IN_PATH),
        ("upload" = UploadId, Path, description = "The upload's id, as granted."),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes, exactly as many as declared."),
    responses(
        (status = 200, description = "Received; name the upload in a response to use it."),
        (status = 404, description = "No such upload was granted for this consultation.",
            body = ErrorBody,
            example = json!({"error": {"code": "not_found", "message": "there is no upload 1764338400-3f2a9c0d4b1e4f5a8c7d6e5f4a3b2c1d for this consultation"}})),
        (status = 409, description = "The upload was received already.", body = ErrorBody),
        (status = 410, description = "The upload expired.", body = ErrorBody),
        (status = 413, description = "More bytes than declared, or a declared length over the \
            limit for one file.", body = ErrorBody),
        (status = 422, description = "Fewer bytes than declared.", body = ErrorBody),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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

/// Said of the `{id}` of every consultation route.
pub(crate) const ID_IN_PATH: &str =
    "The consultation's id. An id that breaks the slug rule names no consultation (404).";

/// Said of `?lang=` wherever it picks a page's language.
pub(crate) const LANG_IN_QUERY: &str = "The language of the page a browser gets, and of a JSON \
    error's message: ar, en, es, fr, ru or zh; anything else reads as English.";

/// List consultations
#[utoipa::path(
    get,
    path = "/api/consultations",
    operation_id = "listConsultations",
    tag = "consultations",
    responses(
        (status = 200, description = "Every consultation, with its status now.",
            body = Vec<ConsultationView>),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn list(State(s): State<IntakeState>) -> Result<Json<Vec<ConsultationView>>, ApiError> {
    consultation_views(s.consultations.as_ref(), s.clock.now()).await
}

/// One consultation
#[utoipa::path(
    get,
    path = "/api/consultations/{id}",
    operation_id = "getConsultation",
    tag = "consultations",
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    responses(
        (status = 200, description = "The consultation, with its status now.",
            body = ConsultationView),
        (status = 404, response = super::error::responses::NotFound),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
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

/// Respond to a consultation
///
/// Sends a response: the submitter's details, and a text, answers to the consultation's
/// questions, files, or any of them together (at least one). The text is published as
/// `response.txt` and the answer to question k as `answer-{k}.txt`, with exactly the bytes
/// received; each file is published under its own (sanitized, de-duplicated) name with
/// exactly the bytes received. The receipt lists every published file with its size and
/// SHA-256.
///
/// Send `multipart/form-data` for files (the site's HTML form does; it works without
/// JavaScript), or `application/json` for a text-only response or one naming presigned
/// uploads. Any other Content-Type is refused with 415.
///
/// Whether the consultation exists (404) and accepts responses now (409) is checked before the
/// body is read. The deadline is checked again, atomically, when the response is stored: the
/// deadline instant itself is on time.
///
/// The answer is a page, with the same status, when the request's `Accept` header includes
/// `text/html` (a browser posting the form); the receipt's `channel` is then `web`, else `api`.
///
/// Limits, enforced while the body streams in (413 `payload_too_large`): at most 20 files;
/// each file, the text and each answer at most 25 MiB (26214400 bytes);
/// 100 MiB (104857600 bytes) in all; each other form field at most 10 KiB;
/// at most 64 form fields besides the files and answers.
///
/// Files are accepted only if their content is of an allowed type, judged by the content's
/// signature and never by the file name or the sender's Content-Type: PDF, DOC, DOCX, ODT,
/// RTF, TXT, HTML, XLSX, ODS, PPTX, ODP, PNG, JPEG, ZIP. Anything else is refused with 415
/// `unsupported_media_type`, naming the file.
#[utoipa::path(
    post,
    path = "/api/consultations/{id}/responses",
    operation_id = "submitResponse",
    tag = "responses",
    params(
        ("id" = ConsultationId, Path, description = ID_IN_PATH),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            pattern = "^[!-~]+$", description = "The client's own \
            name for this response (1 to 255 visible ASCII characters; a UUID, for example). \
            Sent again with the same content (the same submitter fields and files; the \
            multipart boundary may differ), the response gets its first receipt again and is \
            stored once; with other content, 422 `invalid` (field `Idempotency-Key`) and \
            nothing is stored; malformed, 400. A JSON response's presigned uploads used by its \
            first sending are taken again."),
    ),
    request_body(content(
        (ResponseForm = "multipart/form-data"),
        (JsonSubmission = "application/json", example = json!({
            "name": "Ada Lovelace",
            "organization": "Analytical Engine Society",
            "email": "ada@example.org",
            "category": "civil-society",
            "country": "CH",
            "text": "Our answer to the first question is…"
        })),
    )),
    responses(
        (status = 201, description = "Received and stored: the receipt. The response is \
            published shortly after.", content(
            (Receipt = "application/json"),
            (String = "text/html"),
        )),
        (status = 202, description = "Received and stored, its number not given yet (a \
            rush): the pending receipt. `Location` names where the full receipt appears once \
            the response is numbered.",
            headers(("Location" = String,
                description = "`/api/consultations/{id}/responses/{response id}`")),
            content((PendingReceipt = "application/json"), (String = "text/html"))),
        (status = 400, description = "The body cannot be read: broken multipart or JSON, an \
            unknown JSON member, a form field given twice, or a malformed `Idempotency-Key`.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 404, description = "There is no such consultation.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 409, description = "The consultation does not accept responses now: \
            `consultation_not_open` before it opens, `consultation_closed` after its deadline; \
            or a named upload was used by another response (`conflict`).",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 410, description = "A named upload expired before this response used it.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 413, description = "A limit was exceeded (see above).",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 415, description = "The body is neither multipart/form-data nor \
            application/json, or a file's content is not of an allowed type.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 422, description = "A field breaks a rule; `field` names it (`name`, \
            `organization`, `email`, `category`, `country`, `text`, `answer-{k}`, `file` or \
            `uploads`): an answer to a question the consultation does not put, or a multipart \
            part of a name the API does not read, is refused so, naming it. \
            Also: an `Idempotency-Key` used before for a response with other content (field \
            `Idempotency-Key`).",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 429, response = RateLimited),
        (status = 500, description = "Something went wrong on the server; nothing was lost, \
            and the request may be retried.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, response = Unavailable),
    )
)]
async fn submit(
    State(s): State<IntakeState>,
    Path(raw): Path<String>,
    ReadQuery(page): ReadQuery<PageLanguage>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let channel = channel_of(&headers);
    let html = (channel == Channel::Web)
        .then(|| page.as_ref().map_or(Language::En, PageLanguage::language));
    // A body declared larger than a response may be is refused before a byte of it is read
    // (and not drained: the connection closes after the answer).
    if let Some(refusal) = declared_too_large(&headers, s.limits) {
        return refusal.at_once(html);
    }
    if let Err(e) = page {
        return refuse(e, request.into_body(), html, None).await;
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
                // The form's page (`?lang=`), or an API client's choice of it.
                language: page.as_ref().ok().and_then(PageLanguage::given),
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
/// A response's receipt: full once numbered, pending until then
#[utoipa::path(
    get,
    path = "/api/consultations/{id}/responses/{response}",
    operation_id = "getResponse",
    tag = "responses",
    params(
        ("id" = ConsultationId, Path, description = ID_IN_PATH),
        ("response" = ResponseId, Path, description = "The response's id, from its receipt."),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    responses(
        (status = 200, description = "The full receipt (numbered), or the pending receipt \
            (`status: pending`). A browser (`Accept: text/html`) gets the receipt page.",
            content((ReceiptOrPending = "application/json"), (String = "text/html"))),
        (status = 404, description = "No such consultation or response.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 500, description = "Something went wrong on the server.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, response = Unavailable),
    )
)]
async fn response_status(
    State(s): State<IntakeState>,
    Path((raw, response)): Path<(String, String)>,
    ReadQuery(page): ReadQuery<PageLanguage>,
    headers: HeaderMap,
) -> Response {
    let html = (channel_of(&headers) == Channel::Web)
        .then(|| page.as_ref().map_or(Language::En, PageLanguage::language));
    let status = match page {
        Ok(_) => status_of(&s, &raw, &response).await,
        Err(e) => Err(e),
    };
    match status {
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

/// A multipart field the API does not read: `422 invalid`, naming it.
fn unknown_field(name: &str) -> ApiError {
    ApiError::Invalid(crate::domain::ValidationError::text(
        name,
        Text::with("answers_err_unknown_field", [("field", Arg::field(name))]),
    ))
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
    let mut answers = std::collections::BTreeMap::new();
    let mut files = Vec::new();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARTS + limits.max_files + MAX_QUESTIONS {
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
            _ if answer::question_of_field(&name).is_some() => {
                let k = answer::question_of_field(&name).unwrap_or_default();
                if answers.contains_key(&k) {
                    return Err(field_twice(&name));
                }
                // Kept as sent, like the text: an answer is published byte for byte.
                let mut spool = Spool::create(&name).map_err(SpoolError::from)?;
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    spool.write_within(&chunk, &mut budget).await?;
                }
                let spooled = spool
                    .finish(String::new())
                    .await
                    .map_err(SpoolError::from)?;
                answers.insert(k, spooled);
            }
            "name" | "organization" | "email" | "category" | "country" => {
                let value = read_small(&mut field, &name, limits.max_field_bytes).await?;
                let slot = match name.as_str() {
                    "name" => &mut fields.name,
                    "organization" => &mut fields.organization,
                    "email" => &mut fields.email,
                    "category" => &mut fields.category,
                    _ => &mut fields.country,
                };
                if slot.is_some() {
                    return Err(field_twice(&name));
                }
                *slot = Some(value);
            }
            // A field the API does not know would be dropped unseen (a misspelt `answer-1`,
            // say): refused, naming it, as JSON refuses an unknown member.
            _ => return Err(unknown_field(&name)),
        }
    }
    Ok(Submission {
        id: None,
        channel,
        fields,
        text,
        answers,
        files,
        language: None,
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

/// What `GET /api/consultations/{id}/responses/{response}` answers: a receipt, numbered or
/// pending (a name for the API description).
pub(crate) struct ReceiptOrPending;

impl PartialSchema for ReceiptOrPending {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(Receipt::name()))
            .item(utoipa::openapi::Ref::from_schema_name(
                PendingReceipt::name(),
            ))
            .into()
    }
}

impl ToSchema for ReceiptOrPending {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (Receipt::name(), Receipt::schema()),
            (PendingReceipt::name(), PendingReceipt::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
        Receipt::schemas(schemas);
        PendingReceipt::schemas(schemas);
    }
}

/// A response as `multipart/form-data` (what `read_parts` reads), for the API description.
pub(crate) struct ResponseForm;

impl PartialSchema for ResponseForm {
    fn schema() -> RefOr<Schema> {
        let binary = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("binary".into())))
                .content_media_type("application/octet-stream")
        };
        // A field given once is one part, a repeated one several: `file` is either. Among the
        // fields a part may be empty (a form's file input left empty is ignored); the branch
        // that needs a file needs one with bytes.
        let files = |at_least: usize, at_most: Option<usize>, min_bytes: usize| {
            OneOfBuilder::new()
                .item(binary().min_length(Some(min_bytes)))
                .item(
                    ArrayBuilder::new()
                        .items(binary().min_length(Some(min_bytes)))
                        .min_items(Some(at_least))
                        .max_items(at_most),
                )
        };
        let limits = Limits::default();
        let fields = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A response as multipart/form-data. Give `text`, answers (`answer-1`, \
                 `answer-2`…), at least one `file`, or any of them together. A part with any \
                 other name is refused (422 `invalid`, `field` naming it); a field given twice \
                 is refused (400). An empty file part without a file name (a file input left \
                 empty) is ignored.",
            ))
            .property("name", SubmitterFields::name_schema())
            .required("name")
            .property("organization", SubmitterFields::organization_schema())
            .property("email", SubmitterFields::email_schema())
            .property("category", SubmitterFields::category_schema())
            .property("country", SubmitterFields::country_schema())
            .property(
                "text",
                binary().description(Some(format!(
                    "The response's text, in any encoding: published as `response.txt` byte \
                     for byte (media type `text/plain`). At most {} bytes. Empty means none.",
                    limits.max_file_bytes
                ))),
            )
            .property(
                "file",
                files(0, Some(limits.max_files), 0).description(Some(format!(
                    "Attached files, each as a part named `file`: up to {}, at most {} \
                         bytes each, {} bytes in all (text and answers included). Each is \
                         published byte for byte under its sanitized file name, numbered \
                         ` (2)`, ` (3)`… if a name repeats (or is an answer's, \
                         `answer-{{k}}.txt`); an empty file is refused (422). Files are \
                         accepted only if their content is of an allowed type, judged by the \
                         content's signature, never by the file name or the sender's \
                         Content-Type: PDF, DOC, DOCX, ODT, RTF, TXT, HTML, XLSX, ODS, PPTX, \
                         ODP, PNG, JPEG, ZIP (else 415).",
                    limits.max_files, limits.max_file_bytes, limits.max_total_bytes
                ))),
            )
            // The other parts: the answers, `answer-{k}`.
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
                binary()
                    .description(Some(answer_description(&limits)))
                    .build(),
            )))))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(format!(
                        "^(name|organization|email|category|country|text|file|{ANSWER_FIELD})$"
                    ))),
            ));
        let text_or_file = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("text", binary().min_length(Some(1)))
                    .required("text"),
            )
            .item(
                ObjectBuilder::new()
                    .property("file", files(1, None, 1))
                    .required("file"),
            )
            // Or answers. "Some `answer-{k}` is not empty" needs `not` (which schemathesis
            // cannot judge on binary parts) or a branch per question (too many for it to
            // generate from), so this says less: a part besides `name`. A form of empty parts
            // only is refused (422, field `text`), as the description says.
            .item(
                ObjectBuilder::new()
                    .min_properties(Some(2))
                    .description(Some("Or answers (`answer-{k}`), at least one not empty.")),
            );
        AllOfBuilder::new().item(fields).item(text_or_file).into()
    }
}

/// The name of an answer's part: `answer-{k}`, `k` the question's 1-based position.
const ANSWER_FIELD: &str = "answer-[1-9][0-9]{0,8}";

/// What an answer is, said once for both bodies.
fn answer_description(limits: &Limits) -> String {
    format!(
        "The answer to question k of the consultation (its 1-based position in `questions`), \
         in any encoding: published as `answer-{{k}}.txt` byte for byte (media type \
         `text/plain`), listed in the receipt after `response.txt`. At most {} bytes, like the \
         text. Empty means none. An answer to a question the consultation does not put is \
         refused (422 `invalid`, `field` `answer-{{k}}`).",
        limits.max_file_bytes
    )
}

/// "Some member is not empty": JSON Schema's `not` (which utoipa's builders lack, so it is
/// added as a raw keyword) over "every member is empty". What makes a JSON response of answers
/// only a response.
fn some_answer() -> utoipa::openapi::extensions::Extensions {
    [(
        "not",
        serde_json::json!({"additionalProperties": {"maxLength": 0}}),
    )]
    .into_iter()
    .collect()
}

impl ToSchema for ResponseForm {}

/// `T` or `null`.
fn or_null(schema: ObjectBuilder) -> ObjectBuilder {
    schema.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

impl PartialSchema for JsonSubmission {
    fn schema() -> RefOr<Schema> {
        let limits = Limits::default();
        let fields = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("name", SubmitterFields::name_schema())
            .required("name")
            .property(
                "organization",
                or_null(SubmitterFields::organization_schema()),
            )
            .property("email", or_null(SubmitterFields::email_schema()))
            .property("category", or_null(SubmitterFields::category_schema()))
            .property("country", or_null(SubmitterFields::country_schema()))
            .property(
                "text",
                or_null(ObjectBuilder::new()).description(Some(format!(
                    "The response's text: its UTF-8 bytes are published as `response.txt` \
                     (media type `text/plain`). At most {} bytes. Empty or null means none.",
                    limits.max_file_bytes
                ))),
            )
            .property(
                "answers",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property_names(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[1-9][0-9]{0,8}$")),
                    ))
                    .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                        Schema::Object(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .description(Some(answer_description(&limits)))
                                .build(),
                        ),
                    ))))
                    .description(Some(
                        "Answers to the consultation's questions by position: `\"1\"` for the \
                         first question, `\"2\"` for the second… Each answer's UTF-8 bytes \
                         are published as `answer-{k}.txt`. A key that names no question of \
                         the consultation is refused (422 `invalid`, `field` `answer-{k}`).",
                    ))
                    .examples([serde_json::json!({"1": "Yes, with conditions."})]),
            )
            .property(
                "uploads",
                ArrayBuilder::new()
                    .items(utoipa::openapi::Ref::from_schema_name(UploadId::name()))
                    .max_items(Some(limits.max_files))
                    .description(Some(
                        "Presigned uploads of this consultation (see `POST \
                         /api/consultations/{id}/uploads`), attached as files in this order, \
                         under the names given when they were granted. Each is checked like a \
                         multipart file (limits, allowed content) and published byte for byte; \
                         the receipt is the same. An upload is used by one response only: once \
                         the response's fields are valid its uploads are taken (409 `conflict` \
                         if taken before), even if the response is then refused for its files' \
                         content. Unknown, malformed or other consultations' ids: 404; granted \
                         but not yet sent: 409; expired: 410 `expired`.",
                    )),
            )
            .property(
                "channel",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["web", "api"]))
                    .default(Some(serde_json::json!("api")))
                    .description(Some(
                        "How the response was sent, as the client declares it: the site's own \
                         form script sends `web`; anything else is `api` (the default). \
                         Recorded and published with the response (its `channel`) and counted \
                         by channel in the closing summary.",
                    )),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let text_or_uploads = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property(
                        "text",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1)),
                    )
                    .required("text"),
            )
            .item(
                ObjectBuilder::new()
                    .property("uploads", ArrayBuilder::new().min_items(Some(1)))
                    .required("uploads"),
            )
            .item(
                ObjectBuilder::new()
                    .property(
                        "answers",
                        ObjectBuilder::new().extensions(Some(some_answer())),
                    )
                    .required("answers"),
            );
        AllOfBuilder::new()
            .item(fields)
            .item(text_or_uploads)
            .description(Some(format!(
                "A response as JSON: a text, answers (`answers`), presigned uploads \
                 (`uploads`), or any of them together (else 422, field `text`). Unknown members are refused (400); a null optional member means \
                 none. The body may be at most {} bytes plus 64 KiB (413).",
                limits.max_file_bytes
            )))
            .into()
    }
}

impl ToSchema for JsonSubmission {
    fn name() -> std::borrow::Cow<'static, str> {
        "ResponseJson".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((UploadId::name().into_owned(), UploadId::schema()));
    }
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
    /// Answers by the question's 1-based position (`"1"`, `"2"`…).
    #[serde(default)]
    answers: std::collections::BTreeMap<String, String>,
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
    let mut answers = std::collections::BTreeMap::new();
    for (key, value) in &body.answers {
        let field = format!("answer-{key}");
        let k = answer::question_of_key(key).ok_or_else(|| {
            ApiError::Invalid(crate::domain::ValidationError::text(
                &field,
                Text::with("answers_err_no_question", [("number", Arg::plain(key))]),
            ))
        })?;
        answers.insert(k, spool_bytes(&field, value.as_bytes(), &mut budget).await?);
    }
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
        answers,
        files,
        language: None,
    })
}
