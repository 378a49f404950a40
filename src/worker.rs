//! The local publication worker: what the DynamoDB stream and the publish Lambda do on AWS.
//! Requests are coalesced per consultation and handled one at a time, so a consultation's
//! publication is never concurrent with itself. Failures are retried after a pause.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use shared::domain::ConsultationId;
use shared::ports::PublishQueue;
use shared::publish::Publisher;
use tokio::sync::mpsc;

const RETRY_AFTER: Duration = Duration::from_secs(2);

struct LocalQueue(mpsc::UnboundedSender<ConsultationId>);

impl PublishQueue for LocalQueue {
    fn request(&self, consultation: &ConsultationId) {
        // Only fails once the worker is gone, i.e. while shutting down; the next start
        // publishes whatever is pending.
        let _ = self.0.send(consultation.clone());
    }
}

/// Starts the worker; it first finishes whatever a previous run left unpublished.
pub fn start(publisher: Arc<Publisher>) -> Arc<dyn PublishQueue> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<ConsultationId>();
    let retry = sender.clone();
    tokio::spawn(async move {
        if let Err(e) = publisher.publish_all().await {
            tracing::error!(error = %e, "catching up on publication at start-up");
        }
        while let Some(first) = receiver.recv().await {
            let mut pending = BTreeSet::from([first]);
            while let Ok(more) = receiver.try_recv() {
                pending.insert(more);
            }
            for id in pending {
                if let Err(e) = publisher.publish(&id).await {
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
