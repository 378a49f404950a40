//! Per-client rate limits on the local host: responses, uploads and subscription requests, each
//! counted per client address, answered `429 rate_limited` with `Retry-After` once spent. On
//! AWS the same job is done in front of the functions (a WAF rate-based rule and the HTTP
//! API's route throttles, see `infra/`), so the Lambda routers carry no limiter.
//!
//! The client is the socket's peer, or, only when that peer is a proxy the operator trusts
//! (`--trusted-proxy <CIDR>`), the address that proxy put in `X-Forwarded-For`: anyone can
//! write that header, so trusting it from anywhere would let every request choose its own
//! bucket.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use super::error::ApiError;

/// `--rate-limit`: how many responses one client may send a minute, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    PerMinute(NonZeroU32),
    Off,
}

impl RateLimit {
    /// Enough for a delegation behind one address sending its members' responses, far below
    /// what a script sends.
    pub const DEFAULT: Self = Self::PerMinute(NonZeroU32::new(60).expect("not zero"));

    /// `60/min`, `60` (a minute is implied), or `off`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let count = raw.strip_suffix("/min").unwrap_or(raw).trim();
        count
            .parse::<NonZeroU32>()
            .map(Self::PerMinute)
            .map_err(|_| format!("{raw:?} is not a rate: write N/min (e.g. 60/min) or off"))
    }
}

/// What a request counts against: each kind has its own allowance per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// `POST /api/consultations/{id}/responses`.
    Responses,
    /// `POST /api/consultations/{id}/uploads` and the uploads' `PUT /api/uploads/…`.
    Uploads,
    /// `POST /api/consultations/{id}/subscriptions`: each may send a mail.
    Subscriptions,
}

impl Limited {
    /// The kind a request counts against; `None`: not limited (reading, the admin side, the
    /// links in mails, the site).
    pub fn of(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            (&Method::POST, ["", "api", "consultations", _, "responses"]) => Some(Self::Responses),
            (&Method::POST, ["", "api", "consultations", _, "uploads"])
            | (&Method::PUT, ["", "api", "uploads", _, _]) => Some(Self::Uploads),
            (&Method::POST, ["", "api", "consultations", _, "subscriptions"]) => {
                Some(Self::Subscriptions)
            }
            _ => None,
        }
    }
}

/// The limiters of one local host, shared by its connections.
pub struct ClientLimits {
    responses: DefaultKeyedRateLimiter<IpAddr>,
    /// A response may carry 20 files sent as presigned uploads (a request for the upload and
    /// its `PUT` each): so many times the responses' allowance.
    uploads: DefaultKeyedRateLimiter<IpAddr>,
    subscriptions: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpNet>,
}

/// Upload requests allowed per response allowed: a ticket and a `PUT` for each of 20 files.
const UPLOADS_PER_RESPONSE: u32 = 2 * 20;

impl ClientLimits {
    /// `None` when the limit is `off`.
    pub fn new(limit: RateLimit, trusted_proxies: Vec<IpNet>) -> Option<Arc<Self>> {
        let RateLimit::PerMinute(per_minute) = limit else {
            return None;
        };
        let uploads =
            per_minute.saturating_mul(NonZeroU32::new(UPLOADS_PER_RESPONSE).expect("not zero"));
        Some(Arc::new(Self {
            responses: governor::RateLimiter::keyed(Quota::per_minute(per_minute)),
            uploads: governor::RateLimiter::keyed(Quota::per_minute(uploads)),
            subscriptions: governor::RateLimiter::keyed(Quota::per_minute(per_minute)),
            trusted_proxies,
        }))
    }

    fn limiter(&self, kind: Limited) -> &DefaultKeyedRateLimiter<IpAddr> {
        match kind {
            Limited::Responses => &self.responses,
            Limited::Uploads => &self.uploads,
            Limited::Subscriptions => &self.subscriptions,
        }
    }

    /// Takes one request of `kind` from `client`'s allowance; `Err`: how long until the next.
    pub fn check(&self, kind: Limited, client: IpAddr) -> Result<(), Duration> {
        self.limiter(kind)
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// The client a request comes from: the peer, or what a trusted proxy says it forwarded.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_address(peer, headers, &self.trusted_proxies)
    }

    /// Forgets clients whose allowance is full again, so memory follows the clients of the
    /// last minute, not every address ever seen.
    pub fn forget_idle(&self) {
        for limiter in [&self.responses, &self.uploads, &self.subscriptions] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The peer, unless it is a trusted proxy: then the right-most `X-Forwarded-For` address that
/// is not itself a trusted proxy (each proxy appends the address it received from; the ones
/// further left were written by the client and prove nothing).
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// `router` with its limited requests counted (see [`enforce`]); a refusal's JSON message is
/// in the language the request asks for, as every error of the API is.
pub fn limit(router: axum::Router, limits: Arc<ClientLimits>) -> axum::Router {
    router
        .layer(axum::middleware::from_fn_with_state(limits, enforce))
        .layer(axum::middleware::from_fn(super::error::localize))
}

/// Middleware: counts each limited request against its client; once spent, `429` with
/// `Retry-After`, before the body is read (the connection closes, so the client stops
/// sending). A browser posting the form gets the error page in its language.
pub async fn enforce(
    axum::extract::State(limits): axum::extract::State<Arc<ClientLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(kind) = Limited::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        // Served without a socket (no `ConnectInfo`): nothing to count by.
        return next.run(request).await;
    };
    let client = limits.client(peer.ip(), request.headers());
    match limits.check(kind, client) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(%client, ?kind, wait_ms = wait.as_millis() as u64, "rate limited");
            let html = wants_html(request.headers())
                .then(|| super::page_language(query_lang(&request).as_deref()));
            ApiError::RateLimited(retry_after_seconds(wait)).at_once(html)
        }
    }
}

/// Whole seconds to wait, at least one (`Retry-After` has no fractions).
fn retry_after_seconds(wait: Duration) -> u32 {
    u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// A browser's form post asks for HTML (as the intake's handlers judge it).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn query_lang(request: &Request) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(request.uri().query()?)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "lang").then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(RateLimit::parse("off"), Ok(RateLimit::Off));
        assert_eq!(
            RateLimit::parse("120/min"),
            Ok(RateLimit::PerMinute(NonZeroU32::new(120).unwrap()))
        );
        assert_eq!(
            RateLimit::parse("5"),
            Ok(RateLimit::PerMinute(NonZeroU32::new(5).unwrap()))
        );
        for bad in ["", "0/min", "-1", "fast", "60/hour", "1.5/min"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_writes_from_the_public_are_limited() {
        let post = Method::POST;
        assert_eq!(
            Limited::of(&post, "/api/consultations/c1/responses"),
            Some(Limited::Responses)
        );
        assert_eq!(
            Limited::of(&post, "/api/consultations/c1/uploads"),
            Some(Limited::Uploads)
        );
        assert_eq!(
            Limited::of(&Method::PUT, "/api/uploads/c1/abc"),
            Some(Limited::Uploads)
        );
        assert_eq!(
            Limited::of(&post, "/api/consultations/c1/subscriptions"),
            Some(Limited::Subscriptions)
        );
        for (method, path) in [
            (Method::GET, "/api/consultations/c1/responses/r1"),
            (Method::GET, "/api/consultations"),
            (Method::POST, "/api/admin/consultations"),
            (Method::POST, "/api/subscriptions/confirm"),
            (Method::GET, "/consultations/c1/"),
        ] {
            assert_eq!(Limited::of(&method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: IpNet = "10.0.0.0/8".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.1.2.3".parse().unwrap(),
        );
        let from_proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let from_anyone: IpAddr = "198.51.100.9".parse().unwrap();
        // Behind the proxy: the last address it did not add itself (the client's own claim,
        // 6.6.6.6, is not believed).
        assert_eq!(
            client_address(from_proxy, &headers, &[proxy]),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // Not a trusted proxy: the header is ignored.
        assert_eq!(client_address(from_anyone, &headers, &[proxy]), from_anyone);
        assert_eq!(client_address(from_proxy, &headers, &[]), from_proxy);
        // A trusted proxy without the header: the proxy itself.
        assert_eq!(
            client_address(from_proxy, &HeaderMap::new(), &[proxy]),
            from_proxy
        );
    }

    #[test]
    fn an_allowance_is_per_client_and_says_when_to_come_back() {
        let limits = ClientLimits::new(RateLimit::parse("3/min").unwrap(), vec![]).unwrap();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limits.check(Limited::Responses, a).is_ok());
        }
        let wait = limits.check(Limited::Responses, a).unwrap_err();
        // One request every 20 s comes back.
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!((16..=20).contains(&retry_after_seconds(wait)));
        assert!(
            limits.check(Limited::Responses, b).is_ok(),
            "another client"
        );
        assert!(
            limits.check(Limited::Subscriptions, a).is_ok(),
            "another kind"
        );
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(19_001)), 20);
    }
}
