//! Lambda: submissions in, the public read API, and the email list's routes
//! (HTTP API -> axum router).

use std::sync::Arc;

use shared::backend::ses_mailer;
use shared::http::{intake, list, openapi, with_request_log, with_security_headers};
use shared::ports::{Clock, PublishedByStream, SystemClock};
use shared::{AwsNames, Backend, MailSettings, Timing, Vars};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let vars = Vars::from_iter(std::env::vars());
    // With how long a response waits for its number before the answer is 202 (default 2 s).
    let (names, timing) = (AwsNames::from_vars(&vars)?, Timing::from_vars(&vars)?);
    let mail = MailSettings::from_vars(&vars)?;
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &names, false)
        .await?
        .with_timing(timing);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Publication follows from the table's stream, so intake needs no queue.
    let state = backend.intake_state(clock.clone(), Arc::new(PublishedByStream));
    let email_list = backend.email_list(
        ses_mailer(&config, &mail),
        clock,
        mail.public_url,
        mail.mail_domain,
    );
    let router = intake::router(state)
        .merge(openapi::router())
        .merge(list::router(Arc::new(email_list)));
    lambda_http::run(with_request_log(with_security_headers(router))).await
}
