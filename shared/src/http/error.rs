//! The one place where failures become HTTP responses: `{"error":{"code","message"}}`, with a
//! message a person can act on. Internal causes are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::{Refusal, ValidationError};
use crate::email::list::ListError;
use crate::intake::IntakeError;
use crate::ports::StoreError;
use crate::uploads::UploadError;
use crate::views::{human_geneva, rfc3339_geneva};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (broken JSON or multipart).
    #[error("{0}")]
    Malformed(String),
    /// 401: no valid admin token.
    #[error("a valid admin token is required: send it as `Authorization: Bearer <token>`")]
    Unauthorized,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the id is taken.
    #[error("{0}")]
    Conflict(String),
    /// 409: the consultation refuses responses now.
    #[error("the consultation does not accept responses now")]
    Refused(Refusal),
    /// 410: a presigned upload expired before it was used.
    #[error("{0}")]
    Gone(String),
    /// 413: a limit was exceeded while the upload streamed in.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body or a file is of a type not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a field breaks a rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 503: nothing was kept; sending again is the remedy.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged with its cause; the client learns only that it may retry.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(format!("{what}: choose another id")),
            e => Self::Internal(Box::new(e)),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::NotFound(id) => Self::NotFound(format!("there is no consultation {id}")),
            IntakeError::Refused(refusal) => Self::Refused(refusal),
            IntakeError::Invalid(v) => Self::Invalid(v),
            IntakeError::Unsupported(u) => Self::UnsupportedMediaType(u.to_string()),
            IntakeError::TooLarge(t) => Self::TooLarge(t.0),
            e @ IntakeError::TooSlow(_) => Self::Unavailable(e.to_string()),
            IntakeError::Store(e) => Self::Internal(Box::new(e)),
            e @ IntakeError::AlreadyStored(_) => Self::Conflict(e.to_string()),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            e @ UploadError::Unknown(_) => Self::NotFound(e.to_string()),
            e @ UploadError::Expired(..) => Self::Gone(e.to_string()),
            e @ (UploadError::NotReceived(_)
            | UploadError::AlreadyReceived(_)
            | UploadError::AlreadyUsed(_)) => Self::Conflict(e.to_string()),
            e @ (UploadError::Repeated(_) | UploadError::Invalid(_)) => {
                Self::Invalid(ValidationError::new("uploads", e.to_string()))
            }
            UploadError::TooLarge(t) => Self::TooLarge(t.0),
            UploadError::Intake(e) => e.into(),
            UploadError::Store(e) => Self::Internal(Box::new(e)),
            UploadError::Io(e) => Self::Internal(Box::new(e)),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        match e {
            e @ (ListError::NoSuchConsultation(_) | ListError::UnknownToken) => {
                Self::NotFound(e.to_string())
            }
            ListError::Invalid(v) => Self::Invalid(v),
            e @ ListError::Closed(_) => Self::Conflict(e.to_string()),
            ListError::Store(e) => Self::Internal(Box::new(e)),
        }
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Refused(Refusal::Closed { .. }) => (StatusCode::CONFLICT, "consultation_closed"),
            Self::Refused(Refusal::NotOpen { .. }) => {
                (StatusCode::CONFLICT, "consultation_not_open")
            }
            Self::Gone(_) => (StatusCode::GONE, "expired"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Self::Refused(Refusal::Closed { deadline }) => format!(
                "the consultation closed at {} ({} UTC); responses are no longer accepted",
                human_geneva(*deadline),
                deadline.strftime("%Y-%m-%d %H:%M:%S")
            ),
            Self::Refused(Refusal::NotOpen { opens_at }) => format!(
                "the consultation is not open yet; it opens at {} ({})",
                human_geneva(*opens_at),
                rfc3339_geneva(*opens_at)
            ),
            Self::Internal(_) => {
                "something went wrong on our side; nothing was lost, please try again".to_owned()
            }
            other => other.to_string(),
        }
    }
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
        lang: crate::domain::Language,
        consultation: Option<&crate::domain::ConsultationId>,
    ) -> Response {
        let field = match &self {
            Self::Invalid(v) => Some(v.field.clone()),
            _ => None,
        };
        self.into_page(|status, message| {
            crate::publish::render::error_page(
                lang,
                status,
                message,
                field.as_deref(),
                consultation,
            )
        })
    }

    /// The error as the page `render` makes of its status and message.
    pub(crate) fn into_page(self, render: impl FnOnce(u16, &str) -> String) -> Response {
        let (status, _) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, source = ?cause.source(), "request failed");
        }
        let page = render(status.as_u16(), &self.message());
        (status, axum::response::Html(page)).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, source = ?cause.source(), "request failed");
        }
        let mut body = json!({ "error": { "code": code, "message": self.message() } });
        if let Self::Invalid(v) = &self {
            body["error"]["field"] = json!(v.field);
        }
        (status, Json(body)).into_response()
    }
}
