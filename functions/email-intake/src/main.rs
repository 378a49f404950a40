//! Lambda: responses by email on AWS. SES's receipt rule stores each raw message in S3 (under
//! `inbound/`) and the bucket's event invokes this function, which feeds the message to the
//! same email intake as the local SMTP listener: one response per consultation addressed.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::adapters::events::{CreatedObject, created_objects};
use shared::adapters::s3::{self, S3ObjectStore};
use shared::backend::ses_mailer;
use shared::email::receive::{EmailIntake, MAX_MESSAGE_BYTES};
use shared::ports::{Clock, ObjectKey, ObjectStore, PublishedByStream, SystemClock};
use shared::{AwsNames, Backend, MailSettings, Timing, Vars};
use tracing::Instrument;

/// The object SES stores when a receipt rule with an S3 action is created.
const SES_SETUP_NOTIFICATION: &str = "AMAZON_SES_SETUP_NOTIFICATION";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_iter(std::env::vars());
    let (names, timing) = (AwsNames::from_vars(&vars)?, Timing::from_vars(&vars)?);
    let mail = MailSettings::from_vars(&vars)?;
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &names, false)
        .await?
        .with_timing(timing);
    let email = Arc::new(email_intake(&backend, &mail, ses_mailer(&config, &mail)));
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
    let intake = backend
        .intake_state(clock.clone(), Arc::new(PublishedByStream))
        .intake;
    let list = backend.email_list(mailer, clock, &mail.public_url, &mail.mail_domain);
    backend.email_intake(intake, Arc::new(list))
}

/// Takes every stored message the event names. A storage failure fails the invocation, and
/// Lambda's retries deliver the event again: the content-derived response id makes a second
/// delivery harmless. Anything else about a message is answered or logged, never retried.
async fn handle(
    email: &EmailIntake,
    s3_client: &aws_sdk_s3::Client,
    event: S3Event,
) -> Result<(), Error> {
    for CreatedObject { bucket, key } in created_objects(&event) {
        // SES writes this test object when the receipt rule is created: not a message.
        if key.ends_with(SES_SETUP_NOTIFICATION) {
            tracing::info!(%key, "SES's setup notification; nothing to take");
            continue;
        }
        let store = S3ObjectStore::new(s3_client.clone(), &bucket);
        let Some(object) = store.get(&ObjectKey::parse(key.as_str())?).await? else {
            tracing::warn!(%bucket, %key, "the stored message is gone");
            continue;
        };
        if object.size > MAX_MESSAGE_BYTES as u64 {
            tracing::warn!(%key, size = object.size, "message over the limit; left in place");
            continue;
        }
        let raw = object.into_bytes().await?;
        let span = tracing::info_span!("message", %key);
        email.take_stored(&key, &raw).instrument(span).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
