//! Verbatim's outgoing messages as bytes (RFC 5322), the same for every `Mailer`: the local
//! outbox writes them, SES sends them as raw messages, so headers never differ by adapter.

use mail_builder::MessageBuilder;

use crate::ports::{OutgoingMail, StoreError};

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
