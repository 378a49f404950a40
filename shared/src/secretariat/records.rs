//! Read-modify-write of a consultation with optimistic concurrency: the admin API and the
//! closing both change consultations, possibly at the same moment, and neither may lose the
//! other's change.

use crate::domain::{AuditEntry, Consultation, ConsultationId};
use crate::ports::{ConsultationRecord, Consultations, StoreError};

const ATTEMPTS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ModifyError<E> {
    #[error("there is no consultation {0}")]
    NotFound(ConsultationId),
    /// The change itself was refused (e.g. a deadline in the past).
    #[error(transparent)]
    Refused(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `change` to the current consultation and stores it with the audit entry `change`
/// returns; re-reads and re-applies if another update came first. `change` returning
/// `Ok(None)` means there is nothing to do (the record is returned unchanged).
pub async fn modify<E>(
    store: &dyn Consultations,
    id: &ConsultationId,
    mut change: impl FnMut(&mut Consultation) -> Result<Option<AuditEntry>, E>,
) -> Result<ConsultationRecord, ModifyError<E>> {
    for _ in 0..ATTEMPTS {
        let mut record = store
            .get(id)
            .await?
            .ok_or_else(|| ModifyError::NotFound(id.clone()))?;
        let Some(audit) = change(&mut record.consultation).map_err(ModifyError::Refused)? else {
            return Ok(record);
        };
        match store
            .update(record.version, &record.consultation, &audit)
            .await
        {
            Ok(()) => {
                record.version += 1;
                return Ok(record);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::backend(
        format!("updating consultation {id}"),
        format!("still contended after {ATTEMPTS} attempts"),
    )
    .into())
}
