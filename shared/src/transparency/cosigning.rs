//! The log's side of witnessing: each new checkpoint is sent to the witnesses of the operator's
//! policy (C2SP tlog-witness `add-checkpoint`, with a consistency proof from the size each one
//! last cosigned), and published with every cosignature that came back in time.
//!
//! A witness never holds publication up for long: each request is bounded by the client's
//! timeout, the witnesses are asked at once, and one that failed (down, slow, refusing) rests
//! for [`REST_AFTER_FAILURE`] before it is asked again, so a rush's many publications pay for a
//! dead witness at most once in that time. What it did not cosign in time is asked for again
//! later — at the next publication, or by the host's periodic refresh
//! (`Publisher::refresh_cosignatures`) — and the checkpoint is then published again with the
//! late cosignature added.
//!
//! The size a witness last cosigned is kept in memory only: after a restart the first request
//! says `old 0`, the witness answers `409` with its size, and the request is made again from
//! there (tlog-witness's own recovery), one round trip more per witness and log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use signed_note::{Note, VerifierList};
use tlog_tiles::Hash;

use super::checkpoint::TreeHead;
use crate::ports::{WitnessAnswer, WitnessClient};
use crate::transparency::policy::{Policy, PolicyWitness};

/// How long a request to a witness may take (connecting included) before publication goes on
/// without its cosignature.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a witness that failed is left alone.
pub const REST_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// Where the consistency proofs come from (the published tiles, for the log publisher).
#[async_trait]
pub trait ConsistencyProofs: Send + Sync {
    /// A proof that the checkpoint being cosigned extends the tree of `old_size` entries.
    async fn consistency(&self, old_size: u64) -> Result<Vec<Hash>, String>;
}

pub struct Cosigning {
    pub policy: Policy,
    client: std::sync::Arc<dyn WitnessClient>,
    /// Per (witness, origin): the size it last cosigned, as far as this process knows.
    known: Mutex<HashMap<(String, String), u64>>,
    /// Witnesses not asked before the given time, after a failure.
    resting: Mutex<HashMap<String, Instant>>,
    /// Held from reading the published checkpoint to writing it, so that a late cosignature
    /// never writes an older checkpoint over a newer one (in this process).
    pub writing: tokio::sync::Mutex<()>,
}

impl Cosigning {
    pub fn new(policy: Policy, client: std::sync::Arc<dyn WitnessClient>) -> Self {
        Self {
            policy,
            client,
            known: Mutex::default(),
            resting: Mutex::default(),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// The witnesses this log asks: those of the policy that have a URL.
    fn asked(&self) -> impl Iterator<Item = (&PolicyWitness, &str)> {
        self.policy
            .witnesses()
            .iter()
            .filter_map(|w| w.url.as_deref().map(|url| (w, url)))
    }

    /// Whether any witness the log asks has no valid cosignature on `note` and is not resting:
    /// asking again may add one.
    pub fn wants_more(&self, note: &[u8]) -> bool {
        let verdict = self.policy.verdict(note);
        let now = Instant::now();
        self.asked()
            .any(|(w, _)| !verdict.signed.contains(&w.name) && !self.is_resting(&w.name, now))
    }

    /// `signed` (the checkpoint of `head`, signed by the log) with the cosignatures of
    /// `published` that are still valid for it, plus those the witnesses missing from it give
    /// now. Witnesses that fail are logged and rest; the checkpoint goes out regardless.
    pub async fn cosign(
        &self,
        head: &TreeHead,
        signed: &[u8],
        published: Option<&[u8]>,
        proofs: &dyn ConsistencyProofs,
    ) -> Vec<u8> {
        let text = note_text(signed);
        // Cosignatures already published for this very checkpoint are kept.
        let mut lines: Vec<(usize, String)> = Vec::new();
        if let Some(published) = published.filter(|p| note_text(p) == text) {
            for (i, witness) in self.policy.witnesses().iter().enumerate() {
                if let Some(line) = valid_line(witness, signed, published) {
                    lines.push((i, line));
                }
            }
        }
        let now = Instant::now();
        let asks = self
            .policy
            .witnesses()
            .iter()
            .enumerate()
            .filter(|(i, w)| {
                w.url.is_some()
                    && !lines.iter().any(|(j, _)| j == i)
                    && !self.is_resting(&w.name, now)
            })
            .map(|(i, w)| async move { (i, self.ask(w, head, signed, proofs).await) });
        for (i, answer) in futures::future::join_all(asks).await {
            if let Some(line) = answer {
                lines.push((i, line));
            }
        }
        // In the policy's order, so the same cosignatures always make the same bytes.
        lines.sort();
        let mut note = signed.to_vec();
        for (_, line) in lines {
            note.extend_from_slice(line.as_bytes());
        }
        note
    }

    /// One witness: from the size it last cosigned, and once more from the size a `409` names.
    async fn ask(
        &self,
        witness: &PolicyWitness,
        head: &TreeHead,
        signed: &[u8],
        proofs: &dyn ConsistencyProofs,
    ) -> Option<String> {
        let url = witness.url.as_deref()?;
        let slot = (witness.name.clone(), head.origin.clone());
        let mut old = self
            .lock_known()
            .get(&slot)
            .copied()
            .filter(|&m| m <= head.size)
            .unwrap_or(0);
        for _ in 0..2 {
            let proof = if old == 0 || old == head.size {
                Vec::new()
            } else {
                match proofs.consistency(old).await {
                    Ok(proof) => proof,
                    Err(e) => {
                        tracing::error!(witness = %witness.name, origin = %head.origin, old, error = %e, "no consistency proof for the witness");
                        return None;
                    }
                }
            };
            let mut body = format!("old {old}\n");
            for hash in &proof {
                body.push_str(&BASE64_STANDARD.encode(hash.0));
                body.push('\n');
            }
            body.push('\n');
            let mut body = body.into_bytes();
            body.extend_from_slice(signed);
            match self.client.add_checkpoint(url, body).await {
                Ok(WitnessAnswer::Cosigned(answer)) => {
                    let mut with = signed.to_vec();
                    with.extend_from_slice(answer.as_bytes());
                    return match valid_line(witness, signed, &with) {
                        Some(line) => {
                            self.lock_known().insert(slot, head.size);
                            Some(line)
                        }
                        None => {
                            tracing::error!(witness = %witness.name, origin = %head.origin, "the witness answered without a valid cosignature of its key");
                            self.rest(&witness.name);
                            None
                        }
                    };
                }
                Ok(WitnessAnswer::Conflict(size)) if size <= head.size && size != old => {
                    self.lock_known().insert(slot.clone(), size);
                    old = size;
                }
                Ok(WitnessAnswer::Conflict(size)) => {
                    // It cosigned a larger tree of this log, or refuses the size it named
                    // itself: another history was shown to it, or its state is damaged.
                    tracing::error!(witness = %witness.name, origin = %head.origin, witness_size = size, size = head.size, "the witness holds a checkpoint this log cannot extend: a split view or a damaged witness");
                    self.rest(&witness.name);
                    return None;
                }
                Ok(WitnessAnswer::Refused { status, why }) => {
                    tracing::warn!(witness = %witness.name, origin = %head.origin, status, why, "the witness refused to cosign");
                    self.rest(&witness.name);
                    return None;
                }
                Err(e) => {
                    tracing::warn!(witness = %witness.name, origin = %head.origin, error = %e, "the witness did not answer; asking again later");
                    self.rest(&witness.name);
                    return None;
                }
            }
        }
        self.rest(&witness.name);
        None
    }

    fn rest(&self, witness: &str) {
        self.resting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(witness.to_owned(), Instant::now() + REST_AFTER_FAILURE);
    }

    fn is_resting(&self, witness: &str, now: Instant) -> bool {
        self.resting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(witness)
            .is_some_and(|until| *until > now)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u64>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A note's text: everything before the blank line that starts its signatures.
fn note_text(note: &[u8]) -> &[u8] {
    let at = note
        .windows(2)
        .rposition(|w| w == b"\n\n")
        .map_or(note.len(), |i| i + 1);
    &note[..at]
}

/// `witness`'s cosignature line in `note` (a signed note of `signed`'s text), if it verifies.
fn valid_line(witness: &PolicyWitness, signed: &[u8], note: &[u8]) -> Option<String> {
    let text = note_text(signed);
    if note_text(note) != text {
        return None;
    }
    let sigs = std::str::from_utf8(&note[text.len() + 1..]).ok()?;
    let prefix = format!("— {} ", witness.key.name());
    sigs.split_inclusive('\n')
        .filter(|line| line.starts_with(&prefix))
        .find(|line| {
            let mut one = text.to_vec();
            one.push(b'\n');
            one.extend_from_slice(line.as_bytes());
            let list = VerifierList::new(vec![Box::new(witness.key.clone())]);
            Note::from_bytes(&one).is_ok_and(|n| n.verify(&list).is_ok())
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::transparency::cosignature::CosignerKey;
    use crate::transparency::{LogKey, MemoryTree, checkpoint};

    /// Witnesses in memory, each answering as tlog-witness says from a size it holds.
    struct FakeWitnesses {
        keys: Vec<(String, CosignerKey)>,
        sizes: Mutex<HashMap<String, u64>>,
        down: Mutex<Vec<String>>,
        calls: Mutex<Vec<(String, u64)>>,
    }

    #[async_trait]
    impl WitnessClient for FakeWitnesses {
        async fn add_checkpoint(
            &self,
            prefix: &str,
            body: Vec<u8>,
        ) -> Result<WitnessAnswer, String> {
            if self.down.lock().unwrap().iter().any(|d| d == prefix) {
                return Err("connection refused".into());
            }
            let text = String::from_utf8(body).unwrap();
            let old: u64 = text.lines().next().unwrap()[4..].parse().unwrap();
            self.calls.lock().unwrap().push((prefix.to_owned(), old));
            let checkpoint = &text[text.find("\n\n").unwrap() + 2..];
            let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
            let mut sizes = self.sizes.lock().unwrap();
            let held = sizes.get(prefix).copied().unwrap_or(0);
            if old != held {
                return Ok(WitnessAnswer::Conflict(held));
            }
            sizes.insert(prefix.to_owned(), size);
            let key = &self.keys.iter().find(|(p, _)| p == prefix).unwrap().1;
            Ok(WitnessAnswer::Cosigned(
                key.cosign(note_text(checkpoint.as_bytes()), 1_700_000_000),
            ))
        }
    }

    struct TreeProofs<'a>(&'a MemoryTree);

    #[async_trait]
    impl ConsistencyProofs for TreeProofs<'_> {
        async fn consistency(&self, old: u64) -> Result<Vec<Hash>, String> {
            self.0.consistency_proof(old).map_err(|e| e.to_string())
        }
    }

    #[tokio::test]
    async fn checkpoints_gather_every_cosignature_and_go_out_without_a_dead_witness() {
        let (a, b) = (
            CosignerKey::from_seed("a.example", [1; 32]).unwrap(),
            CosignerKey::from_seed("b.example", [2; 32]).unwrap(),
        );
        let policy = Policy::parse(&format!(
            "witness A {} https://a\nwitness B {} https://b\ngroup both all A B\nquorum both\n",
            a.verifier_key(),
            b.verifier_key()
        ))
        .unwrap();
        let witnesses = Arc::new(FakeWitnesses {
            keys: vec![("https://a".into(), a), ("https://b".into(), b)],
            // B cosigned up to 2 before this process started: it answers 409 once.
            sizes: Mutex::new(HashMap::from([("https://b".to_owned(), 2)])),
            down: Mutex::default(),
            calls: Mutex::default(),
        });
        let cosigning = Cosigning::new(policy.clone(), witnesses.clone());
        let log = LogKey::from_seed("log.example", [9; 32]).unwrap();
        let mut tree = MemoryTree::new();
        let publish = async |tree: &mut MemoryTree, n: u64, published: Option<&[u8]>| {
            while tree.size() < n {
                tree.push(format!("entry {}", tree.size()).into_bytes())
                    .unwrap();
            }
            let head = TreeHead {
                origin: "log.example/consultations/c".into(),
                size: tree.size(),
                root: tree.root(),
            };
            let signed = checkpoint::sign_checkpoint(&log, &head).unwrap();
            cosigning
                .cosign(&head, &signed, published, &TreeProofs(tree))
                .await
        };
        // Size 2 first (B already holds it: `old 0` gets 409 2, then `old 2` at the same size).
        let two = publish(&mut tree, 2, None).await;
        assert_eq!(policy.verdict(&two).signed, ["A", "B"]);
        let three = publish(&mut tree, 3, None).await;
        let verdict = policy.verdict(&three);
        assert!(verdict.quorum_met, "{verdict:?}");
        assert_eq!(
            *witnesses.calls.lock().unwrap(),
            [
                ("https://a".to_owned(), 0),
                ("https://b".to_owned(), 0),
                ("https://b".to_owned(), 2),
                ("https://a".to_owned(), 2),
                ("https://b".to_owned(), 2),
            ],
            "each asked from the size it last cosigned"
        );
        // B goes down: the checkpoint goes out with A's cosignature only, and B rests.
        witnesses.down.lock().unwrap().push("https://b".into());
        let five = publish(&mut tree, 5, None).await;
        let verdict = policy.verdict(&five);
        assert_eq!(
            (verdict.signed.clone(), verdict.missing.clone()),
            (vec!["A".to_owned()], vec!["B".to_owned()])
        );
        assert!(!verdict.quorum_met);
        assert!(!cosigning.wants_more(&five), "B rests after failing");
        // Back and out of its rest: asked again for the same checkpoint, A's line is kept.
        witnesses.down.lock().unwrap().clear();
        cosigning.resting.lock().unwrap().clear();
        assert!(cosigning.wants_more(&five));
        let again = publish(&mut tree, 5, Some(&five)).await;
        assert!(policy.verdict(&again).quorum_met);
        assert_eq!(
            witnesses.calls.lock().unwrap().last(),
            Some(&("https://b".to_owned(), 3)),
            "B is asked from 3 with a proof"
        );
        // A cosignature of an older checkpoint is not carried to a new one.
        let six = publish(&mut tree, 6, Some(&again)).await;
        assert!(policy.verdict(&six).quorum_met);
        assert_eq!(
            note_text(&six),
            note_text(
                &checkpoint::sign_checkpoint(
                    &log,
                    &TreeHead {
                        origin: "log.example/consultations/c".into(),
                        size: 6,
                        root: tree.root()
                    }
                )
                .unwrap()
            )
        );
    }
}
