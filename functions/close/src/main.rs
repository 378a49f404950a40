//! Lambda: closes consultations at their deadline. Invoked by a one-time EventBridge Scheduler
//! schedule per consultation (`{"consultation": "<id>"}`), and by a periodic sweep
//! (`{}`) in case a schedule failed.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use shared::Backend;
use shared::closing::Closer;
use shared::domain::ConsultationId;
use shared::ports::{PublishedByStream, SystemClock};

/// A due step this close is waited for within the invocation (the dossier follows the
/// deadline by the in-flight grace); anything later is left to the next sweep.
const WAIT_AT_MOST: Duration = Duration::from_secs(120);

#[derive(Debug, Deserialize)]
struct CloseEvent {
    #[serde(default)]
    consultation: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let backend = Backend::aws_from_env().await?;
    // Pages follow from the table's stream, like every other change.
    let closer = Arc::new(backend.closer(Arc::new(SystemClock), Arc::new(PublishedByStream)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloseEvent>| {
        let closer = closer.clone();
        async move { handle(&closer, event.payload).await }
    }))
    .await
}

async fn handle(closer: &Closer, event: CloseEvent) -> Result<(), Error> {
    let Some(raw) = event.consultation else {
        closer.sweep().await?;
        return Ok(());
    };
    let id = ConsultationId::parse(&raw)?;
    while let Some(next) = closer.run(&id).await? {
        let wait = jiff::Timestamp::now().duration_until(next);
        let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
        if wait > WAIT_AT_MOST {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Ok(())
}
