//! The local host's mail: every message Verbatim sends is written, as a complete RFC 5322
//! message, to an outbox folder in the data directory, where a person (or a test) reads it,
//! and then, if a relay is configured, sent on through it byte for byte.

use std::path::PathBuf;

use crate::adapters::compose::render;
use crate::ports::{Mailer, OutgoingMail, StoreError};
use async_trait::async_trait;

pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
    #[cfg(feature = "relay")]
    relay: Option<crate::adapters::relay::SmtpRelay>,
}

impl OutboxMailer {
    pub fn open(dir: impl Into<PathBuf>, from: impl Into<String>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            from: from.into(),
            #[cfg(feature = "relay")]
            relay: None,
        })
    }

    /// Also sends every message on through `relay`, after writing it to the outbox.
    #[cfg(feature = "relay")]
    pub fn with_relay(mut self, relay: crate::adapters::relay::SmtpRelay) -> Self {
        self.relay = Some(relay);
        self
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), StoreError> {
        let bytes = render(&self.from, mail)?;
        let name = format!(
            "{}-{}.eml",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ"),
            uuid::Uuid::now_v7()
        );
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(&name);
        async {
            tokio::fs::write(&tmp, &bytes).await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await
        .map_err(|e| StoreError::backend(format!("writing {}", path.display()), e))?;
        #[cfg(feature = "relay")]
        if let Some(relay) = &self.relay {
            let returns_to = mail.list.as_ref().map(|l| l.returns_to.as_str());
            relay.relay(&mail.to, &bytes, returns_to).await?;
        }
        Ok(())
    }
}
