//! Writes a consultation's log to the site store: tiles and entry bundles (create-only, as
//! immutable as the published files), then the signed checkpoint.
//!
//! The log is always computed from the stored responses, so after a crash it is rebuilt
//! deterministically; every tile already on the site must be byte-identical to the rebuilt
//! one, and the rebuilt tree must extend the published checkpoint, or publishing stops with
//! [`LogPublishError::Fork`] rather than publish a second history.

use std::sync::Arc;

use bytes::Bytes;

use super::checkpoint::{self, TreeHead};
use super::cosigning::{ConsistencyProofs, Cosigning};
use super::tree::{split_entry_bundle, tile_path};
use super::{LogEntry, LogKey, MemoryTree, TransparencyError, append};
use crate::domain::ConsultationId;
use crate::ports::{Body, ObjectKey, ObjectMeta, ObjectStore, PutMode, Responses, StoreError};

/// Responses read from the records store per request while rebuilding.
const READ_BATCH: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum LogPublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] TransparencyError),
    #[error("response {0} is missing from the records store")]
    MissingResponse(u64),
    #[error("the published log differs from the stored responses at {0}: refusing to fork it")]
    Fork(String),
}

/// The site path of a consultation's log folder, without a leading slash.
pub fn log_prefix(id: &ConsultationId) -> String {
    format!("consultations/{id}/log")
}

/// The site path of a consultation's checkpoint.
pub fn checkpoint_key(id: &ConsultationId) -> String {
    format!("{}/checkpoint", log_prefix(id))
}

/// Where the site publishes the log's verifier key.
pub const VERIFIER_KEY_PATH: &str = "log/verifier-key";

/// Where the site publishes the witness policy in force (C2SP tlog-policy).
pub const POLICY_PATH: &str = "log/policy";

/// Whether a site object is one of the log's text files (checkpoint, verifier key, policy).
pub fn is_log_text(key: &str) -> bool {
    key == VERIFIER_KEY_PATH
        || key == POLICY_PATH
        || key.starts_with("consultations/") && key.ends_with("/log/checkpoint")
}

/// Rebuilds a consultation's log from its stored responses `1..=size`, in number order.
pub async fn rebuild(
    responses: &dyn Responses,
    id: &ConsultationId,
    size: u64,
) -> Result<MemoryTree, LogPublishError> {
    let mut tree = MemoryTree::new();
    let mut next = 1;
    while next <= size {
        let last = (next + READ_BATCH - 1).min(size);
        for response in responses.range(id, next..=last).await? {
            if response.number != tree.size() + 1 {
                return Err(LogPublishError::MissingResponse(tree.size() + 1));
            }
            tree.push(LogEntry::of_receipt(&response.receipt()).encode())?;
        }
        if tree.size() != last {
            return Err(LogPublishError::MissingResponse(tree.size() + 1));
        }
        next = last + 1;
    }
    Ok(tree)
}

/// The signed checkpoint of a consultation's log of `size` entries, computed from the stored
/// responses: the same bytes the log publisher writes for that size.
pub async fn checkpoint_of(
    responses: &dyn Responses,
    key: &LogKey,
    id: &ConsultationId,
    size: u64,
) -> Result<(TreeHead, Vec<u8>), LogPublishError> {
    let tree = rebuild(responses, id, size).await?;
    let head = head_of(key, id, &tree);
    let note = checkpoint::sign_checkpoint(key, &head)?;
    Ok((head, note))
}

/// The same, from responses already read (all of them, in number order).
pub fn checkpoint_of_responses(
    key: &LogKey,
    id: &ConsultationId,
    responses: &[crate::domain::Response],
) -> Result<(TreeHead, Vec<u8>), LogPublishError> {
    let mut tree = MemoryTree::new();
    for response in responses {
        if response.number != tree.size() + 1 {
            return Err(LogPublishError::MissingResponse(tree.size() + 1));
        }
        tree.push(LogEntry::of_receipt(&response.receipt()).encode())?;
    }
    let head = head_of(key, id, &tree);
    let note = checkpoint::sign_checkpoint(key, &head)?;
    Ok((head, note))
}

fn head_of(key: &LogKey, id: &ConsultationId, tree: &MemoryTree) -> TreeHead {
    TreeHead {
        origin: checkpoint::origin(key.name(), id.as_str()),
        size: tree.size(),
        root: tree.root(),
    }
}

/// Publishes logs to the site store. Callers serialize appends per consultation: they hold
/// the consultation's publication turn (`crate::publish::turn`).
pub struct LogPublisher {
    pub responses: Arc<dyn Responses>,
    pub site: Arc<dyn ObjectStore>,
    pub key: Arc<LogKey>,
    /// The witnesses asked to cosign each checkpoint, if the operator has any.
    pub cosigning: Option<Arc<Cosigning>>,
}

impl LogPublisher {
    /// Brings the consultation's published log to `size` entries; returns its tree head.
    ///
    /// Normally appends only the new responses, reading the published tree's right edge from
    /// its tiles. Without a valid checkpoint (first publication, a crash before the first
    /// checkpoint, damage), or if the published tiles do not match it, the whole log is
    /// rebuilt from the stored responses and compared with whatever is on the site.
    pub async fn publish(
        &self,
        id: &ConsultationId,
        size: u64,
    ) -> Result<TreeHead, LogPublishError> {
        let published = self.published_head(id).await?;
        if let Some((old, note)) = &published {
            if old.size == size {
                self.put_verifier_key().await?;
                // Witnesses that did not cosign it in time are asked again (after their rest).
                if self.cosigning.as_ref().is_some_and(|c| c.wants_more(note)) {
                    self.put_checkpoint(id, old).await?;
                }
                return Ok(old.clone());
            }
            if old.size < size {
                match self.append(id, old, size).await {
                    Ok(head) => return Ok(head),
                    Err(LogPublishError::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(consultation = %id, error = %e, "appending to the published log failed; rebuilding it");
                    }
                }
            }
        }
        self.rebuild_and_publish(id, size, published.map(|(head, _)| head))
            .await
    }

    /// Publishes the current checkpoint again if a witness that has not cosigned it (and is
    /// not resting) cosigns it now.
    pub async fn refresh_cosignatures(&self, id: &ConsultationId) -> Result<(), LogPublishError> {
        if let (Some(cosigning), Some((head, note))) =
            (&self.cosigning, self.published_head(id).await?)
            && cosigning.wants_more(&note)
        {
            self.put_checkpoint(id, &head).await?;
        }
        Ok(())
    }

    /// Appends responses `old.size + 1..=size` to the published log.
    async fn append(
        &self,
        id: &ConsultationId,
        old: &TreeHead,
        size: u64,
    ) -> Result<TreeHead, LogPublishError> {
        let mut entries = Vec::new();
        let mut next = old.size + 1;
        while next <= size {
            let last = (next + READ_BATCH - 1).min(size);
            for response in self.responses.range(id, next..=last).await? {
                if response.number != old.size + entries.len() as u64 + 1 {
                    return Err(LogPublishError::MissingResponse(
                        old.size + entries.len() as u64 + 1,
                    ));
                }
                let entry = LogEntry::of_receipt(&response.receipt()).encode();
                if entry.len() > super::entry::MAX_ENTRY_BYTES {
                    return Err(TransparencyError::EntryTooLarge(entry.len()).into());
                }
                entries.push(entry);
            }
            if old.size + entries.len() as u64 != last {
                return Err(LogPublishError::MissingResponse(
                    old.size + entries.len() as u64 + 1,
                ));
            }
            next = last + 1;
        }
        let prefix = log_prefix(id);
        let tail = match append::tail_bundle_path(old.size) {
            Some(path) => {
                let bundle = self
                    .get(&format!("{prefix}/{path}"))
                    .await?
                    .ok_or_else(|| LogPublishError::Fork(format!("{path} is missing")))?;
                split_entry_bundle(&bundle)
                    .ok_or_else(|| LogPublishError::Fork(format!("{path} is malformed")))?
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect()
            }
            None => Vec::new(),
        };
        let mut cache = append::TileCache::default();
        // Each round reads one more level of tiles at most: a few rounds suffice.
        for _ in 0..16 {
            match append::append(old, &tail, &entries, &cache)? {
                append::AppendStep::Done(appended) => {
                    for (path, bytes) in appended.files {
                        self.put_tile(&format!("{prefix}/{path}"), bytes).await?;
                    }
                    let head = TreeHead {
                        origin: old.origin.clone(),
                        size: appended.size,
                        root: appended.root,
                    };
                    self.put_checkpoint(id, &head).await?;
                    return Ok(head);
                }
                append::AppendStep::NeedTiles(tiles) => {
                    for tile in tiles {
                        let path = tile_path(&tile);
                        let bytes = self
                            .get(&format!("{prefix}/{path}"))
                            .await?
                            .ok_or_else(|| LogPublishError::Fork(format!("{path} is missing")))?;
                        cache.insert(&tile, bytes);
                    }
                }
            }
        }
        Err(LogPublishError::Fork(
            "the tiles never covered the tree".to_owned(),
        ))
    }

    /// Rebuilds the whole log from the stored responses; every tile already on the site must
    /// be the rebuilt one, and the rebuilt tree must extend the published checkpoint.
    async fn rebuild_and_publish(
        &self,
        id: &ConsultationId,
        size: u64,
        published: Option<TreeHead>,
    ) -> Result<TreeHead, LogPublishError> {
        let tree = rebuild(self.responses.as_ref(), id, size).await?;
        let head = head_of(&self.key, id, &tree);
        let since = match &published {
            Some(old) if old.size <= size => {
                let old_root =
                    tlog_tiles::tree_hash(old.size, &tree).map_err(TransparencyError::from)?;
                if old_root != old.root {
                    return Err(LogPublishError::Fork(format!(
                        "checkpoint of size {} (root {})",
                        old.size,
                        old.root_hex()
                    )));
                }
                // Compare everything: the tiles may be what disagreed with the checkpoint.
                0
            }
            Some(old) => {
                return Err(LogPublishError::Fork(format!(
                    "checkpoint of size {}, larger than the {size} stored responses",
                    old.size
                )));
            }
            None => 0,
        };
        let prefix = log_prefix(id);
        for (path, bytes) in tree.tiles_since(since) {
            self.put_tile(&format!("{prefix}/{path}"), bytes).await?;
        }
        self.put_checkpoint(id, &head).await?;
        Ok(head)
    }

    /// Signs the checkpoint of `head`, gathers the witnesses' cosignatures if there are any,
    /// and writes it.
    async fn put_checkpoint(
        &self,
        id: &ConsultationId,
        head: &TreeHead,
    ) -> Result<(), LogPublishError> {
        let signed = checkpoint::sign_checkpoint(&self.key, head)?;
        // The key first: whoever sees a checkpoint can fetch the key that verifies it.
        self.put_verifier_key().await?;
        let Some(cosigning) = &self.cosigning else {
            return self
                .put(&checkpoint_key(id), signed, PutMode::Overwrite)
                .await;
        };
        let _writing = cosigning.writing.lock().await;
        // What is on the site now: its cosignatures of this checkpoint are kept; one of a
        // larger tree (written meanwhile) is never replaced by this one.
        let published = self.get(&checkpoint_key(id)).await?;
        if let Some(published) = &published {
            let origin = checkpoint::origin(self.key.name(), id.as_str());
            if let Ok(newer) = checkpoint::open_checkpoint(published, &self.key.verifier(), &origin)
                && newer.size > head.size
            {
                return Ok(());
            }
        }
        let proofs = SiteProofs {
            log: self,
            id,
            head,
        };
        let note = cosigning
            .cosign(head, &signed, published.as_deref(), &proofs)
            .await;
        if published.as_deref() == Some(note.as_slice()) {
            return Ok(());
        }
        self.put(&checkpoint_key(id), note, PutMode::Overwrite)
            .await
    }

    /// A consistency proof between two sizes of the published log, from its tiles (each
    /// checked against `head`'s root as it is read).
    async fn consistency_proof(
        &self,
        id: &ConsultationId,
        head: &TreeHead,
        old_size: u64,
    ) -> Result<Vec<tlog_tiles::Hash>, LogPublishError> {
        let prefix = log_prefix(id);
        let mut cache = append::TileCache::default();
        // Each round reads the tiles the last one lacked: a few rounds suffice.
        for _ in 0..16 {
            // Not held across the reads below (the reader is not `Send`).
            let proved = {
                let reader = tlog_tiles::TileHashReader::new(head.size, head.root, &cache);
                tlog_tiles::prove_tree(head.size, old_size, &reader)
            };
            match proved {
                Ok(proof) => return Ok(proof),
                Err(e) => {
                    let wanted = cache.take_wanted();
                    if wanted.is_empty() {
                        return Err(TransparencyError::from(e).into());
                    }
                    for tile in wanted {
                        let path = tile_path(&tile);
                        let bytes = self
                            .get(&format!("{prefix}/{path}"))
                            .await?
                            .ok_or_else(|| LogPublishError::Fork(format!("{path} is missing")))?;
                        cache.insert(&tile, bytes);
                    }
                }
            }
        }
        Err(LogPublishError::Fork(
            "the tiles never covered the proof".to_owned(),
        ))
    }

    async fn put_verifier_key(&self) -> Result<(), LogPublishError> {
        self.put(
            VERIFIER_KEY_PATH,
            format!("{}\n", self.key.verifier_key()).into_bytes(),
            PutMode::Overwrite,
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, LogPublishError> {
        match self.site.get(&object_key(path)?).await? {
            Some(object) => {
                Ok(Some(object.into_bytes().await.map_err(|e| {
                    StoreError::backend(format!("reading {path}"), e)
                })?))
            }
            None => Ok(None),
        }
    }

    /// The checkpoint on the site, if there is one signed by this key. One that does not
    /// verify (another key, damage) is rebuilt over; tiles are still compared, never replaced.
    async fn published_head(
        &self,
        id: &ConsultationId,
    ) -> Result<Option<(TreeHead, Vec<u8>)>, LogPublishError> {
        let Some(object) = self.site.get(&object_key(&checkpoint_key(id))?).await? else {
            return Ok(None);
        };
        let bytes = object
            .into_bytes()
            .await
            .map_err(|e| StoreError::backend("reading the checkpoint", e))?;
        let origin = checkpoint::origin(self.key.name(), id.as_str());
        match checkpoint::open_checkpoint(&bytes, &self.key.verifier(), &origin) {
            Ok(head) => Ok(Some((head, bytes))),
            Err(e) => {
                tracing::warn!(consultation = %id, error = %e, "the published checkpoint does not verify; rebuilding the log");
                Ok(None)
            }
        }
    }

    /// Tiles are create-only; one already there must hold exactly these bytes.
    async fn put_tile(&self, path: &str, bytes: Vec<u8>) -> Result<(), LogPublishError> {
        match self.put(path, bytes.clone(), PutMode::CreateNew).await {
            Ok(()) => Ok(()),
            Err(LogPublishError::Store(StoreError::Conflict(_))) => {
                if self.get(path).await?.as_deref() == Some(bytes.as_slice()) {
                    Ok(())
                } else {
                    Err(LogPublishError::Fork(path.to_owned()))
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn put(&self, path: &str, bytes: Vec<u8>, mode: PutMode) -> Result<(), LogPublishError> {
        let key = object_key(path)?;
        let meta = meta(path);
        self.site
            .put(&key, Body::Bytes(Bytes::from(bytes)), &meta, mode)
            .await?;
        Ok(())
    }
}

/// The published tiles, as the witnesses' consistency proofs need them.
struct SiteProofs<'a> {
    log: &'a LogPublisher,
    id: &'a ConsultationId,
    head: &'a TreeHead,
}

#[async_trait::async_trait]
impl ConsistencyProofs for SiteProofs<'_> {
    async fn consistency(&self, old_size: u64) -> Result<Vec<tlog_tiles::Hash>, String> {
        self.log
            .consistency_proof(self.id, self.head, old_size)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The headers of a log file: checkpoints and the key are text, tiles are binary.
pub fn meta(path: &str) -> ObjectMeta {
    ObjectMeta {
        content_type: if is_log_text(path) {
            "text/plain; charset=utf-8".to_owned()
        } else {
            "application/octet-stream".to_owned()
        },
        content_disposition: None,
    }
}

fn object_key(path: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(path).map_err(|e| StoreError::backend("naming a log object", e))
}
