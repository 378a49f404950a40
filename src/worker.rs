//! The local host's background work: what the DynamoDB stream with the publish Lambda, and the
//! schedules with the close Lambda, do on AWS.
//!
//! Publication requests are coalesced per consultation and handled one at a time, so a
//! consultation's publication is never concurrent with itself; failures are retried after a
//! pause. Closing runs on a timer that sweeps every consultation twice a second.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use shared::closing::Closer;
use shared::domain::ConsultationId;
use shared::email::list::EmailList;
use shared::ports::PublishQueue;
use shared::publish::Publisher;
use shared::publish::health::PublicationHealth;
use tokio::sync::mpsc;

/// Sweeping this often closes a consultation within a second of its deadline.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

struct LocalQueue(mpsc::UnboundedSender<ConsultationId>);

impl PublishQueue for LocalQueue {
    fn request(&self, consultation: &ConsultationId) {
        // Only fails once the worker is gone, i.e. while shutting down; the next start
        // publishes whatever is pending.
        let _ = self.0.send(consultation.clone());
    }
}

/// Starts the worker; it first finishes whatever a previous run left unpublished or unsent.
/// Each published response then goes to the consultation's email list. A consultation whose
/// publication fails is retried after a pause that grows with each failure (see
/// [`PublicationHealth`]); the others go on meanwhile.
pub fn start(
    publisher: Arc<Publisher>,
    list: Arc<EmailList>,
    health: Arc<PublicationHealth>,
) -> Arc<dyn PublishQueue> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<ConsultationId>();
    let retry = sender.clone();
    tokio::spawn(async move {
        // At start-up each consultation is caught up on its own, so one that cannot be
        // published is retried alone and does not stop the others.
        if let Err(e) = publisher.publish_index().await {
            tracing::error!(error = %e, "publishing the front page at start-up");
        }
        match publisher.consultations.list().await {
            Ok(records) => {
                for record in records {
                    let _ = retry.send(record.consultation.id);
                }
            }
            Err(e) => tracing::error!(error = %e, "listing consultations at start-up"),
        }
        while let Some(first) = receiver.recv().await {
            let mut pending = BTreeSet::from([first]);
            while let Ok(more) = receiver.try_recv() {
                pending.insert(more);
            }
            for id in pending {
                // Pausing after failures: the retry already planned will come.
                if health.is_pausing(&id, Instant::now()) {
                    continue;
                }
                let result = match publisher.publish(&id).await {
                    Ok(_) => list
                        .notify(&id)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok(()) => health.succeeded(&id),
                    Err(e) => {
                        let pause = health.failed(&id, e, Instant::now(), Timestamp::now());
                        let retry = retry.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(pause).await;
                            let _ = retry.send(id);
                        });
                    }
                }
            }
        }
    });
    Arc::new(LocalQueue(sender))
}

/// Starts the closing timer.
pub fn start_closing(closer: Closer) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = closer.sweep().await {
                tracing::error!(error = %e, "closing sweep failed; retrying");
            }
        }
    });
}
