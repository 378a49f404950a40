//! Checks a published consultation against its log, as anyone can from the public site alone:
//! the checkpoint's signature, the tree the entry bundles give, every tile, every published
//! file's bytes, the manifests, a receipt's inclusion, and consistency with an older checkpoint.
//!
//! The site is read through [`SiteReader`], so the same checks run over a folder, a URL, or a
//! store in tests. Problems are collected, not stopped at, so one run reports every mismatch.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tlog_tiles::{HashReader, Tile, TileHashReader, TileReader};

use super::checkpoint::{self, TreeHead};
use super::publish::{VERIFIER_KEY_PATH, checkpoint_key, log_prefix};
use super::tree::{TILE_HEIGHT, bundles_of, entries_path, split_entry_bundle, tile_path};
use super::{LogEntry, LogVerifier, MemoryTree, TransparencyError};
use crate::domain::{ConsultationId, Receipt};

/// Read access to a published site, by path relative to its root (no leading slash).
#[async_trait]
pub trait SiteReader: Send + Sync {
    /// The bytes at `path`, `None` if there is nothing there.
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
}

/// What to check besides the whole log.
#[derive(Default)]
pub struct Checks {
    /// The verifier key to trust; without it, the one the site publishes (printed, so it can
    /// be compared with the one the operator announces).
    pub key: Option<LogVerifier>,
    /// A receipt (JSON) to prove included in the log.
    pub receipt: Option<Vec<u8>>,
    /// An earlier checkpoint the current one must extend.
    pub since: Option<Vec<u8>>,
    /// A witness policy (C2SP tlog-policy) the checkpoint must meet: its quorum of
    /// cosignatures, and its log keys if it lists any.
    pub policy: Option<crate::transparency::policy::Policy>,
}

/// How the published files are fetched: how many at once, and who is told of the progress.
pub struct Fetching<'a> {
    /// Downloads in flight at once (at least 1).
    pub at_once: usize,
    pub progress: &'a dyn Progress,
}

impl Default for Fetching<'_> {
    fn default() -> Self {
        Self {
            at_once: 8,
            progress: &Quiet,
        }
    }
}

/// Told how far the check of the published files has come (the CLI draws a progress bar).
pub trait Progress: Send + Sync {
    /// `total` published files are about to be fetched and hashed.
    fn files_to_check(&self, total: u64);
    /// One more is done.
    fn file_checked(&self);
}

/// No one to tell.
pub struct Quiet;

impl Progress for Quiet {
    fn files_to_check(&self, _: u64) {}
    fn file_checked(&self) {}
}

/// The outcome: what was checked, and every problem found.
#[derive(Debug, Default)]
pub struct Report {
    pub key: String,
    pub head: Option<TreeHead>,
    /// The checkpoint checked, as published (a monitor keeps it as its state).
    pub checkpoint: Vec<u8>,
    /// The receipt's proof of inclusion (C2SP tlog-proof) against this checkpoint, when a
    /// receipt was checked and is included.
    pub proof: Option<super::proof::Proof>,
    /// Why the checkpoint does not meet the witness policy's quorum, if it does not: the log
    /// may be fine and a witness late, but a reader should not accept it yet.
    pub unwitnessed: Option<String>,
    pub files_checked: u64,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.head.is_some() && self.unwitnessed.is_none()
    }

    /// Whether a problem shows another history than an earlier checkpoint's: a split view.
    pub fn history_rewritten(&self) -> bool {
        self.problems.iter().any(|p| p.starts_with(REWRITTEN))
    }
}

/// How a problem showing another history than an earlier checkpoint's starts.
pub const REWRITTEN: &str = "SPLIT VIEW, history was rewritten";

/// A failure that stops verification (nothing further can be trusted).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("{0} is missing from the site")]
    Missing(String),
    #[error("the verifier key: {0}")]
    Key(String),
    #[error(transparent)]
    Log(#[from] TransparencyError),
}

async fn fetch(site: &dyn SiteReader, path: &str) -> Result<Vec<u8>, VerifyError> {
    site.get(path)
        .await
        .map_err(|message| VerifyError::Read {
            path: path.to_owned(),
            message,
        })?
        .ok_or_else(|| VerifyError::Missing(path.to_owned()))
}

async fn fetch_optional(site: &dyn SiteReader, path: &str) -> Result<Option<Vec<u8>>, VerifyError> {
    site.get(path).await.map_err(|message| VerifyError::Read {
        path: path.to_owned(),
        message,
    })
}

/// Verifies one consultation. `Err` when verification cannot go on (the checkpoint's signature
/// fails, the site is unreachable); otherwise a report listing every problem found.
pub async fn verify_consultation(
    site: &dyn SiteReader,
    id: &ConsultationId,
    checks: Checks,
    fetching: Fetching<'_>,
) -> Result<Report, VerifyError> {
    let verifier = match checks.key {
        Some(key) => key,
        None => {
            let published = fetch(site, VERIFIER_KEY_PATH).await?;
            let text = String::from_utf8_lossy(&published).to_string();
            LogVerifier::parse(&text).map_err(|e| VerifyError::Key(e.to_string()))?
        }
    };
    let mut report = Report {
        key: verifier.as_str().to_owned(),
        ..Report::default()
    };
    let origin = checkpoint::origin(verifier.name(), id.as_str());
    let note = fetch(site, &checkpoint_key(id)).await?;
    let head = checkpoint::open_checkpoint(&note, &verifier, &origin)?;
    if let Some(policy) = &checks.policy {
        check_witnesses(policy, &verifier, &note, &mut report);
    }
    report.checkpoint = note.clone();
    let prefix = log_prefix(id);

    // The entries, from the entry bundles; the tree they give must be the signed one.
    let mut tree = MemoryTree::new();
    let mut entries = Vec::new();
    for (n, width) in bundles_of(head.size) {
        let path = format!("{prefix}/{}", entries_path(n, width));
        let bundle = fetch(site, &path).await?;
        let Some(parsed) = split_entry_bundle(&bundle).filter(|e| e.len() == width as usize) else {
            report.problems.push(format!(
                "the entry bundle {path} is malformed or has the wrong number of entries"
            ));
            return Ok(report);
        };
        for raw in parsed {
            tree.push(raw.to_vec())?;
            entries.push(LogEntry::decode(raw));
        }
    }
    let tiles = PublishedTiles::fetch(site, &prefix, &head).await?;
    if tree.root() != head.root {
        report.problems.push(format!(
            "the published entries hash to root {} but the signed checkpoint says {}: the log was altered after signing",
            hex::encode(tree.root().0),
            head.root_hex()
        ));
        // Which entries: the signed tree's leaves, from the tiles checked against its root.
        let reader = TileHashReader::new(head.size, head.root, &tiles);
        let indexes: Vec<u64> = (0..head.size)
            .map(|i| tlog_tiles::stored_hash_index(0, i))
            .collect();
        match reader.read_hashes(&indexes) {
            Ok(signed) => {
                for (index, leaf) in signed.iter().enumerate() {
                    if tree.leaf_hash(index as u64) != Some(*leaf) {
                        report.problems.push(format!(
                            "log entry {index} (response {}) in the entry bundles is not the entry the checkpoint signed",
                            index + 1
                        ));
                    }
                }
            }
            Err(_) => report
                .problems
                .push("the hash tiles do not match the signed checkpoint either".to_owned()),
        }
    } else {
        // Every tile must be the one the entries give (a replaced tile misleads light clients).
        for (path, bytes) in tree.all_tiles() {
            if path.starts_with("tile/entries/") {
                continue;
            }
            let full = format!("{prefix}/{path}");
            match tiles.tiles.get(&path) {
                Some(published) if published == &bytes => {}
                Some(_) => report.problems.push(format!(
                    "the tile {full} was replaced: it does not hold the hashes of the log's entries"
                )),
                None => report.problems.push(format!("the tile {full} is missing")),
            }
        }
    }

    // Each entry against the published files, byte for byte, a bounded number at once (in
    // order, so the report reads the same however fast each download is).
    let mut files = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let number = index as u64 + 1;
        let Some(entry) = entry else {
            report
                .problems
                .push(format!("log entry {index} is not in the canonical form"));
            continue;
        };
        if entry.number != number || entry.consultation != id.as_str() {
            report.problems.push(format!(
                "log entry {index} records response {} of {:?}, expected response {number} of \"{id}\": entries were reordered or replaced",
                entry.number, entry.consultation
            ));
        }
        files.extend(entry.files.iter().map(|file| (number, file)));
    }
    fetching.progress.files_to_check(files.len() as u64);
    let mut checked = futures::stream::iter(files)
        .map(|(number, file)| async move {
            let path = format!("consultations/{id}/responses/{number}/{}", file.name);
            let outcome = fetch_optional(site, &path).await.map(|bytes| {
                bytes.map(|bytes| (bytes.len() as u64, hex::encode(Sha256::digest(&bytes))))
            });
            fetching.progress.file_checked();
            outcome.map(|found| (number, file, found))
        })
        .buffered(fetching.at_once.max(1));
    while let Some(outcome) = checked.next().await {
        let (number, file, found) = outcome?;
        match found {
            None => report.problems.push(format!(
                "response {number}: {} is missing from the site (the log records it: {} bytes, SHA-256 {})",
                file.name, file.size, file.sha256
            )),
            Some((size, sha)) => {
                report.files_checked += 1;
                if sha != file.sha256 || size != file.size {
                    report.problems.push(format!(
                        "response {number}: {} was changed after it was received: the site has {size} bytes with SHA-256 {sha}, the log recorded {} bytes with SHA-256 {}",
                        file.name, file.size, file.sha256
                    ));
                }
            }
        }
    }
    drop(checked);
    check_manifests(site, id, &entries, &head, &mut report).await?;

    if let Some(receipt) = &checks.receipt {
        check_receipt(receipt, &verifier, &head, &tiles, &mut report);
    }
    if let Some(since) = &checks.since {
        match checkpoint::open_checkpoint(since, &verifier, &origin) {
            Err(e) => report.problems.push(format!("the older checkpoint: {e}")),
            Ok(old) if old.size > head.size => report.problems.push(format!(
                "{REWRITTEN}: the older checkpoint has {} entries, more than the current {} (the log shrank)",
                old.size, head.size
            )),
            Ok(old) => {
                let reader = TileHashReader::new(head.size, head.root, &tiles);
                let checked = tlog_tiles::prove_tree(head.size, old.size, &reader)
                    .map_err(TransparencyError::from)
                    .and_then(|proof| {
                        super::tree::check_consistency(
                            &proof, head.size, head.root, old.size, old.root,
                        )
                    });
                match checked {
                    Ok(()) => report.notes.push(format!(
                        "consistent: the log only grew from {} to {} entries since the older checkpoint",
                        old.size, head.size
                    )),
                    Err(e) => report.problems.push(format!(
                        "{REWRITTEN}: the log is not an extension of the older checkpoint ({e}); \
                         {} entries with root {} then, {} entries with root {} now",
                        old.size,
                        old.root_hex(),
                        head.size,
                        head.root_hex()
                    )),
                }
            }
        }
    }
    report.head = Some(head);
    Ok(report)
}

/// The checkpoint meets the policy: signed by a log it lists (when it lists any), cosigned by
/// its quorum; the witnesses who signed and those missing are named either way.
fn check_witnesses(
    policy: &crate::transparency::policy::Policy,
    verifier: &LogVerifier,
    note: &[u8],
    report: &mut Report,
) {
    if !policy.logs().is_empty() && !policy.lists_log(verifier.as_str()) {
        report.problems.push(format!(
            "the witness policy does not list this log's key ({}): it trusts other logs",
            verifier.as_str()
        ));
    }
    let verdict = policy.verdict(note);
    let names = |names: &[String]| match names {
        [] => "none".to_owned(),
        names => names.join(", "),
    };
    for name in &verdict.invalid {
        report.problems.push(format!(
            "the cosignature of witness {name} does not verify: the checkpoint or its cosignature was changed"
        ));
    }
    let who = format!(
        "cosigned by {}; missing: {}",
        names(&verdict.signed),
        names(&[verdict.missing.clone(), verdict.invalid.clone()].concat())
    );
    if verdict.quorum_met {
        report
            .notes
            .push(format!("the witness policy's quorum is met: {who}"));
    } else {
        report.unwitnessed = Some(format!("the witness policy's quorum is NOT met: {who}"));
    }
}

/// The manifests must list exactly the logged responses, with the same files.
async fn check_manifests(
    site: &dyn SiteReader,
    id: &ConsultationId,
    entries: &[Option<LogEntry>],
    head: &TreeHead,
    report: &mut Report,
) -> Result<(), VerifyError> {
    #[derive(serde::Deserialize)]
    struct Head {
        total: u64,
        pages: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Page {
        responses: Vec<Receipt>,
    }
    let path = format!("consultations/{id}/responses.json");
    let head_json: Head = match serde_json::from_slice(&fetch(site, &path).await?) {
        Ok(h) => h,
        Err(e) => {
            report.problems.push(format!("{path} is malformed: {e}"));
            return Ok(());
        }
    };
    let mut listed = BTreeMap::new();
    for page in &head_json.pages {
        let page_path = page.trim_start_matches('/');
        match serde_json::from_slice::<Page>(&fetch(site, page_path).await?) {
            Ok(page) => {
                for receipt in page.responses {
                    listed.insert(receipt.number, receipt);
                }
            }
            Err(e) => report
                .problems
                .push(format!("{page_path} is malformed: {e}")),
        }
    }
    if head_json.total < head.size {
        report.problems.push(format!(
            "the manifest lists {} responses but the log holds {}: responses were dropped",
            head_json.total, head.size
        ));
    } else if head_json.total > head.size {
        report.notes.push(format!(
            "responses {}..={} are listed but not in the log yet (publication in progress?)",
            head.size + 1,
            head_json.total
        ));
    }
    for (index, entry) in entries.iter().enumerate() {
        let number = index as u64 + 1;
        let Some(entry) = entry else { continue };
        match listed.get(&number) {
            None => report.problems.push(format!(
                "response {number} is in the log but missing from the manifest: it was dropped"
            )),
            Some(receipt) => {
                let listed_entry = LogEntry::of_receipt(receipt);
                if &listed_entry != entry {
                    report.problems.push(format!(
                        "response {number}: the manifest's record ({}) differs from the log's ({})",
                        String::from_utf8_lossy(&listed_entry.encode()),
                        String::from_utf8_lossy(&entry.encode())
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_receipt(
    bytes: &[u8],
    verifier: &LogVerifier,
    head: &TreeHead,
    tiles: &PublishedTiles,
    report: &mut Report,
) {
    let receipt: Receipt = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            report
                .problems
                .push(format!("the receipt is not a receipt: {e}"));
            return;
        }
    };
    let leaf = match super::verify_receipt(verifier, &receipt) {
        Ok(leaf) => leaf,
        Err(e) => {
            report.problems.push(format!("the receipt: {e}"));
            return;
        }
    };
    let index = receipt.number - 1;
    if index >= head.size {
        report.problems.push(format!(
            "the receipt of response {} is not in the log of {} entries yet",
            receipt.number, head.size
        ));
        return;
    }
    let reader = TileHashReader::new(head.size, head.root, tiles);
    let included = tlog_tiles::prove_record(head.size, index, &reader)
        .map_err(TransparencyError::from)
        .and_then(|proof| {
            super::tree::check_inclusion(&proof, head.size, head.root, index, leaf)?;
            Ok(proof)
        });
    match included {
        Ok(path) => {
            report.proof = Some(super::proof::Proof {
                extra: super::LogEntry::of_receipt(&receipt).encode(),
                index,
                path,
                checkpoint: report.checkpoint.clone(),
            });
            report.notes.push(format!(
            "receipt of response {} (leaf {index}, {}) is signed and included in the checkpoint of {} entries",
            receipt.number,
            hex::encode(leaf.0),
            head.size
        ));
        }
        Err(_) => report.problems.push(format!(
            "the receipt of response {} is signed, but the log holds something else at leaf {index}: what was received is not what was published",
            receipt.number
        )),
    }
}

/// The published hash tiles, fetched once, for proofs through `TileHashReader` (which checks
/// every tile it uses against the signed root).
struct PublishedTiles {
    tiles: BTreeMap<String, Vec<u8>>,
}

impl PublishedTiles {
    async fn fetch(
        site: &dyn SiteReader,
        prefix: &str,
        head: &TreeHead,
    ) -> Result<Self, VerifyError> {
        let mut tiles = BTreeMap::new();
        for tile in Tile::new_tiles(TILE_HEIGHT, 0, head.size) {
            let path = tile_path(&tile);
            if let Some(bytes) = fetch_optional(site, &format!("{prefix}/{path}")).await? {
                tiles.insert(path, bytes);
            }
        }
        Ok(Self { tiles })
    }
}

impl TileReader for PublishedTiles {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                self.tiles
                    .get(&tile_path(t))
                    .cloned()
                    .ok_or(tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}
