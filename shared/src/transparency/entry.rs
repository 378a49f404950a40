//! The canonical log entry of a response: what the transparency log commits to.
//!
//! Entry `i` of a consultation's log is the record of response number `i + 1`. It holds what
//! proves the response was published unedited (the consultation, number, time of receipt,
//! channel, and each file's name, size and SHA-256) and nothing private (no email address, no
//! submitter identity: those are published next to it, but the log is about the bytes).
//!
//! The encoding is RFC 8785 (JSON Canonicalization Scheme) of one fixed object, so any JCS
//! library recomputes it byte for byte:
//!
//! ```text
//! {"channel":"web","consultation":"internet-2027","files":[{"name":"response.txt",
//!  "sha256":"<64 lower-case hex>","size":5}],"number":1,
//!  "received_at":"2026-11-28T09:40:00.123Z","version":1}
//! ```
//!
//! (on one line, no spaces). Members are in the order JCS sorts them; strings are escaped only
//! where JSON requires it (`"`, `\`, U+0000–U+001F, with `\b \f \n \r \t` and lower-case
//! `\u00xx`), every other character is written as UTF-8; numbers are plain integers; files
//! keep the order of the receipt. The leaf hash is `SHA-256(0x00 || entry)` (RFC 6962).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Channel, Receipt};

/// The entry format's version, inside the entry so a future format can never collide.
pub const ENTRY_VERSION: u64 = 1;

/// The most an entry may take: entry bundles prefix each entry with a 16-bit length.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// One response as the log records it. Field order is the JCS (sorted) order, so serde's
/// compact output is already canonical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub channel: Channel,
    pub consultation: String,
    pub files: Vec<EntryFile>,
    pub number: u64,
    /// UTC, always three fractional digits: `2026-11-28T09:40:00.123Z`.
    pub received_at: String,
    pub version: u64,
}

/// One file of an entry, members in JCS order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFile {
    pub name: String,
    /// Lower-case hex SHA-256 of the exact bytes.
    pub sha256: String,
    pub size: u64,
}

impl LogEntry {
    /// The entry of a receipt (which holds everything the entry needs, and the receipt's
    /// holder can recompute it).
    pub fn of_receipt(receipt: &Receipt) -> Self {
        Self {
            channel: receipt.channel,
            consultation: receipt.consultation.to_string(),
            files: receipt
                .files
                .iter()
                .map(|f| EntryFile {
                    name: f.name.clone(),
                    sha256: f.sha256.clone(),
                    size: f.size,
                })
                .collect(),
            number: receipt.number,
            received_at: receipt.received_at.clone(),
            version: ENTRY_VERSION,
        }
    }

    /// The index of this entry in its consultation's log.
    pub fn leaf_index(&self) -> u64 {
        self.number.saturating_sub(1)
    }

    /// The canonical bytes (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a log entry always serializes")
    }

    /// Parses canonical bytes, refusing anything that is not exactly the canonical form.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let entry: Self = serde_json::from_slice(bytes).ok()?;
        (entry.encode() == bytes).then_some(entry)
    }
}

/// Whether the entry of `response` fits in an entry bundle (at most [`MAX_ENTRY_BYTES`])
/// whatever number it is given: intake refuses a response that does not, so that no response,
/// once stored, can stop its consultation's log. Checked with the longest possible number.
pub fn fits(response: &crate::domain::NewResponse) -> bool {
    let widest = crate::domain::Response {
        number: u64::MAX,
        response: response.clone(),
    };
    LogEntry::of_receipt(&widest.receipt()).encode().len() <= MAX_ENTRY_BYTES
}

/// RFC 6962 leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(entry);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConsultationId, PublicFile, ResponseId};

    fn receipt() -> Receipt {
        Receipt {
            id: ResponseId::new(),
            number: 1,
            consultation: ConsultationId::parse("internet-2027").unwrap(),
            received_at: "2026-11-28T09:40:00.123Z".to_owned(),
            channel: Channel::Web,
            name: "Ada Lovelace".to_owned(),
            organization: Some("Analytical Society".to_owned()),
            category: None,
            country: None,
            files: vec![PublicFile {
                name: "Réponse \"1\"\t.txt".to_owned(),
                media_type: "text/plain".to_owned(),
                size: 5,
                sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
                    .to_owned(),
                url: "/x".to_owned(),
            }],
            log: None,
        }
    }

    #[test]
    fn the_entry_is_the_documented_canonical_json() {
        let entry = LogEntry::of_receipt(&receipt());
        let bytes = entry.encode();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"channel":"web","consultation":"internet-2027","files":[{"name":"Réponse \"1\"\t.txt","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":5}],"number":1,"received_at":"2026-11-28T09:40:00.123Z","version":1}"#
        );
        assert_eq!(LogEntry::decode(&bytes), Some(entry));
        assert_eq!(
            hex::encode(leaf_hash(&bytes)),
            hex::encode(tlog_tiles::record_hash(&bytes).0)
        );
    }

    #[test]
    fn nothing_private_enters_the_log() {
        let bytes = LogEntry::of_receipt(&receipt()).encode();
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("Ada") && !text.contains("Analytical"));
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let canonical = LogEntry::of_receipt(&receipt()).encode();
        let spaced = String::from_utf8(canonical.clone())
            .unwrap()
            .replacen(':', ": ", 1);
        assert!(LogEntry::decode(spaced.as_bytes()).is_none());
        let extra = String::from_utf8(canonical)
            .unwrap()
            .replacen('{', r#"{"email":"a@b","#, 1);
        assert!(LogEntry::decode(extra.as_bytes()).is_none());
    }

    #[test]
    fn control_characters_use_jcs_escapes() {
        let mut r = receipt();
        r.files[0].name = "a\u{1}b\u{1f}c/\u{7f}é".to_owned();
        let text = String::from_utf8(LogEntry::of_receipt(&r).encode()).unwrap();
        assert!(text.contains("\"a\\u0001b\\u001fc/\u{7f}é\""), "{text}");
    }

    /// The longest names a file may get (150 bytes, then a " (n)" to make it unique) on the
    /// most files the limits let a response carry (the text, message.eml and the rest): well
    /// inside a bundle entry. Hundreds of such files are not, and are refused.
    #[test]
    fn the_limits_keep_every_entry_inside_a_bundle() {
        use crate::domain::limits::Limits;
        use crate::domain::{NewResponse, StoredFile, Submitter, sanitize_file_name};
        let response = |files: usize| NewResponse {
            id: ResponseId::new(),
            consultation: ConsultationId::parse(&"c".repeat(64)).unwrap(),
            received_at: jiff::Timestamp::MAX,
            channel: Channel::Email,
            submitter: Submitter {
                name: "A".into(),
                organization: None,
                category: None,
                country: None,
                email: None,
                language: None,
            },
            files: (0..files)
                .map(|i| StoredFile {
                    name: format!("{} ({i})", sanitize_file_name(&"é".repeat(200))),
                    media_type: "application/pdf".into(),
                    size: u64::MAX,
                    sha256: "0".repeat(64),
                    original_key: String::new(),
                })
                .collect(),
        };
        assert!(fits(&response(Limits::default().max_files + 1)));
        assert!(!fits(&response(300)));
    }
}
