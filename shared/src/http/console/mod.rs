//! The Secretariat's console at `/admin/`: server-rendered pages over the same use cases as
//! the admin API (`crate::secretariat`), one module per use case. Here: what every page shares,
//! its language, its refusals; the session cookie and the checks against cross-site requests
//! are in `http::session`, which the admin API shares.

pub mod consultations;
pub mod create;
pub mod publishing;
pub mod sign_in;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::admin::AdminState;
use crate::domain::Language;
use crate::site::console_pages::{CONSOLE_PATH, console_url, message_page};

/// The console's pages, over the admin function's state.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(consultations::list))
        .route(
            "/admin/sign-in",
            get(sign_in::form_page).post(sign_in::sign_in),
        )
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route(
            "/admin/consultations/new",
            get(create::form_page).post(create::submit),
        )
        .route("/admin/consultations/{id}", get(consultations::page))
        .route(
            "/admin/consultations/{id}/deadline",
            post(consultations::move_deadline),
        )
        .route(
            "/admin/consultations/{id}/kept/{reason}/{name}",
            get(consultations::kept_file),
        )
        .route(
            "/admin/consultations/{id}/description",
            post(publishing::describe),
        )
        .route(
            "/admin/consultations/{id}/wording",
            post(publishing::reword),
        )
        // Limits are enforced while streaming, by the API's reader, not by buffering the body.
        .route(
            "/admin/consultations/{id}/documents",
            post(publishing::add_documents).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/consultations/{id}/outcome",
            post(publishing::publish_outcome).layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/users", get(users::users).post(users::add))
        .route("/admin/users/{name}/remove", post(users::remove))
        .route("/admin/users/{name}/password", post(users::reset_password))
        .route(
            "/admin/account/totp",
            get(users::totp_form).post(users::set_totp),
        )
        .with_state(state)
}

/// The page's language: `?lang=` (or the form's `lang`), else `Accept-Language`, else English.
pub(crate) fn language(given: Option<&str>, headers: &HeaderMap) -> Language {
    crate::i18n::requested_language(
        given,
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
    .unwrap_or(Language::En)
}

/// 403: a form that did not come from a page of this console, or whose token is wrong.
pub(crate) fn forbidden(lang: Language) -> Response {
    let m = crate::i18n::messages(lang);
    let page = message_page(
        lang,
        m.t("console_forbidden_title"),
        m.t("console_err_form"),
    );
    (StatusCode::FORBIDDEN, page_headers(), page).into_response()
}

/// To the sign-in page, then back to `path`.
pub(crate) fn to_sign_in(lang: Language) -> Response {
    Redirect::to(&console_url(&format!("{CONSOLE_PATH}/sign-in"), lang)).into_response()
}

/// HTML, never cached (a console page shows what only the signed-in may see).
pub(crate) fn page_headers() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// A form body read as `T`, or `None` when it cannot be read.
pub(crate) fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(body).ok()
}
