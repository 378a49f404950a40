//! The local host's background work: what the DynamoDB stream with the publish Lambda, and the
//! schedules with the close Lambda, do on AWS.
//!
//! Publication requests are coalesced per consultation and handled one at a time, so a
//! consultation's publication is never concurrent with itself; failures are retried after a
//! pause. Closing runs on a timer that sweeps every consultation twice a second.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use shared::closing::Closer;
use shared::domain::ConsultationId;
use shared::email::list::EmailList;
use shared::ports::PublishQueue;
use shared::publish::Publisher;
use tokio::sync::mpsc;

const RETRY_AFTER: Duration = Duration::from_secs(2);
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
/// Each published response then goes to the consultation's email list.
pub fn start(publisher: Arc<Publisher>, list: Arc<EmailList>) -> Arc<dyn PublishQueue> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<ConsultationId>();
    let retry = sender.clone();
    tokio::spawn(async move {
        if let Err(e) = publisher.publish_all().await {
            tracing::error!(error = %e, "catching up on publication at start-up");
        }
        if let Err(e) = list.notify_all().await {
            tracing::error!(error = %e, "catching up on the email lists at start-up");
        }
        while let Some(first) = receiver.recv().await {
            let mut pending = BTreeSet::from([first]);
            while let Ok(more) = receiver.try_recv() {
                pending.insert(more);
            }
            for id in pending {
                let result = match publisher.publish(&id).await {
                    Ok(_) => list
                        .notify(&id)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = result {
                    tracing::error!(consultation = %id, error = %e, "publication failed; retrying");
                    let retry = retry.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(RETRY_AFTER).await;
                        let _ = retry.send(id);
                    });
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
