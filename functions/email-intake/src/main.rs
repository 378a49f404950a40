//! Lambda: responses by email on AWS. SES's receipt rule stores each raw message in S3 (under
//! `inbound/`) and the bucket's event invokes this function, which feeds the message to the
//! same email intake as the local SMTP listener: one response per consultation addressed.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::adapters::s3::{self, S3ObjectStore};
use shared::email::message::{delivered_to, parse};
use shared::email::receive::{EmailIntake, MAX_MESSAGE_BYTES, recipient};
use shared::intake::IntakeError;
use shared::ports::{Clock, ObjectKey, ObjectStore, PublishedByStream, SystemClock};
use shared::{AwsNames, Backend, MailSettings};

/// The object SES stores when a receipt rule with an S3 action is created.
const SES_SETUP_NOTIFICATION: &str = "AMAZON_SES_SETUP_NOTIFICATION";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &AwsNames::from_env()?, false)
        .await?
        .with_env_settings()?;
    let mail = MailSettings::from_env()?;
    let email = Arc::new(email_intake(&backend, &mail, mail.ses_mailer(&config)));
    let s3_client = s3::client(&config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| {
        let (email, s3_client) = (email.clone(), s3_client.clone());
        async move { handle(&email, &s3_client, event.payload).await }
    }))
    .await
}

fn email_intake(
    backend: &Backend,
    mail: &MailSettings,
    mailer: Arc<dyn shared::ports::Mailer>,
) -> EmailIntake {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Publication follows from the table's stream, as for the HTTP intake.
    let queue = Arc::new(PublishedByStream);
    let intake = backend.intake_state(clock.clone(), queue).intake;
    let list = backend.email_list(
        mailer.clone(),
        clock,
        mail.public_url.clone(),
        mail.mail_domain.clone(),
    );
    EmailIntake {
        intake,
        consultations: backend.consultations.clone(),
        private: backend.private.clone(),
        mailer,
        list: Arc::new(list),
        mail_domain: mail.mail_domain.clone(),
        public_url: mail.public_url.clone(),
    }
}

/// Takes every stored message the event names. A storage failure fails the invocation, and
/// Lambda's retries deliver the event again: the content-derived response id makes a second
/// delivery harmless. Anything else about a message is answered or logged, never retried.
async fn handle(
    email: &EmailIntake,
    s3_client: &aws_sdk_s3::Client,
    event: S3Event,
) -> Result<(), Error> {
    for record in event.records {
        let (Some(bucket), Some(key)) = (record.s3.bucket.name, record.s3.object.key) else {
            tracing::warn!("an S3 event record without bucket or key");
            continue;
        };
        let key = event_key(&key);
        // SES writes this test object when the receipt rule is created: not a message.
        if key.ends_with(SES_SETUP_NOTIFICATION) {
            tracing::info!(%key, "SES's setup notification; nothing to take");
            continue;
        }
        let store = S3ObjectStore::new(s3_client.clone(), &bucket);
        let object_key = ObjectKey::parse(key.as_str())?;
        let Some(object) = store.get(&object_key).await? else {
            tracing::warn!(%bucket, %key, "the stored message is gone");
            continue;
        };
        if object.size > MAX_MESSAGE_BYTES as u64 {
            tracing::warn!(%key, size = object.size, "message over the limit; left in place");
            continue;
        }
        let raw = object.into_bytes().await?;
        take(email, &key, &raw).await?;
    }
    Ok(())
}

/// Delivers one message to each of the service's addresses it was sent to.
async fn take(email: &EmailIntake, key: &str, raw: &[u8]) -> Result<(), Error> {
    let addresses: Vec<String> = delivered_to(raw)
        .into_iter()
        .filter(|a| recipient(a, &email.mail_domain).is_some())
        .collect();
    if addresses.is_empty() {
        tracing::warn!(%key, "no address of this service in the message; left in place");
        return Ok(());
    }
    // Read once, however many consultations it was sent to. SES gives no envelope sender.
    let message = parse(raw, None);
    for address in addresses {
        let to = match email.accepts(&address).await {
            Ok(to) => to,
            Err(reason) => {
                tracing::info!(%key, %address, %reason, "refused");
                email.refuse(&message, &reason).await;
                continue;
            }
        };
        match email.deliver(&to, raw, &message).await {
            Ok(outcome) => tracing::info!(%key, %address, ?outcome, "message taken"),
            Err(IntakeError::Store(e)) => return Err(e.into()),
            // The original stays under `inbound/` in the private bucket: nothing is lost.
            Err(e) => tracing::error!(%key, %address, error = %e, "message not taken"),
        }
    }
    Ok(())
}

/// S3 event keys are URL-encoded, with `+` for a space.
fn event_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
#[path = "../../../tests/support/moto.rs"]
mod moto;

#[cfg(test)]
mod tests;
