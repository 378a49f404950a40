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
    message_from("Ada Lovelace <ada@example.org>", to, "m1@example.org", body)
}

/// A message from `from` (`Name <address>`) with its own Message-ID.
fn message_from(from: &str, to: &str, message_id: &str, body: &str) -> Vec<u8> {
    let address = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    [
        &format!("Return-Path: <{address}>"),
        "Received: from mail.example.org (mail.example.org [192.0.2.1])",
        " by inbound-smtp.us-east-1.amazonaws.com with SMTP id 8h3k2",
        &format!(" for {to};"),
        " Sat, 28 Nov 2026 12:00:00 +0000 (UTC)",
        &format!("From: {from}"),
        "To: \"The Group\" <press@example.org>",
        "Subject: My response",
        &format!("Message-ID: <{message_id}>"),
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
    let config = test_support::moto().sdk_config().await;
    setup_sending_through(&config).await
}

/// The function as `main` wires it, on moto, with SES reached through `ses` (moto's settings,
/// or a fault proxy's in front of moto).
async fn setup_sending_through(ses: &aws_config::SdkConfig) -> Setup {
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
    let email = email_intake(&backend, &mail, ses_mailer(ses, &mail));
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

/// On AWS the publish function, woken by the stream, numbers what intake left pending; here a
/// task does it every 50 ms until aborted.
fn sequencer(backend: &Backend, id: &str) -> tokio::task::JoinHandle<()> {
    let responses = backend.responses.clone();
    let id = shared::domain::ConsultationId::parse(id).unwrap();
    tokio::spawn(async move {
        loop {
            responses.sequence(&id).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
}

/// The SES mail moto received for `address`, and how many of them answer `message_id`.
async fn receipts_for(endpoint: &str, address: &str, message_id: &str) -> (usize, usize) {
    let mail = moto_ses::sent_to(endpoint, address).await;
    let replies = mail
        .iter()
        .filter(|m| m.raw.contains(&format!("In-Reply-To: <{message_id}>")))
        .count();
    (mail.len(), replies)
}

/// SES fails every `SendEmail` of the first delivery (the SDK's own retries included): the
/// response is stored, the invocation fails, and Lambda's retry of the S3 event stores nothing
/// new and sends the receipt, once.
#[tokio::test]
async fn a_receipt_ses_failed_to_send_is_sent_by_the_retried_invocation() {
    use test_support::fault_proxy::{BEFORE, FaultProxy};
    let moto = test_support::moto();
    let proxy = FaultProxy::start(&moto.endpoint, 1344, 0.0);
    proxy.set_faults(1.0, &BEFORE).await;
    let s = setup_sending_through(&proxy.sdk_config(&moto.sdk_config().await)).await;
    open(&s.backend, "ses-fails").await;
    let sequencer = sequencer(&s.backend, "ses-fails");
    let (sender, message_id) = ("first-try@example.org", "first-try@example.org");
    let raw = message_from(
        &format!("First Try <{sender}>"),
        "ses-fails@consultations.example.org",
        message_id,
        "SES was down when this arrived.",
    );
    let event = stored_by_ses(&s, "inbound/ses-fails", &raw).await;

    let failed = handle(&s.email, &s.s3_client, event.clone()).await;
    let counts = proxy.counts().await;
    eprintln!("first delivery: {failed:?}; proxy: {counts:?}");
    assert!(
        failed.is_err(),
        "a receipt SES did not send fails the invocation, so that Lambda retries it"
    );
    assert!(counts.failed() >= 1 && counts.reached_target() == 0);
    let id = shared::domain::ConsultationId::parse("ses-fails").unwrap();
    let stored = s.backend.responses.range(&id, 1..=10).await.unwrap();
    assert_eq!(stored.len(), 1, "the response is stored before the receipt");
    assert_eq!(
        receipts_for(&s.endpoint, sender, message_id).await,
        (0, 0),
        "nothing reached SES"
    );

    // SES is back: Lambda's retry (the same event) sends the receipt; a third delivery (at
    // least once) sends nothing more.
    proxy.set_rate(0.0).await;
    handle(&s.email, &s.s3_client, event.clone()).await.unwrap();
    handle(&s.email, &s.s3_client, event).await.unwrap();
    sequencer.abort();
    let stored = s.backend.responses.range(&id, 1..=10).await.unwrap();
    assert_eq!(stored.len(), 1, "one response for three deliveries");
    assert_eq!(
        receipts_for(&s.endpoint, sender, message_id).await,
        (1, 1),
        "one receipt, sent by the retry"
    );
    let mail = moto_ses::sent_to(&s.endpoint, sender).await;
    assert!(
        mail[0].raw.contains("Response 1 received: ses-fails"),
        "{mail:?}"
    );
}

/// SES fails a seeded share of all `SendEmail` requests, with every kind of fault (500,
/// throttling, 503, connections closed before or after SES did the work, delays). Each message
/// is delivered as Lambda would: invoked, and invoked again after a failure, at most three
/// times in all (`MaximumRetryAttempts: 2` in infra/template.yaml; after that the event goes
/// to the failure queue, which here would be a lost receipt), then once more after success
/// (delivery is at least once). Every message is one response, and every sender gets its
/// receipt. A receipt goes out twice only when SES did send it and its answer was lost (the
/// SDK, or the next invocation, sends it again): never more often than the proxy did that.
#[tokio::test]
async fn receipts_through_a_failing_ses_are_all_sent_within_lambdas_retries() {
    use test_support::fault_proxy::FaultProxy;
    const MESSAGES: usize = 8;
    const RATE: f64 = 0.5;
    /// The proxy's draws are the same on every run (the SDK's requests go one at a time):
    /// with this seed two messages need a second invocation (every attempt of their receipt
    /// failed before reaching SES: a receipt not retried would be lost), and every kind of
    /// fault occurs.
    const SEED: u64 = 1036;
    /// One invocation and Lambda's two retries.
    const INVOCATIONS: usize = 3;
    let started = std::time::Instant::now();
    let moto = test_support::moto();
    let proxy = FaultProxy::start(&moto.endpoint, SEED, RATE);
    let s = setup_sending_through(&proxy.sdk_config(&moto.sdk_config().await)).await;
    open(&s.backend, "ses-flaky").await;
    let sequencer = sequencer(&s.backend, "ses-flaky");
    let sender = |i: usize| format!("flaky-sender-{i}@example.org");
    let message_id = |i: usize| format!("flaky-{i}@example.org");

    let mut invocations = Vec::new();
    for i in 0..MESSAGES {
        let raw = message_from(
            &format!("Sender {i} <{}>", sender(i)),
            "ses-flaky@consultations.example.org",
            &message_id(i),
            &format!("Response {i}, while SES fails now and then."),
        );
        let event = stored_by_ses(&s, &format!("inbound/flaky-{i}"), &raw).await;
        let mut tries = 0;
        loop {
            tries += 1;
            match handle(&s.email, &s.s3_client, event.clone()).await {
                Ok(()) => break,
                Err(e) if tries < INVOCATIONS => eprintln!("message {i}, invocation {tries}: {e}"),
                Err(e) => panic!("message {i}: {INVOCATIONS} invocations failed; the last: {e}"),
            }
        }
        invocations.push(tries);
        handle(&s.email, &s.s3_client, event).await.unwrap();
    }
    sequencer.abort();
    let counts = proxy.counts().await;

    let id = shared::domain::ConsultationId::parse("ses-flaky").unwrap();
    let stored = s.backend.responses.range(&id, 1..=100).await.unwrap();
    assert_eq!(stored.len(), MESSAGES, "each message stored once");
    let mut receipts = 0;
    for i in 0..MESSAGES {
        let (to_sender, replies) = receipts_for(&s.endpoint, &sender(i), &message_id(i)).await;
        assert!(replies >= 1, "sender {i} got no receipt");
        assert_eq!(to_sender, replies, "sender {i} got only receipts");
        receipts += to_sender as u64;
    }
    let failed_invocations = invocations.iter().map(|n| n - 1).sum::<usize>();
    eprintln!(
        "{MESSAGES} messages, {} invocations ({failed_invocations} failed), proxy: {:?}, \
         receipts sent: {receipts} ({} over one each), {:.1} s",
        invocations.iter().sum::<usize>(),
        counts.0,
        receipts - MESSAGES as u64,
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed_invocations >= 1,
        "with this seed some receipt fails all the SDK's attempts: the retried invocation is \
         what this test is for"
    );
    assert_eq!(
        receipts,
        counts.reached_target(),
        "every SendEmail that reached SES is a mail moto kept"
    );
    assert!(
        receipts <= MESSAGES as u64 + counts.done_but_failed(),
        "a receipt is sent again only when SES sent it and the answer was lost"
    );
}

/// The list's confirmation mail, by mail: SES fails every `SendEmail` of the first delivery of
/// a `+subscribe` message, and Lambda's retry sends the confirmation (the list sends one mail
/// an hour per address, but a mail that was not sent does not count).
#[tokio::test]
async fn a_confirmation_ses_failed_to_send_is_sent_by_the_retried_invocation() {
    use test_support::fault_proxy::{BEFORE, FaultProxy};
    let moto = test_support::moto();
    let proxy = FaultProxy::start(&moto.endpoint, 1344, 0.0);
    proxy.set_faults(1.0, &BEFORE).await;
    let s = setup_sending_through(&proxy.sdk_config(&moto.sdk_config().await)).await;
    open(&s.backend, "ses-list-fails").await;
    let sender = "subscriber-first-try@example.org";
    let raw = message_from(
        &format!("Subscriber <{sender}>"),
        "ses-list-fails+subscribe@consultations.example.org",
        "subscribe-first-try@example.org",
        "subscribe",
    );
    let event = stored_by_ses(&s, "inbound/ses-list-fails", &raw).await;

    let failed = handle(&s.email, &s.s3_client, event.clone()).await;
    assert!(
        failed.is_err(),
        "a confirmation SES did not send fails the invocation, so that Lambda retries it"
    );
    assert!(moto_ses::sent_to(&s.endpoint, sender).await.is_empty());

    proxy.set_rate(0.0).await;
    handle(&s.email, &s.s3_client, event.clone()).await.unwrap();
    // A third delivery: the hour's mail went out, nothing more is sent.
    handle(&s.email, &s.s3_client, event).await.unwrap();
    let mail = moto_ses::sent_to(&s.endpoint, sender).await;
    assert_eq!(
        mail.len(),
        1,
        "one confirmation, sent by the retry: {mail:?}"
    );
    assert!(
        mail[0]
            .raw
            .contains("Confirm your subscription: By email on AWS"),
        "{mail:?}"
    );
}

/// A delivery failure of the list's mail comes back to `{id}+bounces@`: it is kept for the
/// Secretariat, and the address that failed leaves the list and gets no more mail, from any
/// consultation (its outcome included).
#[tokio::test]
async fn a_bounce_of_list_mail_stops_mail_to_the_address_that_failed() {
    let s = setup().await;
    open(&s.backend, "aws-bounce").await;
    let id = shared::domain::ConsultationId::parse("aws-bounce").unwrap();
    let nobody = shared::domain::EmailAddress::parse("nobody@example.net").unwrap();
    let subscriber = SubscriberId::of(&nobody);
    let subscription =
        shared::domain::Subscription::request(id.clone(), nobody, [7; 32], SystemClock.now());
    s.backend
        .subscriptions
        .request(&subscription)
        .await
        .unwrap();
    s.backend
        .subscriptions
        .confirm(&id, &subscriber, SystemClock.now())
        .await
        .unwrap();
    let other = shared::domain::ConsultationId::parse("elsewhere").unwrap();
    assert!(
        !s.backend
            .subscriptions
            .mail_stopped(&other, &subscriber)
            .await
            .unwrap()
    );

    // The corpus's bounce (Final-Recipient nobody@example.net, Action: failed), as it comes
    // back to the list's return address.
    let raw = String::from_utf8_lossy(include_bytes!("../../../tests/mail/16-bounce.eml")).replace(
        "To: respond@consult.example.gov",
        "To: aws-bounce+bounces@consultations.example.org",
    );
    let event = stored_by_ses(&s, "inbound/bounce", raw.as_bytes()).await;
    handle(&s.email, &s.s3_client, event).await.unwrap();

    for consultation in [&id, &other] {
        assert!(
            s.backend
                .subscriptions
                .mail_stopped(consultation, &subscriber)
                .await
                .unwrap(),
            "no more mail about {consultation}"
        );
    }
    assert_eq!(
        s.backend
            .subscriptions
            .subscription(&id, &subscriber)
            .await
            .unwrap(),
        None,
        "off the list it bounced from"
    );
    let kept = s
        .backend
        .private
        .list("mail/bounces/aws-bounce/", None, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "kept for the Secretariat");
    assert!(
        moto_ses::sent_to(&s.endpoint, "MAILER-DAEMON@mx.example.net")
            .await
            .is_empty(),
        "a bounce is never answered"
    );
}
