//! Lambda: submissions in, the public read API, and the email list's routes
//! (HTTP API -> axum router).

use std::sync::Arc;

use shared::http::{intake, list, with_security_headers};
use shared::ports::{Clock, PublishedByStream, SystemClock};
use shared::{AwsNames, Backend, MailSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = aws_config::load_from_env().await;
    // With how long a response waits for its number before the answer is 202 (default 2 s).
    let backend = Backend::aws(&config, &AwsNames::from_env()?, false)
        .await?
        .with_env_settings()?;
    let mail = MailSettings::from_env()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Publication follows from the table's stream, so intake needs no queue.
    let state = backend.intake_state(clock.clone(), Arc::new(PublishedByStream));
    let email_list = backend.email_list(
        mail.ses_mailer(&config),
        clock,
        mail.public_url,
        mail.mail_domain,
    );
    let router = intake::router(state).merge(list::router(Arc::new(email_list)));
    lambda_http::run(with_security_headers(router)).await
}
