//! The local host's mail: every message Verbatim sends is written, as a complete RFC 5322
//! message, to an outbox folder in the data directory, where a person (or a test) reads it.

use std::path::PathBuf;

use crate::email::compose::render;
use crate::ports::{Mailer, OutgoingMail, StoreError};
use async_trait::async_trait;

pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
}

impl OutboxMailer {
    pub fn open(dir: impl Into<PathBuf>, from: impl Into<String>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            from: from.into(),
        })
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
        .map_err(|e| StoreError::backend(format!("writing {}", path.display()), e))
    }
}
