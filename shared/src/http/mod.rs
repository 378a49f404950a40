//! HTTP: one axum `Router` per function, served by `lambda_http` on AWS and by the local host.

pub mod admin;
pub mod caller;
pub mod console;
pub mod documents;
pub mod error;
pub mod health;
pub mod intake;
pub mod kept;
pub mod list;
pub mod openapi;
pub mod outcome;
pub mod rate_limit;
pub mod session;
pub mod site;
pub mod witness;

use axum::{Json, Router};
use jiff::Timestamp;

use crate::ports::Consultations;
use crate::site::views::ConsultationView;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use error::ApiError;

/// What the local host serves, each part built by its [`crate::Backend`].
pub struct LocalRoutes {
    pub intake: intake::IntakeState,
    pub list: std::sync::Arc<crate::email::list::EmailList>,
    pub admin: admin::AdminState,
    pub health: std::sync::Arc<crate::publish::health::PublicationHealth>,
    /// Whose closing waits for pending responses before it seals.
    pub closing: std::sync::Arc<crate::closing::ClosingHealth>,
    pub site: std::sync::Arc<dyn crate::ports::ObjectStore>,
}

/// Every route of the local host in one router: the intake (with the uploads' own endpoint,
/// which S3 plays on AWS), the API description, the email list, the admin API and console, publication
/// health and the site.
pub fn local_router(routes: LocalRoutes) -> Router {
    intake::router(routes.intake.clone())
        .merge(intake::local_uploads_router(routes.intake))
        .merge(openapi::router())
        .merge(list::router(routes.list))
        .merge(admin::router(routes.admin.clone()))
        .merge(console::router(routes.admin))
        .merge(health::router(routes.health, routes.closing))
        .merge(site::router(routes.site))
}

/// `?lang=` of the site's form or of a link in a mail: the language of the page to answer
/// with (English when absent or unknown).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageLanguage {
    lang: Option<String>,
}

impl PageLanguage {
    pub(crate) fn language(&self) -> crate::domain::Language {
        page_language(self.lang.as_deref())
    }

    /// The language asked for, if `?lang=` names one of the six.
    pub(crate) fn given(&self) -> Option<crate::domain::Language> {
        self.lang
            .as_deref()
            .and_then(crate::domain::Language::parse)
    }
}

pub(crate) fn page_language(lang: Option<&str>) -> crate::domain::Language {
    lang.and_then(crate::domain::Language::parse)
        .unwrap_or(crate::domain::Language::En)
}

/// A query string read as `T`, or the 400 that says what is wrong with it. Unlike axum's
/// `Query`, which refuses a bad query in plain text before the handler runs, this leaves the
/// refusal to the handler, which answers it as its route answers every error (JSON, or a page
/// for a browser).
pub(crate) struct ReadQuery<T>(pub Result<T, ApiError>);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S>
    for ReadQuery<T>
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        Ok(Self(serde_urlencoded::from_str(raw).map_err(|e| {
            ApiError::Malformed(crate::domain::Text::with(
                "err_query",
                [("detail", crate::domain::Arg::plain(e))],
            ))
        })))
    }
}

/// A JSON request body, or a 400 that says what is wrong with it.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Malformed(crate::domain::Text::with(
            "err_json_body",
            [("detail", crate::domain::Arg::plain(e))],
        ))
    })
}

/// Every consultation as the API shows it at `now` (the public and the admin listing).
pub(crate) async fn consultation_views(
    consultations: &dyn Consultations,
    now: Timestamp,
) -> Result<Json<Vec<ConsultationView>>, ApiError> {
    let records = consultations.list().await?;
    Ok(Json(
        records
            .iter()
            .map(|r| ConsultationView::new(r, now))
            .collect(),
    ))
}

/// A span per request (method and path; never the query, which may carry a token) and a line
/// when it is answered (status, latency), in the process's log format: text locally, JSON on
/// Lambda, where the runtime adds the request id.
pub fn with_request_log(router: Router) -> Router {
    use tower_http::LatencyUnit;
    use tower_http::trace::{DefaultOnResponse, TraceLayer};
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request| {
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path()
                )
            })
            .on_request(())
            .on_response(
                DefaultOnResponse::new()
                    .level(tracing::Level::INFO)
                    .latency_unit(LatencyUnit::Millis),
            ),
    )
}

/// Headers every response carries: no MIME sniffing, no framing, and a strict CSP on HTML.
pub fn with_security_headers(router: Router) -> Router {
    router.layer(middleware::from_fn(security_headers))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(site::CSP),
    );
    response
}
