//! Closing at the deadline (Res. 1344: responses are due one month before the meeting), and the
//! dossier the Group examines at its meeting.
//!
//! Two steps, each idempotent, each resumable after a crash:
//! 1. As soon as the deadline has passed, the closing is recorded and the page republished.
//! 2. Once no response received in time can still be being stored (the deadline plus the
//!    in-flight grace, see [`crate::intake`]), every response still pending is numbered, then
//!    the closing is sealed in the record, which every append and every batch of the sequencer
//!    checks where it commits, so the set of responses is final: the dossier
//!    (`dossier.zip`, every published file with its exact bytes plus `index.csv` and
//!    `index.json`) and the summary page are built, streamed so memory stays flat. The files
//!    are read from the private originals (the published copies are the same bytes, checked by
//!    SHA-256 on the way), so the dossier never waits for publication.
//!
//! Pages are republished through the [`PublishQueue`], like every other change, so a
//! consultation's publication stays one at a time.

pub mod dossier;

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::closing::dossier::{DossierError, DossierWriter};
use crate::domain::similarity::SimilarityIndex;
use crate::domain::site_paths::{self, page_count, page_range};
use crate::domain::{
    Action, Actor, AuditEntry, ConsultationId, DossierInfo, Receipt, Response, Summary,
};
use crate::intake::TEXT_FILE_NAME;
use crate::ports::{
    Clock, ConsultationRecord, Consultations, ObjectKey, ObjectStore, PublishQueue, Responses,
    StoreError,
};
use crate::secretariat::records::{ModifyError, modify};
use crate::site::site_meta;

/// How much of each response's text is read to find near-identical copies.
const TEXT_SAMPLE: usize = 64 * 1024;
/// The size of the pieces the archive is handed to the upload in.
const CHUNK: usize = 1024 * 1024;

/// How soon the closing looks again when responses received in time are still pending.
pub const SEAL_RETRY: SignedDuration = SignedDuration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the dossier: {0}")]
    Dossier(String),
    /// The seal waits: sealing now would leave out responses that may have been acknowledged.
    #[error("{pending} responses received in time are still pending: not sealed yet")]
    StillPending { pending: usize },
}

/// A consultation whose seal is waiting for pending responses to be numbered, as
/// `/api/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WaitingSeal {
    pub consultation: ConsultationId,
    /// Responses received in time and not yet numbered, at the last look.
    pub pending: usize,
    /// When the seal first found responses pending.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
}

/// The consultations whose seal waits (one process's view: the local host's closing timer, or
/// one close invocation). An operator sees them in the health route, the error log and, on
/// AWS, the `PendingAtSeal` metric (a filter on that log line).
#[derive(Debug, Default)]
pub struct ClosingHealth {
    waiting: std::sync::Mutex<std::collections::BTreeMap<ConsultationId, WaitingSeal>>,
}

impl ClosingHealth {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<ConsultationId, WaitingSeal>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn waits(&self, id: &ConsultationId, pending: usize, now: Timestamp) {
        let mut waiting = self.lock();
        let since = waiting.get(id).map_or(now, |w| w.since);
        waiting.insert(
            id.clone(),
            WaitingSeal {
                consultation: id.clone(),
                pending,
                since,
                next_attempt_at: now + SEAL_RETRY,
            },
        );
    }

    /// When the seal of a consultation that waits is due to be tried again.
    fn next_attempt(&self, id: &ConsultationId) -> Option<Timestamp> {
        self.lock().get(id).map(|w| w.next_attempt_at)
    }

    fn sealed(&self, id: &ConsultationId) {
        self.lock().remove(id);
    }

    /// The consultations whose seal waits, by id.
    pub fn waiting(&self) -> Vec<WaitingSeal> {
        self.lock().values().cloned().collect()
    }
}

impl From<ModifyError<std::convert::Infallible>> for CloseError {
    fn from(e: ModifyError<std::convert::Infallible>) -> Self {
        match e {
            ModifyError::NotFound(id) => {
                Self::Store(StoreError::backend("closing", format!("{id} vanished")))
            }
            ModifyError::Store(s) => Self::Store(s),
            ModifyError::Refused(never) => match never {},
        }
    }
}

pub struct Closer {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub private: Arc<dyn ObjectStore>,
    pub site: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn PublishQueue>,
    pub clock: Arc<dyn Clock>,
    /// The in-flight grace of intake plus a margin for clock differences between machines.
    pub settle: SignedDuration,
    /// Signs the transparency log's final checkpoint, put in the dossier.
    pub log_key: Option<Arc<crate::transparency::LogKey>>,
    /// Reads PDF text for a response whose extracted text publication has not written yet.
    pub pdf: crate::extract::Isolation,
    /// Whose seal waits for pending responses (shown by the health route).
    pub health: Arc<ClosingHealth>,
}

impl Closer {
    /// Runs whichever closing step is due for one consultation. Returns when to come back
    /// (`None`: nothing more to do until the deadline moves).
    pub async fn run(&self, id: &ConsultationId) -> Result<Option<Timestamp>, CloseError> {
        let now = self.clock.now();
        let Some(record) = self.consultations.get(id).await? else {
            return Ok(None);
        };
        let record = if record.consultation.closing.is_none() {
            let deadline = record.consultation.deadline;
            if now <= deadline {
                return Ok(Some(deadline + SignedDuration::from_millis(1)));
            }
            let record = modify::<std::convert::Infallible>(self.consultations.as_ref(), id, |c| {
                Ok(c.record_closing(now).then(|| AuditEntry {
                    at: now,
                    consultation: id.clone(),
                    actor: Actor::System,
                    by: None,
                    action: Action::Closed,
                    details: json!({ "deadline": c.deadline }),
                }))
            })
            .await?;
            tracing::info!(consultation = %id, deadline = %record.consultation.deadline, "closed");
            self.queue.request(id);
            // `modify` returns the record as stored: no need to read it again.
            record
        } else {
            record
        };
        let c = &record.consultation;
        match &c.closing {
            Some(closing) if closing.dossier.is_none() => {}
            // Built already, or reopened meanwhile.
            _ => return Ok(None),
        }
        let final_at = c.deadline + self.settle;
        if self.clock.now() < final_at {
            return Ok(Some(final_at));
        }
        // A seal that waits is tried again when it said it would, not at every sweep.
        if let Some(at) = self.health.next_attempt(id)
            && self.clock.now() < at
        {
            return Ok(Some(at));
        }
        let deadline = c.deadline;
        let record = match self.seal(id, deadline).await {
            Ok(record) => record,
            Err(CloseError::StillPending { pending }) => {
                let now = self.clock.now();
                self.health.waits(id, pending, now);
                // The template's `PendingAtSeal` metric filter counts this message.
                tracing::error!(consultation = %id, pending, retry_in_s = SEAL_RETRY.as_secs(), "the closing is not sealed: responses received in time are still pending; trying again");
                return Ok(Some(now + SEAL_RETRY));
            }
            Err(e) => return Err(e),
        };
        self.health.sealed(id);
        if record.consultation.deadline != deadline {
            // Reopened meanwhile: nothing to build.
            return Ok(None);
        }
        let info = self.build_dossier(&record).await?;
        modify::<std::convert::Infallible>(self.consultations.as_ref(), id, |c| {
            let Some(closing) = c.closing.as_mut() else {
                return Ok(None);
            };
            if closing.dossier.is_some() || c.deadline != deadline {
                return Ok(None);
            }
            closing.dossier = Some(info.clone());
            Ok(Some(AuditEntry {
                at: info.built_at,
                consultation: id.clone(),
                actor: Actor::System,
                by: None,
                action: Action::DossierBuilt,
                details: serde_json::to_value(&info).unwrap_or_default(),
            }))
        })
        .await?;
        tracing::info!(consultation = %id, responses = info.response_count, bytes = info.size, "dossier built");
        self.queue.request(id);
        Ok(None)
    }

    /// Seals the closing, so no append can commit any more, then reads the record again: its
    /// response count is the final one (an append that committed between the last read and
    /// the seal is counted; none can commit after it).
    async fn seal(
        &self,
        id: &ConsultationId,
        deadline: Timestamp,
    ) -> Result<ConsultationRecord, CloseError> {
        // Every response pending now was stored within the grace and may have been
        // acknowledged: the seal waits until all are numbered, so the dossier and the log hold
        // every acknowledged response. The sequencer (publication) numbers them; this run
        // helps. One stored after the seal was read was never acknowledged (its intake was
        // past the grace), and is kept privately after the seal (`sequencing`).
        self.responses.sequence(id).await?;
        let pending = self.responses.pending(id).await?.len();
        if pending > 0 {
            return Err(CloseError::StillPending { pending });
        }
        let now = self.clock.now();
        modify::<std::convert::Infallible>(self.consultations.as_ref(), id, |c| {
            if c.deadline != deadline || !c.seal(now) {
                return Ok(None);
            }
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::System,
                by: None,
                action: Action::Sealed,
                details: json!({ "deadline": c.deadline }),
            }))
        })
        .await?;
        // Every response counted now committed before the seal, and its originals were written
        // before it committed: one flush makes them all durable before the dossier names them
        // (on the embedded store a record commits before the flush that keeps it).
        self.private.sync().await?;
        // A response stored between the look above and the seal is kept privately.
        crate::sequencing::set_aside_late(self.responses.as_ref(), self.private.as_ref(), id)
            .await?;
        self.consultations.get(id).await?.ok_or_else(|| {
            CloseError::Store(StoreError::backend("sealing", format!("{id} vanished")))
        })
    }

    /// Runs every consultation's due step (the periodic sweep). Returns the earliest time a
    /// consultation needs another run.
    pub async fn sweep(&self) -> Result<Option<Timestamp>, CloseError> {
        let mut next: Option<Timestamp> = None;
        for record in self.consultations.list().await? {
            let id = &record.consultation.id;
            match self.run(id).await {
                Ok(Some(at)) => next = Some(next.map_or(at, |n| n.min(at))),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(consultation = %id, error = %e, "closing failed; will retry")
                }
            }
        }
        Ok(next)
    }

    /// Streams every response's files into `dossier.zip` on the site, then writes the summary.
    async fn build_dossier(&self, record: &ConsultationRecord) -> Result<DossierInfo, CloseError> {
        let id = record.consultation.id.clone();
        let total = record.response_count;
        let mut responses: Vec<Response> = Vec::with_capacity(total as usize);
        for page in 1..=page_count(total) {
            responses.extend(self.responses.range(&id, page_range(page, total)).await?);
        }

        let checkpoint = match &self.log_key {
            Some(key) => Some(
                crate::transparency::publish::checkpoint_of_responses(key, &id, &responses)
                    .map_err(|e| CloseError::Dossier(e.to_string()))?,
            ),
            None => None,
        };
        let log_root = checkpoint.as_ref().map(|(head, _)| head.root_hex());
        let note = checkpoint.map(|(_, note)| note);

        // The table of every response, from publication's page parts (the pages publication
        // has not reached yet are read now).
        let table = crate::publish::answers::assemble_csv(
            self.private.as_ref(),
            self.responses.as_ref(),
            record,
            total,
        )
        .await
        .map_err(|e| CloseError::Dossier(format!("building responses.csv: {e}")))?;

        let key = object_key(site_paths::dossier_key(&id))?;
        let mut upload = self.site.upload(&key, &site_meta(key.as_str())).await?;
        let (sender, mut receiver) = mpsc::channel::<Bytes>(4);
        let stores = Stores {
            private: self.private.clone(),
            site: self.site.clone(),
            pdf: self.pdf.clone(),
        };
        let runtime = tokio::runtime::Handle::current();
        let writer = tokio::task::spawn_blocking(move || {
            write_archive(&runtime, &stores, &responses, note, table, sender)
        });
        let mut failure = None;
        while let Some(chunk) = receiver.recv().await {
            if let Err(e) = upload.write(chunk).await {
                failure = Some(e);
                break;
            }
        }
        drop(receiver);
        let written = writer
            .await
            .map_err(|e| CloseError::Dossier(format!("the writer stopped: {e}")));
        let (size, sha256, summary) = match (failure, written) {
            (None, Ok(Ok(done))) => done,
            (Some(e), _) => {
                upload.abort().await;
                return Err(e.into());
            }
            (None, Ok(Err(e))) | (None, Err(e)) => {
                upload.abort().await;
                return Err(e);
            }
        };
        upload.finish().await?;

        crate::publish::write_summary_pages(self.site.as_ref(), record, &summary).await?;
        Ok(DossierInfo {
            built_at: self.clock.now(),
            response_count: total,
            size,
            sha256,
            log_root,
        })
    }
}

fn object_key(raw: String) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(raw).map_err(|e| StoreError::backend("naming a site object", e))
}

/// Where the dossier's contents come from: the originals, and each response's extracted text.
struct Stores {
    private: Arc<dyn ObjectStore>,
    site: Arc<dyn ObjectStore>,
    pdf: crate::extract::Isolation,
}

impl Stores {
    /// The response's extracted text as publication wrote it, or extracted now if publication
    /// has not reached the response yet (the dossier never waits for publication).
    async fn extracted_text(&self, response: &Response) -> Result<Vec<u8>, CloseError> {
        let (id, number) = (&response.response.consultation, response.number);
        let key = object_key(site_paths::extracted_key(id, number))?;
        if let Some(object) = self.site.get(&key).await? {
            return object
                .into_bytes()
                .await
                .map_err(|e| CloseError::Dossier(format!("reading {}: {e}", key.as_str())));
        }
        let text = crate::publish::response_text(self.private.as_ref(), &self.pdf, response)
            .await
            .map_err(|e| CloseError::Dossier(e.to_string()))?;
        Ok(crate::publish::derived_file(response, &text).into_bytes())
    }
}

/// Runs on a blocking thread: reads each original through a bridge from the async store,
/// writes the archive into `sender` in 1 MiB pieces, and tallies the summary.
fn write_archive(
    runtime: &tokio::runtime::Handle,
    stores: &Stores,
    responses: &[Response],
    log_checkpoint: Option<Vec<u8>>,
    table: crate::intake::spool::SpooledFile,
    sender: mpsc::Sender<Bytes>,
) -> Result<(u64, String, Summary), CloseError> {
    let receipts: Vec<Receipt> = responses.iter().map(Response::receipt).collect();
    let sink = HashingWriter {
        inner: io::BufWriter::with_capacity(CHUNK, ChannelWriter(sender)),
        hasher: Sha256::new(),
        size: 0,
    };
    let mut dossier = DossierWriter::new(sink);
    if let Some(note) = log_checkpoint {
        dossier.set_log_checkpoint(note);
    }
    let table: Box<dyn Read + Send> = match &table.content {
        crate::intake::spool::Spooled::Memory(bytes) => Box::new(io::Cursor::new(bytes.clone())),
        crate::intake::spool::Spooled::File(path) => {
            Box::new(std::fs::File::open(path).map_err(|e| CloseError::Dossier(e.to_string()))?)
        }
    };
    dossier.set_table(table);
    let mut summary = Summary::default();
    let mut similar = SimilarityIndex::new();
    for (response, receipt) in responses.iter().zip(&receipts) {
        summary.count(receipt);
        for (stored, file) in response.response.files.iter().zip(&receipt.files) {
            let key = object_key(stored.original_key.clone())?;
            let object = runtime.block_on(stores.private.get(&key))?.ok_or_else(|| {
                CloseError::Dossier(format!("the original {} is missing", key.as_str()))
            })?;
            let mut reader =
                SyncIoBridge::new_with_handle(StreamReader::new(object.body), runtime.clone());
            let mut sample = Vec::new();
            let mut tee = SampleReader {
                inner: &mut reader,
                sample: (file.name == TEXT_FILE_NAME).then_some(&mut sample),
            };
            dossier
                .add_file(receipt, file, &mut tee)
                .map_err(dossier_error)?;
            if file.name == TEXT_FILE_NAME {
                similar.add(receipt.number, &sample);
            }
        }
        let text = runtime.block_on(stores.extracted_text(response))?;
        dossier
            .add_extracted(receipt, &text)
            .map_err(dossier_error)?;
    }
    let mut sink = dossier.finish(&receipts).map_err(dossier_error)?;
    sink.inner
        .flush()
        .map_err(|e| CloseError::Dossier(e.to_string()))?;
    summary.similar = similar.groups();
    Ok((sink.size, hex::encode(sink.hasher.finalize()), summary))
}

fn dossier_error(e: DossierError) -> CloseError {
    CloseError::Dossier(e.to_string())
}

/// Hands the archive to the async upload; fails once the upload has given up.
struct ChannelWriter(mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::other("the dossier upload stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts and hashes the archive as it is written (its digest is shown on the page).
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Passes bytes through, keeping the first [`TEXT_SAMPLE`] of them when asked to.
struct SampleReader<'a> {
    inner: &'a mut dyn Read,
    sample: Option<&'a mut Vec<u8>>,
}

impl Read for SampleReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(sample) = self.sample.as_deref_mut() {
            let room = TEXT_SAMPLE.saturating_sub(sample.len()).min(n);
            sample.extend_from_slice(&buf[..room]);
        }
        Ok(n)
    }
}
