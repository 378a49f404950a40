//! Lambda: the Secretariat's admin API (HTTP API -> axum router).

use std::sync::Arc;

use shared::Backend;
use shared::http::admin::{self, AdminToken};
use shared::http::with_security_headers;
use shared::ports::{PublishedByStream, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let token = std::env::var("VERBATIM_ADMIN_TOKEN")
        .map_err(|_| "set VERBATIM_ADMIN_TOKEN".to_owned())
        .and_then(AdminToken::new)?;
    let backend = Backend::aws_from_env().await?;
    let state = backend.admin_state(Arc::new(SystemClock), Arc::new(PublishedByStream), token);
    lambda_http::run(with_security_headers(admin::router(state))).await
}
