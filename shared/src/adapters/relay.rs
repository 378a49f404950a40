//! Mail on through an SMTP relay (lettre): for a local host that should reach real inboxes.
//! The relay gets the exact bytes the outbox keeps.
//!
//! The relay is named by a URL: `smtp://host:25` (plain, for a relay on the same machine or
//! network), `smtp://user:password@host:587?tls=required` (STARTTLS), `smtps://…:465` (TLS).

use lettre::address::{Address, Envelope};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::ports::StoreError;

pub struct SmtpRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl SmtpRelay {
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("the SMTP relay URL {url:?} is not usable: {e}"))?
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("the sender address {from:?} is not usable: {e}"))?;
        Ok(Self { transport, from })
    }

    /// Sends `message` (complete RFC 5322 bytes) to `to`, as written by the outbox; delivery
    /// failures go to `returns_to` when given (list mail), else to the sender.
    pub async fn relay(
        &self,
        to: &str,
        message: &[u8],
        returns_to: Option<&str>,
    ) -> Result<(), StoreError> {
        let recipient: Address = to
            .parse()
            .map_err(|e| StoreError::backend(format!("relaying to {to}"), e))?;
        let sender = match returns_to {
            Some(address) => address
                .parse()
                .map_err(|e| StoreError::backend(format!("relaying to {to}"), e))?,
            None => self.from.clone(),
        };
        let envelope = Envelope::new(Some(sender), vec![recipient])
            .map_err(|e| StoreError::backend(format!("relaying to {to}"), e))?;
        self.transport
            .send_raw(&envelope, message)
            .await
            .map_err(|e| StoreError::backend(format!("relaying mail to {to}"), e))?;
        Ok(())
    }
}
