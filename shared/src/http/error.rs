//! The one place where failures become HTTP responses: `{"error":{"code","message"}}`, with a
//! message a person can act on. Internal causes are logged, never sent.
//!
//! Each error carries its message as a [`Text`] (a catalogue key and typed arguments), so the
//! same error reads in the reader's language: on the form's error page always, and in JSON
//! when the request asks for a language (`?lang=`, `Accept-Language`; see [`localize`]).
//! Without one the JSON message is English and `code` never changes: programs rely on both.

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Arg, Language, Refusal, Text, ValidationError};
use crate::email::list::ListError;
use crate::i18n::{messages, requested_language};
use crate::intake::IntakeError;
use crate::intake::uploads::UploadError;
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (broken JSON or multipart).
    #[error("{0}")]
    Malformed(Text),
    /// 401: no valid admin token.
    #[error("a valid admin token is required: send it as `Authorization: Bearer <token>`")]
    Unauthorized,
    /// 404.
    #[error("{0}")]
    NotFound(Text),
    /// 409: the id is taken.
    #[error("{0}")]
    Conflict(Text),
    /// 409: the consultation refuses responses now.
    #[error("the consultation does not accept responses now")]
    Refused(Refusal),
    /// 410: a presigned upload expired before it was used.
    #[error("{0}")]
    Gone(Text),
    /// 413: a limit was exceeded while the upload streamed in.
    #[error("{0}")]
    TooLarge(Text),
    /// 415: the body or a file is of a type not accepted.
    #[error("{0}")]
    UnsupportedMediaType(Text),
    /// 422: a field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 429: this client's allowance is spent; nothing was read or kept. Carries the seconds
    /// until the next request is allowed (`Retry-After`).
    #[error("too many requests from this client: retry after {0} s")]
    RateLimited(u32),
    /// 503: nothing was kept; sending again is the remedy.
    #[error("{0}")]
    Unavailable(Text),
    /// 503: a store failed or is contended (logged with its cause); nothing acknowledged was
    /// lost, and the request may be sent again after `Retry-After`.
    #[error("a store is failing or busy")]
    Busy(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: logged with its cause; the client learns only that it may retry.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => {
                Self::Conflict(format!("{what}: choose another id").into())
            }
            e @ StoreError::Backend { .. } => Self::Busy(Box::new(e)),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::NotFound(id) => Self::no_consultation(id),
            IntakeError::Refused(refusal) => Self::Refused(refusal),
            IntakeError::Invalid(v) => Self::Invalid(v),
            IntakeError::Unsupported(u) => Self::UnsupportedMediaType(u.text()),
            IntakeError::TooLarge(t) => Self::TooLarge(t.0),
            IntakeError::TooSlow(limit) => {
                Self::Unavailable(Text::with("err_too_slow", [("limit", Arg::plain(limit))]))
            }
            IntakeError::Store(e) => e.into(),
            e @ IntakeError::AlreadyStored(_) => Self::Conflict(e.to_string().into()),
            IntakeError::NotTheSame(_) => Self::Invalid(ValidationError::text(
                "Idempotency-Key",
                Text::key("err_idempotency_key_reused"),
            )),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Unknown(id) => Self::NotFound(upload_text("err_upload_unknown", id)),
            UploadError::Expired(id, at) => Self::Gone(Text::with(
                "err_upload_expired",
                [("upload", Arg::Plain(id)), ("at", Arg::Geneva(at))],
            )),
            UploadError::NotReceived(id) => {
                Self::Conflict(upload_text("err_upload_not_received", id))
            }
            UploadError::AlreadyReceived(id) => {
                Self::Conflict(upload_text("err_upload_already_received", id))
            }
            UploadError::AlreadyUsed(id) => {
                Self::Conflict(upload_text("err_upload_already_used", id))
            }
            UploadError::Repeated(id) => Self::Invalid(ValidationError::text(
                "uploads",
                upload_text("err_upload_repeated", id),
            )),
            UploadError::Invalid(text) => Self::Invalid(ValidationError::text("uploads", text)),
            UploadError::TooLarge(t) => Self::TooLarge(t.0),
            UploadError::Intake(e) => e.into(),
            UploadError::Store(e) => e.into(),
            UploadError::Io(e) => Self::Internal(Box::new(e)),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::NoSuchConsultation(id) => Self::no_consultation(&id),
            ListError::UnknownToken => Self::NotFound(Text::key("err_list_unknown_token")),
            ListError::Invalid(v) => Self::Invalid(v),
            ListError::Closed(id) => Self::Conflict(Text::with(
                "err_list_closed",
                [("consultation", Arg::plain(id))],
            )),
            ListError::Store(e) => e.into(),
        }
    }
}

/// The body of every error the API answers in JSON.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error, example = json!({
    "error": {"code": "invalid", "message": "your name is required", "field": "name"}
}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong and what to do, for people: in English, unless the request asks for one
    /// of ar, en, es, fr, ru, zh with the query parameter `lang` (first) or `Accept-Language`;
    /// then in that language, said by the `Content-Language` header. `code` and `field` never
    /// change with the language.
    pub message: String,
    /// With `invalid` only: the field that breaks a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

/// What went wrong, for programs: one code per kind of [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Malformed,
    Unauthorized,
    NotFound,
    Conflict,
    ConsultationClosed,
    ConsultationNotOpen,
    Expired,
    PayloadTooLarge,
    UnsupportedMediaType,
    Invalid,
    RateLimited,
    Unavailable,
    Internal,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, ErrorCode::Malformed),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Self::Refused(Refusal::Closed { .. }) => {
                (StatusCode::CONFLICT, ErrorCode::ConsultationClosed)
            }
            Self::Refused(Refusal::NotOpen { .. }) => {
                (StatusCode::CONFLICT, ErrorCode::ConsultationNotOpen)
            }
            Self::Gone(_) => (StatusCode::GONE, ErrorCode::Expired),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::Unavailable(_) | Self::Busy(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }

    /// 404 for a consultation id that names none.
    pub fn no_consultation(id: impl std::fmt::Display) -> Self {
        Self::NotFound(Text::with(
            "err_no_consultation",
            [("consultation", Arg::plain(id))],
        ))
    }

    /// What the person is told, as a catalogue message.
    pub fn text(&self) -> Text {
        match self {
            Self::Refused(Refusal::Closed { deadline }) => Text::with(
                "err_closed",
                [
                    ("deadline", Arg::Geneva(*deadline)),
                    ("utc", Arg::Utc(*deadline)),
                ],
            ),
            Self::Refused(Refusal::NotOpen { opens_at }) => Text::with(
                "err_not_open",
                [
                    ("opens", Arg::Geneva(*opens_at)),
                    ("rfc3339", Arg::Rfc3339(*opens_at)),
                ],
            ),
            Self::Unauthorized => Text::key("err_unauthorized"),
            Self::Internal(_) => Text::key("err_internal"),
            Self::Busy(_) => Text::key("err_busy"),
            Self::RateLimited(seconds) => {
                Text::with("err_rate_limited", [("seconds", Arg::plain(seconds))])
            }
            Self::Malformed(text)
            | Self::NotFound(text)
            | Self::Conflict(text)
            | Self::Gone(text)
            | Self::TooLarge(text)
            | Self::UnsupportedMediaType(text)
            | Self::Unavailable(text) => text.clone(),
            Self::Invalid(v) => v.message.clone(),
        }
    }

    /// The message in `lang`. A field's rule is prefixed by the field's label, as in English
    /// (`country: must be…`), so a program's user still sees which field it is.
    pub fn message_in(&self, lang: Language) -> String {
        let m = messages(lang);
        match self {
            Self::Invalid(v) => m.field_rule(&v.field, &v.message),
            _ => m.render(&self.text()),
        }
    }

    /// The English message, for programs (and logs).
    pub(crate) fn message(&self) -> String {
        match self {
            // The field's code, not its label: programs match on it.
            Self::Invalid(v) => v.to_string(),
            _ => self.message_in(Language::En),
        }
    }
}

/// An upload's refusal, naming the upload.
fn upload_text(key: &'static str, upload: String) -> Text {
    Text::with(key, [("upload", Arg::Plain(upload))])
}

impl ApiError {
    /// The same error as a page, for a browser that posted the form.
    pub fn into_html_response(self) -> Response {
        self.into_html_response_in(crate::domain::Language::En, None)
    }

    /// The error as a page in the reader's language, naming the field at fault and linking
    /// back to it on the consultation's form.
    pub fn into_html_response_in(
        self,
        lang: Language,
        consultation: Option<&crate::domain::ConsultationId>,
    ) -> Response {
        let field = match &self {
            Self::Invalid(v) => Some(v.field.clone()),
            _ => None,
        };
        let text = self.text();
        self.into_page(|status| {
            crate::site::pages::error_page(lang, status, &text, field.as_deref(), consultation)
        })
    }

    /// The error as the page `render` makes of its status (each caller words the message in
    /// its reader's language).
    pub(crate) fn into_page(self, render: impl FnOnce(u16) -> String) -> Response {
        let (status, _) = self.status_and_code();
        self.log();
        let page = render(status.as_u16());
        let mut response = (status, axum::response::Html(page)).into_response();
        self.add_retry_after(&mut response);
        response
    }

    /// Internal causes go to the log, never to the client.
    fn log(&self) {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, source = ?cause.source(), "request failed");
            }
            Self::Busy(cause) => {
                tracing::warn!(error = %cause, source = ?cause.source(), "a store failed; answered 503");
            }
            _ => {}
        }
    }

    /// A 503 says when to try again: soon, since a failing or contended store usually recovers
    /// within seconds. A 429 says when the client's allowance has room again.
    fn add_retry_after(&self, response: &mut Response) {
        let seconds = match self {
            Self::RateLimited(seconds) => *seconds,
            _ if self.status_and_code().0 == StatusCode::SERVICE_UNAVAILABLE => RETRY_AFTER_SECONDS,
            _ => return,
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }

    /// The answer without reading the body: the connection is closed after it, so the
    /// client stops sending.
    pub(crate) fn at_once(self, html: Option<Language>) -> Response {
        let mut response = match html {
            Some(lang) => self.into_html_response_in(lang, None),
            None => self.into_response(),
        };
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    }
}

/// `Retry-After` of a 503, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// The API description's reusable error responses (`components/responses`), each with the
/// [`ErrorBody`] in JSON; the routes a browser posts to also answer them as a page (see
/// [`ApiError::into_html_response_in`]).
pub mod responses {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{Content, ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

    /// Said of every route answering `429`.
    pub const RATE_LIMITED: &str = "Too many requests from this client address \
        (`rate_limited`): nothing was read or kept. On the local host, per `--rate-limit`; on \
        AWS, the WAF's per-client rule (English message, `Retry-After: 60`).";

    fn json(example: serde_json::Value) -> Content {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .example(Some(example))
            .build()
    }

    /// The page a browser gets instead of JSON.
    pub fn page() -> Content {
        ContentBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
    }

    fn error(code: &str, message: &str) -> serde_json::Value {
        serde_json::json!({"error": {"code": code, "message": message}})
    }

    fn retry_after(response: ResponseBuilder, description: &str) -> ResponseBuilder {
        response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some(description))
                .build(),
        )
    }

    macro_rules! described {
        ($(#[$doc:meta])* $name:ident => $build:expr) => {
            $(#[$doc])*
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), $build.into())
                }
            }
        };
    }

    described!(
        /// 400 from a JSON route.
        Malformed => ResponseBuilder::new()
            .description(
                "The body cannot be read (not JSON, a missing or unknown member, a member of \
                 the wrong type).",
            )
            .content(
                "application/json",
                json(error(
                    "malformed",
                    "the JSON body could not be read: missing field `meeting_date` at line 5 \
                     column 1",
                )),
            )
    );
    described!(
        /// 401 from an admin route.
        Unauthorized => ResponseBuilder::new()
            .description("No valid admin token.")
            .content(
                "application/json",
                json(error(
                    "unauthorized",
                    "a valid admin token is required: send it as `Authorization: Bearer \
                     <token>`",
                )),
            )
    );
    described!(
        /// 404 for a consultation that does not exist.
        NotFound => ResponseBuilder::new()
            .description("There is no such consultation.")
            .content(
                "application/json",
                json(error("not_found", "there is no consultation internet-access-2027")),
            )
    );
    described!(
        /// 500.
        Internal => ResponseBuilder::new()
            .description(
                "Something went wrong on the server; nothing was lost, and the request may be \
                 retried.",
            )
            .content(
                "application/json",
                json(error(
                    "internal",
                    "something went wrong on our side; nothing was lost, please try again",
                )),
            )
    );
    described!(
        /// 429 from a limited route (the local host's `--rate-limit`, the WAF on AWS).
        RateLimited => retry_after(
            ResponseBuilder::new().description(RATE_LIMITED),
            "Seconds until this client may send again.",
        )
        .content(
            "application/json",
            json(error(
                "rate_limited",
                "too many requests from your address; nothing was kept, please send it again \
                 in 12 s",
            )),
        )
        .content("text/html", page())
    );
    described!(
        /// 503: a store failed or is busy, or storing took too long.
        Unavailable => retry_after(
            ResponseBuilder::new().description(
                "A store is failing or busy, or storing the response took longer than the \
                 in-flight grace; nothing was kept: send it again after `Retry-After` \
                 (`unavailable`).",
            ),
            "Seconds to wait before sending again.",
        )
        .content(
            "application/json",
            json(error(
                "unavailable",
                "the service is busy or one of its stores is failing; nothing was kept, please \
                 send it again in a few seconds",
            )),
        )
        .content("text/html", page())
    );
}

/// What [`localize`] needs to say an error again in another language, kept with the response.
#[derive(Clone)]
struct Untranslated {
    code: ErrorCode,
    field: Option<String>,
    messages: std::sync::Arc<dyn Fn(Language) -> String + Send + Sync>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        self.log();
        let field = match &self {
            Self::Invalid(v) => Some(v.field.clone()),
            _ => None,
        };
        let body = error_body(code, field.as_deref(), self.message());
        let mut response = (status, Json(body)).into_response();
        self.add_retry_after(&mut response);
        let error = std::sync::Arc::new(self);
        response.extensions_mut().insert(Untranslated {
            code,
            field,
            messages: std::sync::Arc::new(move |lang| error.message_in(lang)),
        });
        response
    }
}

fn error_body(code: ErrorCode, field: Option<&str>, message: String) -> ErrorBody {
    ErrorBody {
        error: ErrorDetail {
            code,
            message,
            field: field.map(str::to_owned),
        },
    }
}

/// Middleware: a JSON error answers in the language the request asks for (`?lang=xx`, else
/// `Accept-Language`), with the same status, `code` and `field`. Without either it stays
/// English, as programs expect.
pub async fn localize(request: Request, next: Next) -> Response {
    let query_lang = request.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find_map(|(k, v)| (k == "lang").then_some(v))
    });
    let accept = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lang = requested_language(query_lang.as_deref(), accept.as_deref());
    let mut response = next.run(request).await;
    let Some(lang) = lang.filter(|l| *l != Language::En) else {
        return response;
    };
    let Some(error) = response.extensions_mut().remove::<Untranslated>() else {
        return response;
    };
    let body = error_body(error.code, error.field.as_deref(), (error.messages)(lang));
    let mut localized = (response.status(), Json(body)).into_response();
    localized.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        lang.code().parse().expect("a header value"),
    );
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        localized
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    localized
}
