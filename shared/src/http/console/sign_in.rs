//! Signing in (name, password, and a TOTP code for an account that has one) and out.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::SignedDuration;
use subtle::ConstantTimeEq;

use super::{forbidden, form, language, page_headers};
use crate::domain::Language;
use crate::http::PageLanguage;
use crate::http::admin::AdminState;
use crate::http::error::ApiError;
use crate::http::session::{
    SESSION_COOKIE, SIGN_IN_COOKIE, client_address, cookie, same_origin, session, session_cookie,
    set_cookie,
};
use crate::secretariat::people::SignInError;
use crate::site::console_pages::{CONSOLE_PATH, FieldError, console_url, sign_in_page};

/// How long a sign-in form may be left open before it is sent.
const SIGN_IN_FORM_LIFE: SignedDuration = SignedDuration::from_hours(1);

#[derive(serde::Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
    lang: Option<String>,
}

/// The sign-in page, with a fresh token in the form and in a cookie of its own.
fn fresh_form(
    s: &AdminState,
    status: StatusCode,
    lang: Language,
    name: &str,
    errors: &[FieldError],
) -> Response {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let cookie = set_cookie(&s.console, SIGN_IN_COOKIE, Some(&token), SIGN_IN_FORM_LIFE);
    (
        status,
        page_headers(),
        [(header::SET_COOKIE, cookie)],
        sign_in_page(lang, &token, name, errors),
    )
        .into_response()
}

pub(crate) async fn form_page(
    State(s): State<AdminState>,
    axum::extract::Query(query): axum::extract::Query<PageLanguage>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    if session(&s.people, &headers).await?.is_some() {
        return Ok(Redirect::to(&console_url(&format!("{CONSOLE_PATH}/"), lang)).into_response());
    }
    Ok(fresh_form(&s, StatusCode::OK, lang, "", &[]))
}

pub(crate) async fn sign_in(
    State(s): State<AdminState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(given) = form::<SignInForm>(&body) else {
        return Ok(forbidden(language(None, &headers)));
    };
    let lang = language(given.lang.as_deref(), &headers);
    let m = crate::i18n::messages(lang);
    let token_ok = cookie(&headers, SIGN_IN_COOKIE)
        .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(given.csrf.as_bytes())));
    if !token_ok || !same_origin(&s.console, &headers) {
        return Ok(forbidden(lang));
    }
    let now = s.people.clock.now();
    let address = client_address(&s.console, peer.as_ref().map(|p| &p.0), &headers);
    if s.console.address_blocked(address, now) {
        let errors = [FieldError {
            field: "name".into(),
            message: m.t("console_err_address").to_owned(),
        }];
        return Ok(fresh_form(
            &s,
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            &given.name,
            &errors,
        ));
    }
    let code = Some(given.code.trim()).filter(|c| !c.is_empty());
    match s.people.sign_in(&given.name, &given.password, code).await {
        Ok((id, _)) => {
            let mut response =
                Redirect::to(&console_url(&format!("{CONSOLE_PATH}/"), lang)).into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, session_cookie(&s.console, &id));
            headers.append(
                header::SET_COOKIE,
                set_cookie(&s.console, SIGN_IN_COOKIE, None, SignedDuration::ZERO),
            );
            Ok(response)
        }
        Err(SignInError::Refused) => {
            s.console.address_failed(address, now);
            let errors = [FieldError {
                field: "name".into(),
                message: m.t("console_err_sign_in").to_owned(),
            }];
            Ok(fresh_form(
                &s,
                StatusCode::UNAUTHORIZED,
                lang,
                &given.name,
                &errors,
            ))
        }
        Err(SignInError::Locked { until }) => {
            s.console.address_failed(address, now);
            let errors = [FieldError {
                field: "name".into(),
                message: m.f("console_err_locked", &[("until", &m.geneva_time(until))]),
            }];
            Ok(fresh_form(
                &s,
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                &given.name,
                &errors,
            ))
        }
        Err(SignInError::Store(e)) => Err(e.into()),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct SignOutForm {
    #[serde(default)]
    csrf: String,
    lang: Option<String>,
}

pub(crate) async fn sign_out(
    State(s): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let given = form::<SignOutForm>(&body);
    let lang = language(given.as_ref().and_then(|g| g.lang.as_deref()), &headers);
    let Some((id, _)) = session(&s.people, &headers).await? else {
        return Ok(super::to_sign_in(lang));
    };
    if !given.is_some_and(|g| id.accepts_form_token(&g.csrf)) || !same_origin(&s.console, &headers)
    {
        return Ok(forbidden(lang));
    }
    s.people.sign_out(&id).await?;
    let mut response = super::to_sign_in(lang);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.console, SESSION_COOKIE, None, SignedDuration::ZERO),
    );
    Ok(response)
}
