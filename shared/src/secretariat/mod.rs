//! What the Secretariat does: open consultations and move their deadlines (extensions,
//! corrections, reopening). Every change is audited and (re)schedules the closing.

pub mod people;
pub mod records;

use std::sync::Arc;

use crate::domain::{
    Action, Actor, AuditEntry, ConsultationId, ConsultationRequest, DeadlineRequest,
    ValidationError,
};
use crate::ports::{
    Clock, CloseScheduler, ConsultationRecord, Consultations, PublishQueue, StoreError,
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
