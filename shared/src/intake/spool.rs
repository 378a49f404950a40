//! Spooling: an upload streams to a temporary file while it is counted, hashed and its first
//! bytes kept for type detection, so memory stays bounded (one piece of [`WRITE_PIECE`])
//! whatever the size, and limits are enforced before the rest of the request is read. A small
//! file (at most [`KEEP_IN_MEMORY`]) never touches the disk here: it is written once, where it
//! is stored.

use sha2::{Digest, Sha256};
use std::io;
use std::io::Write;

use tempfile::TempPath;

use crate::domain::limits::{Budget, TooLarge};
use crate::domain::media::SNIFF_BYTES;

/// A file being received. Chunks are gathered in memory and written in pieces of up to
/// [`WRITE_PIECE`] bytes, each in one blocking task: a small upload costs one trip to the
/// blocking pool, not one per network chunk (each trip is two thread switches).
pub struct Spool {
    label: String,
    file: Option<(std::fs::File, TempPath)>,
    pending: Vec<u8>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

/// How much of an upload is held in memory before it is written to its file.
pub const WRITE_PIECE: usize = 1024 * 1024;

/// The largest file kept in memory rather than in a temporary file. Most responses are a text
/// and a document or two: for them a temporary file costs more (create, write, link, unlink,
/// each a trip to the blocking pool) than the bytes it holds. Bounded memory: a response has
/// at most 20 files, so at most 20 x 64 KiB in memory besides the piece being received.
pub const KEEP_IN_MEMORY: u64 = 64 * 1024;

/// Where a received file's bytes are.
#[derive(Debug)]
pub enum Spooled {
    /// A small file, in memory.
    Memory(bytes::Bytes),
    /// A temporary file, removed when this is dropped.
    File(TempPath),
}

/// A file fully received: its bytes, their size, SHA-256 and first bytes.
#[derive(Debug)]
pub struct SpooledFile {
    /// The name the sender gave, unsanitized (empty for the text field).
    pub raw_name: String,
    pub content: Spooled,
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
    /// Starts a file, to be created in the system's temporary folder with its first write;
    /// `label` names it in error messages.
    pub fn create(label: impl Into<String>) -> io::Result<Self> {
        Ok(Self {
            label: label.into(),
            file: None,
            pending: Vec::new(),
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
        self.pending.extend_from_slice(chunk);
        if self.pending.len() >= WRITE_PIECE {
            self.write_pending().await?;
        }
        Ok(())
    }

    /// Writes what is held in memory to the file (creating it first), off the async threads.
    async fn write_pending(&mut self) -> io::Result<()> {
        let piece = std::mem::take(&mut self.pending);
        let file = self.file.take();
        let (file, path) = tokio::task::spawn_blocking(move || -> io::Result<_> {
            let (mut file, path) = match file {
                Some(open) => open,
                None => tempfile::NamedTempFile::new()?.into_parts(),
            };
            file.write_all(&piece)?;
            Ok((file, path))
        })
        .await
        .map_err(io::Error::other)??;
        self.file = Some((file, path));
        Ok(())
    }

    pub async fn finish(mut self, raw_name: String) -> io::Result<SpooledFile> {
        let content = if self.file.is_none() && self.size <= KEEP_IN_MEMORY {
            Spooled::Memory(std::mem::take(&mut self.pending).into())
        } else {
            if !self.pending.is_empty() {
                self.write_pending().await?;
            }
            let (_, path) = self.file.expect("written above");
            Spooled::File(path)
        };
        Ok(SpooledFile {
            raw_name,
            content,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
            head: self.head,
            media_type: None,
        })
    }
}

impl SpooledFile {
    /// The names in the file's ZIP directory (read from its end), `None` when it is not a
    /// readable ZIP archive. The directory is as large as the file at most, which the intake's
    /// limits bound.
    pub async fn zip_entry_names(&self) -> Option<Vec<String>> {
        fn names<R: std::io::Read + std::io::Seek>(reader: R) -> Option<Vec<String>> {
            let archive = zip::ZipArchive::new(reader).ok()?;
            let names = archive.file_names().filter_map(Result::ok);
            Some(names.map(std::borrow::Cow::into_owned).collect())
        }
        match &self.content {
            Spooled::Memory(bytes) => names(std::io::Cursor::new(bytes.clone())),
            Spooled::File(path) => {
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || names(std::fs::File::open(path).ok()?))
                    .await
                    .ok()
                    .flatten()
            }
        }
    }

    /// The file's media type: as the channel knows it, else judged from its first bytes against
    /// the allow-list (a ZIP archive by the names inside it: Office Open XML packages).
    pub async fn media_type(
        &self,
        name: &str,
    ) -> Result<&'static str, crate::domain::media::Unsupported> {
        use crate::domain::media::{ZIP, classify, office_type};
        Ok(match self.media_type {
            Some(known) => known,
            None => match classify(name, &self.head)? {
                ZIP => self
                    .zip_entry_names()
                    .await
                    .and_then(|names| office_type(names.iter().map(String::as_str)))
                    .unwrap_or(ZIP),
                judged => judged,
            },
        })
    }

    /// The bytes, to store: a file is read from where it was spooled (or linked, on disk).
    pub fn body(&self) -> crate::ports::Body {
        match &self.content {
            Spooled::Memory(bytes) => crate::ports::Body::Bytes(bytes.clone()),
            Spooled::File(path) => crate::ports::Body::File(path.to_path_buf()),
        }
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
