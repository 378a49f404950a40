//! A witness: an independent party that cosigns a log's checkpoint only if it is consistent
//! with every checkpoint of that log it cosigned before, so that a log cannot show one history
//! to some readers and another to others without a witness noticing.
//!
//! It implements C2SP tlog-witness (`POST <prefix>/add-checkpoint`) as the current text of the
//! specification says (c2sp.org, repository revision 5ba5ee8, which refines v1.0: the same size
//! with another root is `422`; a failing signature of a trusted key is `403`), with C2SP
//! tlog-cosignature v1 Ed25519 cosignatures ([`cosignature`]). Its state per log origin is the
//! size and root hash it last cosigned; the check of the old size and the new state are one
//! compare-and-set, persisted before the answer.
//!
//! Which logs it follows: exact origins, each with the log's verifier key, or an origin prefix
//! ending in `*` (`consultations.example.org/consultations/*`): Verbatim signs every
//! consultation's log with one key and names each `<key name>/consultations/<id>`, so a witness
//! told the prefix once follows every consultation opened later, with no step per consultation.

// The formats a witness speaks are the transparency log's (C2SP tlog-cosignature, tlog-policy):
// they live there, read by the log's publisher and its readers as well; named here too.
pub use crate::transparency::{cosignature, policy};

use std::sync::Arc;

use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::ports::{Clock, StoreError, WitnessState, WitnessedHead};
use cosignature::CosignerKey;

/// The most consistency proof lines a request may carry (tlog-witness: at most 63).
pub const MAX_PROOF_LINES: usize = 63;

/// Why a checkpoint was not cosigned, each with the status tlog-witness gives it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 400: the body is not `old <size>`, proof lines, a blank line and a checkpoint.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: no log with this origin is followed here.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no signature of a key trusted for the origin, or one that fails.
    #[error("not signed by a key trusted for {0:?}")]
    NotTrusted(String),
    /// 400: the old size is beyond the checkpoint's.
    #[error("the old size {old} is larger than the checkpoint's size {size}")]
    OldBeyondCheckpoint { old: u64, size: u64 },
    /// 409: the old size is not the size last cosigned (which the body says).
    #[error("the last cosigned size is {0}")]
    Conflict(u64),
    /// 422: the checkpoint is not consistent with what was cosigned.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An `add-checkpoint` request body, parsed.
#[derive(Debug, Clone)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint note, signatures included.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses `old <size>\n`, up to 63 base64 hash lines, `\n`, then the checkpoint.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        let malformed = |why: &str| Refusal::Malformed(why.to_owned());
        let (first, mut rest) = split_line(body).ok_or_else(|| malformed("no old size line"))?;
        let size = first
            .strip_prefix(b"old ")
            .ok_or_else(|| malformed("the first line is not `old <size>`"))?;
        let old_size = decimal(size).ok_or_else(|| malformed("the old size is not a decimal"))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) =
                split_line(rest).ok_or_else(|| malformed("no blank line before the checkpoint"))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 consistency proof lines"));
            }
            proof.push(
                base64_hash(line).ok_or_else(|| malformed("a proof line is not a base64 hash"))?,
            );
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }
}

/// The line before the first `\n`, and what follows it.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// An ASCII decimal without leading zeroes (`0` itself allowed).
fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn base64_hash(line: &[u8]) -> Option<Hash> {
    use base64::Engine;
    let bytes = base64::prelude::BASE64_STANDARD.decode(line).ok()?;
    Some(Hash(bytes.try_into().ok()?))
}

/// The root hash of the empty tree: SHA-256 of nothing (RFC 6962, 2.1).
fn empty_root() -> Hash {
    use sha2::Digest;
    Hash(sha2::Sha256::digest([]).into())
}

/// The witness: its key, what it follows and what it cosigned.
pub struct Witness {
    pub key: CosignerKey,
    pub state: Arc<dyn WitnessState>,
    pub clock: Arc<dyn Clock>,
}

impl Witness {
    /// Answers an `add-checkpoint` request: the cosignature line(s) of the checkpoint, once its
    /// new state is persisted, or why not. Blocking (the state is a database): call it off
    /// the async threads.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body)?;
        let note = Note::from_bytes(&request.checkpoint).map_err(|e| {
            Refusal::Malformed(format!("the checkpoint is not a signed note ({e})"))
        })?;
        let origin = std::str::from_utf8(note.text())
            .ok()
            .and_then(|text| text.lines().next())
            .unwrap_or_default()
            .to_owned();
        let keys = self.state.log_keys(&origin)?;
        if keys.is_empty() {
            return Err(Refusal::UnknownOrigin(origin));
        }
        let verifiers = VerifierList::new(
            keys.iter()
                .filter_map(|key| StandardVerifier::new(key).ok())
                .map(|v| Box::new(v) as Box<dyn signed_note::Verifier>)
                .collect(),
        );
        // Unknown keys' signatures are ignored; a trusted key's that fails refuses it all.
        note.verify(&verifiers)
            .map_err(|_| Refusal::NotTrusted(origin.clone()))?;
        let checkpoint = Checkpoint::from_bytes(note.text())
            .map_err(|e| Refusal::Malformed(format!("not a checkpoint ({e})")))?;
        let (size, root) = (checkpoint.size(), *checkpoint.hash());
        if request.old_size > size {
            return Err(Refusal::OldBeyondCheckpoint {
                old: request.old_size,
                size,
            });
        }
        let new = WitnessedHead { size, root: root.0 };
        // Read, check, compare-and-set: a concurrent request that moved the state first makes
        // this one read again (and, usually, answer 409).
        for _ in 0..3 {
            let cosigned = self.state.cosigned(&origin)?;
            self.check(&request, &origin, cosigned.as_ref(), size, root)?;
            if self.state.advance(&origin, cosigned.as_ref(), &new)? {
                let timestamp = self.clock.now().as_second().max(1) as u64;
                return Ok(self.key.cosign(note.text(), timestamp));
            }
        }
        Err(Refusal::Store(StoreError::backend(
            "cosigning",
            "the log's state kept changing: try again",
        )))
    }

    /// The consistency checks of tlog-witness, against what was last cosigned.
    fn check(
        &self,
        request: &AddCheckpoint,
        origin: &str,
        cosigned: Option<&WitnessedHead>,
        size: u64,
        root: Hash,
    ) -> Result<(), Refusal> {
        let known = cosigned.map_or(0, |c| c.size);
        if request.old_size != known {
            return Err(Refusal::Conflict(known));
        }
        let refuse = |why: String| {
            // Possibly proof of a misbehaving log: said, never cosigned.
            tracing::warn!(
                origin,
                old = request.old_size,
                size,
                why,
                "refused an inconsistent checkpoint"
            );
            Err(Refusal::Inconsistent(why))
        };
        if size == 0 && root != empty_root() {
            return refuse("a checkpoint of size 0 must have the empty tree's root".to_owned());
        }
        let Some(cosigned) = cosigned.filter(|c| c.size > 0) else {
            if !request.proof.is_empty() {
                return refuse("a proof from size 0 must be empty".to_owned());
            }
            return Ok(());
        };
        if cosigned.size == size {
            if cosigned.root != root.0 {
                return refuse(format!("size {size} was cosigned with another root hash"));
            }
            return Ok(());
        }
        crate::transparency::tree::check_consistency(
            &request.proof,
            size,
            root,
            cosigned.size,
            Hash(cosigned.root),
        )
        .or_else(|_| {
            refuse(format!(
                "the proof does not show size {size} extends size {} as cosigned",
                cosigned.size
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_specified() {
        let body = b"old 3\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nexample.com/log\n4\nAA==\n\n- sig\n";
        let parsed = AddCheckpoint::parse(body).unwrap();
        assert_eq!(parsed.old_size, 3);
        assert_eq!(parsed.proof.len(), 1);
        assert!(parsed.checkpoint.starts_with(b"example.com/log\n"));
        for bad in [
            &b"old 03\n\ncheckpoint"[..],
            b"old -1\n\nc",
            b"new 1\n\nc",
            b"old 1\nnot base64!\n\nc",
            b"old 1\nAAAA\n\nc",
            b"old 1\n",
            b"old 1",
        ] {
            assert!(
                matches!(AddCheckpoint::parse(bad), Err(Refusal::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(AddCheckpoint::parse(b"old 0\n\nc").unwrap().old_size, 0);
        let many: String =
            std::iter::repeat_n("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n", 64).collect();
        assert!(AddCheckpoint::parse(format!("old 1\n{many}\nc").as_bytes()).is_err());
    }
}
