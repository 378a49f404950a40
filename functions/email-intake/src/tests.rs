//! The AWS path of email, against moto: a message stored by SES's receipt rule, the S3 event
//! it raises, and this function's handler taking it, with receipts sent through SES.

use serde_json::json;
use shared::AwsNames;
use shared::domain::{Channel, ConsultationRequest, SubscriberId};
use shared::email::receive::EmailIntake;
use shared::ports::{Body, ObjectMeta, PutMode};

use super::*;

use test_support::ses as moto_ses;

const DOMAIN: &str = "consultations.example.org";

/// An S3 `ObjectCreated` record as S3 sends it to Lambda (the key URL-encoded).
fn event(bucket: &str, encoded_key: &str) -> S3Event {
    let record = test_support::events::s3_record(Some(bucket), encoded_key);
    serde_json::from_value(json!({ "Records": [record] })).unwrap()
}

/// A message as SES stores it: its own `Received:` header naming the envelope recipient.
fn message(to: &str, body: &str) -> Vec<u8> {
    [
        "Return-Path: <ada@example.org>",
        "Received: from mail.example.org (mail.example.org [192.0.2.1])",
        " by inbound-smtp.us-east-1.amazonaws.com with SMTP id 8h3k2",
        &format!(" for {to};"),
        " Sat, 28 Nov 2026 12:00:00 +0000 (UTC)",
        "From: Ada Lovelace <ada@example.org>",
        "To: \"The Group\" <press@example.org>",
        "Subject: My response",
        "Message-ID: <m1@example.org>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
        "",
    ]
    .join("\r\n")
    .into_bytes()
}

struct Setup {
    backend: Backend,
    names: AwsNames,
    s3_client: aws_sdk_s3::Client,
    email: EmailIntake,
    endpoint: String,
}

async fn setup() -> Setup {
    let moto = test_support::moto();
    let config = moto.sdk_config().await;
    let names = AwsNames::new(
        &test_support::unique_name("mail-table"),
        &test_support::unique_name("mail-private"),
        &test_support::unique_name("mail-site"),
    );
    let backend = Backend::aws(&config, &names, true).await.unwrap();
    moto_ses::verify_domain(&config, DOMAIN).await;
    let mail = MailSettings {
        mail_domain: DOMAIN.to_owned(),
        public_url: "https://consultations.example.org".to_owned(),
        from: format!("verbatim@{DOMAIN}"),
    };
    let mailer = Arc::new(shared::adapters::ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(&config),
        &mail.from,
    ));
    let email = email_intake(&backend, &mail, mailer);
    Setup {
        s3_client: s3::client(&config),
        backend,
        names,
        email,
        endpoint: moto.endpoint.clone(),
    }
}

async fn open(backend: &Backend, id: &str) {
    let request: ConsultationRequest = serde_json::from_value(json!({
        "id": id, "title": {"en": "By email on AWS"},
        "questions": [{"en": "Q?"}], "meeting_date": "2099-01-31"
    }))
    .unwrap();
    let c = request.into_consultation(SystemClock.now()).unwrap();
    backend
        .consultations
        .create(&c, &shared::domain::AuditEntry::created(&c, None))
        .await
        .unwrap();
}

/// Stores `raw` where SES's S3 action would, and returns the event S3 would send.
async fn stored_by_ses(s: &Setup, key: &str, raw: &[u8]) -> S3Event {
    let meta = ObjectMeta {
        content_type: "application/octet-stream".into(),
        content_disposition: None,
    };
    s.backend
        .private
        .put(
            &ObjectKey::parse(key).unwrap(),
            Body::Bytes(raw.to_vec().into()),
            &meta,
            PutMode::CreateNew,
        )
        .await
        .unwrap();
    event(&s.names.private_bucket, &key.replace(' ', "+"))
}

#[tokio::test]
async fn a_message_stored_by_ses_becomes_one_response_with_a_receipt() {
    let s = setup().await;
    open(&s.backend, "aws-mail").await;
    let raw = message(
        "aws-mail@consultations.example.org",
        "Publish all responses.",
    );
    let event = stored_by_ses(&s, "inbound/8h3k2 first", &raw).await;
    // On AWS the publish function, woken by the stream, numbers what intake left pending.
    let id = shared::domain::ConsultationId::parse("aws-mail").unwrap();
    let sequencer = {
        let (responses, id) = (s.backend.responses.clone(), id.clone());
        tokio::spawn(async move {
            loop {
                responses.sequence(&id).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };

    handle(&s.email, &s.s3_client, event.clone()).await.unwrap();
    // SES and Lambda both deliver at least once: the same event again changes nothing.
    handle(&s.email, &s.s3_client, event).await.unwrap();
    sequencer.abort();

    let stored = s.backend.responses.range(&id, 1..=10).await.unwrap();
    assert_eq!(stored.len(), 1, "one response for two deliveries");
    let response = &stored[0].response;
    assert_eq!(response.channel, Channel::Email);
    assert_eq!(response.submitter.name, "Ada Lovelace");
    assert_eq!(response.submitter.email.as_deref(), Some("ada@example.org"));
    let eml = response
        .files
        .iter()
        .find(|f| f.name == "message.eml")
        .expect("the original message is published");
    assert_eq!(eml.size, raw.len() as u64);
    assert!(response.files.iter().any(|f| f.name == "response.txt"));

    let receipts = moto_ses::sent_to(&s.endpoint, "ada@example.org").await;
    let receipts: Vec<_> = receipts
        .iter()
        .filter(|m| m.raw.contains("Response 1 received: aws-mail"))
        .collect();
    assert_eq!(receipts.len(), 1, "one receipt, through SES");
    assert!(receipts[0].raw.contains("Auto-Submitted: auto-replied"));
    assert!(receipts[0].raw.contains("In-Reply-To: <m1@example.org>"));
}

#[tokio::test]
async fn unknown_consultations_are_answered_and_list_requests_are_taken() {
    let s = setup().await;
    open(&s.backend, "aws-list").await;

    let raw = message("no-such-one@consultations.example.org", "Hello?");
    let event = stored_by_ses(&s, "inbound/unknown", &raw).await;
    handle(&s.email, &s.s3_client, event).await.unwrap();
    let answers = moto_ses::sent_to(&s.endpoint, "ada@example.org").await;
    assert!(
        answers
            .iter()
            .any(|m| m.raw.contains("Your message was not delivered")),
        "{answers:?}"
    );

    let raw = message("aws-list+subscribe@consultations.example.org", "subscribe");
    let event = stored_by_ses(&s, "inbound/subscribe", &raw).await;
    handle(&s.email, &s.s3_client, event).await.unwrap();
    let id = shared::domain::ConsultationId::parse("aws-list").unwrap();
    let ada = shared::domain::EmailAddress::parse("ada@example.org").unwrap();
    let pending = s
        .backend
        .subscriptions
        .subscription(&id, &SubscriberId::of(&ada))
        .await
        .unwrap()
        .expect("a pending subscription");
    assert!(!pending.is_confirmed());
    let confirmations = moto_ses::sent_to(&s.endpoint, "ada@example.org").await;
    assert!(
        confirmations
            .iter()
            .any(|m| m.raw.contains("Confirm your subscription: By email on AWS")),
        "{confirmations:?}"
    );
    assert!(
        s.backend
            .responses
            .range(&id, 1..=10)
            .await
            .unwrap()
            .is_empty(),
        "a list request is not a response"
    );
}
