//! Accounts in the console: administrators add, remove and reset accounts (`/admin/users`);
//! everyone sets up their own second factor (`/admin/account/totp`). The same use case as the
//! `verbatim admin` commands and `/api/admin/users`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{forbidden, form, language, page_headers, to_sign_in};
use crate::domain::Language;
use crate::domain::account::{AccountName, Password, TotpSecret};
use crate::http::PageLanguage;
use crate::http::admin::AdminState;
use crate::http::error::ApiError;
use crate::http::session::{same_origin, session};
use crate::secretariat::people::{AccountError, SignedIn};
use crate::site::console_pages::{
    CONSOLE_PATH, FieldError, Frame, console_url, totp_page, users_page,
};

const USERS: &str = "/admin/users";
const TOTP: &str = "/admin/account/totp";

#[derive(serde::Deserialize)]
pub(crate) struct Fields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    admin: Option<String>,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
    lang: Option<String>,
}

/// A signed-in person's POST, with its token and origin checked: who, and what they sent.
async fn checked_post(
    s: &AdminState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Result<(SignedIn, String, Fields, Language), Response>, ApiError> {
    let fields = form::<Fields>(body);
    let lang = language(fields.as_ref().and_then(|f| f.lang.as_deref()), headers);
    let Some((id, who)) = session(&s.people, headers).await? else {
        return Ok(Err(to_sign_in(lang)));
    };
    let Some(fields) = fields.filter(|f| id.accepts_form_token(&f.csrf)) else {
        return Ok(Err(forbidden(lang)));
    };
    if !same_origin(&s.console, headers) {
        return Ok(Err(forbidden(lang)));
    }
    Ok(Ok((who, id.form_token(), fields, lang)))
}

async fn render_users(
    s: &AdminState,
    who: &SignedIn,
    token: &str,
    lang: Language,
    name: &str,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response, ApiError> {
    if !who.account.admin {
        return Ok(forbidden(lang));
    }
    let accounts = s.people.list().await?;
    let frame = Frame {
        lang,
        path: USERS,
        signed_in: Some((&who.account.name, token)),
    };
    Ok((
        status,
        page_headers(),
        users_page(&frame, &accounts, name, errors),
    )
        .into_response())
}

pub(crate) async fn users(
    State(s): State<AdminState>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    render_users(&s, &who, &id.form_token(), lang, "", &[], StatusCode::OK).await
}

fn error_for(lang: Language, field: &'static str, e: AccountError) -> Result<FieldError, ApiError> {
    let m = crate::i18n::messages(lang);
    let message = match e {
        AccountError::Taken(_) => m.t("console_err_name_taken").to_owned(),
        AccountError::NoSuchAccount(name) => m.f("console_err_no_account", &[("name", &name)]),
        AccountError::Invalid(v) => m.render(&v.message),
        AccountError::Store(e) => return Err(e.into()),
    };
    Ok(FieldError {
        field: field.into(),
        message,
    })
}

pub(crate) async fn add(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (who, token, fields, lang) = match checked_post(&s, &headers, &body).await? {
        Ok(ok) => ok,
        Err(refused) => return Ok(refused),
    };
    if !who.account.admin {
        return Ok(forbidden(lang));
    }
    let m = crate::i18n::messages(lang);
    let outcome = match (
        AccountName::parse(fields.name.trim()),
        Password::parse(fields.password.clone()),
    ) {
        (Err(_), _) => Err(FieldError {
            field: "name".into(),
            message: m.t("console_err_name_rule").to_owned(),
        }),
        (_, Err(_)) => Err(FieldError {
            field: "password".into(),
            message: m.t("console_password_hint").to_owned(),
        }),
        (Ok(name), Ok(password)) => {
            match s.people.add(name, password, fields.admin.is_some()).await {
                Ok(_) => Ok(()),
                Err(e) => Err(error_for(lang, "name", e)?),
            }
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&console_url(USERS, lang)).into_response()),
        Err(error) => {
            render_users(
                &s,
                &who,
                &token,
                lang,
                &fields.name,
                &[error],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

pub(crate) async fn remove(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (who, token, _, lang) = match checked_post(&s, &headers, &body).await? {
        Ok(ok) => ok,
        Err(refused) => return Ok(refused),
    };
    if !who.account.admin {
        return Ok(forbidden(lang));
    }
    let result = match AccountName::parse(raw.clone()) {
        Ok(name) => s.people.remove(&name).await,
        Err(_) => Err(AccountError::NoSuchAccount(
            AccountName::parse("unknown").expect("a name"),
        )),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&console_url(USERS, lang)).into_response()),
        Err(e) => {
            let error = error_for(lang, "name", e)?;
            render_users(&s, &who, &token, lang, "", &[error], StatusCode::NOT_FOUND).await
        }
    }
}

pub(crate) async fn reset_password(
    State(s): State<AdminState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (who, token, fields, lang) = match checked_post(&s, &headers, &body).await? {
        Ok(ok) => ok,
        Err(refused) => return Ok(refused),
    };
    if !who.account.admin {
        return Ok(forbidden(lang));
    }
    let m = crate::i18n::messages(lang);
    let Ok(name) = AccountName::parse(raw) else {
        return Ok(forbidden(lang));
    };
    let result = match Password::parse(fields.password) {
        Err(_) => Err(FieldError {
            field: "password".into(),
            message: m.t("console_password_hint").to_owned(),
        }),
        Ok(password) => match s.people.reset_password(&name, password).await {
            Ok(()) => Ok(()),
            Err(e) => Err(error_for(lang, "name", e)?),
        },
    };
    match result {
        // Their own password: their session has just ended with the others.
        Ok(()) if name == who.account.name => Ok(super::to_sign_in(lang)),
        Ok(()) => Ok(Redirect::to(&console_url(USERS, lang)).into_response()),
        Err(error) => {
            render_users(
                &s,
                &who,
                &token,
                lang,
                "",
                &[error],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn render_totp(
    who: &SignedIn,
    token: &str,
    lang: Language,
    secret: &TotpSecret,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let frame = Frame {
        lang,
        path: TOTP,
        signed_in: Some((&who.account.name, token)),
    };
    let uri = secret.uri("Verbatim", &who.account.name);
    let page = totp_page(
        &frame,
        &secret.base32(),
        &uri,
        who.account.totp.is_some(),
        errors,
    );
    (status, page_headers(), page).into_response()
}

pub(crate) async fn totp_form(
    State(s): State<AdminState>,
    Query(query): Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((id, who)) = session(&s.people, &headers).await? else {
        return Ok(to_sign_in(lang));
    };
    let secret = TotpSecret::generate();
    Ok(render_totp(
        &who,
        &id.form_token(),
        lang,
        &secret,
        &[],
        StatusCode::OK,
    ))
}

pub(crate) async fn set_totp(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (who, token, fields, lang) = match checked_post(&s, &headers, &body).await? {
        Ok(ok) => ok,
        Err(refused) => return Ok(refused),
    };
    let Ok(secret) = TotpSecret::parse_base32(&fields.secret) else {
        return Ok(forbidden(lang));
    };
    match s
        .people
        .set_totp(&who.account.name, secret.clone(), &fields.code)
        .await
    {
        Ok(()) => Ok(Redirect::to(&console_url(&format!("{CONSOLE_PATH}/"), lang)).into_response()),
        Err(AccountError::Invalid(_)) => {
            let m = crate::i18n::messages(lang);
            let error = FieldError {
                field: "code".into(),
                message: m.t("console_err_code").to_owned(),
            };
            Ok(render_totp(
                &who,
                &token,
                lang,
                &secret,
                &[error],
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(ApiError::from(e)),
    }
}
