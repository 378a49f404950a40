//! The console's sessions and its checks against cross-site requests, shared by the console's
//! pages (`console`) and the admin API, which also accepts a console session.
//!
//! Sessions (OWASP Session Management Cheat Sheet): a random 256-bit id in a cookie that is
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it),
//! `Path=/admin`, `Secure` whenever the console is served over HTTPS, and that lasts at most
//! 8 hours (30 minutes without a request); the store keeps only the id's hash, so signing out
//! or removing the account ends it at once.
//!
//! Cross-site requests (OWASP CSRF Prevention Cheat Sheet) are refused twice over: each form
//! carries a token derived from the session (a signed-out form, the sign-in, carries one tied
//! to a cookie of its own), and the `Origin` header (else `Referer`) must name this host.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use jiff::{SignedDuration, Timestamp};

use crate::domain::account::{SESSION_ABSOLUTE, SessionId};
use crate::secretariat::people::{People, SignedIn};
use crate::site::console_pages::CONSOLE_PATH;

/// The session cookie.
pub const SESSION_COOKIE: &str = "verbatim_session";
/// The sign-in form's own token, before there is a session (against login CSRF).
pub const SIGN_IN_COOKIE: &str = "verbatim_sign_in";

/// Failed sign-ins one client address may make in [`ADDRESS_WINDOW`], whatever names it
/// tries (the per-account throttle cannot see one address trying many names), whatever
/// `--rate-limit` says.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 30;
pub const ADDRESS_WINDOW: SignedDuration = SignedDuration::from_mins(15);

/// How the host serves the console.
#[derive(Default)]
pub struct ConsoleSettings {
    /// Mark cookies `Secure`: the console is reached over HTTPS (decided by the host from the
    /// public URL's scheme; always on AWS).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client (as `--trusted-proxy`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The public site's origin (`https://consultations.example.org`): a form posted from its
    /// pages is from this console even where the request reaches the host under another
    /// name (on AWS, CloudFront forwards to API Gateway's own host name).
    pub public_origin: Option<String>,
    /// Failed sign-ins per client address: (window start, count). In memory: per instance.
    failures_by_address: Mutex<HashMap<IpAddr, (Timestamp, u32)>>,
}

impl ConsoleSettings {
    pub fn new(secure_cookies: bool, trusted_proxies: Vec<ipnet::IpNet>) -> Self {
        Self {
            secure_cookies,
            trusted_proxies,
            public_origin: None,
            failures_by_address: Mutex::default(),
        }
    }

    /// Forms posted from the pages of the site at `public_url` are from this console.
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        let origin = public_url
            .split_once("://")
            .map(|(scheme, rest)| {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                format!(
                    "{}://{}",
                    scheme.to_ascii_lowercase(),
                    authority.to_ascii_lowercase()
                )
            })
            .filter(|o| !o.ends_with("://"));
        self.public_origin = origin;
        self
    }

    pub(crate) fn address_blocked(&self, address: Option<IpAddr>, now: Timestamp) -> bool {
        let Some(address) = address else { return false };
        let map = self
            .failures_by_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.get(&address).is_some_and(|(start, count)| {
            now < *start + ADDRESS_WINDOW && *count >= MAX_FAILURES_PER_ADDRESS
        })
    }

    pub(crate) fn address_failed(&self, address: Option<IpAddr>, now: Timestamp) {
        let Some(address) = address else { return };
        let mut map = self
            .failures_by_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (start, _)| now < *start + ADDRESS_WINDOW);
        let entry = map.entry(address).or_insert((now, 0));
        entry.1 += 1;
    }
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for the console: `HttpOnly`, `SameSite=Strict`, `Path=/admin`, and
/// `Secure` when served over HTTPS. `None` clears the cookie.
pub(crate) fn set_cookie(
    settings: &ConsoleSettings,
    name: &str,
    value: Option<&str>,
    max_age: SignedDuration,
) -> HeaderValue {
    let (value, max_age) = match value {
        Some(v) => (v, max_age.as_secs()),
        None => ("", 0),
    };
    let secure = if settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={CONSOLE_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex")
}

/// The session cookie for a new session (its `Max-Age` the absolute limit).
pub(crate) fn session_cookie(settings: &ConsoleSettings, id: &SessionId) -> HeaderValue {
    set_cookie(
        settings,
        SESSION_COOKIE,
        Some(id.reveal()),
        SESSION_ABSOLUTE,
    )
}

/// The person the request's session cookie belongs to, if the session is live.
pub(crate) async fn session(
    people: &People,
    headers: &HeaderMap,
) -> Result<Option<(SessionId, SignedIn)>, crate::ports::StoreError> {
    let Some(id) = cookie(headers, SESSION_COOKIE).and_then(SessionId::parse) else {
        return Ok(None);
    };
    Ok(people.signed_in(&id).await?.map(|who| (id, who)))
}

/// Whether the request comes from a page of this console: its `Origin` (else its `Referer`)
/// names the host the request was sent to, or the public site's origin. Neither header:
/// refused (every browser that supports `SameSite` sends `Origin` with a POST).
pub(crate) fn same_origin(settings: &ConsoleSettings, headers: &HeaderMap) -> bool {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else { return false };
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let public = settings
        .public_origin
        .as_deref()
        .is_some_and(|origin| origin.eq_ignore_ascii_case(&format!("{scheme}://{authority}")));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    public || host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
}

/// The client's address: the socket's peer, or behind a trusted proxy the one it names.
pub(crate) fn client_address(
    settings: &ConsoleSettings,
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    peer.map(|ConnectInfo(addr)| {
        super::rate_limit::client_address(addr.ip(), headers, &settings.trusted_proxies)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_host_or_the_public_site_is_the_same_origin() {
        let headers = |pairs: &[(header::HeaderName, &str)]| {
            let mut h = HeaderMap::new();
            for (name, value) in pairs {
                h.insert(name.clone(), HeaderValue::from_str(value).unwrap());
            }
            h
        };
        let local = ConsoleSettings::default();
        let host = (header::HOST, "console.example.org");
        let from = |origin: &str| headers(&[host.clone(), (header::ORIGIN, origin)]);
        assert!(same_origin(&local, &from("https://console.example.org")));
        assert!(same_origin(
            &local,
            &headers(&[
                host.clone(),
                (
                    header::REFERER,
                    "https://console.example.org/admin/sign-in?lang=fr"
                )
            ])
        ));
        assert!(!same_origin(
            &local,
            &from("https://console.example.org.evil.example")
        ));
        assert!(!same_origin(&local, &from("null")));
        assert!(!same_origin(&local, &headers(std::slice::from_ref(&host))));

        // Behind CloudFront the host is API Gateway's; the public site's origin is ours.
        let aws = ConsoleSettings::new(true, vec![])
            .with_public_url("https://Consultations.example.org/");
        let api = (header::HOST, "abc123.execute-api.eu-west-1.amazonaws.com");
        let via = |origin: &str| headers(&[api.clone(), (header::ORIGIN, origin)]);
        assert!(same_origin(&aws, &via("https://consultations.example.org")));
        assert!(!same_origin(&aws, &via("http://consultations.example.org")));
        assert!(!same_origin(
            &aws,
            &via("https://consultations.example.org.evil.example")
        ));
        assert!(!same_origin(
            &local,
            &via("https://consultations.example.org")
        ));
    }
}
