//! The public JSON shape of a consultation, shared by the read API and the site's manifest.

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::deadline::rfc3339_geneva;
use crate::domain::site_paths;
use crate::domain::{DeadlineChange, DeadlineRule, Localized, Status};
use crate::ports::ConsultationRecord;

#[derive(Debug, Clone, Serialize)]
pub struct ConsultationView {
    pub id: String,
    pub title: Localized,
    pub questions: Vec<Localized>,
    pub meeting_date: String,
    /// RFC 3339 in Geneva time, with its offset.
    pub opens_at: String,
    /// RFC 3339 in Geneva time, with its offset: the last instant a response is on time.
    pub deadline: String,
    pub deadline_rule: DeadlineRule,
    pub status: Status,
    pub response_count: u64,
    /// The consultation's public page.
    pub url: String,
    /// The machine-readable list of its responses.
    pub manifest: String,
    /// When the closing was recorded (absent while open or after a reopening).
    pub closed_at: Option<String>,
    /// Every published file with an index, once the closing is final.
    pub dossier: Option<DossierView>,
    pub deadline_history: Vec<DeadlineChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DossierView {
    pub url: String,
    pub response_count: u64,
    pub size: u64,
    pub sha256: String,
    pub summary: String,
    /// The transparency log's root hash (hex) over the `response_count` responses, and the
    /// signed checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_checkpoint: Option<String>,
}

impl ConsultationView {
    pub fn new(record: &ConsultationRecord, now: Timestamp) -> Self {
        let c = &record.consultation;
        Self {
            id: c.id.to_string(),
            title: c.title.clone(),
            questions: c.questions.clone(),
            meeting_date: c.meeting_date.to_string(),
            opens_at: rfc3339_geneva(c.opens_at),
            deadline: rfc3339_geneva(c.deadline),
            deadline_rule: c.deadline_rule,
            status: c.status_at(now),
            response_count: record.response_count,
            url: site_paths::consultation_url(&c.id),
            manifest: site_paths::manifest_url(&c.id),
            closed_at: c.closing.as_ref().map(|cl| rfc3339_geneva(cl.closed_at)),
            dossier: c
                .closing
                .as_ref()
                .and_then(|cl| cl.dossier.as_ref())
                .map(|d| DossierView {
                    url: site_paths::dossier_url(&c.id),
                    response_count: d.response_count,
                    size: d.size,
                    sha256: d.sha256.clone(),
                    summary: site_paths::summary_url(&c.id),
                    log_root: d.log_root.clone(),
                    log_checkpoint: d.log_root.as_ref().map(|_| {
                        format!("/{}", crate::transparency::publish::checkpoint_key(&c.id))
                    }),
                }),
            deadline_history: c.deadline_history.clone(),
        }
    }
}
