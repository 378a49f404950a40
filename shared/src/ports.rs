//! Ports: what the application needs from the outside world, in domain terms.
//!
//! Each trait is small so a function gets only the capability it uses, and each has one contract
//! test suite (`shared/tests/contract.rs`) that every adapter passes.

use std::io;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use jiff::Timestamp;
use thiserror::Error;

use crate::domain::account::{Account, AccountName, Session, SessionKey, SignInThrottle};
use crate::domain::{
    AuditEntry, Consultation, ConsultationId, MailStop, NewResponse, OutcomeMailing, Refusal,
    Response, SubscriberId, Subscription, UploadId,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A storage failure, in terms every adapter can express.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The thing already exists; what was stored is untouched.
    #[error("{0} already exists")]
    Conflict(String),
    /// The backend failed; the operation may be retried.
    #[error("{context}: {source}")]
    Backend {
        context: String,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    pub fn backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// A consultation with its number of accepted responses, and the version of the record
/// (bumped by every update, for optimistic concurrency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRecord {
    pub consultation: Consultation,
    pub response_count: u64,
    pub version: u64,
}

#[async_trait]
pub trait Consultations: Send + Sync {
    /// Stores a new consultation with no responses (version 0), and `audit` with it. If the id
    /// is taken, fails with `Conflict` and leaves the existing consultation untouched.
    async fn create(
        &self,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces the consultation if its record is still at `version`, and appends `audit`, in
    /// one transaction. If another update came first, fails with `Conflict` and changes nothing
    /// (read again and retry). The response count is not touched.
    async fn update(
        &self,
        version: u64,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The consultation's audit log, oldest first. Entries are only ever appended.
    async fn audit_log(&self, id: &ConsultationId) -> Result<Vec<AuditEntry>, StoreError>;

    /// The consultation and its response count as of now (a strongly consistent read).
    async fn get(&self, id: &ConsultationId) -> Result<Option<ConsultationRecord>, StoreError>;

    /// Every consultation, ordered by id.
    async fn list(&self) -> Result<Vec<ConsultationRecord>, StoreError>;
}

/// Why a response could not be appended.
#[derive(Debug, Error)]
pub enum AppendError {
    #[error("there is no consultation {0}")]
    NoSuchConsultation(ConsultationId),
    #[error("the consultation does not accept responses at this time")]
    Refused(Refusal),
    /// The closing is sealed (its set of responses is final and may be in the dossier
    /// already): a response received in time but not stored by then is not stored at all.
    #[error("the consultation closed at {deadline} and its set of responses is final")]
    Sealed { deadline: jiff::Timestamp },
    /// A response with this id is stored already (a message delivered twice): here it is.
    #[error("response {} is stored already", .0.response.id)]
    AlreadyStored(Box<Response>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppendError {
    /// Why `consultation` takes no response received at `received_at` now, if it does not:
    /// sealed first (its set of responses is final whatever the receipt time), then the
    /// time window. Every store checks this inside the step that commits the append.
    pub fn refusal(consultation: &Consultation, received_at: jiff::Timestamp) -> Option<Self> {
        if consultation.is_sealed() {
            return Some(Self::Sealed {
                deadline: consultation.deadline,
            });
        }
        consultation.refuses_at(received_at).map(Self::Refused)
    }
}

/// What [`Responses::receive`] made of a response: numbered already, or durable and waiting
/// for the sequencer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Numbered(Response),
    Pending(NewResponse),
}

#[async_trait]
pub trait Responses: Send + Sync {
    /// Gives the response its consultation's next number and stores it, in one atomic step that
    /// also checks that the consultation accepts responses at `received_at` and is not sealed
    /// (an append never commits after the seal, whatever the order of the calls). Concurrent appends
    /// get distinct consecutive numbers: no gaps, no duplicates. A failed append stores nothing.
    /// Response ids are unique: appending an id again fails with `AlreadyStored`.
    async fn append(&self, response: NewResponse) -> Result<Response, AppendError>;

    /// Stores the response, after the checks of `append` (consultation, window, seal):
    /// numbered at once where the store numbers as it commits (the embedded store's group
    /// commit), else pending until [`Responses::sequence`] numbers it. An id stored already is
    /// `AlreadyStored` once numbered; while pending, receiving it again is the same pending
    /// response (nothing new is stored). Durable when it returns, except on the embedded store,
    /// whose records are durable at the next `ObjectStore::sync` of its private or site store
    /// (one flush of the data folder for a batch's originals and records): callers flush before
    /// they acknowledge or publish what was stored.
    async fn receive(&self, response: NewResponse) -> Result<Received, AppendError> {
        self.append(response).await.map(Received::Numbered)
    }

    /// Numbers the consultation's pending responses, oldest first, in batches: one update of
    /// the consultation's count per batch, not one per response. Meant to run as one writer
    /// per consultation; two at once stay correct (each batch is fenced by the count it read),
    /// they only waste work. Every pending response is numbered, whatever its time of receipt
    /// (the window was checked when it was received, and it may have been acknowledged since):
    /// only the seal stops numbering. Pending responses of a sealed consultation are left
    /// untouched, never deleted here (see [`crate::sequencing::set_aside_late`], which keeps
    /// each privately before it takes it back). Returns how many it numbered.
    async fn sequence(&self, _consultation: &ConsultationId) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The consultation's responses still waiting for a number, oldest first (a strongly
    /// consistent read). Always empty where the store numbers as it commits.
    async fn pending(
        &self,
        _consultation: &ConsultationId,
    ) -> Result<Vec<NewResponse>, StoreError> {
        Ok(Vec::new())
    }

    /// The response with this id, numbered or pending.
    async fn lookup(
        &self,
        consultation: &ConsultationId,
        id: &crate::domain::ResponseId,
    ) -> Result<Option<Received>, StoreError> {
        Ok(self.find(consultation, id).await?.map(Received::Numbered))
    }

    /// Takes back a pending response that will not be acknowledged (it took too long to
    /// store): removed, it is never numbered. If the sequencer numbered it first, it stays and
    /// is returned: it is stored, and must be acknowledged after all.
    async fn withdraw(
        &self,
        consultation: &ConsultationId,
        id: &crate::domain::ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        self.find(consultation, id).await
    }

    /// The response with this id, if it is stored.
    async fn find(
        &self,
        consultation: &ConsultationId,
        id: &crate::domain::ResponseId,
    ) -> Result<Option<Response>, StoreError>;

    /// The responses numbered within `numbers`, in order (numbers never stored are skipped).
    async fn range(
        &self,
        consultation: &ConsultationId,
        numbers: RangeInclusive<u64>,
    ) -> Result<Vec<Response>, StoreError>;
}

/// A lease on one of a consultation's one-writer jobs, as taken: its sequencer's
/// ([`Numbering`]) or its publication's turn ([`PublicationState::take_turn`]). Who holds it,
/// its fencing token, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub consultation: ConsultationId,
    /// Who took it (one run: a fresh id each time).
    pub holder: String,
    /// Greater than every token taken before for this consultation's job: a sequencer's batch
    /// commits only while the lease still carries it, so a sequencer whose lease expired and
    /// was taken over (a Lambda paused, a network partition) can no longer commit anything.
    pub token: u64,
    pub expires_at: Timestamp,
}

/// What the sequencer needs from a store that numbers after receiving (DynamoDB): the lease
/// that makes it one writer per consultation across every process, and the batch commit.
/// The loop around them (batching, renewals, turns) is `crate::sequencing::numbering`.
#[async_trait]
pub trait Numbering: Send + Sync {
    /// Takes the consultation's lease until `until`, if nobody holds it or its holder let it
    /// expire (by `now`). `None` while another holder's lease runs. Every take gives a new,
    /// greater token.
    async fn take_lease(
        &self,
        consultation: &ConsultationId,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Lease>, StoreError>;

    /// Extends a lease still held (same token) to `until`: `false` if it was taken over.
    async fn renew_lease(&self, lease: &mut Lease, until: Timestamp) -> Result<bool, StoreError>;

    /// Lets the lease go (a lease taken over since is left alone).
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;

    /// Whether any response of the consultation is pending (strongly consistent).
    async fn any_pending(&self, consultation: &ConsultationId) -> Result<bool, StoreError>;

    /// Finishes writing out a batch that was committed (its numbers given) by a sequencer
    /// that stopped before every item of it was written, if there is one. Call under the
    /// lease before reading what is pending: until it is finished, its responses still look
    /// pending and no further batch commits. Returns how many numbers it finished.
    async fn finish_committed(&self, lease: &Lease) -> Result<u64, StoreError>;

    /// Numbers `batch` (pending, oldest first) after `record.response_count`, committed in
    /// one atomic step fenced by that count, by the seal and by the lease's token, then
    /// written out: `Ok(false)` when any of the three moved (nothing was committed; read
    /// again). An error after the commit leaves the rest of the writing to
    /// [`Numbering::finish_committed`]. At most [`Numbering::MAX_BATCH`] responses.
    async fn number_batch(
        &self,
        record: &ConsultationRecord,
        lease: &Lease,
        batch: &[NewResponse],
    ) -> Result<bool, StoreError>;

    /// The most responses one `number_batch` takes (the store's item and time limits).
    const MAX_BATCH: usize;
}

/// What a witness last cosigned for one log: its size and root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessedHead {
    pub size: u64,
    pub root: [u8; 32],
}

/// A witness's state (see `crate::witness`): the logs it follows and, per log origin, what it
/// last cosigned. Blocking calls: a witness keeps it in a small database of its own.
pub trait WitnessState: Send + Sync {
    /// The verifier keys trusted for `origin`: those added for it exactly and those added for
    /// a prefix (an origin ending in `*`) it starts with, each once. Empty: an unknown log.
    fn log_keys(&self, origin: &str) -> Result<Vec<String>, StoreError>;

    /// Follows the log `origin` (exact, or a prefix ending in `*`) signed by `vkey`. Adding
    /// the same pair again changes nothing.
    fn add_log(&self, origin: &str, vkey: &str) -> Result<(), StoreError>;

    /// What was last cosigned for `origin` (`None`: nothing yet).
    fn cosigned(&self, origin: &str) -> Result<Option<WitnessedHead>, StoreError>;

    /// Records `to` as cosigned for `origin` only if the state is still `from`, atomically and
    /// durably (before the cosignature is given): `false` if it moved meanwhile.
    fn advance(
        &self,
        origin: &str,
        from: Option<&WitnessedHead>,
        to: &WitnessedHead,
    ) -> Result<bool, StoreError>;
}

/// What a witness answered to C2SP tlog-witness `add-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessAnswer {
    /// 200: its cosignature lines (`— <name> <base64>`), each ending in a newline.
    Cosigned(String),
    /// 409: the size it last cosigned for the log, which the next request must start from.
    Conflict(u64),
    /// Any other answer: the status and the start of the body (why).
    Refused { status: u16, why: String },
}

/// Reaches a witness (HTTP in production: `adapters::witness_http`). A log asks its witnesses
/// to cosign each new checkpoint (see `transparency::cosigning`).
#[async_trait]
pub trait WitnessClient: Send + Sync {
    /// POSTs `body` to `<prefix>/add-checkpoint`. `Err`: the witness could not be reached or
    /// did not answer in time (the caller decides when to ask it again).
    async fn add_checkpoint(&self, prefix: &str, body: Vec<u8>) -> Result<WitnessAnswer, String>;
}

/// How far publication has got: the high-water mark that makes publishing resumable.
#[async_trait]
pub trait PublicationState: Send + Sync {
    /// How many of the consultation's responses (numbers `1..=n`) are on the public site.
    async fn published(&self, consultation: &ConsultationId) -> Result<u64, StoreError>;

    /// Records that responses `1..=count` are published. Never moves the mark backwards.
    async fn set_published(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError>;

    /// Takes the consultation's publication turn until `until`, if nobody holds it or its
    /// holder let it expire (by `now`): one publisher at a time writes a consultation's pages,
    /// checkpoint and list mail, across every process, so that a publisher that read an older
    /// count never writes its pages or checkpoint over a newer one's, nor mails a response to
    /// the list twice. `None` while another holder's turn runs. Every take gives a new,
    /// greater token.
    async fn take_turn(
        &self,
        consultation: &ConsultationId,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Lease>, StoreError>;

    /// Extends a turn still held (same token) to `until`: `false` if it was taken over.
    async fn renew_turn(&self, turn: &mut Lease, until: Timestamp) -> Result<bool, StoreError>;

    /// Ends a turn still held, so the next publisher need not wait for it to expire; nothing
    /// if it was taken over.
    async fn end_turn(&self, turn: &Lease) -> Result<(), StoreError>;
}

/// A key in an object store: slash-separated segments, none empty, none starting with a dot
/// (so no `..`, and no clash with an adapter's temporary files), no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid object key {0:?}")]
pub struct InvalidKey(pub String);

impl ObjectKey {
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidKey> {
        let raw = raw.into();
        let valid = raw.len() <= 1024
            && !raw.contains('\\')
            && !raw.chars().any(char::is_control)
            && raw.split('/').all(|s| !s.is_empty() && !s.starts_with('.'));
        if valid {
            Ok(Self(raw))
        } else {
            Err(InvalidKey(raw))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a put may replace what is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Fails with `Conflict` if the key exists, leaving the stored object untouched.
    CreateNew,
    /// Replaces the object atomically: readers see the old one or the new one, never a mix.
    Overwrite,
}

/// The bytes to store: in memory, or in a local file (spooled uploads, so memory stays flat).
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Bytes),
    File(PathBuf),
}

/// Where an object lives, as a store that can copy from there understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine (the file store).
    File(PathBuf),
    /// An S3 object.
    Bucket { bucket: String, key: String },
}

/// The HTTP headers an object is served with (kept by S3, recomputed by the local host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: String,
    pub content_disposition: Option<String>,
}

impl ObjectMeta {
    /// UTF-8 text, shown inline: the private store's bookkeeping (marks, lists).
    pub fn plain_text() -> Self {
        Self {
            content_type: "text/plain; charset=utf-8".to_owned(),
            content_disposition: None,
        }
    }
}

pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// The most [`ObjectStore::list`] returns at once (S3's page).
pub const LIST_PAGE: usize = 1000;

/// An object found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: ObjectKey,
    pub size: u64,
    pub modified: jiff::Timestamp,
}

/// A stored object, streamed.
pub struct Object {
    pub size: u64,
    pub body: ByteStream,
}

impl Object {
    /// Reads the whole object into memory: for pages and tests, not for uploaded files.
    pub async fn into_bytes(self) -> io::Result<Vec<u8>> {
        use futures::TryStreamExt;
        let mut out = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        let mut body = self.body;
        while let Some(chunk) = body.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores `body` at `key` atomically, byte for byte: readers see all of it or nothing.
    async fn put(
        &self,
        key: &ObjectKey,
        body: Body,
        meta: &ObjectMeta,
        mode: PutMode,
    ) -> Result<(), StoreError>;

    /// Stores `body` at `key` like `put`, except that it need only be durable once a later
    /// `sync` has returned: writers that make many objects durable together (the intake's
    /// group commit, a batch of publication) pay for one flush, not one per object. Until then
    /// a crash may lose a new object or leave it incomplete, or, for `Overwrite`, leave the
    /// old one or an empty one in its place: a caller acknowledges and publishes nothing before
    /// `sync` (a record that names it may be stored before: the embedded store removes such a
    /// record when it finds its originals lost; see `adapters::sqlite`), creates
    /// only keys that no one else writes (named by a new response's id) or
    /// copies of objects durable already (a link shares their content), and overwrites only
    /// what it writes again after a crash (the pages of an unfinished batch).
    async fn put_deferred(
        &self,
        key: &ObjectKey,
        body: Body,
        meta: &ObjectMeta,
        mode: PutMode,
    ) -> Result<(), StoreError> {
        self.put(key, body, meta, mode).await
    }

    /// Where the object at `key` lives, for a copy that need not pass through this process.
    fn location(&self, _key: &ObjectKey) -> Option<Location> {
        None
    }

    /// Copies the object at `from` (another store's [`Location`]) to `key`, create-new, without
    /// its bytes passing through this process: a hard link on disk, a server-side copy on S3.
    /// Durable like `put_deferred`. `Ok(false)`: this store cannot copy from there (the caller
    /// streams the bytes instead); `Conflict` if `key` exists, which is left untouched.
    async fn copy_from(
        &self,
        _from: &Location,
        _key: &ObjectKey,
        _meta: &ObjectMeta,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Copies like [`ObjectStore::copy_from`] each `(from, key, meta)`, in a batch: what became
    /// of each, in order. The first error other than `Conflict` stops the batch (copies before
    /// it may be done; each is create-new, so running the batch again is safe). The default
    /// runs [`COPIES_AT_ONCE`] at a time; a store that copies on this machine does the whole
    /// batch in one go.
    async fn copy_all_from(
        &self,
        copies: &[(Location, ObjectKey, ObjectMeta)],
    ) -> Result<Vec<Copied>, StoreError> {
        let mut outcomes = Vec::with_capacity(copies.len());
        for group in copies.chunks(COPIES_AT_ONCE) {
            let copied = futures::future::join_all(
                group
                    .iter()
                    .map(|(from, key, meta)| self.copy_from(from, key, meta)),
            )
            .await;
            for outcome in copied {
                outcomes.push(match outcome {
                    Ok(true) => Copied::Done,
                    Ok(false) => Copied::CannotCopy,
                    Err(StoreError::Conflict(_)) => Copied::AlreadyThere,
                    Err(e) => return Err(e),
                });
            }
        }
        Ok(outcomes)
    }

    /// Makes every object put so far durable. Concurrent calls may share one flush. Stores
    /// whose every put is durable at once (S3) have nothing to do.
    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The object at `key`, or `None` if there is none.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError>;

    /// Removes the object at `key`; one that is not there is not an error. Only for derived
    /// objects that a newer one has replaced (the search index's superseded parts): the record
    /// (originals, pages, the log) is never deleted, and on AWS the functions' permissions
    /// allow this only under the search indexes' prefix.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;

    /// A page of the objects whose keys start with `prefix`: at most `limit` (at most
    /// [`LIST_PAGE`]), in key order (bytewise), each after `after` when given (the last key of
    /// the previous page). An object being written is not listed before it is whole. For the
    /// Secretariat's views of what is kept privately (the mail not published); never on the
    /// path of a response: on the embedded store a page costs a walk of the prefix's folder.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Listed>, StoreError>;

    /// Starts writing an object of unknown size piece by piece (a dossier of many gigabytes):
    /// nothing is visible until `finish`, which then replaces the object at `key` atomically.
    async fn upload(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<Box<dyn Upload>, StoreError>;
}

/// How many copies [`ObjectStore::copy_all_from`] runs at once by default (server-side copies
/// on S3 are one request each, mostly waiting).
pub const COPIES_AT_ONCE: usize = 16;

/// What became of one copy of [`ObjectStore::copy_all_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    Done,
    /// The key existed and was left untouched (a copy made before).
    AlreadyThere,
    /// This store cannot copy from there: the caller streams the bytes instead.
    CannotCopy,
}

/// An object being written in pieces; memory holds at most one piece at a time.
#[async_trait]
pub trait Upload: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError>;
    /// Makes the object visible, whole.
    async fn finish(self: Box<Self>) -> Result<(), StoreError>;
    /// Gives up: nothing becomes visible and nothing is left behind.
    async fn abort(self: Box<Self>);
}

/// The time, injectable so deadline tests need not wait.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Arranges for a consultation's closing to run at its deadline. On AWS an EventBridge
/// Scheduler one-time schedule invokes the close function; locally the host's timer sweeps.
#[async_trait]
pub trait CloseScheduler: Send + Sync {
    /// Schedules (or moves) the closing of `consultation` to `deadline`.
    async fn schedule_closing(
        &self,
        consultation: &ConsultationId,
        deadline: Timestamp,
    ) -> Result<(), StoreError>;
}

/// For the local host: its timer sweeps every consultation, so nothing needs scheduling.
pub struct SweptByTimer;

#[async_trait]
impl CloseScheduler for SweptByTimer {
    async fn schedule_closing(&self, _: &ConsultationId, _: Timestamp) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A plain-text message Verbatim sends: receipts and replies to email responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The Message-ID answered, so mail clients thread the reply.
    pub in_reply_to: Option<String>,
    /// Set on the email list's messages: list headers, with one-click unsubscribe.
    pub list: Option<ListHeaders>,
}

/// The headers of a list message (RFC 2919 List-Id, RFC 2369 / RFC 8058 unsubscribe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeaders {
    /// `<consultation.mail-domain>`.
    pub id: String,
    /// An https link that unsubscribes on POST (one click) and offers a button on GET.
    pub unsubscribe_url: String,
    /// `consultation+unsubscribe@mail-domain`.
    pub unsubscribe_mailto: String,
    /// `consultation+bounces@mail-domain`: where delivery failures of list mail go (the
    /// envelope sender, or SES's feedback address), so that an address that bounced is mailed
    /// no more.
    pub returns_to: String,
}

/// Sends mail. Every message is marked `Auto-Submitted` (RFC 3834: `auto-replied` for replies,
/// `auto-generated` for list mail) so that well-behaved auto-responders do not answer it.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), StoreError>;
}

/// Asks for a consultation to be (re)published. Locally an in-process worker does it; on AWS
/// the table's stream triggers the publish function, so intake needs no queue at all.
#[async_trait]
pub trait PublishQueue: Send + Sync {
    fn request(&self, consultation: &ConsultationId);

    /// Returns once the consultation's sequencer may have numbered something since the call,
    /// or after `at_most`: what intake waits on between looks at a pending response. Without a
    /// signal (on Lambda the sequencer runs elsewhere) it simply waits `at_most`.
    async fn sequenced(&self, _consultation: &ConsultationId, at_most: std::time::Duration) {
        tokio::time::sleep(at_most).await;
    }
}

/// For Lambda: publication is driven by the DynamoDB stream, not by the caller.
pub struct PublishedByStream;

impl PublishQueue for PublishedByStream {
    fn request(&self, _: &ConsultationId) {}
}

/// The consultations' email lists: subscriptions, and how far each list has been sent.
/// Addresses stored here are private: nothing in this store is ever published.
#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Stores `subscription` unless the subscriber has one already, and returns the one stored
    /// (so asking twice resends the same link rather than invalidating the first).
    async fn request(&self, subscription: &Subscription) -> Result<Subscription, StoreError>;

    async fn subscription(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<Option<Subscription>, StoreError>;

    /// Marks the subscription confirmed at `at` (the first confirmation counts). `Ok(false)`
    /// if there is no such subscription.
    async fn confirm(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Records that a mail went to the subscriber at `at`, only if the last one recorded is
    /// still `previous`: of requests racing to mail one address, exactly one wins (`Ok(true)`)
    /// and sends. `Ok(false)`: another came first, or there is no such subscription.
    async fn record_mailed(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Deletes the subscription and its address; `Ok(false)` if there was none.
    async fn remove(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError>;

    /// The confirmed subscriptions of a consultation, ordered by subscriber id.
    async fn confirmed(
        &self,
        consultation: &ConsultationId,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// How many of the consultation's responses (numbers `1..=n`) have been sent to the list.
    async fn notified(&self, consultation: &ConsultationId) -> Result<u64, StoreError>;

    /// Records that responses `1..=count` were sent. Never moves the mark backwards.
    async fn set_notified(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError>;

    /// Stops mail to `subscriber` (see [`MailStop`]). Stopping twice is fine.
    async fn stop_mail(&self, subscriber: &SubscriberId, stop: &MailStop)
    -> Result<(), StoreError>;

    /// Whether mail about `consultation` must not go to `subscriber`: the address bounced, or
    /// unsubscribed from this consultation.
    async fn mail_stopped(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError>;

    /// How far the mailing of the consultation's outcome got (the default: none yet).
    async fn outcome_mailing(
        &self,
        consultation: &ConsultationId,
    ) -> Result<OutcomeMailing, StoreError>;

    /// Records how far the mailing got.
    async fn save_outcome_mailing(
        &self,
        consultation: &ConsultationId,
        mailing: &OutcomeMailing,
    ) -> Result<(), StoreError>;

    /// Claims the one mail of the outcome's `version` to `subscriber`, before it is sent:
    /// `Ok(true)` for the first claim only, so that no crash, retry or concurrent run sends it
    /// twice (a run that dies between the claim and the send leaves that address unmailed:
    /// never twice wins over at least once).
    async fn claim_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError>;

    /// Gives back a claim whose mail the mailer refused, so that a later run sends it.
    async fn release_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<(), StoreError>;
}

/// The Secretariat's accounts, their console sessions and the sign-in throttle. Private: nothing
/// here is ever published. Sessions are stored by [`SessionKey`] (a hash), never by the id the
/// browser holds.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Stores a new account. If the name is taken, fails with `Conflict` and leaves the
    /// existing account untouched.
    async fn create_account(&self, account: &Account) -> Result<(), StoreError>;

    /// The account with this name, as of now (a strongly consistent read).
    async fn account(&self, name: &AccountName) -> Result<Option<Account>, StoreError>;

    /// Every account, ordered by name.
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// Replaces the stored account of the same name (new password, second factor); `Ok(false)`
    /// if there is none (it is never created here). The last TOTP step used never goes back
    /// by it (see [`Accounts::use_totp_step`]).
    async fn replace_account(&self, account: &Account) -> Result<bool, StoreError>;

    /// Records that a TOTP code of time step `step` signed `name` in, in one atomic step, if
    /// no code of this step or a later one did before: `Ok(false)` otherwise (the code was
    /// used already, or two sign-ins raced with one code and the other won), and for no such
    /// account. A code is good once.
    async fn use_totp_step(&self, name: &AccountName, step: i64) -> Result<bool, StoreError>;

    /// Removes the account; `Ok(false)` if there was none. Its sessions are no longer valid
    /// (a session is only valid with its account, see [`Session::is_of`]), and a new account of
    /// the same name does not revive them (they began before it).
    async fn remove_account(&self, name: &AccountName) -> Result<bool, StoreError>;

    /// Stores a new session under `key`; a key taken fails with `Conflict`.
    async fn start_session(&self, key: &SessionKey, session: &Session) -> Result<(), StoreError>;

    /// The session stored under `key`, expired or not (the caller checks).
    async fn session(&self, key: &SessionKey) -> Result<Option<Session>, StoreError>;

    /// Records a request in the session at `at` (for the idle timeout); nothing if it ended.
    async fn touch_session(&self, key: &SessionKey, at: Timestamp) -> Result<(), StoreError>;

    /// Ends the session (signing out); one that is not there is not an error.
    async fn end_session(&self, key: &SessionKey) -> Result<(), StoreError>;

    /// The failed sign-ins of `name` (an account or not), none recorded being the default.
    async fn throttle(&self, name: &AccountName) -> Result<SignInThrottle, StoreError>;

    /// Records a failed sign-in of `name` at `at` ([`SignInThrottle::after_failure`]) in one
    /// atomic step: of concurrent failures, from any process, none is lost. Returns the
    /// throttle as stored.
    async fn record_failure(
        &self,
        name: &AccountName,
        at: Timestamp,
    ) -> Result<SignInThrottle, StoreError>;

    /// Forgets the failed sign-ins of `name` (after a successful one).
    async fn clear_failures(&self, name: &AccountName) -> Result<(), StoreError>;
}

// ---- Presigned uploads ----

/// Where and how the client sends the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    /// Headers the client must send with the PUT.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Grants a client the right to PUT one object of a given size before a given time.
#[async_trait]
pub trait UploadStaging: Send + Sync {
    async fn presign_put(
        &self,
        consultation: &ConsultationId,
        upload: &UploadId,
        key: &ObjectKey,
        size: u64,
        expires_in: std::time::Duration,
    ) -> Result<PresignedPut, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys() {
        assert!(ObjectKey::parse("consultations/a/responses/1/Réponse (2).pdf").is_ok());
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", "a/.tmp-1", "a\\b", "a/\nb",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
