//! The email list's routes, served by the intake function next to the response routes:
//! subscribe (form or JSON), and the confirmation and unsubscribe links of its messages.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::responses::RateLimited;
use super::error::{ApiError, ErrorBody};
use super::intake::{ID_IN_PATH, LANG_IN_QUERY, path_id};
use super::{PageLanguage, ReadQuery, json_body, page_language};
use crate::domain::{ConsultationId, EmailAddress, Language, SubscriptionToken};
use crate::email::list::{EmailList, ListChange, ListError};
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

/// The address to subscribe, as JSON or as the site's form sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.org"}))]
pub(crate) struct SubscribeRequest {
    #[schema(schema_with = subscribe_email_schema)]
    email: String,
}

fn subscribe_email_schema() -> utoipa::openapi::schema::ObjectBuilder {
    crate::domain::schema::string()
        .pattern(Some(crate::domain::schema::trimmed(
            &EmailAddress::pattern(),
            false,
        )))
        .description(Some(format!(
            "The address (trimmed; at most {} bytes). It is private and never published.",
            crate::domain::subscription::MAX_EMAIL_BYTES
        )))
}

/// The answer to a subscription request in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SubscriptionRequested {
    status: RequestStatus,
    /// What happens next, for people.
    message: &'static str,
}

/// Always `confirmation_sent`: the answer is the same whether or not the address is
/// subscribed already.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RequestStatus {
    ConfirmationSent,
}

/// The answer to a confirmation or an unsubscription in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListDone {
    status: DoneStatus,
    consultation: ConsultationId,
}

/// What was done.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum DoneStatus {
    Confirmed,
    Unsubscribed,
}

/// The body of an unsubscribe POST: none from the page's button, `List-Unsubscribe=One-Click`
/// from a mail client (RFC 8058). It is not read: either way the token in the URL says what to
/// remove (a name for the API description).
pub(crate) struct OneClick;

impl utoipa::PartialSchema for OneClick {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
            .description(Some(
                "Not read: a mail client's one-click POST sends `List-Unsubscribe=One-Click` \
                 (RFC 8058), the page's button nothing; either way the token in the URL says \
                 what to remove.",
            ))
            .examples([serde_json::json!({"List-Unsubscribe": "One-Click"})])
            .into()
    }
}

impl ToSchema for OneClick {}

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

/// Ask to receive every response published in the consultation by email
///
/// Double opt-in: a message with a confirmation link goes to the address, and nothing else is
/// sent until it is confirmed. The answer is the same whether or not the address is subscribed
/// already. The address is private and never published. Also possible by mail to
/// `{id}+subscribe@{mail domain}`.
///
/// A form post (`application/x-www-form-urlencoded`, the site's form) gets pages, errors
/// included; any other body is read as JSON and gets JSON.
#[utoipa::path(
    post,
    path = "/api/consultations/{id}/subscriptions",
    operation_id = "subscribe",
    tag = "email list",
    params(
        ("id" = ConsultationId, Path, description = ID_IN_PATH),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    request_body(content(
        (SubscribeRequest = "application/x-www-form-urlencoded"),
        (SubscribeRequest = "application/json"),
    )),
    responses(
        (status = 202, description = "The confirmation message was sent: a page for a form \
            post, else JSON.",
            content((SubscriptionRequested = "application/json"), (String = "text/html"))),
        (status = 400, description = "The body cannot be read (no `email` field, broken JSON).",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 404, description = "There is no such consultation.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 409, description = "The consultation is closed: its list sends nothing more.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 422, description = "The address is not an email address.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 429, response = RateLimited),
        (status = 500, description = "Something went wrong on the server.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, description = "A store or the mailer is failing; try again after \
            `Retry-After`.", headers(("Retry-After" = u32)),
            content((ErrorBody = "application/json"), (String = "text/html"))),
    )
)]
async fn subscribe(
    State(list): State<Arc<EmailList>>,
    Path(raw): Path<String>,
    ReadQuery(query): ReadQuery<PageLanguage>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = is_form(&headers);
    let lang = query.as_ref().map_or(Language::En, PageLanguage::language);
    let result = async {
        query?;
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
            Json(SubscriptionRequested {
                status: RequestStatus::ConfirmationSent,
                message: "a message with a confirmation link was sent to the address; nothing is sent until it is confirmed",
            }),
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

/// The confirmation link: a page with a Confirm button
///
/// Opening the link changes nothing (mail scanners open links); the button's POST confirms.
#[utoipa::path(
    get,
    path = "/api/subscriptions/confirm",
    operation_id = "showConfirmation",
    tag = "email list",
    params(
        ("token" = SubscriptionToken, Query, description = TOKEN_IN_QUERY),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 400, description = "The link has no token.", content((String = "text/html"))),
        (status = 404, description = "The token is incomplete or altered.",
            content((String = "text/html"))),
    )
)]
async fn show_confirm(ReadQuery(query): ReadQuery<TokenQuery>) -> Response {
    show(ListAction::Confirm, query)
}

/// The unsubscribe link: a page with an Unsubscribe button
#[utoipa::path(
    get,
    path = "/api/subscriptions/unsubscribe",
    operation_id = "showUnsubscribe",
    tag = "email list",
    params(
        ("token" = SubscriptionToken, Query, description = TOKEN_IN_QUERY),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    responses(
        (status = 200, description = "The page.", content((String = "text/html"))),
        (status = 400, description = "The link has no token.", content((String = "text/html"))),
        (status = 404, description = "The token is incomplete or altered.",
            content((String = "text/html"))),
    )
)]
async fn show_unsubscribe(ReadQuery(query): ReadQuery<TokenQuery>) -> Response {
    show(ListAction::Unsubscribe, query)
}

/// Said of the `token` of the list's links.
const TOKEN_IN_QUERY: &str =
    "The token of the link in the message: `{consultation}.{subscriber}.{secret}`.";

/// The page with the button, for a token that could be one (a malformed one is refused at
/// once, as the button's POST would refuse it).
fn show(action: ListAction, query: Result<TokenQuery, ApiError>) -> Response {
    let (lang, token) = link(query);
    let token = token.and_then(|token| match SubscriptionToken::parse(&token) {
        Some(_) => Ok(token),
        None => Err(ListError::UnknownToken.into()),
    });
    match token {
        Ok(token) => Html(list_pages::confirm_action(lang, action, &token)).into_response(),
        Err(e) => page_error(lang, e),
    }
}

/// Confirm a subscription
#[utoipa::path(
    post,
    path = "/api/subscriptions/confirm",
    operation_id = "confirmSubscription",
    tag = "email list",
    params(
        ("token" = SubscriptionToken, Query, description = TOKEN_IN_QUERY),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    responses(
        (status = 200, description = "Confirmed: a page for browsers; JSON for \
            `Accept: application/json` (without `text/html`).",
            content((ListDone = "application/json"), (String = "text/html"))),
        (status = 400, description = "The link has no token.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 404, description = "The link is incomplete, altered, or its subscription was \
            removed.", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 500, description = "Something went wrong on the server.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, description = "A store is failing; try again after `Retry-After`.",
            headers(("Retry-After" = u32)),
            content((ErrorBody = "application/json"), (String = "text/html"))),
    )
)]
async fn confirm(
    State(list): State<Arc<EmailList>>,
    headers: HeaderMap,
    ReadQuery(query): ReadQuery<TokenQuery>,
) -> Response {
    let (lang, token) = link(query);
    let result = async { Ok::<_, ApiError>(list.confirm(&token?).await?) }.await;
    done(ListAction::Confirm, result, &headers, lang)
}

/// Unsubscribe (the page's button, or a mail client's RFC 8058 one-click POST)
///
/// Every list message carries `List-Unsubscribe: <this URL>, <mailto:{id}+unsubscribe@{mail
/// domain}>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The subscription and its
/// address are deleted; using the link again is harmless.
#[utoipa::path(
    post,
    path = "/api/subscriptions/unsubscribe",
    operation_id = "unsubscribe",
    tag = "email list",
    params(
        ("token" = SubscriptionToken, Query, description = TOKEN_IN_QUERY),
        ("lang" = Option<String>, Query, description = LANG_IN_QUERY),
    ),
    request_body(content((OneClick = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Unsubscribed: a page for browsers; JSON for \
            `Accept: application/json` (without `text/html`).",
            content((ListDone = "application/json"), (String = "text/html"))),
        (status = 400, description = "The link has no token.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 404, description = "The link is incomplete, altered, or its subscription was \
            removed.", content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 500, description = "Something went wrong on the server.",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, description = "A store or the mailer is failing; try again after \
            `Retry-After`.", headers(("Retry-After" = u32)),
            content((ErrorBody = "application/json"), (String = "text/html"))),
    )
)]
async fn unsubscribe(
    State(list): State<Arc<EmailList>>,
    headers: HeaderMap,
    ReadQuery(query): ReadQuery<TokenQuery>,
) -> Response {
    let (lang, token) = link(query);
    let result = async { Ok::<_, ApiError>(list.unsubscribe(&token?).await?) }.await;
    done(ListAction::Unsubscribe, result, &headers, lang)
}

/// The language of a link's page and its token, or why the link cannot be read.
fn link(query: Result<TokenQuery, ApiError>) -> (Language, Result<String, ApiError>) {
    match query {
        Ok(query) => (page_language(query.lang.as_deref()), token(&query)),
        Err(e) => (Language::En, Err(e)),
    }
}

fn done(
    action: ListAction,
    result: Result<ListChange, ApiError>,
    headers: &HeaderMap,
    lang: Language,
) -> Response {
    match (result, wants_json(headers)) {
        (Ok(change), false) => Html(list_pages::done(
            lang,
            action,
            &change.consultation,
            &change.title,
        ))
        .into_response(),
        (Ok(change), true) => Json(ListDone {
            status: match action {
                ListAction::Confirm => DoneStatus::Confirmed,
                ListAction::Unsubscribe => DoneStatus::Unsubscribed,
            },
            consultation: change.consultation,
        })
        .into_response(),
        (Err(e), false) => page_error(lang, e),
        (Err(e), true) => e.into_response(),
    }
}
