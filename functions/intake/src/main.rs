//! Lambda: submissions in, and the public read API (HTTP API -> axum router).

use std::sync::Arc;

use shared::Backend;
use shared::http::{intake, with_security_headers};
use shared::ports::{PublishedByStream, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let backend = Backend::aws_from_env().await?;
    // Publication follows from the table's stream, so intake needs no queue.
    let state = backend.intake_state(Arc::new(SystemClock), Arc::new(PublishedByStream));
    lambda_http::run(with_security_headers(intake::router(state))).await
}
