//! The OpenAPI description of the whole HTTP contract, generated from the code: the request
//! and response types derive their schemas (with the limits and patterns their parsers check),
//! each handler carries its operation (`#[utoipa::path]`), and the site's static paths, served
//! generically from storage, are described by the doc-only functions below. Served at
//! `GET /api/openapi.json`; `tests/schemathesis.sh` checks the running server against it.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::admin::ADMIN_TOKEN_HEADER;
use super::error::responses;
use crate::domain::{ConsultationId, ResponseId, SubscriptionToken, UploadId};
use crate::site::views::{Manifest, ManifestPage};

/// The description, generated once.
pub static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the description serializes")
});

/// `GET /api/openapi.json`, on the intake function and the local host.
pub fn router() -> Router {
    Router::new().route("/api/openapi.json", get(serve))
}

/// This OpenAPI description
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of the whole HTTP contract.",
            content((Object = "application/json"))),
    )
)]
async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
}

/// The whole contract in one document.
///
/// Generated with utoipa rather than aide: utoipa describes what the handlers and types
/// already are (derives and attributes) and leaves the axum `Router`s exactly as they are,
/// which matters because the same `Router` is served by `lambda_http` on AWS and by the local
/// host, and the routers' `oneshot` tests drive it as is; aide would have every router
/// rewritten as its `ApiRouter`. For the same reason utoipa-axum's router is not used either:
/// the routes are listed here, beside the routers, and `shared/tests/routers.rs` checks that
/// every route is described.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Verbatim",
        description = "Open consultations under ITU Council Resolution 1344: the Secretariat \
            opens a consultation, any stakeholder may respond until its deadline, and every \
            response is published unedited, byte for byte, with a receipt listing the SHA-256 \
            of each file.\n\nThe JSON API lives under `/api`. The public site (HTML pages, JSON \
            manifests and the submitted files) is served as static files; the local host and \
            the AWS deployment serve it under the same paths, so every URL in a receipt or a \
            manifest is valid on both. URLs in bodies are paths relative to the site's \
            origin.\n\nErrors from the API are JSON: `{\"error\": {\"code\", \"message\", \
            \"field\"?}}`, with a message a person can act on; the routes a browser's form \
            posts to answer a page instead when the request's `Accept` includes `text/html`."
    ),
    tags(
        (name = "admin", description = "The Secretariat opens consultations (bearer token)."),
        (name = "consultations", description = "The public read API."),
        (name = "responses", description = "Stakeholders send their responses."),
        (name = "site", description = "The public site, served as static files (the same keys \
            in the local site store and the AWS site bucket). Pages and manifests are rewritten \
            as responses are published: the local host serves them with `Cache-Control: \
            no-cache`, the AWS CDN may cache them for about a minute. Submitted files are \
            written once and never change."),
        (name = "email list", description = "The consultation's email list: subscribe (double \
            opt-in), confirm, unsubscribe (one click). Every published response is mailed to \
            confirmed subscribers as links to its page and files."),
        (name = "meta", description = "This description, and the host's health."),
    ),
    paths(
        super::admin::create,
        super::admin::list,
        super::admin::move_deadline,
        super::admin::audit_log,
        super::outcome::publish,
        super::documents::describe,
        super::documents::reword,
        super::documents::add_documents,
        super::kept::list,
        super::kept::download,
        super::admin::list_users,
        super::admin::add_user,
        super::admin::remove_user,
        super::admin::reset_password,
        super::admin::set_totp,
        super::intake::list,
        super::intake::show,
        super::intake::submit,
        super::intake::response_status,
        super::intake::grant_upload,
        super::intake::receive_upload,
        super::list::subscribe,
        super::list::show_confirm,
        super::list::confirm,
        super::list::show_unsubscribe,
        super::list::unsubscribe,
        super::health::show,
        serve,
        site_index,
        consultation_page,
        responses_page,
        manifest,
        manifest_page,
        download_file,
        dossier,
        summary,
        response_page,
        extracted_text,
        search_page,
        search_coverage,
    ),
    components(
        // Parameters' types, which paths name but do not add.
        schemas(ConsultationId, ResponseId, UploadId, SubscriptionToken),
        responses(
            responses::Malformed,
            responses::Unauthorized,
            responses::NotFound,
            responses::Internal,
            responses::RateLimited,
            responses::Unavailable,
        )
    ),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// The admin routes' two ways of giving the token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The Secretariat's admin token (at least 16 characters), sent as \
                         `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "adminTokenHeader",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                ADMIN_TOKEN_HEADER,
                "The same admin token, for when `Authorization` carries an AWS SigV4 signature: \
                 on AWS the admin routes also need a request signed by a principal allowed \
                 `execute-api:Invoke` on them.",
            ))),
        );
    }
}

/// What the site answers for a key it does not hold.
const NOT_FOUND: &str = "No such file on the site. The local host answers with this plain-text \
    body; on AWS the CDN in front of the site bucket may answer a missing key differently (for \
    instance 403).";

/// The site's index: every consultation
#[utoipa::path(
    get,
    path = "/",
    operation_id = "siteIndex",
    tag = "site",
    responses(
        (status = 200, description = "The index page (`index.html`).",
            content((String = "text/html"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)] // the site router serves it from storage
fn site_index() {}

/// A consultation's page
///
/// The consultation, its questions, the response form while it is open, and page 1 of its
/// responses (100 per page). Requested without the trailing slash, the path is redirected to
/// it (308 on the local host; 301 from the CDN on AWS).
#[utoipa::path(
    get,
    path = "/consultations/{id}/",
    operation_id = "consultationPage",
    tag = "site",
    params(("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH)),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn consultation_page() {}

/// A further page of a consultation's responses
///
/// Responses numbered (page − 1) × 100 + 1 to page × 100.
#[utoipa::path(
    get,
    path = "/consultations/{id}/page/{page}/",
    operation_id = "consultationResponsesPage",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("page" = u64, Path, minimum = 2, description = "The 1-based page number; page 1 is \
            the consultation's page, so this path serves pages 2 and above."),
    ),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn responses_page() {}

/// The manifest of a consultation's responses
///
/// The machine-readable entry point: the consultation, the number of responses, links to
/// every manifest page, and the receipts of page 1.
#[utoipa::path(
    get,
    path = "/consultations/{id}/responses.json",
    operation_id = "manifest",
    tag = "site",
    params(("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH)),
    responses(
        (status = 200, description = "The manifest head.", body = Manifest),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn manifest() {}

/// One page of a consultation's manifest
#[utoipa::path(
    get,
    path = "/consultations/{id}/manifest/{page}.json",
    operation_id = "manifestPage",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("page" = u64, Path, minimum = 1, description = "The 1-based manifest page; the \
            manifest head's `pages` lists them all."),
    ),
    responses(
        (status = 200, description = "The receipts of the responses on this page (at most \
            100).", body = ManifestPage),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn manifest_page() {}

/// A submitted file, exactly as received
///
/// Always served as a download, never rendered: the exact bytes received, whose SHA-256 the
/// receipt gives.
#[utoipa::path(
    get,
    path = "/consultations/{id}/responses/{number}/{filename}",
    operation_id = "downloadFile",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("number" = u64, Path, minimum = 1,
            description = "The response's number within the consultation."),
        ("filename" = String, Path, description = "The published file name, percent-encoded \
            as in the `url` of the receipt's file (`response.txt` for the text)."),
    ),
    responses(
        (status = 200, description = "The file.",
            headers(
                ("Content-Disposition" = String, description = "`attachment`, with an ASCII \
                    fallback `filename` and the exact name as `filename*` (RFC 6266, RFC \
                    5987)."),
                ("Content-Length" = u64,
                    description = "The file's size in bytes, as in the receipt."),
            ),
            content((Vec<u8> = "application/octet-stream"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn download_file() {}

/// The dossier for the Group's meeting (once closed)
#[utoipa::path(
    get,
    path = "/consultations/{id}/dossier.zip",
    operation_id = "dossier",
    tag = "site",
    params(("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH)),
    responses(
        (status = 200, description = "A ZIP archive: `{number}/{filename}` for every published \
            file (exact bytes), `index.csv` and `index.json`, and `extracted/{number}.txt`, the \
            text extracted from each response's files (derived, listed as such in the index). \
            Served as a download.",
            content((Vec<u8> = "application/zip"))),
        (status = 404, description = "Not closed yet, or no such consultation (plain text, as \
            for any missing file).", content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn dossier() {}

/// Summary for the Group: counts by category, country, channel; identical and nearly identical responses grouped
#[utoipa::path(
    get,
    path = "/consultations/{id}/summary/",
    operation_id = "summary",
    tag = "site",
    params(("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH)),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 404, description = "Not closed yet, or no such consultation (plain text, as \
            for any missing file).", content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn summary() {}

/// The page of one response: its permanent address
///
/// Who, when, through which channel, each file with its size and SHA-256, its signed entry in
/// the transparency log, and the text extracted from its files (derived, folded away). Also at
/// `/{lang}/consultations/{id}/responses/{number}/`. A file the response carries named
/// `index.html` stays at `…/{number}/index.html` (the download route).
#[utoipa::path(
    get,
    path = "/consultations/{id}/responses/{number}/",
    operation_id = "responsePage",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("number" = u64, Path, minimum = 1,
            description = "The response's number within the consultation."),
    ),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn response_page() {}

/// The text extracted from a response's files (derived, not the record)
#[utoipa::path(
    get,
    path = "/consultations/{id}/extracted/{number}.txt",
    operation_id = "extractedText",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("number" = u64, Path, minimum = 1,
            description = "The response's number within the consultation."),
    ),
    responses(
        (status = 200, description = "A header saying what it is and where the files as sent \
            are, then each file's words under `=== {name} ===`, or why there are none.",
            content((String = "text/plain"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn extracted_text() {}

/// Search the words of every response and its files
///
/// A static page (also under `/{lang}/`) whose script loads the consultation's Pagefind index
/// from `/consultations/{id}/pagefind/` and lists the responses holding the words of `q`.
/// Without JavaScript it says so and points to the manifest and the dossier.
#[utoipa::path(
    get,
    path = "/consultations/{id}/search/",
    operation_id = "searchPage",
    tag = "site",
    params(
        ("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH),
        ("q" = Option<String>, Query, description = "The words to find (read by the page's \
            script; the server ignores it)."),
    ),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 404, description = NOT_FOUND, content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn search_page() {}

/// What the search index covers
#[utoipa::path(
    get,
    path = "/consultations/{id}/pagefind/covered.json",
    operation_id = "searchCoverage",
    tag = "site",
    params(("id" = ConsultationId, Path, description = super::intake::ID_IN_PATH)),
    responses(
        (status = 200, description = "How many responses the index covers (1 to `responses`) \
            and when it was built; it is rebuilt at most once a minute while responses arrive.",
            body = crate::search::Covered),
        (status = 404, description = "No index yet (no response published), or no such \
            consultation.", content((String = "text/plain"))),
    )
)]
#[allow(dead_code)]
fn search_coverage() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IdempotencyKey;
    use crate::domain::site_paths::PAGE_SIZE;
    use serde_json::Value;

    fn description() -> Value {
        serde_json::from_str(&OPENAPI).expect("the description is JSON")
    }

    #[test]
    fn every_operation_is_described_once() {
        let description = description();
        let mut operations: Vec<String> = description["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| format!("{} {path}", method.to_uppercase()))
            })
            .collect();
        operations.sort();
        assert_eq!(
            operations,
            [
                "DELETE /api/admin/users/{name}",
                "GET /",
                "GET /api/admin/consultations",
                "GET /api/admin/consultations/{id}/audit",
                "GET /api/admin/consultations/{id}/kept",
                "GET /api/admin/consultations/{id}/kept/{reason}/{name}",
                "GET /api/admin/users",
                "GET /api/consultations",
                "GET /api/consultations/{id}",
                "GET /api/consultations/{id}/responses/{response}",
                "GET /api/health",
                "GET /api/openapi.json",
                "GET /api/subscriptions/confirm",
                "GET /api/subscriptions/unsubscribe",
                "GET /consultations/{id}/",
                "GET /consultations/{id}/dossier.zip",
                "GET /consultations/{id}/extracted/{number}.txt",
                "GET /consultations/{id}/manifest/{page}.json",
                "GET /consultations/{id}/page/{page}/",
                "GET /consultations/{id}/pagefind/covered.json",
                "GET /consultations/{id}/responses.json",
                "GET /consultations/{id}/responses/{number}/",
                "GET /consultations/{id}/responses/{number}/{filename}",
                "GET /consultations/{id}/search/",
                "GET /consultations/{id}/summary/",
                "PATCH /api/admin/consultations/{id}",
                "POST /api/admin/consultations",
                "POST /api/admin/consultations/{id}/documents",
                "POST /api/admin/consultations/{id}/outcome",
                "POST /api/admin/users",
                "POST /api/consultations/{id}/responses",
                "POST /api/consultations/{id}/subscriptions",
                "POST /api/consultations/{id}/uploads",
                "POST /api/subscriptions/confirm",
                "POST /api/subscriptions/unsubscribe",
                "PUT /api/admin/consultations/{id}/description",
                "PUT /api/admin/consultations/{id}/wording",
                "PUT /api/admin/users/{name}/password",
                "PUT /api/admin/users/{name}/totp",
                "PUT /api/uploads/{id}/{upload}",
            ]
        );
        let mut ids: Vec<&str> = description["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|operation| operation["operationId"].as_str().expect("an operationId"))
            .collect();
        ids.sort();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids are unique");
    }

    /// Every `$ref` names a component the document holds (utoipa adds the types of bodies by
    /// itself, not those of parameters).
    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        found.push(target);
                    }
                    map.values().for_each(|v| refs(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
                _ => {}
            }
        }
        let description = description();
        let mut found = Vec::new();
        refs(&description, &mut found);
        assert!(found.len() > 50, "{} references", found.len());
        for target in found {
            let pointer = target.strip_prefix('#').expect("a local reference");
            assert!(
                description.pointer(pointer).is_some(),
                "{target} names nothing"
            );
        }
    }

    /// Where an attribute had to write a number, it is the code's.
    #[test]
    fn the_numbers_written_in_attributes_are_the_code_s() {
        let description = description();
        let schemas = &description["components"]["schemas"];
        let submit = &description["paths"]["/api/consultations/{id}/responses"]["post"];
        let key = submit["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .expect("the Idempotency-Key header is described");
        assert_eq!(key["schema"]["maxLength"], IdempotencyKey::MAX_LEN);
        assert!(IdempotencyKey::parse(&"k".repeat(IdempotencyKey::MAX_LEN)).is_some());
        for bound in ["minimum", "maximum"] {
            assert_eq!(
                schemas["Manifest"]["properties"]["page_size"][bound],
                PAGE_SIZE
            );
        }
        for manifest in ["Manifest", "ManifestPage"] {
            assert_eq!(
                schemas[manifest]["properties"]["responses"]["maxItems"],
                PAGE_SIZE
            );
        }
        // The limits the submission's prose states.
        let limits = crate::domain::limits::Limits::default();
        let prose = submit["description"].as_str().unwrap();
        for said in [
            format!("at most {} files", limits.max_files),
            format!("({} bytes);", limits.max_file_bytes),
            format!("({} bytes) in all", limits.max_total_bytes),
            format!("at most {} KiB", limits.max_field_bytes / 1024),
            format!("at most {} form fields", super::super::intake::MAX_PARTS),
        ] {
            assert!(prose.contains(&said), "{said:?} in {prose:?}");
        }
    }

    /// The patterns are the parsers' rules: what one accepts, the other matches, checked on
    /// the simple patterns a test can read without a regex engine.
    #[test]
    fn the_ids_patterns_are_their_parsers_rules() {
        let schemas = &description()["components"]["schemas"];
        assert_eq!(schemas["ConsultationId"]["pattern"], "^[a-z0-9-]{3,64}$");
        assert_eq!(schemas["UploadId"]["pattern"], "^[0-9]{1,12}-[0-9a-f]{32}$");
        assert_eq!(
            schemas["SubscriptionToken"]["pattern"],
            "^[a-z0-9-]{3,64}\\.[0-9a-f]{32}\\.[0-9a-f]{64}$"
        );
        assert!(ConsultationId::parse(&"a".repeat(64)).is_ok());
        assert!(ConsultationId::parse(&"a".repeat(65)).is_err());
        assert!(ConsultationId::parse("ab").is_err());
        let upload = format!("{}-{}", "9".repeat(12), "a".repeat(32));
        assert!(UploadId::parse(&upload).is_some());
        assert!(UploadId::parse(&format!("1{upload}")).is_none());
    }

    /// The error body's codes are the ones `ApiError` answers with.
    #[test]
    fn the_error_codes_are_the_api_s() {
        let schemas = &description()["components"]["schemas"];
        let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for code in [
            "malformed",
            "unauthorized",
            "not_found",
            "conflict",
            "consultation_closed",
            "consultation_not_open",
            "expired",
            "payload_too_large",
            "unsupported_media_type",
            "invalid",
            "rate_limited",
            "unavailable",
            "internal",
        ] {
            assert!(codes.contains(&code), "{code} in {codes:?}");
        }
    }
}
