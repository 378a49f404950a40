//! The transparency log: proof that every response was published unedited and that none was
//! dropped, reordered or replaced.
//!
//! Each consultation has an append-only Merkle log (RFC 6962 hashing, C2SP tlog-tiles layout,
//! C2SP checkpoint signed as a C2SP signed-note with Ed25519). Entry `i` is the canonical
//! record of response `i + 1` ([`entry`]). Receipts carry the leaf index, leaf hash and a
//! signature by the same key ([`ReceiptLog`]). This module is the pure core; [`publish`]
//! writes a log to the site store and [`verify`] checks a published one.

pub mod append;
pub mod checkpoint;
pub mod cosignature;
pub mod cosigning;
pub mod entry;
pub mod key;
pub mod policy;
pub mod proof;
pub mod publish;
pub mod tree;
pub mod verify;

use thiserror::Error;
use tlog_tiles::Hash;

use crate::domain::Receipt;

pub use checkpoint::{TreeHead, origin};
pub use entry::LogEntry;
pub use key::{KeyError, LogKey, LogVerifier};
pub use tree::MemoryTree;

#[derive(Debug, Error)]
pub enum TransparencyError {
    #[error("a log entry of {0} bytes is over the 65,535 an entry bundle can hold")]
    EntryTooLarge(usize),
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    #[error("malformed receipt: {0}")]
    MalformedReceipt(String),
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("the inclusion proof of entry {index} in the tree of {size} entries does not hold")]
    BadInclusionProof { index: u64, size: u64 },
    #[error("the tree of {new_size} entries does not extend the tree of {old_size}")]
    BadConsistencyProof { old_size: u64, new_size: u64 },
    #[error("the published entry {0} does not match the signed tree")]
    TamperedBundle(u64),
    #[error("tree arithmetic: {0}")]
    Tree(#[from] tlog_tiles::Error),
}

/// Adds the signed log position to a receipt.
pub fn sign_receipt(key: &LogKey, receipt: &Receipt) -> Result<Receipt, TransparencyError> {
    let entry = LogEntry::of_receipt(receipt);
    let leaf = Hash(entry::leaf_hash(&entry.encode()));
    let origin = origin(key.name(), &entry.consultation);
    let statement = checkpoint::receipt_statement(&origin, entry.leaf_index(), &leaf);
    let signature = checkpoint::sign_receipt(key, &statement)?;
    let mut signed = receipt.clone();
    signed.log = Some(crate::domain::ReceiptLog {
        origin,
        leaf_index: entry.leaf_index(),
        leaf_hash: hex::encode(leaf.0),
        signature,
        key: key.verifier_key().to_owned(),
    });
    Ok(signed)
}

/// Checks a signed receipt: its leaf hash is the hash of its own entry, its index follows from
/// its number, and the signature is `verifier`'s. Returns the leaf hash.
pub fn verify_receipt(
    verifier: &LogVerifier,
    receipt: &Receipt,
) -> Result<Hash, TransparencyError> {
    let log = receipt.log.as_ref().ok_or_else(|| {
        TransparencyError::MalformedReceipt("it carries no log position".to_owned())
    })?;
    let entry = LogEntry::of_receipt(receipt);
    let leaf = Hash(entry::leaf_hash(&entry.encode()));
    if hex::encode(leaf.0) != log.leaf_hash {
        return Err(TransparencyError::MalformedReceipt(format!(
            "its leaf hash {} is not the hash of its own contents ({})",
            log.leaf_hash,
            hex::encode(leaf.0)
        )));
    }
    if log.leaf_index != entry.leaf_index() {
        return Err(TransparencyError::MalformedReceipt(format!(
            "leaf index {} does not follow from response number {}",
            log.leaf_index, receipt.number
        )));
    }
    let expected_origin = origin(verifier.name(), &entry.consultation);
    if log.origin != expected_origin {
        return Err(TransparencyError::MalformedReceipt(format!(
            "its log is {:?}, expected {expected_origin:?}",
            log.origin
        )));
    }
    let statement = checkpoint::receipt_statement(&log.origin, log.leaf_index, &leaf);
    checkpoint::verify_receipt(verifier, &statement, &log.signature)?;
    Ok(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, ConsultationId, PublicFile, ResponseId};

    fn receipt() -> Receipt {
        Receipt {
            id: ResponseId::new(),
            number: 7,
            consultation: ConsultationId::parse("internet-2027").unwrap(),
            received_at: "2026-11-28T09:40:00.123Z".to_owned(),
            channel: Channel::Email,
            name: "Ada".to_owned(),
            organization: None,
            category: None,
            country: None,
            files: vec![PublicFile {
                name: "message.eml".to_owned(),
                media_type: "message/rfc822".to_owned(),
                size: 3,
                sha256: "ab".repeat(32),
                url: "/consultations/internet-2027/responses/7/message.eml".to_owned(),
            }],
            log: None,
        }
    }

    #[test]
    fn signed_receipts_verify_and_any_change_is_caught() {
        let key = LogKey::generate("verbatim.example").unwrap();
        let signed = sign_receipt(&key, &receipt()).unwrap();
        let log = signed.log.clone().unwrap();
        assert_eq!(log.leaf_index, 6);
        assert_eq!(log.origin, "verbatim.example/consultations/internet-2027");
        verify_receipt(&key.verifier(), &signed).unwrap();
        // The JSON form round-trips and still verifies.
        let json = serde_json::to_string(&signed).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        verify_receipt(&key.verifier(), &back).unwrap();

        let mut changed = signed.clone();
        changed.files[0].sha256 = "cd".repeat(32);
        let e = verify_receipt(&key.verifier(), &changed).unwrap_err();
        assert!(
            e.to_string().contains("not the hash of its own contents"),
            "{e}"
        );
        let mut changed = signed.clone();
        changed.received_at = "2026-11-28T09:40:00.124Z".to_owned();
        assert!(verify_receipt(&key.verifier(), &changed).is_err());
        let mut forged = signed.clone();
        forged.files[0].size = 4;
        let relabeled =
            sign_receipt(&LogKey::generate("verbatim.example").unwrap(), &forged).unwrap();
        let e = verify_receipt(&key.verifier(), &relabeled).unwrap_err();
        assert!(e.to_string().contains("not signed by"), "{e}");
        // Receipts without a log position (older ones) are reported as such.
        assert!(verify_receipt(&key.verifier(), &receipt()).is_err());
    }
}
