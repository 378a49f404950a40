//! Presigned uploads: a browser sends each file straight to storage (S3 on AWS, the local host's
//! own `PUT /api/uploads/…` locally), then finalises the response by naming the uploads. This is
//! how files larger than API Gateway's 10 MB request limit get in.
//!
//! Everything about an upload lives in the staging store under `staging/{consultation}/{id}/`:
//! `ticket` (the declared name and size, written when the upload is granted), `file` (the bytes,
//! written by the client) and `used` (written once, when a response takes the file). The id
//! carries its expiry and 122 random bits, so it cannot be guessed, and it is only ever looked up
//! under its own consultation, so an id from another consultation is simply unknown.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::limits::{Budget, Limits, TooLarge, file_too_large};
use crate::domain::{Arg, ConsultationId, ResponseId, Text, UploadId};
use crate::intake::spool::{Spool, SpoolError, SpooledFile};
use crate::intake::{Intake, IntakeError};
use crate::ports::{
    Body, ByteStream, Clock, ObjectKey, ObjectMeta, ObjectStore, PresignedPut, PutMode, StoreError,
    UploadStaging,
};

/// How long a granted upload may be sent and then used by a response.
pub const UPLOAD_LIFETIME: SignedDuration = SignedDuration::from_secs(60 * 60);

/// The longest file name accepted in a grant request (in bytes).
pub const MAX_NAME_BYTES: usize = 255;

/// The local host receives uploads itself at `PUT /api/uploads/{consultation}/{id}`, which
/// checks the ticket (so nothing but a granted upload is accepted) and the declared size.
pub struct LocalStaging;

#[async_trait]
impl UploadStaging for LocalStaging {
    async fn presign_put(
        &self,
        consultation: &ConsultationId,
        upload: &UploadId,
        _key: &ObjectKey,
        _size: u64,
        _expires_in: std::time::Duration,
    ) -> Result<PresignedPut, StoreError> {
        Ok(PresignedPut {
            url: format!("/api/uploads/{consultation}/{upload}"),
            headers: BTreeMap::from([(
                "Content-Type".to_owned(),
                "application/octet-stream".to_owned(),
            )]),
        })
    }
}

/// What a client is told when an upload is granted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = UploadGrant, example = json!({
    "upload": "1764338400-3f2a9c0d4b1e4f5a8c7d6e5f4a3b2c1d",
    "url": "/api/uploads/internet-access-2027/1764338400-3f2a9c0d4b1e4f5a8c7d6e5f4a3b2c1d",
    "method": "PUT",
    "headers": {"Content-Type": "application/octet-stream"},
    "expires_at": "2025-11-28T14:00:00Z"
}))]
pub struct Grant {
    #[schema(value_type = UploadId)]
    pub upload: String,
    /// Where to PUT the file's bytes: an S3 presigned URL on AWS; on the local host a path on
    /// the same host (`/api/uploads/{id}/{upload}`).
    #[schema(format = "uri-reference")]
    pub url: String,
    pub method: UploadMethod,
    /// Headers to send with the PUT (e.g. `Content-Type: application/octet-stream`).
    /// Content-Length is the declared size.
    pub headers: BTreeMap<String, String>,
    /// The upload must be sent and used by a response before this instant.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// How an upload's bytes are sent: always `PUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum UploadMethod {
    #[serde(rename = "PUT")]
    Put,
}

#[derive(Debug, Serialize, Deserialize)]
struct Ticket {
    name: String,
    size: u64,
}

#[derive(Debug, Error)]
pub enum UploadError {
    #[error("there is no upload {0} for this consultation")]
    Unknown(String),
    #[error("upload {0} expired at {1}; upload the file again")]
    Expired(String, Timestamp),
    #[error("upload {0} has not been received yet: send the file to its url first")]
    NotReceived(String),
    #[error("upload {0} was received already")]
    AlreadyReceived(String),
    #[error("upload {0} was used by a response already")]
    AlreadyUsed(String),
    #[error("upload {0} is named twice")]
    Repeated(String),
    #[error("{0}")]
    Invalid(Text),
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("receiving an upload: {0}")]
    Io(#[from] std::io::Error),
}

impl From<SpoolError> for UploadError {
    fn from(e: SpoolError) -> Self {
        match e {
            SpoolError::TooLarge(t) => Self::TooLarge(t),
            SpoolError::Io(io) => Self::Io(io),
        }
    }
}

/// Grants, receives (locally) and hands over staged uploads.
pub struct Uploads {
    /// Where staged files and their tickets are kept (never published).
    pub store: Arc<dyn ObjectStore>,
    pub staging: Arc<dyn UploadStaging>,
    pub intake: Arc<Intake>,
    pub clock: Arc<dyn Clock>,
}

fn key(consultation: &ConsultationId, id: &UploadId, part: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(format!("staging/{consultation}/{id}/{part}"))
        .map_err(|e| StoreError::backend("naming a staged upload", e))
}

/// The object key a client's PUT writes (what the S3 presigned URL is signed for).
pub fn file_key(consultation: &ConsultationId, id: &UploadId) -> Result<ObjectKey, StoreError> {
    key(consultation, id, "file")
}

const OCTETS: &str = "application/octet-stream";

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: OCTETS.to_owned(),
        content_disposition: None,
    }
}

impl Uploads {
    /// Grants an upload of `size` bytes named `name`, if the consultation is open and the file
    /// is within the limits for one file.
    pub async fn grant(
        &self,
        consultation: &ConsultationId,
        name: &str,
        size: u64,
        limits: Limits,
    ) -> Result<Grant, UploadError> {
        self.intake.check_accepting(consultation).await?;
        if name.trim().is_empty()
            || name.len() > MAX_NAME_BYTES
            || name.chars().any(char::is_control)
        {
            return Err(UploadError::Invalid(Text::with(
                "err_upload_name",
                [("count", Arg::count(MAX_NAME_BYTES))],
            )));
        }
        if size == 0 {
            return Err(UploadError::Invalid(Text::with(
                "err_file_empty",
                [("file", Arg::plain(name))],
            )));
        }
        if size > limits.max_file_bytes {
            return Err(file_too_large(name, limits.max_file_bytes).into());
        }
        let expires_at = self.clock.now() + UPLOAD_LIFETIME;
        let id = UploadId::new(expires_at);
        let ticket = serde_json::to_vec(&Ticket {
            name: name.to_owned(),
            size,
        })
        .expect("a ticket serializes");
        self.store
            .put(
                &key(consultation, &id, "ticket")?,
                Body::Bytes(ticket.into()),
                &meta(),
                PutMode::CreateNew,
            )
            .await?;
        let presigned = self
            .staging
            .presign_put(
                consultation,
                &id,
                &file_key(consultation, &id)?,
                size,
                UPLOAD_LIFETIME.unsigned_abs(),
            )
            .await?;
        Ok(Grant {
            upload: id.to_string(),
            url: presigned.url,
            method: UploadMethod::Put,
            headers: presigned.headers,
            expires_at: id.expires_at(),
        })
    }

    /// A granted upload's ticket, if it exists and has not expired.
    async fn ticket(
        &self,
        consultation: &ConsultationId,
        raw: &str,
    ) -> Result<(UploadId, Ticket), UploadError> {
        let id = UploadId::parse(raw).ok_or_else(|| UploadError::Unknown(raw.to_owned()))?;
        let object = self
            .store
            .get(&key(consultation, &id, "ticket")?)
            .await?
            .ok_or_else(|| UploadError::Unknown(raw.to_owned()))?;
        if self.clock.now() > id.expires_at() {
            return Err(UploadError::Expired(raw.to_owned(), id.expires_at()));
        }
        let bytes = object.into_bytes().await?;
        let ticket: Ticket = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::backend("reading an upload ticket", e))?;
        Ok((id, ticket))
    }

    /// The local host's end of a presigned PUT: the body must be exactly the declared size.
    pub async fn receive(
        &self,
        consultation: &ConsultationId,
        raw: &str,
        body: &mut ByteStream,
    ) -> Result<(), UploadError> {
        let (id, ticket) = self.ticket(consultation, raw).await?;
        let target = file_key(consultation, &id)?;
        if self.store.get(&target).await?.is_some() {
            return Err(UploadError::AlreadyReceived(raw.to_owned()));
        }
        let declared = Limits {
            max_file_bytes: ticket.size,
            max_files: 1,
            max_total_bytes: ticket.size,
            max_field_bytes: 0,
        };
        let mut budget = Budget::new(declared);
        let mut spool = Spool::create(ticket.name.clone())?;
        while let Some(chunk) = body.try_next().await? {
            match spool.write_within(&chunk, &mut budget).await {
                Err(SpoolError::TooLarge(_)) => {
                    return Err(TooLarge(Text::with(
                        "err_upload_larger_than_announced",
                        [
                            ("file", Arg::Plain(ticket.name.clone())),
                            ("count", Arg::Count(ticket.size)),
                        ],
                    ))
                    .into());
                }
                other => other?,
            }
        }
        let file = spool.finish(ticket.name.clone()).await?;
        if file.size != ticket.size {
            return Err(UploadError::Invalid(Text::with(
                "err_upload_incomplete",
                [
                    ("file", Arg::Plain(ticket.name.clone())),
                    ("count", Arg::Count(ticket.size)),
                    ("arrived", Arg::plain(file.size)),
                ],
            )));
        }
        match self
            .store
            .put(&target, file.body(), &meta(), PutMode::CreateNew)
            .await
        {
            Err(StoreError::Conflict(_)) => Err(UploadError::AlreadyReceived(raw.to_owned())),
            other => Ok(other?),
        }
    }

    /// Reads the named uploads into spooled files, within the response's `budget` (which may
    /// already count its text). Nothing is marked used: see [`Uploads::claim`]. An upload
    /// used already is refused, unless by `repeatable`: a response sent again under its
    /// `Idempotency-Key` takes its own uploads again.
    pub async fn take(
        &self,
        consultation: &ConsultationId,
        ids: &[String],
        budget: &mut Budget,
        repeatable: Option<&ResponseId>,
    ) -> Result<Vec<SpooledFile>, UploadError> {
        let mut files = Vec::with_capacity(ids.len());
        for (n, raw) in ids.iter().enumerate() {
            if ids[..n].contains(raw) {
                return Err(UploadError::Repeated(raw.clone()));
            }
            let (id, ticket) = self.ticket(consultation, raw).await?;
            if let Some(user) = self.used_by(consultation, &id).await?
                && !is_repeated_by(&user, repeatable)
            {
                return Err(UploadError::AlreadyUsed(raw.clone()));
            }
            let object = self
                .store
                .get(&file_key(consultation, &id)?)
                .await?
                .ok_or_else(|| UploadError::NotReceived(raw.clone()))?;
            budget.start_file()?;
            let mut spool = Spool::create(ticket.name.clone())?;
            let mut body = object.body;
            while let Some(chunk) = body.try_next().await? {
                spool.write_within(&chunk, budget).await?;
            }
            files.push(spool.finish(ticket.name).await?);
        }
        Ok(files)
    }

    /// Marks the uploads used, so no other response can take them (a `repeatable` response
    /// is named in the mark: see [`Uploads::take`]). Called once the response is otherwise
    /// valid, just before it is stored.
    pub async fn claim(
        &self,
        consultation: &ConsultationId,
        ids: &[String],
        repeatable: Option<&ResponseId>,
    ) -> Result<(), UploadError> {
        let user = repeatable.map_or_else(Bytes::new, |id| Bytes::from(id.to_string()));
        for raw in ids {
            let id = UploadId::parse(raw).ok_or_else(|| UploadError::Unknown(raw.clone()))?;
            match self
                .store
                .put(
                    &key(consultation, &id, "used")?,
                    Body::Bytes(user.clone()),
                    &meta(),
                    PutMode::CreateNew,
                )
                .await
            {
                Err(StoreError::Conflict(_)) => {
                    let used_by = self.used_by(consultation, &id).await?;
                    if !used_by.is_some_and(|user| is_repeated_by(&user, repeatable)) {
                        return Err(UploadError::AlreadyUsed(raw.clone()));
                    }
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// The mark of a used upload (empty, or the id of the repeatable response that used it);
    /// `None` while unused.
    async fn used_by(
        &self,
        consultation: &ConsultationId,
        id: &UploadId,
    ) -> Result<Option<Bytes>, UploadError> {
        let Some(object) = self.store.get(&key(consultation, id, "used")?).await? else {
            return Ok(None);
        };
        let mut mark = Vec::new();
        let mut body = object.body;
        while let Some(chunk) = body.try_next().await? {
            mark.extend_from_slice(&chunk);
            if mark.len() > 64 {
                break; // a response id is 36 bytes: anything longer names no response
            }
        }
        Ok(Some(mark.into()))
    }
}

/// Whether a used upload's `mark` names `repeatable`.
fn is_repeated_by(mark: &[u8], repeatable: Option<&ResponseId>) -> bool {
    repeatable.is_some_and(|id| mark == id.as_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_anything_else() {
        let id = UploadId::new(Timestamp::from_second(1_800_000_000).unwrap());
        let parsed = UploadId::parse(&id.to_string()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.expires_at().as_second(), 1_800_000_000);
        assert_ne!(
            UploadId::new(Timestamp::UNIX_EPOCH),
            UploadId::new(Timestamp::UNIX_EPOCH)
        );
        for bad in [
            "",
            "-",
            "1800000000",
            "1800000000-",
            "x-0123456789abcdef0123456789abcdef",
            "1800000000-0123456789ABCDEF0123456789ABCDEF",
            "1800000000-0123456789abcdef0123456789abcde",
            "1800000000-0123456789abcdef0123456789abcdef/../x",
        ] {
            assert!(UploadId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
