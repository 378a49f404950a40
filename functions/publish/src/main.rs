//! Lambda: publishes what the table's stream reports as new (responses, consultations).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::Backend;
use shared::ports::SystemClock;
use shared::publish::Publisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let backend = Backend::aws_from_env().await?;
    let publisher = Arc::new(backend.publisher(Arc::new(SystemClock)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let publisher = publisher.clone();
        async move { handle(&publisher, event.payload).await }
    }))
    .await
}

/// Publishes each consultation named in the batch once. An error fails the batch, which the
/// event source mapping retries (publication is idempotent).
async fn handle(publisher: &Publisher, event: Event) -> Result<(), Error> {
    let keys = event.records.iter().filter_map(|record| {
        let key = |name: &str| match record.change.keys.get(name) {
            Some(serde_dynamo::AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        Some((key("pk")?, key("sk")?))
    });
    for id in shared::adapters::dynamodb::consultations_in(keys) {
        publisher.publish(&id).await?;
    }
    Ok(())
}
