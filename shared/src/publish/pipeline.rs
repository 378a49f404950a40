//! The publication pipeline: what becomes of a consultation once responses arrive or the
//! Secretariat changes it, the same on both hosts.
//!
//! Its steps, in order: **number** what is pending (the sequencer), **publish** what is
//! numbered (originals, pages, manifests, the log) and mail the consultation's list, **read**
//! (each response's page and text, and the search index when due), and mail the Group's
//! **outcome** to those who asked for it. The hosts only decide *when* each step runs: on AWS the
//! table's stream and a schedule invoke `functions/publish` ([`Pipeline::on_changes`],
//! [`Pipeline::sweep`]); locally `verbatim serve`'s worker runs the steps from its queues and
//! timers, one consultation at a time each, so that a rush makes batches (`src/worker.rs`).

use std::sync::Arc;

use thiserror::Error;
use tokio::time::Instant;
use tracing::Instrument;

use super::turn::Turn;
use super::{PublishError, Publisher, READ_NOW_AT_MOST};
use crate::domain::ConsultationId;
use crate::email::list::{EmailList, ListError};
use crate::email::outcome::OutcomeMailed;
use crate::ports::{ConsultationRecord, StoreError};
use crate::search::{Refresh, SearchIndex};

pub struct Pipeline {
    pub publisher: Arc<Publisher>,
    pub list: Arc<EmailList>,
    pub search: Arc<SearchIndex>,
}

#[derive(Debug, Error)]
pub enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error("the email list: {0}")]
    List(#[from] ListError),
}

/// What a run over several consultations could not do; it went on for the others. The host
/// retries: the stream redelivers its batch, the schedule comes back in a minute (every step is
/// resumable and idempotent).
#[derive(Debug, Error)]
pub enum Failed {
    #[error("listing consultations: {0}")]
    Listing(StoreError),
    #[error("{step} failed for {}", names(.consultations))]
    Consultations {
        step: &'static str,
        consultations: Vec<ConsultationId>,
    },
}

fn names(ids: &[ConsultationId]) -> String {
    ids.iter()
        .map(|id| id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Pipeline {
    /// Numbers what is pending; returns how many (0 also when another process's sequencer
    /// holds the consultation: see [`crate::sequencing::numbering`]).
    pub async fn number(&self, id: &ConsultationId) -> Result<u64, StoreError> {
        self.publisher.sequence(id).await
    }

    /// Publishes what is numbered and not yet public, then mails each newly published response
    /// to the consultation's list, both in the consultation's publication turn (one publisher
    /// at a time: see [`super::turn`]).
    pub async fn publish(&self, id: &ConsultationId) -> Result<(), StepError> {
        let turn = self.publisher.turn(id, super::turn::WAIT_FOR_TURN).await?;
        self.publish_in(id, turn).await
    }

    async fn publish_in(&self, id: &ConsultationId, turn: Turn) -> Result<(), StepError> {
        turn.run(async |turn| {
            self.publisher.publish_numbered_in(id, turn).await?;
            self.list.notify(id).await?;
            Ok(())
        })
        .await
    }

    /// The reading room: each response's page and text now when few wait, and the search
    /// index when due unless `hold` (see [`Publisher::refresh_reading`]).
    pub async fn read(
        &self,
        id: &ConsultationId,
        hold: Option<std::time::Duration>,
    ) -> Result<Refresh, PublishError> {
        self.publisher.refresh_reading(&self.search, id, hold).await
    }

    /// Mails the Group's latest outcome to the consultation's list and respondents, until
    /// `until`; a later run goes on where this one stopped.
    pub async fn mail_outcome(
        &self,
        id: &ConsultationId,
        until: Option<Instant>,
    ) -> Result<OutcomeMailed, ListError> {
        self.list.mail_outcome(id, until).await
    }

    /// The stream's batch on AWS: each consultation it names is numbered, published and mailed,
    /// and its responses' pages written unless a rush has many waiting (the minute's sweep
    /// writes those with the index). One that fails does not stop the others.
    pub async fn on_changes(
        &self,
        ids: impl IntoIterator<Item = ConsultationId>,
    ) -> Result<(), Failed> {
        let ids: Vec<_> = ids.into_iter().collect();
        self.each("publication", ids, |id| async move {
            self.number(&id).await?;
            self.publish(&id).await?;
            self.publisher
                .publish_readings(&id, Some(READ_NOW_AT_MOST))
                .await?;
            Ok(())
        })
        .await
    }

    /// The minute's sweep on AWS: backlogs the stream left, cosignatures that came late,
    /// search indexes, then outcome mailings until `until`. Each part runs whatever the others
    /// did.
    pub async fn sweep(&self, until: Instant) -> Result<(), Failed> {
        let records = self.listing().await?;
        let backlog = self.sweep_backlogs(&records).await;
        let cosigned = self.sweep_cosignatures(&records).await;
        let search = self.sweep_search(&records).await;
        let mail = self.sweep_outcome_mail(&records, until).await;
        backlog.and(cosigned).and(search).and(mail)
    }

    /// Each consultation's checkpoint is offered again to the witnesses that did not cosign it
    /// in time (down, slow, or resting after a failure), and published again with what they
    /// give: how a late cosignature reaches the site. Nothing to do without witnesses.
    pub async fn sweep_cosignatures(&self, records: &[ConsultationRecord]) -> Result<(), Failed> {
        if self.publisher.cosigning.is_none() {
            return Ok(());
        }
        self.each("cosigning", ids(records.iter()), |id| async move {
            self.publisher.refresh_cosignatures(&id).await?;
            Ok(())
        })
        .await
    }

    /// Every consultation, for a host's own periodic runs.
    pub async fn consultations(&self) -> Result<Vec<ConsultationRecord>, Failed> {
        self.listing().await
    }

    /// A backstop for the stream, whose filter never wakes publication on the sequencer's own
    /// writes: a backlog that a fenced-out sequencer left is numbered and published here at the
    /// latest, and so are responses numbered but not yet published (a run that gave up waiting
    /// for another's publication turn, a publisher that died). Nothing pending costs a query
    /// per pending partition and a read of the publication's mark; a sealed consultation the
    /// mark only (the closing set aside what it left pending).
    pub async fn sweep_backlogs(&self, records: &[ConsultationRecord]) -> Result<(), Failed> {
        self.each(
            "publishing a backlog",
            ids(records.iter()),
            |id| async move {
                let Some(record) = records.iter().find(|r| r.consultation.id == id) else {
                    return Ok(());
                };
                if !record.consultation.is_sealed() && self.number(&id).await? > 0 {
                    tracing::warn!("numbered a backlog the stream left; publishing it");
                    self.publish(&id).await?;
                    return Ok(());
                }
                let published = self.publisher.publication.published(&id).await?;
                let counted = record.response_count;
                if published < counted {
                    // Not while another publisher holds the turn (a rush's): it publishes them,
                    // and the next sweep looks again.
                    if let Some(turn) = self.publisher.turn_if_free(&id).await? {
                        tracing::warn!(
                            published,
                            counted,
                            "publishing responses numbered but not published"
                        );
                        self.publish_in(&id, turn).await?;
                    }
                }
                Ok(())
            },
        )
        .await
    }

    /// Every consultation's search index that misses published responses (a current one costs
    /// two reads).
    pub async fn sweep_search(&self, records: &[ConsultationRecord]) -> Result<(), Failed> {
        self.each("the search index", ids(records.iter()), |id| async move {
            if let Refresh::Built {
                responses,
                files_written,
                took,
            } = self.read(&id, None).await?
            {
                tracing::info!(
                    responses,
                    files_written,
                    ms = took.as_millis() as u64,
                    "search index built"
                );
            }
            Ok(())
        })
        .await
    }

    /// Each consultation's outcome mailing that is not finished goes on until `until` (one
    /// without an outcome costs nothing).
    pub async fn sweep_outcome_mail(
        &self,
        records: &[ConsultationRecord],
        until: Instant,
    ) -> Result<(), Failed> {
        let decided = records
            .iter()
            .filter(|r| !r.consultation.outcome.is_empty());
        self.each("mailing the outcome", ids(decided), |id| async move {
            self.mail_outcome(&id, Some(until)).await?;
            Ok(())
        })
        .await
    }

    async fn listing(&self) -> Result<Vec<ConsultationRecord>, Failed> {
        self.publisher
            .consultations
            .list()
            .await
            .map_err(Failed::Listing)
    }

    /// Runs `step` for each consultation in turn, in a span naming it; one that fails is logged
    /// and the others go on.
    async fn each<'a, F, Fut>(
        &'a self,
        what: &'static str,
        ids: Vec<ConsultationId>,
        step: F,
    ) -> Result<(), Failed>
    where
        F: Fn(ConsultationId) -> Fut,
        Fut: std::future::Future<Output = Result<(), StepError>> + 'a,
    {
        let mut failed = Vec::new();
        for id in ids {
            let span = tracing::info_span!("pipeline", step = what, consultation = %id);
            if let Err(e) = step(id.clone()).instrument(span).await {
                tracing::error!(consultation = %id, error = %e, "{what} failed");
                failed.push(id);
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Failed::Consultations {
                step: what,
                consultations: failed,
            })
        }
    }
}

fn ids<'r>(records: impl Iterator<Item = &'r ConsultationRecord>) -> Vec<ConsultationId> {
    records.map(|r| r.consultation.id.clone()).collect()
}
