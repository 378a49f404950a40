//! The public JSON shapes of the site and the read API: a consultation, shared by the API and
//! the manifest, and the manifest's head and pages.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::deadline::rfc3339_geneva;
use crate::domain::site_paths;
use crate::domain::{
    ConsultationId, DeadlineChange, DeadlineRule, Language, Localized, Receipt, Status,
};
use crate::ports::ConsultationRecord;

/// A consultation as the API and the manifest show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Consultation, example = json!({
    "id": "internet-access-2027",
    "title": {"en": "Internet access", "fr": "Accès à l'Internet"},
    "questions": [{"en": "What should be done?", "fr": "Que faudrait-il faire ?"}],
    "meeting_date": "2027-03-31",
    "opens_at": "2026-11-28T11:00:00.000+01:00",
    "deadline": "2027-02-28T23:59:59.999+01:00",
    "deadline_rule": "resolution-1344",
    "status": "open",
    "response_count": 7,
    "url": "/consultations/internet-access-2027/",
    "manifest": "/consultations/internet-access-2027/responses.json",
    "closed_at": null,
    "dossier": null,
    "deadline_history": []
}))]
pub struct ConsultationView {
    #[schema(value_type = ConsultationId)]
    pub id: String,
    pub title: Localized,
    #[schema(min_items = 1)]
    pub questions: Vec<Localized>,
    /// The date of the Group's meeting.
    #[schema(format = Date, example = "2027-03-31")]
    pub meeting_date: String,
    /// When it opens: RFC 3339 in Geneva time with its offset, milliseconds included.
    #[schema(format = DateTime, example = "2026-11-28T11:00:00.000+01:00")]
    pub opens_at: String,
    /// The last instant a response is on time: RFC 3339 in Geneva time with its offset,
    /// milliseconds included.
    #[schema(format = DateTime, example = "2027-02-28T23:59:59.999+01:00")]
    pub deadline: String,
    pub deadline_rule: DeadlineRule,
    pub status: Status,
    /// How many responses it has received.
    pub response_count: u64,
    /// Its public page on the site.
    #[schema(
        format = "uri-reference",
        example = "/consultations/internet-access-2027/"
    )]
    pub url: String,
    /// The machine-readable list of its responses (a Manifest).
    #[schema(
        format = "uri-reference",
        example = "/consultations/internet-access-2027/responses.json"
    )]
    pub manifest: String,
    /// When the closing was recorded (Geneva time with offset); null while open or after a
    /// reopening.
    #[schema(format = DateTime)]
    pub closed_at: Option<String>,
    /// Built once the closing is final (deadline + in-flight grace).
    pub dossier: Option<DossierView>,
    /// Every move of the deadline after creation, oldest first.
    pub deadline_history: Vec<DeadlineChange>,
    /// The Group's outcome once the Secretariat has published it (its latest version).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub outcome: Option<OutcomeView>,
    /// What the consultation is about (paragraphs of plain text), when the Secretariat gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<Localized>,
    /// Background documents, each published byte-exact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<PublishedFileView>,
}

/// The Group's outcome for a consultation: the latest version's texts and documents, each
/// published byte-exact with its SHA-256.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Outcome)]
pub struct OutcomeView {
    /// 1 for the first publication; a new one replaces the shown one, the earlier ones stay
    /// listed on the outcome page.
    #[schema(minimum = 1)]
    pub version: u32,
    /// When this version was published (Geneva time with offset).
    #[schema(format = DateTime)]
    pub published_at: String,
    /// The languages it has a text in (`text.{lang}.txt` among the files).
    pub languages: Vec<Language>,
    /// The texts, then the documents.
    pub files: Vec<PublishedFileView>,
    /// `/consultations/{id}/outcome/`: its page.
    #[schema(format = "uri-reference")]
    pub url: String,
    /// The signed note listing every file's SHA-256 and size (signed with the log's key).
    #[schema(format = "uri-reference")]
    pub statement: String,
    /// How many versions were published (the earlier ones are listed on its page).
    #[schema(minimum = 1)]
    pub versions: u32,
}

/// A text or document of the outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = PublishedFile)]
pub struct PublishedFileView {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    #[schema(format = "uri-reference")]
    pub url: String,
}

impl OutcomeView {
    fn new(c: &crate::domain::Consultation) -> Option<Self> {
        let latest = c.outcome.last()?;
        Some(Self {
            version: latest.version,
            published_at: rfc3339_geneva(latest.published_at),
            languages: latest.languages(),
            files: latest
                .files()
                .map(|f| PublishedFileView {
                    name: f.name.clone(),
                    media_type: f.media_type.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                    url: site_paths::outcome_file_url(&c.id, &latest.folder, &f.name),
                })
                .collect(),
            url: site_paths::outcome_url(&c.id),
            statement: site_paths::outcome_file_url(
                &c.id,
                &latest.folder,
                crate::domain::outcome::STATEMENT_FILE_NAME,
            ),
            versions: c.outcome.len() as u32,
        })
    }
}

/// The dossier for the Group's meeting, once the consultation is closed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Dossier)]
pub struct DossierView {
    /// `/consultations/{id}/dossier.zip`: every published file as `{number}/{filename}`, plus
    /// `index.csv` and `index.json`.
    #[schema(format = "uri-reference")]
    pub url: String,
    pub response_count: u64,
    /// The archive's size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the archive.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// `/consultations/{id}/summary/`: counts and near-identical responses.
    #[schema(format = "uri-reference")]
    pub summary: String,
    /// The transparency log's root hash (hex) over the `response_count` responses (the
    /// dossier holds the signed checkpoint as `checkpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, pattern = "^[0-9a-f]{64}$")]
    pub log_root: Option<String>,
    /// `/consultations/{id}/log/checkpoint`: the signed C2SP checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uri-reference")]
    pub log_checkpoint: Option<String>,
}

/// A consultation's manifest head (`responses.json`): the machine-readable entry point.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Manifest {
    pub consultation: ConsultationView,
    /// How many responses it has.
    pub total: u64,
    /// Responses per manifest page (and per HTML page).
    #[schema(minimum = 100, maximum = 100)]
    pub page_size: u64,
    /// Every manifest page, in order (at least one, even with no responses).
    #[schema(min_items = 1, example = json!(["/consultations/internet-access-2027/manifest/1.json"]))]
    pub pages: Vec<String>,
    /// The receipts of page 1, by number.
    #[schema(max_items = 100)]
    pub responses: Vec<Receipt>,
}

/// One page of a consultation's manifest (`manifest/{page}.json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ManifestPage {
    pub consultation: ConsultationId,
    #[schema(minimum = 1)]
    pub page: u64,
    /// The receipts of the responses on this page, by number.
    #[schema(max_items = 100)]
    pub responses: Vec<Receipt>,
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
            outcome: OutcomeView::new(c),
            description: c.description.clone(),
            documents: c
                .documents
                .iter()
                .map(|d| PublishedFileView {
                    name: d.file.name.clone(),
                    media_type: d.file.media_type.clone(),
                    size: d.file.size,
                    sha256: d.file.sha256.clone(),
                    url: site_paths::document_file_url(&c.id, &d.folder, &d.file.name),
                })
                .collect(),
        }
    }
}
