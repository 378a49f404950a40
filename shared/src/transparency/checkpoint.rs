//! Signed tree heads: C2SP `tlog-checkpoint` notes signed with `signed-note` Ed25519, and the
//! signed receipt statement.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use signed_note::Note;
use tlog_tiles::{Checkpoint, Hash};

use super::TransparencyError;
use super::key::{LogKey, LogVerifier};

/// The origin line of a consultation's log: the key's name, then the consultation.
pub fn origin(key_name: &str, consultation: &str) -> String {
    format!("{key_name}/consultations/{consultation}")
}

/// A checkpoint whose signature has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeHead {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl TreeHead {
    /// The root hash in lower-case hex, as pages show it.
    pub fn root_hex(&self) -> String {
        hex::encode(self.root.0)
    }
}

/// The signed checkpoint note. Ed25519 is deterministic, so the same tree always gives the
/// same bytes: a rebuilt log publishes exactly what was published before.
pub fn sign_checkpoint(key: &LogKey, head: &TreeHead) -> Result<Vec<u8>, TransparencyError> {
    let checkpoint = Checkpoint::new(&head.origin, head.size, head.root, "")
        .map_err(|_| TransparencyError::MalformedCheckpoint("bad origin".to_owned()))?;
    let mut note = Note::new(&checkpoint.to_bytes(), &[])
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    note.add_sigs(&[key.signer()])
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    Ok(note.to_bytes())
}

/// A signed note of `text` (a statement other than a checkpoint, e.g. the list of an outcome's
/// files). Deterministic like a checkpoint: signing again gives the same bytes.
pub fn sign_note(key: &LogKey, text: &str) -> Result<Vec<u8>, TransparencyError> {
    let mut note = Note::new(text.as_bytes(), &[])
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    note.add_sigs(&[key.signer()])
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    Ok(note.to_bytes())
}

/// Parses a checkpoint and checks it is signed by `verifier` for `expected_origin`.
pub fn open_checkpoint(
    bytes: &[u8],
    verifier: &LogVerifier,
    expected_origin: &str,
) -> Result<TreeHead, TransparencyError> {
    let note = Note::from_bytes(bytes)
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    note.verify(&verifier.verifiers()).map_err(|e| {
        TransparencyError::BadSignature(format!(
            "the checkpoint is not signed by {} ({e})",
            verifier.as_str()
        ))
    })?;
    let checkpoint = Checkpoint::from_bytes(note.text())
        .map_err(|e| TransparencyError::MalformedCheckpoint(e.to_string()))?;
    if checkpoint.origin() != expected_origin {
        return Err(TransparencyError::MalformedCheckpoint(format!(
            "its origin is {:?}, expected {expected_origin:?}",
            checkpoint.origin()
        )));
    }
    Ok(TreeHead {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
    })
}

/// The text a receipt's signature covers. The leaf hash commits to the whole entry (number,
/// time, channel, every file's name, size and SHA-256), so this short statement signs it all.
/// Its second line is not a number, so it can never be mistaken for a checkpoint.
pub fn receipt_statement(origin: &str, leaf_index: u64, leaf: &Hash) -> String {
    format!(
        "verbatim-receipt/v1\n{origin}\n{leaf_index}\n{}\n",
        BASE64_STANDARD.encode(leaf.0)
    )
}

/// Signs a receipt statement; returns the signed-note signature (base64 of key id and
/// Ed25519 signature), as it would appear after `— <key name> ` in a note.
pub fn sign_receipt(key: &LogKey, statement: &str) -> Result<String, TransparencyError> {
    let mut note = Note::new(statement.as_bytes(), &[])
        .map_err(|e| TransparencyError::MalformedReceipt(e.to_string()))?;
    note.add_sigs(&[key.signer()])
        .map_err(|e| TransparencyError::MalformedReceipt(e.to_string()))?;
    let signed = String::from_utf8(note.to_bytes()).expect("notes are UTF-8");
    let line = signed
        .rsplit_once("\n— ")
        .map(|(_, line)| line.trim_end())
        .expect("a signed note ends with its signature");
    let (_, signature) = line.split_once(' ').expect("name and signature");
    Ok(signature.to_owned())
}

/// Checks a receipt statement's signature.
pub fn verify_receipt(
    verifier: &LogVerifier,
    statement: &str,
    signature: &str,
) -> Result<(), TransparencyError> {
    let signed = format!("{statement}\n— {} {signature}\n", verifier.name());
    let note = Note::from_bytes(signed.as_bytes())
        .map_err(|e| TransparencyError::MalformedReceipt(e.to_string()))?;
    note.verify(&verifier.verifiers()).map_err(|e| {
        TransparencyError::BadSignature(format!(
            "the receipt is not signed by {} ({e})",
            verifier.as_str()
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_KEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn signatures_match_go_sumdb_note() {
        // golang.org/x/mod/sumdb/note's example: same key, same text, same signature.
        let key = LogKey::parse(GO_KEY).unwrap();
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let signature = sign_receipt(&key, text).unwrap();
        assert_eq!(
            signature,
            "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        );
        verify_receipt(&key.verifier(), text, &signature).unwrap();
    }

    #[test]
    fn checkpoints_round_trip_and_refuse_other_keys_and_origins() {
        let key = LogKey::generate("example.org").unwrap();
        let head = TreeHead {
            origin: origin("example.org", "c1"),
            size: 3,
            root: tlog_tiles::record_hash(b"x"),
        };
        let note = sign_checkpoint(&key, &head).unwrap();
        let text = String::from_utf8(note.clone()).unwrap();
        assert!(
            text.starts_with("example.org/consultations/c1\n3\n"),
            "{text}"
        );
        assert!(text.contains("\n\n— example.org "));
        assert_eq!(sign_checkpoint(&key, &head).unwrap(), note, "deterministic");
        assert_eq!(
            open_checkpoint(&note, &key.verifier(), &head.origin).unwrap(),
            head
        );

        let other = LogKey::generate("example.org").unwrap();
        let forged = sign_checkpoint(&other, &head).unwrap();
        let e = open_checkpoint(&forged, &key.verifier(), &head.origin).unwrap_err();
        assert!(e.to_string().contains("not signed by"), "{e}");
        let e =
            open_checkpoint(&note, &key.verifier(), "example.org/consultations/c2").unwrap_err();
        assert!(e.to_string().contains("origin"), "{e}");
        let tampered = text.replacen("\n3\n", "\n4\n", 1);
        assert!(open_checkpoint(tampered.as_bytes(), &key.verifier(), &head.origin).is_err());
    }

    #[test]
    fn receipt_signatures_cover_every_field() {
        let key = LogKey::generate("example.org").unwrap();
        let leaf = tlog_tiles::record_hash(b"entry");
        let statement = receipt_statement("example.org/consultations/c1", 0, &leaf);
        let signature = sign_receipt(&key, &statement).unwrap();
        verify_receipt(&key.verifier(), &statement, &signature).unwrap();
        for changed in [
            receipt_statement("example.org/consultations/c1", 1, &leaf),
            receipt_statement("example.org/consultations/c2", 0, &leaf),
            receipt_statement(
                "example.org/consultations/c1",
                0,
                &tlog_tiles::record_hash(b"e"),
            ),
        ] {
            assert!(verify_receipt(&key.verifier(), &changed, &signature).is_err());
        }
        let other = LogKey::generate("example.org").unwrap();
        assert!(verify_receipt(&other.verifier(), &statement, &signature).is_err());
    }
}
