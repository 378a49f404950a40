//! Mail through Amazon SES (v2 `SendEmail`, raw content): the same bytes the local outbox
//! writes, so the list headers and `Auto-Submitted` survive unchanged.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use crate::adapters::compose::render;
use crate::ports::{Mailer, OutgoingMail, StoreError};

pub struct SesMailer {
    client: Client,
    /// A verified identity's address (the mail domain's identity covers every local part).
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), StoreError> {
        let raw = render(&self.from, mail)?;
        let message = RawMessage::builder()
            .data(Blob::new(raw))
            .build()
            .map_err(|e| StoreError::backend("building a raw message", e))?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            // List mail's delivery failures come back to the consultation's `+bounces`
            // address, where email intake stops mail to the address that failed.
            .set_feedback_forwarding_email_address(mail.list.as_ref().map(|l| l.returns_to.clone()))
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().raw(message).build())
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    format!("sending mail to {} through SES", mail.to),
                    aws_sdk_sesv2::Error::from(e),
                )
            })?;
        Ok(())
    }
}
