//! The sequencer of a store that numbers after receiving (DynamoDB): one writer per
//! consultation, enforced by the store, not by a process.
//!
//! A run takes the consultation's lease (a conditional write: nobody else holds it, or its
//! holder let it expire), numbers what is pending in batches, each committed only while the
//! lease still carries the run's token, renews the lease as it goes, then lets it go. A run
//! that finds the lease taken returns at once: the holder numbers what is pending. That holds
//! for responses that arrive while it works too, because after letting the lease go the holder
//! looks once more and starts another turn if anything is pending: a run refused at time t saw
//! a lease released after t, so the holder's last look came after every response stored
//! before t. A holder that dies mid-run leaves its lease to expire ([`LEASE_FOR`]); the
//! publish function's minute backstop (and locally the worker, which tries again while a
//! refused run leaves responses pending) runs again after that.
//!
//! The closing asks for the same run before it seals: while another sequencer holds the
//! lease, it finds responses pending and tries again later; it never numbers beside it.

use jiff::{SignedDuration, Timestamp};

use crate::domain::ConsultationId;
use crate::ports::{Consultations, Lease, Numbering, Responses, StoreError};

/// How long a lease runs unless renewed: longer than a batch takes even when the store is
/// slow, short enough that a dead holder delays numbering by well under the minute backstop.
pub const LEASE_FOR: SignedDuration = SignedDuration::from_secs(30);
/// Renewed when less than this is left: a renewal every few batches, not every batch.
const RENEW_BELOW: SignedDuration = SignedDuration::from_secs(20);
/// Reads of the pending responses in one turn when a batch is fenced out (by the seal, or a
/// count moved by a sequencer of an older version that took no lease).
const PASSES: usize = 5;
/// How long one run keeps starting turns while responses keep arriving (each turn numbers what
/// came during the last): well inside the publish function's 300 s, which publishes after it.
/// What is still pending then wakes the next run (a new pending item on the stream, the
/// minute backstop).
const RUN_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// Numbers the consultation's pending responses if this run gets the lease. Returns how many
/// it numbered (0 when another sequencer holds the lease).
pub async fn number_pending<S>(store: &S, consultation: &ConsultationId) -> Result<u64, StoreError>
where
    S: Numbering + Consultations + Responses,
{
    let holder = uuid::Uuid::new_v4().to_string();
    let mut numbered = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < RUN_FOR {
        let now = Timestamp::now();
        let Some(mut lease) = store
            .take_lease(consultation, &holder, now, now + LEASE_FOR)
            .await?
        else {
            tracing::debug!(consultation = %consultation, "another sequencer holds the lease: it numbers what is pending");
            return Ok(numbered);
        };
        let turn = drain(store, &mut lease).await;
        let released = store.release_lease(&lease).await;
        let (count, go_on) = turn?;
        released?;
        numbered += count;
        if !go_on || !store.any_pending(consultation).await? {
            return Ok(numbered);
        }
    }
    Ok(numbered)
}

/// Numbers what is pending under `lease`, batch by batch, reading again when fenced out.
/// Returns how many it numbered and whether another turn may number more (not when sealed,
/// the lease lost, or fenced out every pass).
async fn drain<S>(store: &S, lease: &mut Lease) -> Result<(u64, bool), StoreError>
where
    S: Numbering + Consultations + Responses,
{
    let consultation = lease.consultation.clone();
    let mut numbered = 0;
    for _ in 0..PASSES {
        // A batch a stopped holder committed is written out before anything is read as
        // pending (its responses still are) or numbered after it.
        numbered += store.finish_committed(lease).await?;
        let pending = store.pending(&consultation).await?;
        if pending.is_empty() {
            return Ok((numbered, true));
        }
        let Some(mut record) = store.get(&consultation).await? else {
            return Ok((numbered, false));
        };
        if record.consultation.is_sealed() {
            // Never deleted here: they may have been acknowledged. The caller keeps each
            // privately, then takes it back (`sequencing::set_aside_late`).
            tracing::warn!(consultation = %consultation, pending = pending.len(), "responses pending after the seal are left for setting aside");
            return Ok((numbered, false));
        }
        let mut fenced = false;
        for batch in pending.chunks(S::MAX_BATCH) {
            let now = Timestamp::now();
            if lease.expires_at - now < RENEW_BELOW
                && !store.renew_lease(lease, now + LEASE_FOR).await?
            {
                tracing::warn!(consultation = %consultation, token = lease.token, "the sequencer's lease was taken over: stopping");
                return Ok((numbered, false));
            }
            if store.number_batch(&record, lease, batch).await? {
                numbered += batch.len() as u64;
                record.response_count += batch.len() as u64;
            } else {
                fenced = true;
                break;
            }
        }
        if !fenced {
            return Ok((numbered, true));
        }
        // Fenced out: by the seal or a moved count (read again), or the lease was taken over.
        let now = Timestamp::now();
        if !store.renew_lease(lease, now + LEASE_FOR).await? {
            tracing::warn!(consultation = %consultation, token = lease.token, "the sequencer's lease was taken over: stopping");
            return Ok((numbered, false));
        }
    }
    Ok((numbered, false))
}
