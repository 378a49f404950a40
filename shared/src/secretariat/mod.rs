//! What the Secretariat does: open consultations and move their deadlines (extensions,
//! corrections, reopening), and publish the Group's outcome (`outcome`). Every change is
//! audited; a change of deadline (re)schedules the closing.

pub mod documents;
pub mod kept;
pub mod outcome;
pub mod people;
pub mod records;
pub mod tally;

use std::sync::Arc;

use crate::domain::{
    Action, Actor, AuditEntry, ConsultationId, ConsultationRequest, DeadlineRequest,
    ValidationError,
};
use crate::ports::{
    Clock, CloseScheduler, ConsultationRecord, Consultations, ObjectStore, PublishQueue, StoreError,
};
use crate::secretariat::records::{ModifyError, modify};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("there is no consultation {0}")]
    NotFound(ConsultationId),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// A change that cannot be refused (its checks came before it) failing to commit.
    pub(crate) fn from_modify(e: ModifyError<std::convert::Infallible>) -> Self {
        match e {
            ModifyError::NotFound(id) => Self::NotFound(id),
            ModifyError::Store(s) => Self::Store(s),
            ModifyError::Refused(never) => match never {},
        }
    }
}

impl From<ModifyError<ValidationError>> for AdminError {
    fn from(e: ModifyError<ValidationError>) -> Self {
        match e {
            ModifyError::NotFound(id) => Self::NotFound(id),
            ModifyError::Refused(v) => Self::Invalid(v),
            ModifyError::Store(s) => Self::Store(s),
        }
    }
}

pub struct Secretariat {
    pub consultations: Arc<dyn Consultations>,
    pub clock: Arc<dyn Clock>,
    pub queue: Arc<dyn PublishQueue>,
    pub scheduler: Arc<dyn CloseScheduler>,
    /// Where the outcome's files are kept (the record) and published.
    pub private: Arc<dyn ObjectStore>,
    pub site: Arc<dyn ObjectStore>,
    /// The published responses, read (never changed) for the console's counts.
    pub responses: Arc<dyn crate::ports::Responses>,
    pub publication: Arc<dyn crate::ports::PublicationState>,
}

impl Secretariat {
    /// Opens a consultation; `by` is who asked, when the deployment knows (see
    /// [`AuditEntry::by`]).
    pub async fn open(
        &self,
        request: ConsultationRequest,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        let now = self.clock.now();
        let consultation = request.into_consultation(now)?;
        self.consultations
            .create(&consultation, &AuditEntry::created(&consultation, by))
            .await?;
        self.after_change(&consultation.id, consultation.deadline)
            .await?;
        tracing::info!(consultation = %consultation.id, "consultation opened");
        Ok(ConsultationRecord {
            consultation,
            response_count: 0,
            version: 0,
        })
    }

    /// Moves the deadline; a closed consultation is reopened with the new deadline.
    pub async fn move_deadline(
        &self,
        id: &ConsultationId,
        request: DeadlineRequest,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        let now = self.clock.now();
        let record = modify(self.consultations.as_ref(), id, |c| {
            let change = c.change_deadline(request.clone(), now)?;
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::Secretariat,
                by: by.clone(),
                action: if change.reopened {
                    Action::Reopened
                } else {
                    Action::DeadlineChanged
                },
                details: serde_json::to_value(&change).unwrap_or_default(),
            }))
        })
        .await?;
        self.after_change(id, record.consultation.deadline).await?;
        tracing::info!(consultation = %id, deadline = %record.consultation.deadline, "deadline moved");
        Ok(record)
    }

    pub async fn audit_log(&self, id: &ConsultationId) -> Result<Vec<AuditEntry>, AdminError> {
        if self.consultations.get(id).await?.is_none() {
            return Err(AdminError::NotFound(id.clone()));
        }
        Ok(self.consultations.audit_log(id).await?)
    }

    /// Keeps a file the Secretariat publishes privately at `private` (the record), then puts
    /// its public copy at `public` on the site; both create-only (each upload has a fresh
    /// folder), so what the record will name is already on the site when it commits.
    async fn store_published(
        &self,
        private: String,
        public: String,
        file: &crate::domain::PublishedFile,
        body: &crate::ports::Body,
    ) -> Result<(), StoreError> {
        use crate::ports::{ObjectKey, ObjectMeta, PutMode};
        let key = |raw: String| {
            ObjectKey::parse(raw).map_err(|e| StoreError::backend("naming a published file", e))
        };
        let meta = ObjectMeta {
            content_type: file.media_type.clone(),
            content_disposition: None,
        };
        self.private
            .put(&key(private)?, body.clone(), &meta, PutMode::CreateNew)
            .await?;
        let public = key(public)?;
        let meta = crate::site::site_meta(public.as_str());
        self.site
            .put(&public, body.clone(), &meta, PutMode::CreateNew)
            .await
    }

    async fn after_change(
        &self,
        id: &ConsultationId,
        deadline: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        self.scheduler.schedule_closing(id, deadline).await?;
        self.queue.request(id);
        Ok(())
    }
}
