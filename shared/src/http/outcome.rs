//! `POST /api/admin/consultations/{id}/outcome`: the Secretariat publishes the Group's outcome
//! (multipart: `text.{lang}` fields and `file` parts). Part of the admin router, behind its
//! authorization; the use case is `Secretariat::publish_outcome`.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use std::sync::Arc;

use axum::extract::FromRef;

use super::caller::Caller;
use super::error::responses::{Internal, Malformed, NotFound, Unauthorized, Unavailable};
use super::error::{ApiError, ErrorBody};
use super::intake::{ID_IN_PATH, MAX_PARTS, path_id};
use crate::domain::limits::{Budget, Limits, TooLarge};
use crate::domain::outcome::{MAX_DOCUMENTS, MAX_TEXT_BYTES};
use crate::domain::{Arg, ConsultationId, Language, Text, ValidationError};
use crate::intake::spool::{Spool, SpoolError};
use crate::secretariat::Secretariat;
use crate::secretariat::outcome::OutcomeSubmission;
use crate::site::views::ConsultationView;

/// The outcome's route, for the admin router (whose authorization layer covers it).
pub(super) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Secretariat>: FromRef<S>,
{
    Router::new().route(
        "/api/admin/consultations/{id}/outcome",
        // Limits are enforced while streaming (see `Budget`), not by buffering the body.
        post(publish).layer(DefaultBodyLimit::disable()),
    )
}

pub(crate) fn malformed(e: impl std::fmt::Display) -> ApiError {
    ApiError::Malformed(Text::with("err_multipart", [("detail", Arg::plain(e))]))
}

/// Publish the Group's outcome
///
/// After its meeting the Secretariat publishes the results of the Group's work for the
/// consultation (Resolution 1344: made known to all ITU members, international organizations
/// and stakeholders): a text in any of the six languages (`text.ar` … `text.zh`) and documents
/// (`file` parts: the report, the meeting's conclusions). Each is published byte-exact with
/// its SHA-256 under `/consultations/{id}/outcome/`, listed in a statement signed with the
/// log's key; the consultation's page, its feeds and `GET /api/consultations/{id}` show it.
/// Publishing again makes a new version that replaces the shown one; the earlier ones stay
/// listed, dated and audited.
#[utoipa::path(
    post,
    path = "/api/admin/consultations/{id}/outcome",
    operation_id = "publishOutcome",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body(content = OutcomeForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Published: the consultation, with its `outcome`.",
            body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, description = "A document, or all of them together, is over the \
            limit.", body = ErrorBody),
        (status = 422, description = "A field breaks a rule; `field` names it: `text.{lang}` \
            (unknown language, sent twice, empty, not UTF-8, over 64 KiB), `file` (no name, \
            two with one name, a reserved name, a type not allowed, more than 20), or any \
            other field (not known). Nothing is published.", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn publish(
    State(secretariat): State<Arc<Secretariat>>,
    Path(raw): Path<String>,
    caller: Option<Extension<Caller>>,
    request: Request,
) -> Result<(StatusCode, Json<ConsultationView>), ApiError> {
    let id = path_id(&raw)?;
    let by = caller.map(|Extension(Caller(who))| who);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(e.body_text()))?;
    let submission = read_parts(&mut multipart, Texts::Accepted, Sender::Api).await?;
    let record = secretariat.publish_outcome(&id, submission, by).await?;
    let now = secretariat.clock.now();
    Ok((
        StatusCode::CREATED,
        Json(ConsultationView::new(&record, now)),
    ))
}

/// Whether a form takes `text.{lang}` fields besides its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Texts {
    Accepted,
    Refused,
}

/// The parts as sent, bounded: each text to its limit (one byte more tells it is over), the
/// documents spooled within the intake's limits for files. Unknown fields are refused, never
/// dropped.
/// Who sent a multipart form.
pub(crate) enum Sender<'a> {
    /// A script: every part must be one the request takes.
    Api,
    /// The console's form, which also carries its form token and page language, and sends
    /// every text box and file input, those left empty too (skipped here).
    Console(&'a mut ConsoleControls),
}

/// The console's own fields of a multipart form.
#[derive(Debug, Default)]
pub(crate) struct ConsoleControls {
    pub csrf: String,
    pub lang: String,
}

/// The most a console control (`csrf`, `lang`) may be: a token, a language code.
const CONTROL_BYTES: usize = 256;

pub(crate) async fn read_parts(
    multipart: &mut Multipart,
    texts: Texts,
    mut sender: Sender<'_>,
) -> Result<OutcomeSubmission, ApiError> {
    let limits = Limits {
        max_files: MAX_DOCUMENTS,
        ..Limits::default()
    };
    let mut budget = Budget::new(limits);
    let mut submission = OutcomeSubmission::default();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > MAX_PARTS + MAX_DOCUMENTS {
            return Err(ApiError::TooLarge(Text::with(
                "err_too_many_parts",
                [("count", Arg::count(MAX_PARTS))],
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if let Sender::Console(controls) = &mut sender
            && (name == "csrf" || name == "lang")
        {
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                value.extend_from_slice(&chunk);
                if value.len() > CONTROL_BYTES {
                    return Err(ApiError::Invalid(ValidationError::new(&name, "too long")));
                }
            }
            let value = String::from_utf8_lossy(&value).into_owned();
            if name == "csrf" {
                controls.csrf = value;
            } else {
                controls.lang = value;
            }
            continue;
        }
        let console = matches!(sender, Sender::Console(_));
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            if console && file_name.is_empty() {
                // A file input left empty: the browser sends it with no name and no content.
                while field.chunk().await.map_err(malformed)?.is_some() {}
                continue;
            }
            budget
                .start_file()
                .map_err(|e: TooLarge| ApiError::TooLarge(e.0))?;
            let label = if file_name.is_empty() {
                "a document".to_owned()
            } else {
                file_name.clone()
            };
            let mut spool = Spool::create(label).map_err(SpoolError::from)?;
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                spool.write_within(&chunk, &mut budget).await?;
            }
            let spooled = spool.finish(file_name).await.map_err(SpoolError::from)?;
            submission.documents.push(spooled);
        } else if texts == Texts::Accepted && name.starts_with("text.") {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                if text.len() + chunk.len() > MAX_TEXT_BYTES + 1 {
                    text.extend_from_slice(&chunk[..MAX_TEXT_BYTES + 1 - text.len()]);
                    break;
                }
                text.extend_from_slice(&chunk);
            }
            if console && text.iter().all(u8::is_ascii_whitespace) {
                continue; // a text box left empty
            }
            submission.texts.push((name, text));
        } else {
            return Err(ApiError::Invalid(ValidationError::new(
                if name.is_empty() {
                    "(unnamed part)"
                } else {
                    &name
                },
                "not a field of an outcome: send text.{lang} (ar, en, es, fr, ru, zh) and file",
            )));
        }
    }
    Ok(submission)
}

/// The outcome as `multipart/form-data` (what `read_parts` reads), for the API description.
pub(crate) struct OutcomeForm;

impl PartialSchema for OutcomeForm {
    fn schema() -> RefOr<Schema> {
        let binary = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("binary".into())))
                .content_media_type("application/octet-stream")
        };
        let mut form = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "The Group's outcome as multipart/form-data: a text in any of the six \
                 languages (`text.{{lang}}`, UTF-8 plain text with paragraphs, at most {} \
                 bytes each) and documents (`file`, up to {MAX_DOCUMENTS}), at least one of \
                 them. Any other field is refused (422).",
                MAX_TEXT_BYTES
            )))
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        for lang in Language::ALL {
            form = form.property(
                format!("text.{}", lang.code()),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("text/plain")
                    .min_length(Some(1))
                    .max_length(Some(MAX_TEXT_BYTES)),
            );
        }
        let limits = Limits::default();
        form = form.property(
            "file",
            OneOfBuilder::new()
                .item(binary().min_length(Some(1)))
                .item(
                    ArrayBuilder::new()
                        .items(binary().min_length(Some(1)))
                        .min_items(Some(1))
                        .max_items(Some(MAX_DOCUMENTS)),
                )
                .description(Some(format!(
                    "Documents, each as a part named `file` with its file name: at most {} \
                     bytes each, {} in all; published byte for byte under its sanitized name. \
                     Accepted only if the content is of an allowed type (PDF, DOC, DOCX, ODT, \
                     RTF, TXT, HTML, XLSX, ODS, PPTX, ODP, PNG, JPEG, ZIP), judged by its \
                     signature (else 422).",
                    limits.max_file_bytes, limits.max_total_bytes
                ))),
        );
        form.into()
    }
}

impl ToSchema for OutcomeForm {}
