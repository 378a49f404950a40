//! The local host's mail: every message Verbatim sends is written, as a complete RFC 5322
//! message, to an outbox folder in the data directory, where a person (or a test) reads it.

use std::path::PathBuf;

use async_trait::async_trait;
use mail_builder::MessageBuilder;

use crate::ports::{Mailer, OutgoingMail, StoreError};

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

/// The message as sent, with the headers every Verbatim message carries.
pub fn render(from: &str, mail: &OutgoingMail) -> Result<Vec<u8>, StoreError> {
    use mail_builder::headers::raw::Raw;
    let auto = if mail.list.is_some() {
        "auto-generated"
    } else {
        "auto-replied"
    };
    let mut builder = MessageBuilder::new()
        .from(("Verbatim", from))
        .to(mail.to.as_str())
        .subject(mail.subject.as_str())
        .header("Auto-Submitted", Raw::new(auto))
        .text_body(mail.text.as_str());
    if let Some(list) = &mail.list {
        builder = builder
            .header("List-Id", Raw::new(list.id.clone()))
            .header(
                "List-Unsubscribe",
                Raw::new(format!(
                    "<{}>, <mailto:{}>",
                    list.unsubscribe_url, list.unsubscribe_mailto
                )),
            )
            .header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            )
            .header("Precedence", Raw::new("list"));
    }
    if let Some(id) = &mail.in_reply_to {
        let id = id.trim_start_matches('<').trim_end_matches('>').to_owned();
        builder = builder.in_reply_to(id.clone()).references(id);
    }
    builder
        .write_to_vec()
        .map_err(|e| StoreError::backend("composing a message", e))
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
