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
}
