//! Lambda: the Secretariat's admin API (HTTP API -> axum router).

use std::sync::Arc;

use shared::adapters::scheduler::EventBridgeScheduler;
use shared::http::admin::{self, AdminToken};
use shared::http::with_security_headers;
use shared::ports::{PublishedByStream, SystemClock};
use shared::{AwsNames, Backend};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let token = std::env::var("VERBATIM_ADMIN_TOKEN")
        .map_err(|_| "set VERBATIM_ADMIN_TOKEN".to_owned())
        .and_then(AdminToken::new)?;
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &AwsNames::from_env()?, false).await?;
    let scheduler = EventBridgeScheduler::from_env(&config)?;
    let state = backend.admin_state(
        Arc::new(SystemClock),
        Arc::new(PublishedByStream),
        Arc::new(scheduler),
        token,
    );
    lambda_http::run(with_security_headers(admin::router(state))).await
}
