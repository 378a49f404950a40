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

#[cfg(test)]
#[path = "../../../tests/support/moto.rs"]
mod moto;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;
    use shared::domain::{
        AuditEntry, Channel, ConsultationRequest, NewResponse, ResponseId, Submitter,
    };
    use shared::ports::{Clock, ObjectKey};

    use super::*;

    /// A stream record as DynamoDB Streams delivers it to Lambda (keys only).
    fn record(pk: &str, sk: &str) -> serde_json::Value {
        json!({
            "eventID": "1", "eventName": "INSERT", "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
            "dynamodb": {
                "ApproximateCreationDateTime": 1.8e9,
                "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                "SequenceNumber": "100", "SizeBytes": 40, "StreamViewType": "KEYS_ONLY"
            }
        })
    }

    #[tokio::test]
    async fn a_stream_batch_publishes_its_consultations() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let backend = moto::moto(&workspace).fresh_backend("publish").await;
        let clock = SystemClock;
        let request: ConsultationRequest = serde_json::from_value(json!({
            "id": "streamed", "title": {"en": "Streamed"},
            "questions": [{"en": "Q?"}], "meeting_date": "2099-01-31"
        }))
        .unwrap();
        let consultation = request.into_consultation(clock.now()).unwrap();
        backend
            .consultations
            .create(&consultation, &AuditEntry::created(&consultation))
            .await
            .unwrap();
        backend
            .responses
            .append(NewResponse {
                id: ResponseId::new(),
                consultation: consultation.id.clone(),
                received_at: clock.now(),
                channel: Channel::Api,
                submitter: Submitter {
                    name: "Ada".into(),
                    organization: None,
                    category: None,
                    country: None,
                    email: None,
                },
                files: vec![],
            })
            .await
            .unwrap();

        let event: Event = serde_json::from_value(json!({"Records": [
            record("C#streamed", "META"),
            record("C#streamed", "R#000000000001"),
            record("C#streamed", "PUBLISHED"),
        ]}))
        .unwrap();
        let publisher = backend.publisher(Arc::new(SystemClock));
        handle(&publisher, event).await.unwrap();

        let manifest = ObjectKey::parse("consultations/streamed/responses.json").unwrap();
        let object = backend
            .site
            .get(&manifest)
            .await
            .unwrap()
            .expect("published");
        let manifest: serde_json::Value =
            serde_json::from_slice(&object.into_bytes().await.unwrap()).unwrap();
        assert_eq!(manifest["total"], 1);
        assert_eq!(manifest["responses"][0]["name"], "Ada");
    }
}
