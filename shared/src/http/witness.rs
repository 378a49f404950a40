//! The witness's HTTP interface (C2SP tlog-witness): `POST /add-checkpoint`, answered in plain
//! text as the specification says (`200` the cosignature lines; `409` the size last cosigned,
//! `Content-Type: text/x.tlog.size`; `400`, `403`, `404`, `422` a one-line reason). Bodies are
//! bounded ([`MAX_BODY`]) and each client address has an allowance of requests a minute.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::witness::{Refusal, Witness};

/// The largest request: 63 proof lines and a checkpoint with a hundred signatures fit in a
/// tenth of it.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
struct WitnessState {
    witness: Arc<Witness>,
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

/// The witness's routes. `per_minute`: requests one client address may make a minute
/// (`None`: no limit).
pub fn router(witness: Arc<Witness>, per_minute: Option<NonZeroU32>) -> Router {
    let limiter = per_minute.map(|n| Arc::new(governor::RateLimiter::keyed(Quota::per_minute(n))));
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(WitnessState { witness, limiter })
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn add_checkpoint(
    State(state): State<WitnessState>,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    // Served without a socket (the router's tests): nothing to count by.
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if let (Some(limiter), Some(peer)) = (&state.limiter, peer)
        && limiter.check_key(&peer.ip()).is_err()
    {
        let mut response = text(
            StatusCode::TOO_MANY_REQUESTS,
            "text/plain; charset=utf-8",
            "too many requests from your address: try again in a minute\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    let witness = state.witness.clone();
    let answer = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    let plain = "text/plain; charset=utf-8";
    match answer {
        Ok(Ok(cosignatures)) => text(StatusCode::OK, plain, cosignatures),
        Ok(Err(Refusal::Conflict(size))) => text(
            StatusCode::CONFLICT,
            "text/x.tlog.size",
            format!("{size}\n"),
        ),
        Ok(Err(refusal)) => {
            let status = match &refusal {
                Refusal::Malformed(_) | Refusal::OldBeyondCheckpoint { .. } => {
                    StatusCode::BAD_REQUEST
                }
                Refusal::UnknownOrigin(_) => StatusCode::NOT_FOUND,
                Refusal::NotTrusted(_) => StatusCode::FORBIDDEN,
                Refusal::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::Conflict(_) => unreachable!("answered above"),
                Refusal::Store(e) => {
                    tracing::error!(error = %e, "the witness's state failed");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            text(status, plain, format!("{refusal}\n"))
        }
        Err(e) => {
            tracing::error!(error = %e, "cosigning panicked");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                plain,
                "internal error\n".to_owned(),
            )
        }
    }
}
