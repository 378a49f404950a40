//! One publisher per consultation at a time, across processes.
//!
//! On AWS several publish functions can work on one consultation at once: the table's stream
//! delivers a rush's new pending responses from many partitions to several shards, each its own
//! invocation, and the minute's sweep runs beside them. Two publishers that read different
//! counts would otherwise race on the files they overwrite — the consultation's last page, its
//! manifest and feeds, the log's checkpoint — and the one that read the older count could
//! write last: a checkpoint smaller than one already published (which a monitor takes for a
//! split view), a page missing responses, a response mailed to the list twice.
//!
//! So a publisher works in the consultation's **turn**, a lease the store holds
//! ([`PublicationState::take_turn`]). A run that finds the turn taken waits for it (the holder
//! usually finishes in seconds) and then publishes whatever is new itself, so no run's work is
//! left to another; a holder that died lets its turn expire, and the run waiting takes it over.
//! The holder renews its turn between pages and before the checkpoint, and stops if it was
//! taken over. The object store cannot check the turn's token as a table transaction can, so a
//! holder paused for longer than a turn lasts between a renewal and a write could still write
//! late: renewing before each page and before the checkpoint keeps that window to one write.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::PublishError;
use crate::domain::ConsultationId;
use crate::ports::{Lease, PublicationState, StoreError};

/// How long a turn runs unless renewed. A holder that dies (a process killed, a Lambda timed
/// out, a restart) holds publication up this long, so it is short; it is renewed before each
/// page of 100 responses and before the checkpoint, each a few seconds of work at most even
/// in a rush (a holder slower than that loses its turn and stops: its batch is retried).
pub const TURN_FOR: SignedDuration = SignedDuration::from_secs(10);
/// Renewed when less than this is left.
const RENEW_BELOW: SignedDuration = SignedDuration::from_secs(7);
/// How long a run waits for another's turn: several turns, so that one held by a holder that
/// died has expired by then, and a rush's publishers queued on one consultation (a stream
/// shard each) get theirs in turn rather than fail; well inside the publish function's 300 s
/// beside its numbering.
pub const WAIT_FOR_TURN: Duration = Duration::from_secs(60);
/// How often a waiting run asks again.
const ASK_EVERY: Duration = Duration::from_millis(200);

/// A consultation's publication turn, held.
pub struct Turn {
    state: Arc<dyn PublicationState>,
    lease: Lease,
}

impl Turn {
    /// Takes the consultation's turn, waiting up to `wait` while another holds it. `None`: it
    /// did not come in that time.
    pub async fn take(
        state: &Arc<dyn PublicationState>,
        consultation: &ConsultationId,
        wait: Duration,
    ) -> Result<Option<Turn>, StoreError> {
        let holder = uuid::Uuid::new_v4().to_string();
        let started = std::time::Instant::now();
        loop {
            let now = Timestamp::now();
            if let Some(lease) = state
                .take_turn(consultation, &holder, now, now + TURN_FOR)
                .await?
            {
                return Ok(Some(Turn {
                    state: state.clone(),
                    lease,
                }));
            }
            if started.elapsed() + ASK_EVERY > wait {
                return Ok(None);
            }
            tokio::time::sleep(ASK_EVERY).await;
        }
    }

    /// Renews the turn if little of it is left. [`PublishError::TurnLost`]: it was taken over
    /// (this holder was too slow to renew it), and the caller must stop writing.
    pub async fn keep(&mut self) -> Result<(), PublishError> {
        let now = Timestamp::now();
        if self.lease.expires_at - now >= RENEW_BELOW
            || self
                .state
                .renew_turn(&mut self.lease, now + TURN_FOR)
                .await?
        {
            return Ok(());
        }
        Err(PublishError::TurnLost(self.lease.consultation.clone()))
    }

    /// Runs `work` in this turn, then lets the turn go whether `work` succeeded or not, so the
    /// next publisher need not wait for it to expire.
    pub async fn run<T, E: From<StoreError>>(
        mut self,
        work: impl AsyncFnOnce(&mut Turn) -> Result<T, E>,
    ) -> Result<T, E> {
        let done = work(&mut self).await;
        let ended = self.state.end_turn(&self.lease).await;
        let value = done?;
        ended?;
        Ok(value)
    }
}
