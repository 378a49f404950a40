//! Publishing the Group's outcome (see [`crate::domain::outcome`]). The texts and documents are
//! kept privately (`outcome/{consultation}/{folder}/…`, the record) and copied byte-exact to
//! the site before the version is recorded with its audit entry, so a version the record names
//! always has its files on the site. Each publication writes to a fresh folder, so two at once
//! never write over each other; the record gives them their version numbers in the order they
//! commit. The pages, the feeds and the signed statement follow through publication.

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::records::modify;
use super::{AdminError, Secretariat};
use crate::domain::outcome::{
    OutcomeDraft, OutcomeVersion, PublishedFile, private_key, text_file_name,
};
use crate::domain::{Action, Actor, AuditEntry, ConsultationId, ValidationError, site_paths};
use crate::intake::spool::SpooledFile;
use crate::ports::{Body, ConsultationRecord};

/// What the Secretariat sent: `text.{lang}` fields as sent (field name, bytes), and documents.
#[derive(Debug, Default)]
pub struct OutcomeSubmission {
    pub texts: Vec<(String, Vec<u8>)>,
    pub documents: Vec<SpooledFile>,
}

impl Secretariat {
    /// Publishes a new version of the Group's outcome for `id`; `by` is who asked (see
    /// [`AuditEntry::by`]). Nothing is stored unless every text and document passes.
    pub async fn publish_outcome(
        &self,
        id: &ConsultationId,
        submission: OutcomeSubmission,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        if self.consultations.get(id).await?.is_none() {
            return Err(AdminError::NotFound(id.clone()));
        }
        let raw_names: Vec<String> = submission
            .documents
            .iter()
            .map(|d| d.raw_name.clone())
            .collect();
        let draft = OutcomeDraft::parse(submission.texts, &raw_names)?;
        let mut documents = Vec::with_capacity(draft.document_names.len());
        for (file, name) in submission.documents.iter().zip(&draft.document_names) {
            let media_type = file
                .media_type(name)
                .await
                .map_err(|u| ValidationError::text("file", u.text()))?;
            documents.push((
                PublishedFile {
                    name: name.clone(),
                    media_type: media_type.to_owned(),
                    size: file.size,
                    sha256: file.sha256.clone(),
                },
                file.body(),
            ));
        }
        let mut texts = Vec::with_capacity(draft.texts.len());
        for (lang, text) in draft.texts {
            let bytes = Bytes::from(text.into_bytes());
            texts.push((
                PublishedFile {
                    name: text_file_name(lang),
                    media_type: "text/plain".to_owned(),
                    size: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&bytes)),
                },
                Body::Bytes(bytes),
            ));
        }

        let folder = uuid::Uuid::now_v7().simple().to_string();
        for (file, body) in texts.iter().chain(&documents) {
            let private = private_key(id, &folder, &file.name);
            let public = site_paths::outcome_file_key(id, &folder, &file.name);
            self.store_published(private, public, file, body).await?;
        }
        let texts: Vec<PublishedFile> = texts.into_iter().map(|(f, _)| f).collect();
        let documents: Vec<PublishedFile> = documents.into_iter().map(|(f, _)| f).collect();
        let now = self.clock.now();
        let record = modify::<std::convert::Infallible>(self.consultations.as_ref(), id, |c| {
            let version = OutcomeVersion {
                version: c.outcome.len() as u32 + 1,
                published_at: now,
                by: by.clone(),
                folder: folder.clone(),
                texts: texts.clone(),
                documents: documents.clone(),
            };
            let listed = |files: &[PublishedFile]| {
                files
                    .iter()
                    .map(|f| json!({ "name": f.name, "size": f.size, "sha256": f.sha256 }))
                    .collect::<Vec<_>>()
            };
            let details = json!({
                "version": version.version,
                "languages": version.languages(),
                "texts": listed(&texts),
                "documents": listed(&documents),
            });
            c.outcome.push(version);
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::Secretariat,
                by: by.clone(),
                action: Action::OutcomePublished,
                details,
            }))
        })
        .await
        .map_err(AdminError::from_modify)?;
        self.queue.request(id);
        tracing::info!(consultation = %id, version = record.consultation.outcome.len(), "outcome published");
        Ok(record)
    }
}
