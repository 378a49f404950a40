//! The local host's background work: what the DynamoDB stream with the publish Lambda, and the
//! schedules with the close Lambda, do on AWS. The steps are the publication pipeline's
//! ([`Pipeline`]); this decides when each runs.
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
use shared::ports::PublishQueue;
use shared::publish::health::PublicationHealth;
use shared::publish::pipeline::Pipeline;
use shared::search::Refresh;
use tokio::sync::{mpsc, watch};

/// Publication runs at most this often; responses that arrive meanwhile form the next batch.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// A sequencing run that failed (a store error) is tried again after this.
const SEQUENCE_RETRY: Duration = Duration::from_secs(1);
/// A search index build that failed (a store error) is tried again after this.
const INDEX_RETRY: Duration = Duration::from_secs(10);
/// A due rebuild of the search index waits until a consultation's publication has paused this
/// long: a rebuild reads every response and takes a core for seconds, which on one machine a
/// rush needs for intake. A rush that does not pause holds it at most the rebuild interval.
const SETTLE: Duration = Duration::from_secs(2);
/// Sweeping this often closes a consultation within a second of its deadline.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// How often checkpoints are offered again to witnesses that did not cosign them in time.
const COSIGN_AGAIN_EVERY: Duration = Duration::from_secs(10);
/// The longest a run of an outcome's mailing goes before the next consultation's turn.
const MAIL_RUN: Duration = Duration::from_secs(30);
/// The pause before a failed run of an outcome's mailing is tried again.
const MAIL_RETRY: Duration = Duration::from_secs(30);

struct LocalQueue {
    requests: mpsc::UnboundedSender<ConsultationId>,
    /// Bumped after each sequencing run, so intake looks at a pending response when it may
    /// have been numbered rather than polling the store.
    sequenced: watch::Receiver<u64>,
}

#[async_trait::async_trait]
impl PublishQueue for LocalQueue {
    fn request(&self, consultation: &ConsultationId) {
        // Only fails once the worker is gone, i.e. while shutting down; the next start
        // publishes whatever is pending.
        let _ = self.requests.send(consultation.clone());
    }

    async fn sequenced(&self, _consultation: &ConsultationId, at_most: Duration) {
        let mut sequenced = self.sequenced.clone();
        sequenced.mark_unchanged();
        let _ = tokio::time::timeout(at_most, sequenced.changed()).await;
    }
}

/// Starts the worker; it first finishes whatever a previous run left unpublished or unsent.
///
/// Two loops, each taking the requests that piled up while it worked (coalesced per
/// consultation, so a rush costs one run per batch, not one per response): the sequencer
/// numbers what is pending and tells intake at once; publication then writes the pages and
/// mails the list, so a waiting submitter never waits for the pages. A consultation whose
/// publication fails is retried after a pause that grows with each failure (see
/// [`PublicationHealth`]); the others go on meanwhile.
pub fn start(pipeline: Arc<Pipeline>, health: Arc<PublicationHealth>) -> Arc<dyn PublishQueue> {
    let (sender, requests) = mpsc::unbounded_channel::<ConsultationId>();
    let (to_index, index_requests) = mpsc::unbounded_channel::<(ConsultationId, Wake)>();
    tokio::spawn(index(pipeline.clone(), index_requests, to_index.clone()));
    let (to_mail, mail_requests) = mpsc::unbounded_channel::<ConsultationId>();
    tokio::spawn(mail_outcomes(
        pipeline.clone(),
        mail_requests,
        to_mail.clone(),
    ));
    let (to_publish, publish_requests) = mpsc::unbounded_channel::<ConsultationId>();
    let (bump, sequenced) = watch::channel(0u64);
    tokio::spawn(sequence(
        pipeline.clone(),
        requests,
        sender.clone(),
        bump,
        to_publish.clone(),
    ));
    if pipeline.publisher.cosigning.is_some() {
        tokio::spawn(cosign_again(pipeline.clone()));
    }
    let catch_up = sender.clone();
    tokio::spawn(async move {
        // At start-up each consultation is caught up on its own (whatever a previous run left
        // pending or unpublished), so one that cannot be published is retried alone and does
        // not stop the others.
        let publisher = &pipeline.publisher;
        if let Err(e) = publisher.publish_assets().await {
            tracing::error!(error = %e, "publishing the site's assets at start-up");
        }
        if let Err(e) = publisher.publish_index().await {
            tracing::error!(error = %e, "publishing the front page at start-up");
        }
        match publisher.consultations.list().await {
            Ok(records) => {
                for record in records {
                    let _ = catch_up.send(record.consultation.id);
                }
            }
            Err(e) => tracing::error!(error = %e, "listing consultations at start-up"),
        }
        publish(
            pipeline,
            health,
            publish_requests,
            Queues {
                retry: to_publish,
                index: to_index,
                mail: to_mail,
            },
        )
        .await;
    });
    Arc::new(LocalQueue {
        requests: sender,
        sequenced,
    })
}

/// Every request that came while the last run worked, once each.
async fn next_batch<T: Ord>(receiver: &mut mpsc::UnboundedReceiver<T>) -> Option<BTreeSet<T>> {
    let first = receiver.recv().await?;
    let mut batch = BTreeSet::from([first]);
    while let Ok(more) = receiver.try_recv() {
        batch.insert(more);
    }
    Some(batch)
}

/// The sequencer: numbers each requested consultation's pending responses, wakes intake's
/// waiters, then asks for publication.
async fn sequence(
    pipeline: Arc<Pipeline>,
    mut requests: mpsc::UnboundedReceiver<ConsultationId>,
    retry: mpsc::UnboundedSender<ConsultationId>,
    bump: watch::Sender<u64>,
    to_publish: mpsc::UnboundedSender<ConsultationId>,
) {
    while let Some(batch) = next_batch(&mut requests).await {
        for id in batch {
            let started = Instant::now();
            match pipeline.number(&id).await {
                Ok(0) => {
                    // Another sequencer holds the consultation's lease (a store shared with
                    // other processes): it numbers what is pending, unless it died, in which
                    // case its lease expires and a later try here takes over.
                    if matches!(pipeline.publisher.responses.pending(&id).await, Ok(p) if !p.is_empty())
                    {
                        let retry = retry.clone();
                        let id = id.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(SEQUENCE_RETRY).await;
                            let _ = retry.send(id);
                        });
                    }
                }
                Ok(numbered) => {
                    tracing::info!(consultation = %id, numbered, ms = started.elapsed().as_millis() as u64, "sequenced");
                }
                Err(e) => {
                    tracing::error!(consultation = %id, error = %e, "sequencing failed; retrying");
                    let retry = retry.clone();
                    let id = id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(SEQUENCE_RETRY).await;
                        let _ = retry.send(id);
                    });
                }
            }
            bump.send_modify(|generation| *generation += 1);
            let _ = to_publish.send(id);
        }
    }
}

/// Where publication hands a consultation on.
struct Queues {
    /// Itself, after a pause, when publication failed.
    retry: mpsc::UnboundedSender<ConsultationId>,
    /// The reading room's task.
    index: mpsc::UnboundedSender<(ConsultationId, Wake)>,
    /// The outcome's mailing.
    mail: mpsc::UnboundedSender<ConsultationId>,
}

/// Publication and the email list, with a growing pause for a consultation that keeps failing.
async fn publish(
    pipeline: Arc<Pipeline>,
    health: Arc<PublicationHealth>,
    mut requests: mpsc::UnboundedReceiver<ConsultationId>,
    queues: Queues,
) {
    while let Some(batch) = next_batch(&mut requests).await {
        let round = Instant::now();
        for id in batch {
            // Pausing after failures: the retry already planned will come.
            if health.is_pausing(&id, Instant::now()) {
                continue;
            }
            let started = Instant::now();
            let published = pipeline.publish(&id).await;
            tracing::info!(consultation = %id, ms = started.elapsed().as_millis() as u64, ok = published.is_ok(), "published");
            match published.map_err(|e| e.to_string()) {
                Ok(()) => {
                    health.succeeded(&id);
                    let _ = queues.mail.send(id.clone());
                    let _ = queues.index.send((id, Wake::Published));
                }
                Err(e) => {
                    let pause = health.failed(&id, e, Instant::now(), Timestamp::now());
                    let retry = queues.retry.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(pause).await;
                        let _ = retry.send(id);
                    });
                }
            }
        }
        // A rush makes batches, not a run per response: what arrives meanwhile waits for the
        // next round (a page run costs the same for one response as for a thousand).
        tokio::time::sleep(PUBLISH_EVERY.saturating_sub(round.elapsed())).await;
    }
}

/// The Group's outcome, mailed in a task of its own: a mailing paced at the mailer's rate takes
/// minutes for a large list, which publication must not wait for. Each run mails for at most
/// [`MAIL_RUN`], keeps its progress and hands the consultation back, so that the mailings of
/// several consultations take turns. A run that fails is tried again after [`MAIL_RETRY`].
async fn mail_outcomes(
    pipeline: Arc<Pipeline>,
    mut requests: mpsc::UnboundedReceiver<ConsultationId>,
    again: mpsc::UnboundedSender<ConsultationId>,
) {
    while let Some(batch) = next_batch(&mut requests).await {
        for id in batch {
            let until = tokio::time::Instant::now() + MAIL_RUN;
            match pipeline.mail_outcome(&id, Some(until)).await {
                Ok(run) if run.finished => {}
                Ok(_) => {
                    let _ = again.send(id);
                }
                Err(e) => {
                    tracing::error!(consultation = %id, error = %e, "mailing the outcome failed; retrying");
                    let again = again.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(MAIL_RETRY).await;
                        let _ = again.send(id);
                    });
                }
            }
        }
    }
}

/// Why the reading room's task looks at a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    /// A publication round just published some of its responses.
    Published,
    /// A rebuild that was not due, or held, may be due now.
    Recheck,
}

/// What the reading room's task remembers of a consultation's publication, to hold a due
/// rebuild while a rush goes on (see [`SETTLE`]).
#[derive(Debug, Default)]
struct Pace {
    last_published: Option<Instant>,
    /// When a rebuild was first found due and held.
    held_since: Option<Instant>,
}

impl Pace {
    /// How much longer a due rebuild waits: `None` once publication has paused for
    /// [`SETTLE`], or once it has been held for `at_most`.
    fn hold(&self, now: Instant, at_most: Duration) -> Option<Duration> {
        let since_published = now.duration_since(self.last_published?);
        let held = self
            .held_since
            .map_or(Duration::ZERO, |t| now.duration_since(t));
        (since_published < SETTLE && held < at_most)
            .then(|| (SETTLE - since_published).min(at_most - held))
    }
}

/// The reading room, after publication and on its own task so that it never delays it: each
/// response's page and extracted text (at once when few wait; in a rush, with the index), and
/// the search index when due (at most once a minute while responses arrive, see
/// [`shared::search::SearchIndex::refresh`], and held while a rush goes on, see [`SETTLE`]); a rebuild that is
/// not yet due, or held, is looked at again when it may be.
async fn index(
    pipeline: Arc<Pipeline>,
    mut requests: mpsc::UnboundedReceiver<(ConsultationId, Wake)>,
    again: mpsc::UnboundedSender<(ConsultationId, Wake)>,
) {
    // When each consultation's next look is already planned: one timer each, not one per
    // publication.
    let mut planned = std::collections::BTreeMap::<ConsultationId, Instant>::new();
    let mut paces = std::collections::BTreeMap::<ConsultationId, Pace>::new();
    let plan = |planned: &mut std::collections::BTreeMap<ConsultationId, Instant>,
                id: &ConsultationId,
                wait: Duration| {
        let now = Instant::now();
        if planned.get(id).is_none_or(|due| *due <= now) {
            planned.insert(id.clone(), now + wait);
            let again = again.clone();
            let id = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = again.send((id, Wake::Recheck));
            });
        }
    };
    while let Some(batch) = next_batch(&mut requests).await {
        let mut looks = std::collections::BTreeMap::<ConsultationId, bool>::new();
        for (id, wake) in batch {
            *looks.entry(id).or_default() |= wake == Wake::Published;
        }
        for (id, published) in looks {
            let pace = paces.entry(id.clone()).or_default();
            let now = Instant::now();
            if published {
                pace.last_published = Some(now);
            }
            let hold = pace.hold(now, pipeline.search.rebuild_every);
            match pipeline.read(&id, hold).await {
                Ok(Refresh::UpToDate) => pace.held_since = None,
                Ok(Refresh::NotDue(wait)) => {
                    pace.held_since = None;
                    plan(&mut planned, &id, wait);
                }
                Ok(Refresh::Held(wait)) => {
                    pace.held_since.get_or_insert(now);
                    plan(&mut planned, &id, wait);
                }
                Ok(Refresh::Built {
                    responses,
                    files_written,
                    took,
                }) => {
                    pace.held_since = None;
                    tracing::info!(consultation = %id, responses, files_written, ms = took.as_millis() as u64, "search index built");
                }
                Err(e) => {
                    tracing::error!(consultation = %id, error = %e, "building the search index failed; retrying");
                    let again = again.clone();
                    let id = id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(INDEX_RETRY).await;
                        let _ = again.send((id, Wake::Recheck));
                    });
                }
            }
        }
    }
}

/// Late cosignatures: every [`COSIGN_AGAIN_EVERY`], each consultation's checkpoint goes again
/// to the witnesses missing from it (not those resting after a failure), and is published again
/// with what they give. Publication's own checkpoint writes are serialized with these (see
/// `transparency::cosigning`), so an older checkpoint never replaces a newer one.
async fn cosign_again(pipeline: Arc<Pipeline>) {
    let mut ticks = tokio::time::interval(COSIGN_AGAIN_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let swept = match pipeline.consultations().await {
            Ok(records) => pipeline.sweep_cosignatures(&records).await,
            Err(e) => Err(e),
        };
        if let Err(e) = swept {
            tracing::error!(error = %e, "asking witnesses again failed; retrying");
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{Duration, Instant, Pace, SETTLE};

    #[test]
    fn a_due_rebuild_waits_for_a_pause_in_publication_but_not_for_ever() {
        let start = Instant::now();
        let every = Duration::from_secs(60);
        let at = |s: u64| start + Duration::from_secs(s);
        // Never published: nothing to wait for.
        assert_eq!(Pace::default().hold(at(0), every), None);
        // Just published: wait for the pause.
        let mut pace = Pace {
            last_published: Some(at(10)),
            held_since: None,
        };
        assert_eq!(pace.hold(at(10), every), Some(SETTLE));
        assert_eq!(
            pace.hold(at(11), every),
            Some(SETTLE - Duration::from_secs(1))
        );
        // Paused long enough.
        assert_eq!(pace.hold(at(10) + SETTLE, every), None);
        // A rush that never pauses: held at most `every`.
        pace.held_since = Some(at(0));
        pace.last_published = Some(at(59));
        assert_eq!(pace.hold(at(59), every), Some(Duration::from_secs(1)));
        pace.last_published = Some(at(60));
        assert_eq!(pace.hold(at(60), every), None);
    }
}
