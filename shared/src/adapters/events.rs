//! The events that invoke the functions on AWS, read into what the use cases need: the
//! consultations a DynamoDB stream batch changed, the objects an S3 notification names.
//! Attribute values and URL-encoded keys stay here, next to the adapters that write them.

use std::collections::BTreeSet;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::s3::S3Event;
use serde_dynamo::AttributeValue;

use crate::domain::ConsultationId;

/// The distinct consultations a batch of stream records changed (records of other items, such
/// as subscriptions or audit entries, name none).
pub fn changed_consultations(event: &StreamEvent) -> BTreeSet<ConsultationId> {
    let keys = event.records.iter().filter_map(|record| {
        let key = |name: &str| match record.change.keys.get(name) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        };
        Some((key("pk")?, key("sk")?))
    });
    super::dynamodb::consultations_in(keys)
}

/// An object an S3 event says was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// Decoded: S3 event keys are URL-encoded, with `+` for a space.
    pub key: String,
}

/// The objects an S3 event names, in order; records without a bucket or key are logged and
/// skipped.
pub fn created_objects(event: &S3Event) -> Vec<CreatedObject> {
    event
        .records
        .iter()
        .filter_map(|record| {
            let bucket = record.s3.bucket.name.clone();
            let key = record.s3.object.key.as_deref();
            match (bucket, key) {
                (Some(bucket), Some(key)) => Some(CreatedObject {
                    bucket,
                    key: decoded_key(key),
                }),
                _ => {
                    tracing::warn!("an S3 event record without bucket or key");
                    None
                }
            }
        })
        .collect()
}

fn decoded_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use test_support::events::{s3_record, stream_record};

    use super::*;

    #[test]
    fn stream_records_name_their_consultations_once() {
        let event: StreamEvent = serde_json::from_value(json!({"Records": [
            stream_record("C#water", "R#000000000001"),
            stream_record("C#water", "R#000000000002"),
            stream_record("SUB#x", "SUB"),
        ]}))
        .unwrap();
        let changed: Vec<String> = changed_consultations(&event)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(changed, ["water"]);
    }

    #[test]
    fn s3_keys_are_decoded() {
        let event: S3Event = serde_json::from_value(json!({"Records": [
            s3_record(Some("private"), "inbound/a+b%2Bc%C3%A9"),
            s3_record(None, "inbound/lost"),
        ]}))
        .unwrap();
        assert_eq!(
            created_objects(&event),
            [CreatedObject {
                bucket: "private".into(),
                key: "inbound/a b+cé".into()
            }]
        );
    }
}
