//! Intake: turns a received submission into a stored, numbered response and its receipt.
//! Channel-agnostic: the HTTP handlers (and later email) parse their input into a [`Submission`].

use std::sync::Arc;

use jiff::SignedDuration;
use thiserror::Error;

use crate::domain::limits::{Limits, TooLarge};
use crate::domain::media::{Unsupported, classify};
use crate::domain::{Arg, Text};
use crate::domain::{
    Channel, ConsultationId, NewResponse, Receipt, Refusal, ResponseId, StoredFile,
    SubmitterFields, ValidationError, sanitize_file_name, unique_file_name,
};
use crate::ports::{
    AppendError, Body, Clock, Consultations, ObjectKey, ObjectMeta, ObjectStore, PublishQueue,
    PutMode, Responses, StoreError,
};
use crate::spool::SpooledFile;

/// The name under which a response's text field is published.
pub const TEXT_FILE_NAME: &str = "response.txt";

/// How long a response may take between being received and being stored. A response received
/// in time but not stored within this is refused (the sender is told to retry), so that once
/// the deadline plus this grace has passed, the set of responses is final for the dossier.
/// Longer than any request can last (API Gateway stops requests at 30 s).
pub const DEFAULT_IN_FLIGHT_GRACE: SignedDuration = SignedDuration::from_secs(30);

/// The grace from `VERBATIM_IN_FLIGHT_GRACE_SECONDS` (for tests and unusual deployments), else
/// the default. Intake and closing must agree on it, so every entry point reads it here.
pub fn in_flight_grace_from_env() -> SignedDuration {
    std::env::var("VERBATIM_IN_FLIGHT_GRACE_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_IN_FLIGHT_GRACE, |s| {
            SignedDuration::from_secs(s as i64)
        })
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
    pub files: Vec<SpooledFile>,
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
    /// Signs receipts with their place in the transparency log.
    pub log_key: Option<Arc<crate::transparency::LogKey>>,
}

/// Originals are kept privately by response id (known before the number is assigned).
pub fn original_key(consultation: &ConsultationId, id: &ResponseId, index: usize) -> String {
    format!("originals/{consultation}/{id}/{index}")
}

impl Intake {
    /// Fails early, before an upload is read, if the consultation is unknown or not open now.
    pub async fn check_accepting(&self, id: &ConsultationId) -> Result<(), IntakeError> {
        let record = self
            .consultations
            .get(id)
            .await?
            .ok_or_else(|| IntakeError::NotFound(id.clone()))?;
        match record.consultation.refuses_at(self.clock.now()) {
            Some(refusal) => Err(IntakeError::Refused(refusal)),
            None => Ok(()),
        }
    }

    /// Stores the submission's files privately, then appends the response (which numbers it
    /// and checks the deadline atomically), then asks for publication.
    pub async fn submit(
        &self,
        consultation: &ConsultationId,
        submission: Submission,
    ) -> Result<Receipt, IntakeError> {
        // The submission is complete in hand: this is when it was received.
        let received_at = self.clock.now();
        let submitter = submission.fields.parse()?;
        let text = submission.text.filter(|t| t.size > 0);
        if text.is_none() && submission.files.is_empty() {
            return Err(ValidationError::text("text", Text::key("err_text_or_file")).into());
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
        let mut taken: Vec<String> = Vec::new();
        if let Some(text) = text {
            taken.push(TEXT_FILE_NAME.to_owned());
            named.push((text, TEXT_FILE_NAME.to_owned(), "text/plain"));
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
                None => classify(&name, &file.head)?,
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
                    original_key: original_key(consultation, &id, index),
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

        let meta = ObjectMeta {
            content_type: "application/octet-stream".to_owned(),
            content_disposition: None,
        };
        for ((spooled, _, _), file) in named.iter().zip(&response.files) {
            let object_key = ObjectKey::parse(file.original_key.clone())
                .map_err(|e| StoreError::backend("naming an original", e))?;
            let body = Body::File(spooled.path.to_path_buf());
            let stored = if derived {
                // A repeated delivery finds the first one's original there (`Conflict`), and
                // trusts it: so it must have been durable from the start.
                self.private
                    .put(&object_key, body, &meta, PutMode::CreateNew)
                    .await
            } else {
                self.private.put_deferred(&object_key, body, &meta).await
            };
            match stored {
                Ok(()) => {}
                // A repeated delivery: the same id, so the same content is there already.
                Err(StoreError::Conflict(_)) if derived => {}
                Err(e) => return Err(e.into()),
            }
        }
        // One flush for the originals of every response being stored at this moment.
        self.private.sync().await?;

        if self.clock.now() > received_at + self.in_flight_grace {
            return Err(IntakeError::TooSlow(self.in_flight_grace));
        }
        let stored = self.responses.append(response).await?;
        self.queue.request(consultation);
        Ok(self.receipt_of(&stored))
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
