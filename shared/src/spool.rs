//! Spooling: an upload streams to a temporary file while it is counted, hashed and its first
//! bytes kept for type detection, so memory stays flat whatever the size, and limits are
//! enforced before the rest of the request is read.

use std::io;

use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::domain::limits::{Budget, TooLarge};
use crate::domain::media::SNIFF_BYTES;

/// A file being received.
pub struct Spool {
    label: String,
    file: tokio::fs::File,
    path: TempPath,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

/// A file fully received: its bytes on disk, their size, SHA-256 and first bytes.
#[derive(Debug)]
pub struct SpooledFile {
    /// The name the sender gave, unsanitized (empty for the text field).
    pub raw_name: String,
    pub path: TempPath,
    pub size: u64,
    pub sha256: String,
    pub head: Vec<u8>,
    /// The media type when the channel knows it for certain (an email's own `message.eml`);
    /// `None`: judged from the content against the allow-list.
    pub media_type: Option<&'static str>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("spooling an upload: {0}")]
    Io(#[from] io::Error),
}

impl Spool {
    /// Starts a file in the system's temporary folder; `label` names it in error messages.
    pub fn create(label: impl Into<String>) -> io::Result<Self> {
        let (file, path) = tempfile::NamedTempFile::new()?.into_parts();
        Ok(Self {
            label: label.into(),
            file: tokio::fs::File::from_std(file),
            path,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
        })
    }

    /// Appends a chunk, refusing it if it takes the response over its limits.
    pub async fn write_within(
        &mut self,
        chunk: &[u8],
        budget: &mut Budget,
    ) -> Result<(), SpoolError> {
        budget.add_chunk(&self.label, chunk.len(), self.size + chunk.len() as u64)?;
        Ok(self.write(chunk).await?)
    }

    /// Appends a chunk (no limit: for copies of what was already accepted).
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.size += chunk.len() as u64;
        if self.head.len() < SNIFF_BYTES {
            let take = chunk.len().min(SNIFF_BYTES - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await
    }

    pub async fn finish(mut self, raw_name: String) -> io::Result<SpooledFile> {
        self.file.flush().await?;
        Ok(SpooledFile {
            raw_name,
            path: self.path,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
            head: self.head,
            media_type: None,
        })
    }
}

/// Spools bytes already in memory (a JSON request's text).
pub async fn spool_bytes(
    label: &str,
    bytes: &[u8],
    budget: &mut Budget,
) -> Result<SpooledFile, SpoolError> {
    let mut spool = Spool::create(label)?;
    spool.write_within(bytes, budget).await?;
    Ok(spool.finish(String::new()).await?)
}
