//! The words of an email message kept as a file (`message/rfc822`): a message a stakeholder
//! forwarded as an attachment, or the `message.eml` of an email response, which also holds the
//! attachments that were not published as files of their own (those over the number of files a
//! response carries). The caller reads the message with email intake's MIME reader and gives
//! its parts (this module does not depend on email intake); each attachment's type is judged
//! from its bytes, as at intake, and its words read as a published file of that type. A message
//! inside the message is not opened: it is judged, like at intake, the plain text it is.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::{Extracted, Isolation, MAX_TEXT_BYTES, Skipped, bounded, reads, text_of};
use crate::domain::media::{SNIFF_BYTES, ZIP, classify, office_type};

/// At most this many attachments of one message are read: as many as the files of a response
/// (20), so that a message of hundreds of PDFs costs no more than a response of 20 (each PDF
/// may take its reader's whole time limit).
pub const MAX_ATTACHMENTS_READ: usize = 20;

/// A message's parts, as the MIME reader gives them.
#[derive(Debug, Default)]
pub struct MessageParts {
    pub subject: Option<String>,
    /// The text body, UTF-8.
    pub body: Option<Vec<u8>>,
    /// Each attachment's file name (if it has one) and decoded bytes, in order.
    pub attachments: Vec<(Option<String>, Vec<u8>)>,
}

/// What of the message is read elsewhere, and left out here.
pub struct ReadElsewhere<'a> {
    /// Its subject and body: the response's `response.txt` holds them (email intake's own
    /// `message.eml`).
    pub body: bool,
    /// The SHA-256 (hex) of the response's files: an attachment published as one of them is read
    /// there.
    pub files: &'a BTreeSet<String>,
}

/// The subject, body and each attachment's words (under its name) of a message, minus what is
/// read elsewhere. `NotText` if nothing is left to read.
pub async fn message_text(
    pdf: &Isolation,
    message: MessageParts,
    elsewhere: ReadElsewhere<'_>,
) -> Result<Extracted, Skipped> {
    let mut out = String::new();
    if !elsewhere.body {
        for part in [
            message.subject.as_deref().map(str::as_bytes),
            message.body.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            out.push_str(&String::from_utf8_lossy(part));
            out.push('\n');
        }
    }
    let unread: Vec<_> = message
        .attachments
        .iter()
        .enumerate()
        .filter(|(_, (_, bytes))| {
            !elsewhere
                .files
                .contains(&hex::encode(Sha256::digest(bytes)))
        })
        .collect();
    if out.trim().is_empty() && unread.is_empty() {
        return Err(Skipped::NotText);
    }
    for (read, (index, (name, bytes))) in unread.iter().enumerate() {
        if read == MAX_ATTACHMENTS_READ || out.len() > MAX_TEXT_BYTES {
            out.push_str(&format!(
                "\n[Not read: {} more attachments.]\n",
                unread.len() - read
            ));
            break;
        }
        let name = name
            .clone()
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        let words = match judged_type(&name, bytes) {
            Some(media_type) if reads(media_type) => {
                text_of(pdf, media_type, bytes.clone().into()).await
            }
            _ => Err(Skipped::NotText),
        };
        out.push_str(&format!("\n--- {name} ---\n"));
        match words {
            Ok(words) => out.push_str(&words.text),
            Err(skipped) => out.push_str(&format!("[No text: {skipped}.]")),
        }
        out.push('\n');
    }
    Ok(bounded(out.trim_start().to_owned()))
}

/// An attachment's media type judged from its bytes as intake judges a file (an Office file by
/// its parts), or `None` if intake would refuse it.
fn judged_type(name: &str, bytes: &[u8]) -> Option<&'static str> {
    match classify(name, &bytes[..bytes.len().min(SNIFF_BYTES)]).ok()? {
        ZIP => Some(
            zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .ok()
                .and_then(|archive| {
                    let names: Vec<String> = archive
                        .file_names()
                        .filter_map(|name| name.ok().map(|name| name.into_owned()))
                        .collect();
                    office_type(names.iter().map(String::as_str))
                })
                .unwrap_or(ZIP),
        ),
        judged => Some(judged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of the corpus in tests/mail, byte for byte.
    macro_rules! mail {
        ($file:literal) => {
            bytes::Bytes::from_static(include_bytes!(concat!("../../../tests/mail/", $file)))
        };
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Never used: none of these messages carries a PDF.
    fn no_pdf() -> Isolation {
        Isolation::program("false", [] as [&str; 0], Default::default())
    }

    async fn read(
        raw: bytes::Bytes,
        body: bool,
        files: &BTreeSet<String>,
    ) -> Result<Extracted, Skipped> {
        // As publication reads it: email intake's MIME reader, then this module.
        let message = crate::email::message::parse(&raw, None);
        let parts = MessageParts {
            subject: message.subject,
            body: message.text,
            attachments: message
                .attachments
                .into_iter()
                .map(|a| (a.name, a.bytes))
                .collect(),
        };
        message_text(&no_pdf(), parts, ReadElsewhere { body, files }).await
    }

    #[tokio::test]
    async fn a_forwarded_message_gives_its_subject_body_and_attachments_words() {
        let words = read(mail!("08-several-attachments.eml"), false, &BTreeSet::new())
            .await
            .unwrap()
            .text;
        assert!(words.starts_with("Files\n"), "{words}");
        assert!(words.contains("Here are the files we discussed."));
        // Each attachment under its name; its own charset decoded; an image has no words.
        assert!(
            words.contains("--- notes.txt ---\nNotes: café, crème brûlée"),
            "{words}"
        );
        assert!(words.contains("--- data.csv ---\nward,count"));
        assert!(words.contains("--- photo.jpg ---\n[No text: no text is extracted"));
    }

    #[tokio::test]
    async fn intakes_own_copy_gives_only_what_was_not_published_on_its_own() {
        let raw = mail!("08-several-attachments.eml");
        let message = crate::email::message::parse(&raw, None);
        // Everything published as files of the response: nothing left to read here.
        let all: BTreeSet<String> = message
            .attachments
            .iter()
            .map(|a| sha256(&a.bytes))
            .collect();
        assert_eq!(read(raw.clone(), true, &all).await, Err(Skipped::NotText));
        // The notes stayed inside (over the number of files a response carries): their words
        // only, not the body (the response's `response.txt` has it).
        let notes = &message.attachments[0];
        assert_eq!(notes.name.as_deref(), Some("notes.txt"));
        let published = all
            .into_iter()
            .filter(|s| *s != sha256(&notes.bytes))
            .collect();
        let words = read(raw, true, &published).await.unwrap().text;
        assert!(
            words.starts_with("--- notes.txt ---\nNotes: café"),
            "{words}"
        );
        assert!(!words.contains("Here are the files"));
        assert!(!words.contains("data.csv"));
    }

    #[tokio::test]
    async fn office_files_inside_are_read_by_their_parts() {
        let raw = mail!("07-pdf-and-docx.eml");
        let message = crate::email::message::parse(&raw, None);
        let pdf = message
            .attachments
            .iter()
            .find(|a| a.name.as_deref() == Some("response.pdf"))
            .unwrap();
        // The PDF is published on its own; the DOCX stayed inside.
        let published = BTreeSet::from([sha256(&pdf.bytes)]);
        let words = read(raw, true, &published).await.unwrap().text;
        assert!(words.starts_with("--- comments.docx ---\n"), "{words}");
        assert!(!words.contains("[No text"), "{words}");
    }

    #[tokio::test]
    async fn broken_and_empty_messages_are_skipped_not_an_error() {
        for raw in [
            mail!("13-broken.eml"),
            mail!("18-truncated.eml"),
            bytes::Bytes::from_static(b"\x00\x01\x02 not a message"),
            bytes::Bytes::new(),
        ] {
            // Whatever there is to read comes out as words or a note; never a panic.
            let _ = read(raw, false, &BTreeSet::new()).await;
        }
        assert_eq!(
            read(bytes::Bytes::new(), false, &BTreeSet::new()).await,
            Err(Skipped::NotText)
        );
    }
}
