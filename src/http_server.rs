//! The local host's HTTP server: hyper under the axum router, with the limits a server facing
//! the Internet needs and `axum::serve` does not set (it has no timer, so hyper's header
//! timeout never fires): clients that stall cannot hold connections, nor take them all.
//!
//! - A request's headers must arrive within `header_read`, or the connection is closed; the same
//!   bound closes idle keep-alive connections.
//! - A request's body may pause at most `body_idle` between two pieces (a slow upload goes on; a
//!   stalled one is cut off, and what it sent is not kept).
//! - At most `max_connections` at once; beyond, new ones wait in the listen queue. One client
//!   address may hold at most `max_per_client` of them (a proxy the operator trusts excepted:
//!   all its clients share its address). A connection over that waits up to `PER_CLIENT_WAIT`
//!   for one of its client's to end (a client that closes one and opens the next at once is
//!   not refused for the moment the first takes to be counted out); after that it gets an
//!   HTTP `503` with `Retry-After`, never a bare reset: many honest respondents share one
//!   address (a ministry's network, a carrier's NAT), and they rush together.
//! - On shutdown, connections finish the request in progress, for at most `SHUTDOWN_GRACE`.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of [`serve`].
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub body_idle: Duration,
    pub max_connections: usize,
    pub max_per_client: usize,
    /// Peers whose connections are not counted per client (they carry many clients).
    pub trusted_proxies: Vec<IpNet>,
}

/// How long connections may take to finish their request once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a connection over its client's share waits for one of them to end.
const PER_CLIENT_WAIT: Duration = Duration::from_secs(2);

/// What a connection over its client's share is told, to every request, before it is closed.
const OVER_SHARE: &str = r#"{"error":{"code":"unavailable","message":"too many connections from your address at once: try again in a moment"}}"#;

/// Serves `router` on `listener` until `shutdown` completes. Each request carries its
/// connection's peer as `ConnectInfo<SocketAddr>` (the rate limits count by it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_idle,
    ));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or memory, or the client gave up: not fatal.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let counted = !limits
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&peer.ip()));
        let _ = stream.set_nodelay(true);
        let (builder, router, per_client, watcher) = (
            builder.clone(),
            router.clone(),
            per_client.clone(),
            graceful.watcher(),
        );
        let max_per_client = limits.max_per_client;
        // A free share is taken here, in the order connections are accepted; only a connection
        // over its client's share waits, in its task. (Taken in the task, a later connection's
        // task could run first and take the share of an earlier one.)
        let ready = if counted {
            per_client.take(peer.ip(), max_per_client)
        } else {
            None
        };
        tokio::spawn(async move {
            let held = if let Some(held) = ready {
                Some(held)
            } else if counted {
                match per_client
                    .wait_for(peer.ip(), max_per_client, PER_CLIENT_WAIT)
                    .await
                {
                    Some(held) => Some(held),
                    None => {
                        tracing::info!(client = %peer.ip(), "too many connections from one client; answered 503");
                        let refused = builder
                            .serve_connection(TokioIo::new(stream), service_fn(over_share))
                            .into_owned();
                        let _ = tokio::time::timeout(PER_CLIENT_WAIT, watcher.watch(refused)).await;
                        drop(slot);
                        return;
                    }
                }
            } else {
                None
            };
            let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(held);
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace; closing them");
    }
    Ok(())
}

/// The answer to every request of a connection over its client's share: `503` with
/// `Retry-After`, and the connection closed after it.
async fn over_share(
    _: hyper::Request<Incoming>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    let mut response = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
        OVER_SHARE.as_bytes(),
    )));
    *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    Ok(response)
}

/// Connections held per client address, and a wake-up for those waiting when one ends.
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>, tokio::sync::Notify);

/// One connection of a client, given back when dropped.
struct Held {
    clients: Arc<PerClient>,
    client: IpAddr,
}

impl PerClient {
    /// A share of `client`'s, waiting up to `wait` for one to be given back.
    async fn wait_for(
        self: &Arc<Self>,
        client: IpAddr,
        at_most: usize,
        wait: Duration,
    ) -> Option<Held> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before the try, so a share given back in between is not missed.
            let given_back = self.1.notified();
            if let Some(held) = self.take(client, at_most) {
                return Some(held);
            }
            if tokio::time::timeout_at(deadline, given_back).await.is_err() {
                return None;
            }
        }
    }

    fn take(self: &Arc<Self>, client: IpAddr, at_most: usize) -> Option<Held> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = held.entry(client).or_default();
        if *count >= at_most {
            return None;
        }
        *count += 1;
        Some(Held {
            clients: self.clone(),
            client,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self
            .clients
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
        drop(held);
        self.clients.1.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_it_back() {
        let clients = Arc::new(PerClient::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = clients.take(a, 2).unwrap();
        let _second = clients.take(a, 2).unwrap();
        assert!(clients.take(a, 2).is_none());
        assert!(clients.take(b, 2).is_some(), "another client");
        drop(first);
        assert!(clients.take(a, 2).is_some(), "one given back");
    }

    #[tokio::test]
    async fn a_connection_over_the_share_waits_for_one_given_back() {
        let clients = Arc::new(PerClient::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = clients.take(a, 1).unwrap();
        let waiting = {
            let clients = clients.clone();
            tokio::spawn(async move { clients.wait_for(a, 1, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert!(
            got.unwrap().unwrap().is_some(),
            "taken as soon as given back"
        );
        // Nobody gives one back: refused once the wait is over.
        let _held = clients.take(a, 1);
        let refused = clients.wait_for(a, 1, Duration::from_millis(50)).await;
        assert!(refused.is_none());
    }
}
