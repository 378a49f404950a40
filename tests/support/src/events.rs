//! The events AWS delivers to the functions, as JSON, for tests that feed a handler or a
//! decoder what Lambda would.

use serde_json::{Value, json};

/// A DynamoDB Streams record (keys only), as the stream delivers it to Lambda.
pub fn stream_record(pk: &str, sk: &str) -> Value {
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

/// An S3 `ObjectCreated` record, as S3 delivers it to Lambda (the key URL-encoded; no bucket
/// name with `None`).
pub fn s3_record(bucket: Option<&str>, encoded_key: &str) -> Value {
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-28T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:SES"},
        "requestParameters": {"sourceIPAddress": "192.0.2.1"},
        "responseElements": {"x-amz-request-id": "1", "x-amz-id-2": "2"},
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "inbound-mail",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A"},
                       "arn": format!("arn:aws:s3:::{}", bucket.unwrap_or_default())},
            "object": {"key": encoded_key, "size": 100, "eTag": "0", "sequencer": "1"}
        }
    })
}
