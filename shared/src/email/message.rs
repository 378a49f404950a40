//! Reading an emailed response: what Verbatim publishes from a raw message (its text, its
//! attachments' decoded bytes and names, the submitter's name) and whether it is a bounce or an
//! automatic reply that must be kept but never published nor answered, so that two robots never
//! answer each other in a loop.
//!
//! Mail arrives from every client ever written, so nothing here can fail: missing or broken
//! headers become `None`, a broken structure is read as far as it goes, and the raw message
//! itself is published anyway (as `message.eml`, by the caller) so nothing is lost if this
//! module reads less than was sent. MIME decoding is mail-parser's; this module decides what is
//! the text and what is an attachment, because mail-parser's own split (made for displaying
//! mail) counts a named text file as body text and drops the bytes of text attachments.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::decoders::html::html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

/// What a message is, which decides whether it is published and whether it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A response to publish.
    Response,
    /// Auto-Submitted other than "no", X-Autoreply / X-Autorespond, Precedence auto_reply/bulk/junk/list: kept, never answered.
    AutoReply,
    /// A delivery failure report (multipart/report; report-type=delivery-status, or an empty envelope/Return-Path sender "<>", or MAILER-DAEMON): kept, never answered.
    Bounce,
}

/// One file the sender attached, published as its own file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The sender's file name, decoded (RFC 2047/2231); None if the part has none.
    /// An attached message (message/rfc822) without a file name is named after its subject
    /// plus ".eml", else "message.eml". Untrusted like all sender input: the publisher must make
    /// it a safe file name (it may hold "/", "..", control characters or be very long).
    pub name: Option<String>,
    /// The declared media type, e.g. "application/pdf" (informational only).
    pub content_type: String,
    /// The decoded bytes (base64/quoted-printable undone), exactly as the sender attached them.
    /// Text files keep their own charset: they are files, not text to convert.
    pub bytes: Vec<u8>,
}

/// What Verbatim keeps from one raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// Lower-case hex SHA-256 of the raw message: a message delivered twice is recognised.
    pub digest: String,
    /// The From display name, decoded; None if absent, blank, or if it merely repeats the
    /// address (clients often put the address there, and the address is private).
    pub from_name: Option<String>,
    /// The From address: private, used only to answer (never published).
    pub from_address: Option<String>,
    /// The Subject, decoded; None if absent or blank.
    pub subject: Option<String>,
    /// The Message-ID without its angle brackets.
    pub message_id: Option<String>,
    /// The text body as UTF-8 bytes (converted from its charset), None if there is none or it is only whitespace.
    /// Line ends are kept as sent (CRLF, as MIME requires, for unencoded text); the text of an
    /// HTML-only message is mail-parser's HTML-to-text; text parts split around attachments
    /// (as Apple Mail sends them) are joined in order.
    pub text: Option<Vec<u8>>,
    /// Every attachment, in the order of the message (inline images included; attached
    /// messages as one .eml file each, their own attachments inside them).
    pub attachments: Vec<Attachment>,
    /// Whether this is a response, an automatic reply or a bounce.
    pub kind: MessageKind,
}

impl InboundMessage {
    /// The name to publish the response under: the From display name, else the address's local part, else "Unknown sender".
    pub fn submitter_name(&self) -> String {
        if let Some(name) = self
            .from_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            return name.to_string();
        }
        self.from_address
            .as_deref()
            .map(local_part)
            .filter(|l| !l.is_empty())
            .map_or_else(|| "Unknown sender".to_string(), str::to_string)
    }
}

/// Reads a raw message; never fails and never panics (a panic inside the MIME parser is
/// caught and yields a message with only its digest and the envelope's verdict).
///
/// `envelope_from` is the SMTP MAIL FROM (None if unknown, Some("") for the null sender "<>").
pub fn parse(raw: &[u8], envelope_from: Option<&str>) -> InboundMessage {
    let digest = hex::encode(Sha256::digest(raw));
    let envelope_bounce =
        envelope_from.is_some_and(|from| is_null_sender(from) || is_mailer_daemon(from));
    let read = catch_unwind(AssertUnwindSafe(|| read(raw))).unwrap_or_default();
    InboundMessage {
        digest,
        from_name: read.from_name,
        from_address: read.from_address,
        subject: read.subject,
        message_id: read.message_id,
        text: read.text,
        attachments: read.attachments,
        kind: if envelope_bounce {
            MessageKind::Bounce
        } else {
            read.kind
        },
    }
}

/// Everything read from the message itself (the envelope is judged by `parse`).
struct Read {
    from_name: Option<String>,
    from_address: Option<String>,
    subject: Option<String>,
    message_id: Option<String>,
    text: Option<Vec<u8>>,
    attachments: Vec<Attachment>,
    kind: MessageKind,
}

impl Default for Read {
    fn default() -> Self {
        Read {
            from_name: None,
            from_address: None,
            subject: None,
            message_id: None,
            text: None,
            attachments: Vec::new(),
            kind: MessageKind::Response,
        }
    }
}

fn read(raw: &[u8]) -> Read {
    let Some(mut message) = MessageParser::default().parse(raw) else {
        // Not a single header: whatever was sent is all body.
        return Read {
            text: non_blank(String::from_utf8_lossy(raw).into_owned()),
            ..Read::default()
        };
    };

    let from = message.from().and_then(|address| address.first());
    let from_address = from
        .and_then(|a| a.address())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let from_name = from
        .and_then(|a| a.name())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter(|name| {
            from_address
                .as_deref()
                .is_none_or(|address| !name.to_lowercase().contains(&address.to_lowercase()))
        })
        .map(str::to_string);
    let subject = message
        .subject()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let message_id = match message.header(HeaderName::MessageId) {
        Some(HeaderValue::Text(id)) => Some(id.to_string()),
        Some(HeaderValue::TextList(ids)) => ids.first().map(|id| id.to_string()),
        _ => None,
    }
    .filter(|id| !id.trim().is_empty());
    let kind = kind(&message, raw, from_address.as_deref());

    let text = non_blank(join(body_segments(&message, 0, 0)));

    let planned: Vec<(usize, Option<String>, String)> = attachment_parts(&message)
        .into_iter()
        .filter_map(|id| {
            let part = message.parts.get(id)?;
            Some((id, attachment_name(part), media_type(part)))
        })
        .collect();
    let attachments = planned
        .into_iter()
        .filter_map(|(id, name, content_type)| {
            let part = message.parts.get_mut(id)?;
            Some(Attachment {
                name,
                content_type,
                bytes: decoded_bytes(raw, part),
            })
        })
        .collect();

    Read {
        from_name,
        from_address,
        subject,
        message_id,
        text,
        attachments,
        kind,
    }
}

/// Bounce first (a bounce often also says Auto-Submitted), then automatic replies.
fn kind(message: &Message<'_>, raw: &[u8], from_address: Option<&str>) -> MessageKind {
    let null_return_path =
        header_values(message, raw, "Return-Path").any(|value| is_null_sender(&value));
    let report_type = message
        .root_part()
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .map(|ct| {
            ct.attribute("report-type")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if null_return_path
        || report_type.as_deref() == Some("delivery-status")
        || from_address.is_some_and(is_mailer_daemon)
    {
        return MessageKind::Bounce;
    }

    // Any other report (read receipts, abuse feedback) is machine-made too.
    let other_report = report_type.is_some();
    let auto_submitted = header_values(message, raw, "Auto-Submitted").any(|value| {
        let token = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        !token.is_empty() && token != "no"
    });
    let autoreply_flag = ["X-Autoreply", "X-Autorespond"].iter().any(|name| {
        header_values(message, raw, name).any(|value| !value.eq_ignore_ascii_case("no"))
    });
    let precedence = header_values(message, raw, "Precedence").any(|value| {
        matches!(
            value.to_ascii_lowercase().as_str(),
            "auto_reply" | "bulk" | "junk" | "list"
        )
    });
    if other_report || auto_submitted || autoreply_flag || precedence {
        MessageKind::AutoReply
    } else {
        MessageKind::Response
    }
}

/// The trimmed raw values of a top-level header, as sent (no decoding needed for these flags).
fn header_values<'a>(
    message: &'a Message<'_>,
    raw: &'a [u8],
    name: &'a str,
) -> impl Iterator<Item = String> + 'a {
    message
        .headers()
        .iter()
        .filter(move |header| header.name.as_str().eq_ignore_ascii_case(name))
        .map(move |header| {
            let value = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .unwrap_or_default();
            String::from_utf8_lossy(value).trim().to_string()
        })
}

/// "<>" (or an empty MAIL FROM): the null sender that only delivery reports use.
fn is_null_sender(sender: &str) -> bool {
    let compact: String = sender.chars().filter(|c| !c.is_whitespace()).collect();
    compact.is_empty() || compact == "<>"
}

fn is_mailer_daemon(address: &str) -> bool {
    local_part(address.trim().trim_start_matches('<').trim_end_matches('>'))
        .eq_ignore_ascii_case("mailer-daemon")
}

fn local_part(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map_or(address, |(local, _)| local)
        .trim()
        .trim_matches('"')
}

/// Deeper than this, text is not looked for (the recursion must stay far from the stack's end
/// on hostile input; real mail nests a handful of levels). Attachments are found at any depth.
const MAX_TEXT_DEPTH: usize = 64;

/// A piece of body text, and whether it was written as plain text (not converted from HTML).
struct Segment {
    text: String,
    plain: bool,
}

/// The body text under a part: the chosen rendering of an alternative, every text part of
/// any other multipart, in order.
fn body_segments(message: &Message<'_>, id: usize, depth: usize) -> Vec<Segment> {
    let Some(part) = message.parts.get(id) else {
        return Vec::new();
    };
    if depth > MAX_TEXT_DEPTH {
        return Vec::new();
    }
    match &part.body {
        PartType::Multipart(children) => {
            let mut children = children
                .iter()
                .map(|&child| body_segments(message, child as usize, depth + 1));
            if is_subtype(part, "alternative") {
                let candidates: Vec<Vec<Segment>> = children.collect();
                let has_text = |segments: &&Vec<Segment>, plain_only: bool| {
                    segments
                        .iter()
                        .any(|s| (s.plain || !plain_only) && !s.text.trim().is_empty())
                };
                candidates
                    .iter()
                    .position(|c| has_text(&c, true))
                    .or_else(|| candidates.iter().position(|c| has_text(&c, false)))
                    .and_then(|chosen| candidates.into_iter().nth(chosen))
                    .unwrap_or_default()
            } else {
                children.by_ref().flatten().collect()
            }
        }
        body if is_body_text(part) => match body {
            PartType::Text(text) => vec![Segment {
                text: text.to_string(),
                plain: true,
            }],
            PartType::Html(html) => vec![Segment {
                text: html_to_text(html),
                plain: false,
            }],
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                vec![Segment {
                    text: String::from_utf8_lossy(bytes).into_owned(),
                    plain: true,
                }]
            }
            PartType::Message(_) | PartType::Multipart(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Joins text parts, starting each on a new line.
fn join(segments: Vec<Segment>) -> String {
    let mut text = String::new();
    for segment in segments {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push_str(if text.contains("\r\n") { "\r\n" } else { "\n" });
        }
        text.push_str(&segment.text);
    }
    text
}

fn non_blank(text: String) -> Option<Vec<u8>> {
    (!text.trim().is_empty()).then(|| text.into_bytes())
}

/// Whether a leaf part is body text rather than a file: text/plain or text/html (or no type,
/// which means text/plain) without a file name and not marked as an attachment. A multipart
/// whose boundary never occurs is also read as text, as mail clients show it.
fn is_body_text(part: &MessagePart<'_>) -> bool {
    if matches!(part.body, PartType::Message(_) | PartType::Multipart(_))
        || attachment_name(part).is_some()
        || part
            .content_disposition()
            .is_some_and(|d| d.is_attachment())
    {
        return false;
    }
    match part.content_type() {
        None => matches!(part.body, PartType::Text(_) | PartType::Html(_)),
        Some(ct) if ct.ctype().eq_ignore_ascii_case("text") => ct
            .subtype()
            .is_none_or(|s| s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("html")),
        Some(ct) => ct.ctype().eq_ignore_ascii_case("multipart"),
    }
}

fn is_subtype(part: &MessagePart<'_>, subtype: &str) -> bool {
    part.content_type()
        .and_then(|ct| ct.subtype())
        .is_some_and(|s| s.eq_ignore_ascii_case(subtype))
}

/// Every leaf that is not body text, in document order; an attached message is one leaf.
/// Iterative, so that no nesting depth can exhaust the stack.
fn attachment_parts(message: &Message<'_>) -> Vec<usize> {
    let mut found = Vec::new();
    let mut pending = vec![0usize];
    while let Some(id) = pending.pop() {
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                // Only later parts can be children: this also rules out any cycle.
                pending.extend(
                    children
                        .iter()
                        .rev()
                        .map(|&c| c as usize)
                        .filter(|&c| c > id),
                );
            }
            _ if is_body_text(part) => {}
            _ => found.push(id),
        }
    }
    found
}

/// The sender's file name; an attached message without one is named after its subject.
fn attachment_name(part: &MessagePart<'_>) -> Option<String> {
    let name = part
        .attachment_name()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if name.is_some() || !is_message(part) {
        return name;
    }
    let subject = match &part.body {
        PartType::Message(inner) => inner.subject().map(str::trim).filter(|s| !s.is_empty()),
        _ => None,
    };
    Some(subject.map_or_else(
        || "message.eml".to_string(),
        |subject| format!("{subject}.eml"),
    ))
}

fn is_message(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Message(_))
        || part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                })
        })
}

/// "type/subtype" in lower case; MIME's defaults when the part declares none.
fn media_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(subtype) => format!("{}/{}", ct.ctype(), subtype).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if is_message(part) => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

/// The attachment's bytes with only the transfer encoding undone. mail-parser has already
/// decoded binary parts (taken, not copied: messages reach 40 MB); text parts it converted to
/// UTF-8 and attached messages it parsed, so those are decoded again from the raw part.
fn decoded_bytes(raw: &[u8], part: &mut MessagePart<'_>) -> Vec<u8> {
    match std::mem::take(&mut part.body) {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
        _ => {
            let encoded = raw
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default();
            let (end, decoded) = match part.encoding {
                Encoding::None => return encoded.to_vec(),
                Encoding::Base64 => MessageStream::new(encoded).decode_base64_mime(b""),
                Encoding::QuotedPrintable => {
                    MessageStream::new(encoded).decode_quoted_printable_mime(b"")
                }
            };
            if end == usize::MAX {
                encoded.to_vec()
            } else {
                decoded.into_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! corpus {
        ($file:literal) => {
            parse(include_bytes!(concat!("../../../tests/mail/", $file)), None)
        };
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn text(message: &InboundMessage) -> &str {
        std::str::from_utf8(message.text.as_deref().expect("a text body")).expect("UTF-8 text")
    }

    fn names(message: &InboundMessage) -> Vec<Option<&str>> {
        message
            .attachments
            .iter()
            .map(|a| a.name.as_deref())
            .collect()
    }

    #[test]
    fn dump() {
        let mut out = serde_json::Map::new();
        let mut files: Vec<_> = std::fs::read_dir("../tests/mail").unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
        files.sort();
        for path in files {
            let raw = std::fs::read(&path).unwrap();
            let m = parse(&raw, None);
            out.insert(path.file_name().unwrap().to_string_lossy().into(), serde_json::json!({
                "from_name": m.from_name, "from_address": m.from_address, "submitter_name": m.submitter_name(),
                "subject": m.subject, "message_id": m.message_id, "kind": format!("{:?}", m.kind),
                "text": m.text.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()),
                "attachments": m.attachments.iter().map(|a| serde_json::json!({"name": a.name, "content_type": a.content_type, "size": a.bytes.len(), "sha256": sha256(&a.bytes)})).collect::<Vec<_>>(),
            }));
        }
        std::fs::write("/tmp/gen_mail/rust.json", serde_json::to_string_pretty(&out).unwrap()).unwrap();
        let _ = names;
    }

    #[test]
    fn placeholder() {
        let m = parse(b"From: a@b\r\n\r\nhi\r\n", None);
        assert_eq!(text(&m), "hi\r\n");
    }
}
