//! The consultation's description and background documents, for the Secretariat:
//! `PUT /api/admin/consultations/{id}/description` (JSON) and
//! `POST /api/admin/consultations/{id}/documents` (multipart `file` parts). Part of the admin
//! router, behind its authorization; the use cases are in `secretariat::documents`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::{Extension, Json, Router};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::caller::Caller;
use super::error::responses::{Internal, Malformed, NotFound, Unauthorized, Unavailable};
use super::error::{ApiError, ErrorBody};
use super::intake::{ID_IN_PATH, path_id};
use super::json_body;
use super::outcome::{Sender, Texts, read_parts};
use crate::domain::limits::Limits;
use crate::domain::outcome::MAX_DOCUMENTS;
use crate::domain::{ConsultationId, WordingRequest};
use crate::secretariat::Secretariat;
use crate::site::views::ConsultationView;

/// The routes, for the admin router (whose authorization layer covers them).
pub(super) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Secretariat>: FromRef<S>,
{
    Router::new()
        .route("/api/admin/consultations/{id}/description", put(describe))
        .route("/api/admin/consultations/{id}/wording", put(reword))
        .route(
            "/api/admin/consultations/{id}/documents",
            // Limits are enforced while streaming (see `Budget`), not by buffering the body.
            post(add_documents).layer(DefaultBodyLimit::disable()),
        )
}

/// Give or replace the consultation's description
///
/// A JSON object of texts by language code (`ar`, `en`, `es`, `fr`, `ru`, `zh`): paragraphs of
/// plain text separated by a blank line, at most 20,000 characters a language. Web addresses
/// become links on the page; nothing is read as HTML. The consultation's page shows it under
/// the title in the reader's language (or the fallback, marked). Audited
/// (`description-changed`).
#[utoipa::path(
    put,
    path = "/api/admin/consultations/{id}/description",
    operation_id = "describeConsultation",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body = DescriptionRequest,
    responses(
        (status = 200, description = "The consultation as it now stands.",
            body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "An unknown language, an empty or too long text \
            (field `description`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn describe(
    State(secretariat): State<Arc<Secretariat>>,
    Path(raw): Path<String>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Result<Json<ConsultationView>, ApiError> {
    let id = path_id(&raw)?;
    let by = caller.map(|Extension(Caller(who))| who);
    let texts: BTreeMap<String, String> = json_body(&body)?;
    let record = secretariat.describe(&id, texts, by).await?;
    Ok(Json(ConsultationView::new(
        &record,
        secretariat.clock.now(),
    )))
}

/// Reword or translate the title and questions
///
/// The consultation's title and questions, replacing the ones it has: a translation added, a
/// mistake corrected. Once the consultation has opened its questions keep their number and
/// order, since responses answer them by position. Audited (`wording-changed`, with what
/// changed); the pages follow.
#[utoipa::path(
    put,
    path = "/api/admin/consultations/{id}/wording",
    operation_id = "rewordConsultation",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body = WordingRequest,
    responses(
        (status = 200, description = "The consultation as it now stands.",
            body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "A text breaks a rule, or the number of questions changed \
            once the consultation opened (`field` names it: `title`, `questions`, \
            `questions[i]`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn reword(
    State(secretariat): State<Arc<Secretariat>>,
    Path(raw): Path<String>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Result<Json<ConsultationView>, ApiError> {
    let id = path_id(&raw)?;
    let by = caller.map(|Extension(Caller(who))| who);
    let request: WordingRequest = json_body(&body)?;
    let record = secretariat.reword(&id, request, by).await?;
    Ok(Json(ConsultationView::new(
        &record,
        secretariat.clock.now(),
    )))
}

/// Publish background documents
///
/// `file` parts, each with its file name: published byte-exact at
/// `/consultations/{id}/documents/{folder}/{name}` with their SHA-256, listed on the
/// consultation's page and in `documents` of the consultation in the API, after the ones
/// there. Audited (`documents-added`). A name another document of the consultation has is
/// refused (422), as is a type not allowed; nothing is published unless every part passes.
#[utoipa::path(
    post,
    path = "/api/admin/consultations/{id}/documents",
    operation_id = "addDocuments",
    tag = "admin",
    security(("bearerAuth" = []), ("adminTokenHeader" = [])),
    params(("id" = ConsultationId, Path, description = ID_IN_PATH)),
    request_body(content = DocumentsForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Published: the consultation, with its `documents`.",
            body = ConsultationView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, description = "A document, or all of them together, is over the \
            limit.", body = ErrorBody),
        (status = 422, description = "No document, a name taken, a type not allowed, or a \
            field other than `file` (`field` names it). Nothing is published.",
            body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    )
)]
async fn add_documents(
    State(secretariat): State<Arc<Secretariat>>,
    Path(raw): Path<String>,
    caller: Option<Extension<Caller>>,
    request: Request,
) -> Result<(StatusCode, Json<ConsultationView>), ApiError> {
    let id = path_id(&raw)?;
    let by = caller.map(|Extension(Caller(who))| who);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| super::outcome::malformed(e.body_text()))?;
    let files = read_parts(&mut multipart, Texts::Refused, Sender::Api)
        .await?
        .documents;
    let record = secretariat.add_documents(&id, files, by).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConsultationView::new(&record, secretariat.clock.now())),
    ))
}

/// A description as `PUT …/description` takes it, for the API description.
pub(crate) struct DescriptionRequest;

impl PartialSchema for DescriptionRequest {
    fn schema() -> RefOr<Schema> {
        crate::domain::Localized::description_request_schema().into()
    }
}

impl ToSchema for DescriptionRequest {}

/// Background documents as `multipart/form-data`, for the API description.
pub(crate) struct DocumentsForm;

impl PartialSchema for DocumentsForm {
    fn schema() -> RefOr<Schema> {
        let binary = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("binary".into())))
                .content_media_type("application/octet-stream")
        };
        let limits = Limits::default();
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Background documents: one or more parts named `file`, each with its file \
                 name. Any other field is refused (422).",
            ))
            .property(
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
                        "At most {MAX_DOCUMENTS} a request, {} bytes each, {} in all; of an \
                         allowed type judged by the content's signature (else 422).",
                        limits.max_file_bytes, limits.max_total_bytes
                    ))),
            )
            .required("file")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .into()
    }
}

impl ToSchema for DocumentsForm {}
