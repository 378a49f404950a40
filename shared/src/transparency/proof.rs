//! A receipt turned into a self-contained, offline proof that its response is in the
//! consultation's log: C2SP tlog-proof v1 (c2sp.org/tlog-proof, repository revision 5ba5ee8).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the log entry's canonical bytes>
//! index <leaf index>
//! <inclusion proof, one base64 hash a line>
//!
//! <the checkpoint, with its signature and the witnesses' cosignatures>
//! ```
//!
//! The `extra` line carries the entry itself (number, time, channel, each file's name, size and
//! SHA-256): the leaf hash is computed from it, so the inclusion proof authenticates it. Checked
//! with nothing but a trusted log key (and, for witnesses, a policy), years later, without the
//! site.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use tlog_tiles::Hash;

use super::checkpoint::{self, TreeHead};
use super::entry::{LogEntry, leaf_hash};
use super::tree::check_inclusion;
use super::{LogVerifier, TransparencyError};
use crate::transparency::policy::{Policy, Verdict};

pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The file name extension the specification recommends.
pub const EXTENSION: &str = "tlog-proof";

#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    /// The log entry's canonical bytes.
    pub extra: Vec<u8>,
    pub index: u64,
    pub path: Vec<Hash>,
    /// The checkpoint note, as published.
    pub checkpoint: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("not a tlog proof: {0}")]
    Malformed(String),
    #[error(transparent)]
    Log(#[from] TransparencyError),
    #[error("the entry is for response {number} of {consultation}, not the one at index {index}")]
    WrongEntry {
        number: u64,
        consultation: String,
        index: u64,
    },
}

/// What a proof establishes.
#[derive(Debug, Clone)]
pub struct Proven {
    pub entry: LogEntry,
    pub head: TreeHead,
    /// The witnesses' cosignatures under the policy, when one was given.
    pub witnesses: Option<Verdict>,
}

impl Proof {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{HEADER}\nextra {}\nindex {}\n",
            BASE64_STANDARD.encode(&self.extra),
            self.index
        );
        for hash in &self.path {
            out.push_str(&BASE64_STANDARD.encode(hash.0));
            out.push('\n');
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a proof; the checkpoint is only split off here (see [`Proof::check`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        let malformed = |why: &str| ProofError::Malformed(why.to_owned());
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| malformed("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(malformed(&format!("the first line is not {HEADER}")));
        }
        let mut line = lines.next().ok_or_else(|| malformed("no index line"))?;
        let extra = match line.strip_prefix("extra ") {
            Some(encoded) => {
                let extra = BASE64_STANDARD
                    .decode(encoded)
                    .map_err(|_| malformed("the extra line is not base64"))?;
                line = lines.next().ok_or_else(|| malformed("no index line"))?;
                extra
            }
            None => {
                return Err(malformed(
                    "no extra line: Verbatim's proofs carry the entry",
                ));
            }
        };
        let index = line
            .strip_prefix("index ")
            .filter(|n| !n.is_empty() && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| malformed("the index line is not `index <decimal>`"))?;
        let mut path = Vec::new();
        for line in lines {
            let hash: [u8; 32] = BASE64_STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| malformed("a proof line is not a base64 SHA-256 hash"))?;
            path.push(Hash(hash));
            if path.len() > 63 {
                return Err(malformed("more than 63 proof lines"));
            }
        }
        Ok(Self {
            extra,
            index,
            path,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// Checks the proof offline: the checkpoint signed by `key` for the entry's consultation,
    /// the entry at `index`, its leaf included in the checkpoint's tree; and, with a policy,
    /// which witnesses cosigned the checkpoint.
    pub fn check(&self, key: &LogVerifier, policy: Option<&Policy>) -> Result<Proven, ProofError> {
        let entry = LogEntry::decode(&self.extra).ok_or_else(|| {
            ProofError::Malformed("the extra data is not a canonical log entry".to_owned())
        })?;
        if entry.leaf_index() != self.index || entry.number == 0 {
            return Err(ProofError::WrongEntry {
                number: entry.number,
                consultation: entry.consultation,
                index: self.index,
            });
        }
        let origin = checkpoint::origin(key.name(), &entry.consultation);
        let head = checkpoint::open_checkpoint(&self.checkpoint, key, &origin)?;
        check_inclusion(
            &self.path,
            head.size,
            head.root,
            self.index,
            Hash(leaf_hash(&self.extra)),
        )?;
        Ok(Proven {
            witnesses: policy.map(|p| p.verdict(&self.checkpoint)),
            entry,
            head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::{LogKey, MemoryTree};

    fn entry(number: u64) -> Vec<u8> {
        LogEntry {
            channel: crate::domain::Channel::Api,
            consultation: "c".into(),
            files: vec![super::super::entry::EntryFile {
                name: "response.txt".into(),
                sha256: "ab".repeat(32),
                size: 3,
            }],
            number,
            received_at: "2026-12-05T10:00:00.000Z".into(),
            version: super::super::entry::ENTRY_VERSION,
        }
        .encode()
    }

    #[test]
    fn a_proof_round_trips_and_checks_offline_and_a_changed_byte_fails_it() {
        let key = LogKey::from_seed("log.example", [3; 32]).unwrap();
        let mut tree = MemoryTree::new();
        for n in 1..=7 {
            tree.push(entry(n)).unwrap();
        }
        let head = TreeHead {
            origin: checkpoint::origin("log.example", "c"),
            size: 7,
            root: tree.root(),
        };
        let proof = Proof {
            extra: entry(5),
            index: 4,
            path: tree.inclusion_proof(4).unwrap(),
            checkpoint: checkpoint::sign_checkpoint(&key, &head).unwrap(),
        };
        let bytes = proof.encode();
        assert!(bytes.starts_with(b"c2sp.org/tlog-proof@v1\nextra "));
        let parsed = Proof::parse(&bytes).unwrap();
        assert_eq!(parsed, proof);
        let proven = parsed.check(&key.verifier(), None).unwrap();
        assert_eq!((proven.entry.number, proven.head.size), (5, 7));

        // Another entry at that index, a changed proof hash, another key: refused.
        let other = Proof {
            extra: entry(4),
            ..proof.clone()
        };
        assert!(matches!(
            other.check(&key.verifier(), None),
            Err(ProofError::WrongEntry { .. })
        ));
        let mut forged = proof.clone();
        forged.extra = entry(5)
            .into_iter()
            .map(|b| if b == b'3' { b'4' } else { b })
            .collect();
        assert!(forged.check(&key.verifier(), None).is_err());
        let mut bent = proof.clone();
        bent.path[0].0[0] ^= 1;
        assert!(matches!(
            bent.check(&key.verifier(), None),
            Err(ProofError::Log(TransparencyError::BadInclusionProof { .. }))
        ));
        let stranger = LogKey::from_seed("log.example", [4; 32]).unwrap();
        assert!(proof.check(&stranger.verifier(), None).is_err());
        for broken in [
            b"c2sp.org/tlog-proof@v2\n".to_vec(),
            b"c2sp.org/tlog-proof@v1\nindex 01\n\nx".to_vec(),
            b"c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx".to_vec(),
        ] {
            assert!(Proof::parse(&broken).is_err());
        }
    }
}
