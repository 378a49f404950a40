//! The email list's routes, served by the intake function next to the response routes:
//! subscribe (form or JSON), and the confirmation and unsubscribe links of its messages.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::intake::path_id;
use super::{PageLanguage, json_body, page_language};
use crate::domain::Language;
use crate::email::list::{EmailList, ListChange};
use crate::site::list_pages::{self, ListAction};

pub fn router(list: Arc<EmailList>) -> Router {
    Router::new()
        .route("/api/consultations/{id}/subscriptions", post(subscribe))
        .route(
            "/api/subscriptions/confirm",
            get(show_confirm).post(confirm),
        )
        .route(
            "/api/subscriptions/unsubscribe",
            get(show_unsubscribe).post(unsubscribe),
        )
        .layer(axum::middleware::from_fn(super::error::localize))
        .with_state(list)
}

#[derive(Debug, Deserialize)]
struct SubscribeRequest {
    email: String,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
    /// The language of the page that links here (the subscriber's, in the list's mails).
    lang: Option<String>,
}

/// Browsers post forms and read pages; programs post JSON and read JSON.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

fn page_error(lang: Language, e: impl Into<ApiError>) -> Response {
    let e = e.into();
    let message = e.message_in(lang);
    e.into_page(|status| list_pages::list_error(lang, status, &message))
}

async fn subscribe(
    State(list): State<Arc<EmailList>>,
    Path(raw): Path<String>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = is_form(&headers);
    let lang = query.language();
    let result = async {
        let id = path_id(&raw)?;
        let request: SubscribeRequest = if form {
            serde_urlencoded::from_bytes(&body).map_err(|_| {
                ApiError::Malformed(crate::domain::Text::key("err_subscribe_no_email"))
            })?
        } else {
            json_body(&body)?
        };
        Ok::<_, ApiError>(list.subscribe(&id, &request.email, lang).await?)
    }
    .await;
    match (result, form) {
        (Ok(change), true) => (
            StatusCode::ACCEPTED,
            Html(list_pages::check_your_inbox(
                lang,
                &change.consultation,
                &change.title,
            )),
        )
            .into_response(),
        (Ok(_), false) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "status": "confirmation_sent",
                "message": "a message with a confirmation link was sent to the address; nothing is sent until it is confirmed"
            })),
        )
            .into_response(),
        (Err(e), true) => page_error(lang, e),
        (Err(e), false) => e.into_response(),
    }
}

fn token(query: &TokenQuery) -> Result<String, ApiError> {
    query
        .token
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Malformed(crate::domain::Text::key("err_list_no_token")))
}

async fn show_confirm(query: Query<TokenQuery>) -> Response {
    show(ListAction::Confirm, query.0)
}

async fn show_unsubscribe(query: Query<TokenQuery>) -> Response {
    show(ListAction::Unsubscribe, query.0)
}

fn show(action: ListAction, query: TokenQuery) -> Response {
    let lang = page_language(query.lang.as_deref());
    match token(&query) {
        Ok(token) => Html(list_pages::confirm_action(lang, action, &token)).into_response(),
        Err(e) => page_error(lang, e),
    }
}

async fn confirm(
    State(list): State<Arc<EmailList>>,
    headers: HeaderMap,
    query: Query<TokenQuery>,
) -> Response {
    let result = async { Ok::<_, ApiError>(list.confirm(&token(&query.0)?).await?) }.await;
    done(ListAction::Confirm, result, &headers, &query.0)
}

/// The page's button, or a mail client's one-click POST (RFC 8058, body
/// `List-Unsubscribe=One-Click`): either way the token in the URL says what to remove.
async fn unsubscribe(
    State(list): State<Arc<EmailList>>,
    headers: HeaderMap,
    query: Query<TokenQuery>,
) -> Response {
    let result = async { Ok::<_, ApiError>(list.unsubscribe(&token(&query.0)?).await?) }.await;
    done(ListAction::Unsubscribe, result, &headers, &query.0)
}

fn done(
    action: ListAction,
    result: Result<ListChange, ApiError>,
    headers: &HeaderMap,
    query: &TokenQuery,
) -> Response {
    let lang = page_language(query.lang.as_deref());
    match (result, wants_json(headers)) {
        (Ok(change), false) => Html(list_pages::done(
            lang,
            action,
            &change.consultation,
            &change.title,
        ))
        .into_response(),
        (Ok(change), true) => Json(json!({
            "status": match action {
                ListAction::Confirm => "confirmed",
                ListAction::Unsubscribe => "unsubscribed",
            },
            "consultation": change.consultation,
        }))
        .into_response(),
        (Err(e), false) => page_error(lang, e),
        (Err(e), true) => e.into_response(),
    }
}
