//! Objects as files under a folder, each written atomically: a temporary file in the same
//! folder, flushed to disk, then linked (create-new) or renamed (overwrite) into place, and the
//! folder flushed too, so a crash never leaves a partial or lost object.
//!
//! Deferred puts (the intake's originals) skip those flushes: one `sync` then flushes the
//! whole file system once (`syncfs`) for every response stored meanwhile. Concurrent `sync`
//! calls share a flush, so a rush costs one flush per batch, not one per file.
//!
//! A store opened [`FsObjectStore::flushing_too`] another folder flushes that folder's file
//! system as well: the embedded store's records (SQLite) commit without a flush of their own,
//! and the flush that makes a batch's originals durable makes its records durable with them.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio_util::io::ReaderStream;

use crate::ports::{
    Body, Copied, LIST_PAGE, Listed, Location, Object, ObjectKey, ObjectMeta, ObjectStore, PutMode,
    StoreError, Upload,
};

pub struct FsObjectStore {
    root: PathBuf,
    flushes: GroupFlush,
    /// A folder on each file system that `sync` flushes: the root's, and those of
    /// [`FsObjectStore::flushing_too`].
    flushed: Vec<PathBuf>,
}

impl FsObjectStore {
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Self {
            flushes: GroupFlush::default(),
            flushed: vec![root.clone()],
            root,
        })
    }

    /// `sync` flushes `folder`'s file system too (once, if it is the root's).
    pub fn flushing_too(mut self, folder: &Path) -> io::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let device = fs::metadata(folder)?.dev();
        let known = self
            .flushed
            .iter()
            .map(|f| fs::metadata(f).map(|m| m.dev()))
            .collect::<io::Result<Vec<_>>>()?;
        if !known.contains(&device) {
            self.flushed.push(folder.to_owned());
        }
        Ok(self)
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        // ObjectKey guarantees plain segments: no `..`, no absolute path, no backslash.
        self.root.join(key.as_str())
    }

    /// Runs a write of `key`'s file off the async threads; an existing name is `Conflict`.
    async fn write(
        &self,
        key: &ObjectKey,
        write: impl FnOnce(&Path) -> io::Result<()> + Send + 'static,
    ) -> Result<(), StoreError> {
        let path = self.path(key);
        let key = key.clone();
        tokio::task::spawn_blocking(move || write(&path))
            .await
            .map_err(|e| StoreError::backend("file store task", e))?
            .map_err(|e| written(&key, e))
    }
}

/// The files under `root` whose keys start with `prefix`, after `after`, in key order: a walk
/// of the deepest folder the prefix names, sorted (a folder's entries come in no order).
/// Temporary files (`.tmp-…`, not yet whole) are not objects.
fn list_files(
    root: &Path,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> io::Result<Vec<Listed>> {
    let folder = match prefix.rfind('/') {
        Some(end) => root.join(&prefix[..end]),
        None => root.to_owned(),
    };
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(&folder).follow_links(false) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.io_error().is_some_and(is_absent) => continue,
            Err(e) => return Err(e.into()),
        };
        if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(key) = relative.to_str().map(str::to_owned) else {
            continue;
        };
        if !key.starts_with(prefix) || after.is_some_and(|after| key.as_str() <= after) {
            continue;
        }
        let Ok(key) = ObjectKey::parse(key) else {
            continue;
        };
        let metadata = entry.metadata()?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|at| jiff::Timestamp::try_from(at).ok())
            .unwrap_or_default();
        found.push(Listed {
            key,
            size: metadata.len(),
            modified,
        });
    }
    found.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    found.truncate(limit);
    Ok(found)
}

/// A write's error: an existing name is `Conflict`.
fn written(key: &ObjectKey, e: io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::AlreadyExists => StoreError::Conflict(key.as_str().to_owned()),
        _ => StoreError::backend(format!("writing {}", key.as_str()), e),
    }
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Body,
        _meta: &ObjectMeta,
        mode: PutMode,
    ) -> Result<(), StoreError> {
        self.write(key, move |path| write_atomically(path, body, mode))
            .await
    }

    async fn put_deferred(
        &self,
        key: &ObjectKey,
        body: Body,
        _meta: &ObjectMeta,
        mode: PutMode,
    ) -> Result<(), StoreError> {
        self.write(key, move |path| match mode {
            PutMode::CreateNew => write_deferred(path, body),
            PutMode::Overwrite => replace_deferred(path, body),
        })
        .await
    }

    fn location(&self, key: &ObjectKey) -> Option<Location> {
        Some(Location::File(self.path(key)))
    }

    async fn copy_from(
        &self,
        from: &Location,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<bool, StoreError> {
        let Location::File(source) = from else {
            return Ok(false);
        };
        self.put_deferred(key, Body::File(source.clone()), meta, PutMode::CreateNew)
            .await
            .map(|()| true)
    }

    /// The whole batch in one trip to the blocking pool, not one per file: each copy is a hard
    /// link (or a copy across file systems), and the pool's hand-offs (its lock, its wake-ups)
    /// were a tenth of the server's CPU in a rush (perf under `bench/intake.sh`'s load).
    async fn copy_all_from(
        &self,
        copies: &[(Location, ObjectKey, ObjectMeta)],
    ) -> Result<Vec<Copied>, StoreError> {
        let jobs: Vec<(Option<PathBuf>, PathBuf, ObjectKey)> = copies
            .iter()
            .map(|(from, key, _)| {
                let source = match from {
                    Location::File(source) => Some(source.clone()),
                    Location::Bucket { .. } => None,
                };
                (source, self.path(key), key.clone())
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(source, path, key)| {
                    let Some(source) = source else {
                        return Ok(Copied::CannotCopy);
                    };
                    match write_deferred(&path, Body::File(source)) {
                        Ok(()) => Ok(Copied::Done),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            Ok(Copied::AlreadyThere)
                        }
                        Err(e) => Err(written(&key, e)),
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| StoreError::backend("file store task", e))?
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.flushes
            .flush(&self.flushed)
            .await
            .map_err(|e| StoreError::backend("flushing the file store", e))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let path = self.path(key);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(StoreError::backend(format!("reading {}", key.as_str()), e)),
        };
        let meta = file
            .metadata()
            .await
            .map_err(|e| StoreError::backend(format!("reading {}", key.as_str()), e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        Ok(Some(Object {
            size: meta.len(),
            body: Box::pin(ReaderStream::with_capacity(file, 64 * 1024)),
        }))
    }

    /// Not flushed: a removal a crash undoes leaves a superseded part in place, which is harmless.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if is_absent(&e) => Ok(()),
            Err(e) => Err(StoreError::backend(format!("deleting {}", key.as_str()), e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Listed>, StoreError> {
        let root = self.root.clone();
        let (prefix, after) = (prefix.to_owned(), after.map(str::to_owned));
        let limit = limit.min(LIST_PAGE);
        tokio::task::spawn_blocking(move || list_files(&root, &prefix, after.as_deref(), limit))
            .await
            .map_err(|e| StoreError::backend("file store task", e))?
            .map_err(|e| StoreError::backend("listing the file store", e))
    }

    async fn upload(
        &self,
        key: &ObjectKey,
        _meta: &ObjectMeta,
    ) -> Result<Box<dyn Upload>, StoreError> {
        let path = self.path(key);
        let dir = path
            .parent()
            .expect("an object path has a parent folder")
            .to_owned();
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::now_v7()));
        let name = key.as_str().to_owned();
        let file = async {
            tokio::fs::create_dir_all(&dir).await?;
            tokio::fs::File::create_new(&tmp).await
        }
        .await
        .map_err(|e| StoreError::backend(format!("starting {name}"), e))?;
        Ok(Box::new(FsUpload {
            file,
            tmp,
            path,
            name,
        }))
    }
}

/// A temporary file beside the target, renamed into place when finished.
struct FsUpload {
    file: tokio::fs::File,
    tmp: PathBuf,
    path: PathBuf,
    name: String,
}

#[async_trait]
impl Upload for FsUpload {
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), StoreError> {
        use tokio::io::AsyncWriteExt;
        self.file
            .write_all(&chunk)
            .await
            .map_err(|e| StoreError::backend(format!("writing {}", self.name), e))
    }

    async fn finish(self: Box<Self>) -> Result<(), StoreError> {
        let Self {
            file,
            tmp,
            path,
            name,
        } = *self;
        let result = async {
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&tmp, &path).await?;
            let dir = path.parent().expect("an object path has a parent folder");
            tokio::fs::File::open(dir).await?.sync_all().await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(|e| StoreError::backend(format!("finishing {name}"), e))
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.tmp).await;
    }
}

/// A missing file, or a path through something that is not a folder.
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

/// Writes `body` under a new temporary name in `dir` (flushed if `flush`) and returns it. A
/// dot-name: object keys never start a segment with a dot, so this cannot be read as one.
fn temporary_copy(dir: &Path, body: Body, flush: bool) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::now_v7()));
    let written = (|| {
        match body {
            Body::Bytes(bytes) => File::create_new(&tmp)?.write_all(&bytes)?,
            Body::File(source) => {
                fs::copy(&source, &tmp)?;
            }
        }
        if flush {
            File::open(&tmp)?.sync_all()?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Puts the temporary `tmp` in place at `path` (a hard link fails if the name exists: an atomic
/// create-new; a rename replaces atomically), then drops the temporary name.
fn into_place(tmp: &Path, path: &Path, mode: PutMode) -> io::Result<()> {
    let placed = match mode {
        PutMode::CreateNew => fs::hard_link(tmp, path),
        PutMode::Overwrite => fs::rename(tmp, path),
    };
    // After a link the temporary name is redundant; after a failure it is garbage (a rename
    // that succeeded took it away).
    if mode == PutMode::CreateNew || placed.is_err() {
        let _ = fs::remove_file(tmp);
    }
    placed
}

fn folder_of(path: &Path) -> io::Result<&Path> {
    let dir = path.parent().expect("an object path has a parent folder");
    fs::create_dir_all(dir)?;
    Ok(dir)
}

fn write_atomically(path: &Path, body: Body, mode: PutMode) -> io::Result<()> {
    let dir = folder_of(path)?;
    let tmp = temporary_copy(dir, body, true)?;
    into_place(&tmp, path, mode)?;
    File::open(dir)?.sync_all()
}

/// A create-new put without any flush: durable only after the next `sync`, which the caller
/// awaits before anything refers to the object (until then a crash may leave it missing or
/// partial, and nothing reads it). A file is linked into place when it is on the same file
/// system (no copy: a spooled upload, or an original published on the site); bytes in memory
/// are written under the final name at once (create-new), removed again if the write fails.
fn write_deferred(path: &Path, body: Body) -> io::Result<()> {
    let dir = folder_of(path)?;
    let source = match body {
        Body::Bytes(bytes) => {
            let written = File::create_new(path).and_then(|mut file| file.write_all(&bytes));
            if let Err(e) = written {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    let _ = fs::remove_file(path);
                }
                return Err(e);
            }
            return Ok(());
        }
        Body::File(source) => source,
    };
    match fs::hard_link(&source, path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
        // Another file system (EXDEV) or no hard links: copy instead.
        Err(_) => {}
    }
    let tmp = temporary_copy(dir, Body::File(source), true)?;
    into_place(&tmp, path, PutMode::CreateNew)
}

/// An overwrite without flushes: a temporary file renamed over the old one (readers see the
/// old or the new, never a mix; after a crash before the next `sync`, possibly an empty one).
fn replace_deferred(path: &Path, body: Body) -> io::Result<()> {
    let dir = folder_of(path)?;
    let tmp = temporary_copy(dir, body, false)?;
    into_place(&tmp, path, PutMode::Overwrite)
}

/// Flushes shared by concurrent callers: a caller whose writes were already covered by a flush
/// that started after them returns without flushing again.
#[derive(Debug, Default)]
struct GroupFlush {
    /// Tickets handed out: each caller takes one after its writes.
    requested: AtomicU64,
    /// Every ticket up to this one is flushed.
    completed: AtomicU64,
    running: tokio::sync::Mutex<()>,
}

impl GroupFlush {
    async fn flush(&self, folders: &[PathBuf]) -> io::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _one_at_a_time = self.running.lock().await;
        if self.completed.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket taken by now belongs to writes that are finished: this flush covers them.
        let covers = self.requested.load(Ordering::SeqCst);
        let folders = folders.to_owned();
        tokio::task::spawn_blocking(move || folders.iter().try_for_each(|f| flush_file_system(f)))
            .await
            .map_err(io::Error::other)??;
        self.completed.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }
}

/// Flushes the file system holding `root`: file data, new names and folders, in one journal
/// commit (Linux `syncfs`; elsewhere `sync`).
fn flush_file_system(root: &Path) -> io::Result<()> {
    let folder = File::open(root)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the duration of the call.
        if unsafe { libc::syncfs(folder.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        drop(folder);
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    Ok(())
}
