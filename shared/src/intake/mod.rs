//! Intake: turns a received submission into a stored, numbered response and its receipt.
//! Channel-agnostic: the HTTP handlers (and later email) parse their input into a [`Submission`].

pub mod spool;
pub mod uploads;

use std::sync::Arc;

use jiff::SignedDuration;
use thiserror::Error;

use crate::domain::limits::{Limits, TooLarge};
use crate::domain::media::{Unsupported, ZIP, classify, office_type};
use crate::domain::{Arg, Text};
use crate::domain::{
    Channel, ConsultationId, NewResponse, PendingReceipt, Receipt, Refusal, ResponseId, StoredFile,
    SubmitterFields, ValidationError, sanitize_file_name, unique_file_name,
};
use crate::intake::spool::SpooledFile;
use crate::ports::{
    AppendError, Clock, Consultations, ObjectKey, ObjectMeta, ObjectStore, PublishQueue, PutMode,
    Received, Responses, StoreError,
};

/// The name under which a response's text field is published.
pub const TEXT_FILE_NAME: &str = "response.txt";

/// How long a response may take between being received and being stored. A response received
/// in time but not stored within this is refused (the sender is told to retry), so that once
/// the deadline plus this grace has passed, the set of responses is final for the dossier.
/// Longer than any request can last (API Gateway stops requests at 30 s).
pub const DEFAULT_IN_FLIGHT_GRACE: SignedDuration = SignedDuration::from_secs(30);

/// A grace as written in `VERBATIM_IN_FLIGHT_GRACE_SECONDS` (or `--in-flight-grace`): whole
/// seconds, 1 to 3,600. Intake and closing must agree on it.
pub fn parse_in_flight_grace(raw: &str) -> Result<SignedDuration, String> {
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|s| (1..=3600).contains(s))
        .map(|s| SignedDuration::from_secs(i64::from(s)))
        .ok_or_else(|| format!("{raw:?}: write whole seconds, 1 to 3600"))
}

/// A response as received, before validation.
#[derive(Debug)]
pub struct Submission {
    /// Set when the channel can recognise a repeated delivery (email: derived from the
    /// message); `None`: a new id.
    pub id: Option<ResponseId>,
    pub channel: Channel,
    pub fields: SubmitterFields,
    /// The `text` field, published as `response.txt` with exactly the received bytes.
    pub text: Option<SpooledFile>,
    /// Answers to the consultation's questions by 1-based position (fields `answer-{k}`),
    /// each published as `answer-{k}.txt` with exactly the received bytes. Email has none.
    pub answers: std::collections::BTreeMap<usize, SpooledFile>,
    pub files: Vec<SpooledFile>,
    /// The language the respondent wrote from, where the channel knows it (kept privately
    /// with the address, for the list's mail to them).
    pub language: Option<crate::domain::Language>,
}

#[derive(Debug, Error)]
pub enum IntakeError {
    #[error("there is no consultation {0}")]
    NotFound(ConsultationId),
    #[error("the consultation does not accept responses at this time")]
    Refused(Refusal),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error(
        "storing the response took longer than the {0} allowed; nothing was kept, please send it again"
    )]
    TooSlow(SignedDuration),
    /// The same response (same id) was stored before: a repeated delivery.
    #[error("response {} is stored already", .0.response.id)]
    AlreadyStored(Box<crate::domain::Response>),
    /// The id names a response stored before that says something else (an `Idempotency-Key`
    /// used again for another response); nothing was stored.
    #[error("response {0} was stored before with other content")]
    NotTheSame(ResponseId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AppendError> for IntakeError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::NoSuchConsultation(id) => Self::NotFound(id),
            AppendError::Refused(refusal) => Self::Refused(refusal),
            // Received in time but not stored before the set of responses became final: to the
            // sender that is a closed consultation, and nothing was kept.
            AppendError::Sealed { deadline } => {
                tracing::warn!(%deadline, "a response received in time was still being stored at the seal; refused");
                Self::Refused(Refusal::Closed { deadline })
            }
            AppendError::AlreadyStored(existing) => Self::AlreadyStored(existing),
            AppendError::Store(e) => Self::Store(e),
        }
    }
}

pub struct Intake {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub private: Arc<dyn ObjectStore>,
    pub clock: Arc<dyn Clock>,
    pub queue: Arc<dyn PublishQueue>,
    pub in_flight_grace: SignedDuration,
    /// What one response may carry. The channels enforce it while reading (HTTP) or by
    /// leaving extra parts inside the message (email); `submit` checks it again, so that no
    /// channel can store a response whose log entry would not fit (see [`crate::transparency::entry::fits`]).
    pub limits: Limits,
    /// How long `submit` waits for a pending response's number before answering with the
    /// pending receipt (where the store numbers as it commits, it never waits).
    pub receipt_wait: std::time::Duration,
    /// Signs receipts with their place in the transparency log.
    pub log_key: Option<Arc<crate::transparency::LogKey>>,
    /// Consultations found open a moment ago (see [`RecentlyOpen`]).
    pub recently_open: RecentlyOpen,
}

/// Consultations that [`Intake::check_accepting`] found open, kept for [`RecentlyOpen::FOR`]:
/// in a rush every request would otherwise read the same record before its upload. Only the
/// early check uses it, and only to let a request go on: the store checks the deadline and the
/// seal again where it commits, so a consultation closed meanwhile still refuses the response
/// (after its upload was read), and one found closed or missing is never remembered.
#[derive(Debug, Default)]
pub struct RecentlyOpen(std::sync::Mutex<std::collections::HashMap<ConsultationId, Recent>>);

#[derive(Debug)]
struct Recent {
    read_at: std::time::Instant,
    consultation: crate::domain::Consultation,
}

impl RecentlyOpen {
    const FOR: std::time::Duration = std::time::Duration::from_secs(1);

    fn get(&self, id: &ConsultationId) -> Option<crate::domain::Consultation> {
        let seen = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.get(id)
            .filter(|recent| recent.read_at.elapsed() < Self::FOR)
            .map(|recent| recent.consultation.clone())
    }

    fn keep(&self, consultation: crate::domain::Consultation) {
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.insert(
            consultation.id.clone(),
            Recent {
                read_at: std::time::Instant::now(),
                consultation,
            },
        );
    }
}

/// The default of [`Intake::receipt_wait`].
pub const DEFAULT_RECEIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A wait as written in a flag or a variable: `2s`, `500ms`, or plain seconds (`2`, `0.5`).
pub fn parse_wait(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let (number, scale) = if let Some(ms) = raw.strip_suffix("ms") {
        (ms, 0.001)
    } else {
        (raw.strip_suffix('s').unwrap_or(raw), 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * scale <= 60.0)
        .map(|v| std::time::Duration::from_secs_f64(v * scale))
        .ok_or_else(|| format!("{raw:?} is not a wait of 0 to 60 s (e.g. 2s, 500ms)"))
}

/// What a submission became: numbered (`201`, the full receipt), or stored and waiting for its
/// number (`202`, the pending receipt).
#[derive(Debug, Clone)]
pub enum Submitted {
    Numbered(Receipt),
    Pending(PendingReceipt),
}

impl Submitted {
    pub fn id(&self) -> &ResponseId {
        match self {
            Self::Numbered(r) => &r.id,
            Self::Pending(p) => &p.id,
        }
    }

    /// UTC with millisecond precision.
    pub fn received_at(&self) -> &str {
        match self {
            Self::Numbered(r) => &r.received_at,
            Self::Pending(p) => &p.received_at,
        }
    }
}

/// Originals are kept privately by response id (known before the number is assigned), under
/// one of 256 folders chosen by a hash of the id: ids are time-ordered (UUID v7), and S3 scales
/// a bucket's request rate by key prefix, so a rush must not funnel into one prefix. The files
/// of a response are `{id}.{index}`, not a folder per response: on disk a new folder per
/// response cost more than the rest of storing it (ext4 allocates a directory inode with a
/// search across block groups). (Keys of earlier responses, with a folder per response or none
/// at all, are kept in their records and still read.)
///
/// A response whose id may come again (derived from a message, or from an `Idempotency-Key`)
/// names its originals by their content too (`{id}.{index}.{sha256 prefix}`): a retry with the
/// same content finds its original there and uses it, one with other content cannot take its
/// place.
pub fn original_key(
    consultation: &ConsultationId,
    id: &ResponseId,
    index: usize,
    content: Option<&str>,
) -> String {
    use sha2::Digest;
    let spread = sha2::Sha256::digest(id.as_str().as_bytes())[0];
    match content {
        None => format!("originals/{consultation}/{spread:02x}/{id}.{index}"),
        Some(sha256) => {
            let prefix = &sha256[..sha256.len().min(16)];
            format!("originals/{consultation}/{spread:02x}/{id}.{index}.{prefix}")
        }
    }
}

impl Intake {
    /// Fails early, before an upload is read, if the consultation is unknown or not open now.
    pub async fn check_accepting(&self, id: &ConsultationId) -> Result<(), IntakeError> {
        if let Some(consultation) = self.recently_open.get(id)
            && consultation.refuses_at(self.clock.now()).is_none()
        {
            return Ok(());
        }
        let record = self
            .consultations
            .get(id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(id.clone()))?;
        match record.consultation.refuses_at(self.clock.now()) {
            Some(refusal) => Err(IntakeError::Refused(refusal)),
            None => {
                self.recently_open.keep(record.consultation);
                Ok(())
            }
        }
    }

    /// How many questions the consultation puts (the one found open a moment ago, if any).
    async fn question_count(&self, id: &ConsultationId) -> Result<usize, IntakeError> {
        if let Some(consultation) = self.recently_open.get(id) {
            return Ok(consultation.questions.len());
        }
        let record = self
            .consultations
            .get(id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(id.clone()))?;
        Ok(record.consultation.questions.len())
    }

    /// Stores the submission's files privately, then the response (checking the deadline where
    /// it commits), then asks for its number and its publication.
    pub async fn submit(
        &self,
        consultation: &ConsultationId,
        submission: Submission,
    ) -> Result<Submitted, IntakeError> {
        // The submission is complete in hand: this is when it was received.
        let received_at = self.clock.now();
        let submitter = crate::domain::Submitter {
            language: submission.language,
            ..submission.fields.parse()?
        };
        let text = submission.text.filter(|t| t.size > 0);
        let asked: Vec<usize> = submission.answers.keys().copied().collect();
        // An answer's file name says which question it answers, so the names of the
        // consultation's answers are reserved: an attached `answer-2.txt` is published as
        // `answer-2 (2).txt`. The questions are read only when a name is at stake.
        let at_stake = !asked.is_empty()
            || submission.files.iter().any(|f| {
                crate::domain::answer::question_of_file(&sanitize_file_name(&f.raw_name)).is_some()
            });
        let questions = if at_stake {
            self.question_count(consultation).await?
        } else {
            0
        };
        if let Some(k) = asked.iter().find(|k| **k > questions) {
            return Err(ValidationError::text(
                crate::domain::answer::answer_field(*k),
                Text::with("answers_err_no_question", [("number", Arg::plain(k))]),
            )
            .into());
        }

        // An empty answer is no answer, as an empty text is no text.
        let answers: Vec<(usize, SpooledFile)> = submission
            .answers
            .into_iter()
            .filter(|(_, a)| a.size > 0)
            .collect();
        if text.is_none() && answers.is_empty() && submission.files.is_empty() {
            return Err(ValidationError::text("text", Text::key("answers_err_empty")).into());
        }
        // Every channel caps the files it takes while reading; this checks it again for all.
        if submission.files.len() > self.limits.max_files {
            return Err(TooLarge(Text::with(
                "err_too_many_files",
                [("count", Arg::count(self.limits.max_files))],
            ))
            .into());
        }

        let mut named: Vec<(SpooledFile, String, &'static str)> = Vec::new();
        let mut taken: Vec<String> = (1..=questions)
            .map(crate::domain::answer::answer_file_name)
            .collect();
        if let Some(text) = text {
            taken.push(TEXT_FILE_NAME.to_owned());
            named.push((text, TEXT_FILE_NAME.to_owned(), "text/plain"));
        }
        for (k, answer) in answers {
            named.push((
                answer,
                crate::domain::answer::answer_file_name(k),
                "text/plain",
            ));
        }
        for file in submission.files {
            let name = unique_file_name(&sanitize_file_name(&file.raw_name), &taken);
            if file.size == 0 {
                return Err(ValidationError::text(
                    "file",
                    Text::with("err_file_empty", [("file", Arg::plain(&name))]),
                )
                .into());
            }
            let media_type = match file.media_type {
                Some(known) => known,
                None => match classify(&name, &file.head)? {
                    ZIP => file
                        .zip_entry_names()
                        .await
                        .and_then(|names| office_type(names.iter().map(String::as_str)))
                        .unwrap_or(ZIP),
                    judged => judged,
                },
            };
            taken.push(name.clone());
            named.push((file, name, media_type));
        }

        let derived = submission.id.is_some();
        let id = submission.id.unwrap_or_default();
        let response = NewResponse {
            files: named
                .iter()
                .enumerate()
                .map(|(index, (spooled, name, media_type))| StoredFile {
                    name: name.clone(),
                    media_type: (*media_type).to_owned(),
                    size: spooled.size,
                    sha256: spooled.sha256.clone(),
                    original_key: original_key(
                        consultation,
                        &id,
                        index,
                        derived.then_some(spooled.sha256.as_str()),
                    ),
                })
                .collect(),
            id,
            consultation: consultation.clone(),
            received_at,
            channel: submission.channel,
            submitter,
        };
        // The last guard before anything is stored: a response whose log entry could not be
        // written would stop its consultation's log for good.
        if !crate::transparency::entry::fits(&response) {
            return Err(TooLarge(Text::key("err_record_too_large")).into());
        }
        // A repeated id: the response stored under it, if it says the same (nothing stored
        // again), else a refusal.
        if derived && let Some(stored) = self.responses.lookup(consultation, &response.id).await? {
            return self.repeated(consultation, stored, &response).await;
        }

        let meta = ObjectMeta {
            content_type: "application/octet-stream".to_owned(),
            content_disposition: None,
        };
        for ((spooled, _, _), file) in named.iter().zip(&response.files) {
            let object_key = ObjectKey::parse(file.original_key.clone())
                .map_err(|e| StoreError::backend("naming an original", e))?;
            let body = spooled.body();
            let stored = if derived {
                // A repeated delivery finds the first one's original there (`Conflict`), and
                // trusts it: so it must have been durable from the start.
                self.private
                    .put(&object_key, body, &meta, PutMode::CreateNew)
                    .await
            } else {
                self.private
                    .put_deferred(&object_key, body, &meta, PutMode::CreateNew)
                    .await
            };
            match stored {
                Ok(()) => {}
                // A repeated delivery: the same id, so the same content is there already.
                Err(StoreError::Conflict(_)) if derived => {}
                Err(e) => return Err(e.into()),
            }
        }
        if self.clock.now() > received_at + self.in_flight_grace {
            return Err(IntakeError::TooSlow(self.in_flight_grace));
        }
        let response_id = response.id.clone();
        let sent = derived.then(|| response.clone());
        let received = self.responses.receive(response).await;
        if matches!(received, Ok(_) | Err(AppendError::AlreadyStored(_))) {
            // One flush for every response being stored at this moment, before any is
            // acknowledged: it makes their originals durable and, on the embedded store, their
            // records too (they commit without a flush of their own), in one durable write.
            self.private.sync().await?;
        }
        let pending = match received {
            Ok(Received::Numbered(stored)) => {
                self.queue.request(consultation);
                return Ok(Submitted::Numbered(self.receipt_of(&stored)));
            }
            // Stored by a concurrent delivery of the same id since the lookup above.
            Err(AppendError::AlreadyStored(stored)) => {
                return match &sent {
                    Some(sent) => {
                        self.repeated(consultation, Received::Numbered(*stored), sent)
                            .await
                    }
                    None => Err(IntakeError::AlreadyStored(stored)),
                };
            }
            Ok(Received::Pending(pending)) => match &sent {
                Some(sent) if !pending.says_the_same_as(sent) => {
                    return Err(IntakeError::NotTheSame(response_id));
                }
                _ => pending,
            },
            Err(e) => return Err(e.into()),
        };
        // Acknowledged only if it became durable within the grace: the closing seals after the
        // deadline plus the grace (and a margin for clocks), and numbers every response pending
        // then; one stored later is taken back, never numbered (see `Closer`).
        if self.clock.now() > received_at + self.in_flight_grace {
            return match self.responses.withdraw(consultation, &response_id).await? {
                Some(stored) => Ok(Submitted::Numbered(self.receipt_of(&stored))),
                None => Err(IntakeError::TooSlow(self.in_flight_grace)),
            };
        }
        self.queue.request(consultation);
        self.await_number(consultation, pending).await
    }

    /// What a response sent again under a stored id gets: `AlreadyStored` with the stored
    /// one (its receipt, for the channel to give again), or its pending receipt, when both
    /// say the same; else `NotTheSame`.
    async fn repeated(
        &self,
        consultation: &ConsultationId,
        stored: Received,
        sent: &NewResponse,
    ) -> Result<Submitted, IntakeError> {
        // The first delivery may still be on its way to its flush: what is acknowledged again
        // must be durable too.
        self.private.sync().await?;
        match stored {
            Received::Numbered(stored) if stored.response.says_the_same_as(sent) => {
                Err(IntakeError::AlreadyStored(Box::new(stored)))
            }
            Received::Pending(pending) if pending.says_the_same_as(sent) => {
                self.await_number(consultation, pending).await
            }
            _ => Err(IntakeError::NotTheSame(sent.id.clone())),
        }
    }

    /// Waits up to `receipt_wait` for the sequencer to number a pending response: its full
    /// receipt if it does, else the pending one (the response is durable either way).
    async fn await_number(
        &self,
        consultation: &ConsultationId,
        pending: NewResponse,
    ) -> Result<Submitted, IntakeError> {
        Ok(
            match self
                .wait_for_number(consultation, &pending.id, self.receipt_wait)
                .await?
            {
                Some(receipt) => Submitted::Numbered(receipt),
                None => Submitted::Pending(pending.pending_receipt()),
            },
        )
    }

    /// The full receipt of a stored response once the sequencer numbers it, within `wait`.
    pub async fn wait_for_number(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
        wait: std::time::Duration,
    ) -> Result<Option<Receipt>, IntakeError> {
        let started = tokio::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(50);
        while started.elapsed() < wait {
            self.queue
                .sequenced(
                    consultation,
                    pause.min(wait.saturating_sub(started.elapsed())),
                )
                .await;
            pause = (pause * 2).min(std::time::Duration::from_millis(500));
            // `find`, not `lookup`: only the number is awaited, so a response still pending
            // costs one read (its guard on DynamoDB), not two.
            if let Some(stored) = self.responses.find(consultation, id).await? {
                return Ok(Some(self.receipt_of(&stored)));
            }
        }
        Ok(None)
    }

    /// The receipt of a response by id: full once numbered, pending until then.
    pub async fn status(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Submitted>, IntakeError> {
        Ok(match self.responses.lookup(consultation, id).await? {
            Some(Received::Numbered(stored)) => Some(Submitted::Numbered(self.receipt_of(&stored))),
            Some(Received::Pending(pending)) => Some(Submitted::Pending(pending.pending_receipt())),
            None => None,
        })
    }

    /// The receipt of a stored response, signed with its place in the transparency log.
    /// Signing cannot fail for a stored response; if it ever did, the submitter still gets
    /// the (unsigned) receipt: the response is stored and must not be sent again.
    pub fn receipt_of(&self, response: &crate::domain::Response) -> Receipt {
        let receipt = response.receipt();
        let Some(key) = &self.log_key else {
            return receipt;
        };
        match crate::transparency::sign_receipt(key, &receipt) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(error = %e, number = receipt.number, "signing a receipt failed");
                receipt
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SignedDuration, parse_in_flight_grace, parse_wait};
    use std::time::Duration;

    #[test]
    fn graces() {
        assert_eq!(
            parse_in_flight_grace("30"),
            Ok(SignedDuration::from_secs(30))
        );
        assert_eq!(
            parse_in_flight_grace(" 1 "),
            Ok(SignedDuration::from_secs(1))
        );
        for bad in ["", "0", "-5", "30s", "3601", "1.5", "lots"] {
            assert!(parse_in_flight_grace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn waits() {
        assert_eq!(parse_wait("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_wait("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        for bad in ["", "-1", "fast", "61s", "NaN", "inf"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }
}
