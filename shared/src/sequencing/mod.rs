//! Sequencing: pending responses become numbered ones, and what can never be numbered is kept.
//!
//! The store numbers (see [`Responses::sequence`]); this use case owns the rule around it that
//! nothing received is ever deleted unkept. Once a consultation is sealed its set of responses
//! is final, and the closing seals only when nothing received in time is pending (see
//! `closing`). A response can still be found pending after the seal when its intake stored it
//! after the seal was read: that intake was past its in-flight grace, so it never acknowledged
//! it (it takes it back and answers that the response was too slow). Such a response is kept
//! privately with the reason, like late mail, at [`late_key`], before it is taken back.
//!
//! Where the numbers come from depends on the store: the embedded store numbers as it commits
//! (its committer thread is the one writer); DynamoDB receives first and numbers later, under
//! a lease that makes one sequencer per consultation across every process ([`numbering`]).

pub mod numbering;

use serde_json::json;

use crate::domain::{ConsultationId, NewResponse};
use crate::ports::{
    Body, Consultations, ObjectKey, ObjectMeta, ObjectStore, PutMode, Responses, StoreError,
};

/// Why a response pending after the seal was set aside (kept with it).
pub const LATE_REASON: &str = "stored after the closing was sealed: the set of responses for \
the Group's meeting was final, and the response was never acknowledged (its intake took longer \
than the in-flight grace)";

/// Where a response that could not be numbered is kept (private store): its record, with the
/// reason. Its files stay where intake put them (`originals/…`).
pub fn late_key(consultation: &ConsultationId, response: &NewResponse) -> String {
    let kept = crate::domain::kept::KeptReason::AfterSeal.prefix(consultation);
    format!("{kept}{}.json", response.id)
}

/// Numbers what is pending, then sets aside what a sealed consultation still has pending.
/// Returns how many responses were numbered.
pub async fn sequence(
    consultations: &dyn Consultations,
    responses: &dyn Responses,
    private: &dyn ObjectStore,
    id: &ConsultationId,
) -> Result<u64, StoreError> {
    let numbered = responses.sequence(id).await?;
    if let Some(record) = consultations.get(id).await?
        && record.consultation.is_sealed()
    {
        set_aside_late(responses, private, id).await?;
    }
    Ok(numbered)
}

/// Keeps each response still pending in a sealed consultation privately, with the reason,
/// then takes it back from the pending set. Kept first: a failure between the two leaves it
/// pending, and the next run keeps it again (create-only, so the first copy stays). Returns
/// how many were set aside. Call only once the consultation is sealed.
pub async fn set_aside_late(
    responses: &dyn Responses,
    private: &dyn ObjectStore,
    id: &ConsultationId,
) -> Result<usize, StoreError> {
    let mut set_aside = 0;
    for response in responses.pending(id).await? {
        let key = ObjectKey::parse(late_key(id, &response))
            .map_err(|e| StoreError::backend("naming a late response", e))?;
        let record = json!({ "reason": LATE_REASON, "response": response });
        let body = serde_json::to_vec_pretty(&record)
            .map_err(|e| StoreError::backend("encoding a late response", e))?;
        let meta = ObjectMeta {
            content_type: "application/json".to_owned(),
            content_disposition: None,
        };
        match private
            .put(&key, Body::Bytes(body.into()), &meta, PutMode::CreateNew)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(numbered) = responses.withdraw(id, &response.id).await? {
            // Cannot happen after the seal (nothing is numbered then); if it did, it is stored
            // and published like any other, and the kept copy is only a spare.
            tracing::error!(consultation = %id, response = %response.id, number = numbered.number, "a response set aside after the seal was numbered after all");
            continue;
        }
        tracing::warn!(consultation = %id, response = %response.id, key = key.as_str(), "a response pending after the seal was kept privately, not numbered");
        set_aside += 1;
    }
    Ok(set_aside)
}
