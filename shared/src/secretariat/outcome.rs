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
    OutcomeDraft, OutcomeFile, OutcomeVersion, private_key, text_file_name,
};
use crate::domain::{Action, Actor, AuditEntry, ConsultationId, ValidationError, site_paths};
use crate::intake::spool::SpooledFile;
use crate::ports::{Body, ConsultationRecord, ObjectKey, ObjectMeta, PutMode, StoreError};

/// What the Secretariat sent: `text.{lang}` fields as sent (field name, bytes), and documents.
#[derive(Debug, Default)]
pub struct OutcomeSubmission {
    pub texts: Vec<(String, Vec<u8>)>,
    pub documents: Vec<SpooledFile>,
}

fn object_key(raw: String) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(raw).map_err(|e| StoreError::backend("naming an outcome file", e))
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
                OutcomeFile {
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
                OutcomeFile {
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
            self.store_outcome_file(id, &folder, file, body).await?;
        }
        let texts: Vec<OutcomeFile> = texts.into_iter().map(|(f, _)| f).collect();
        let documents: Vec<OutcomeFile> = documents.into_iter().map(|(f, _)| f).collect();
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
            let listed = |files: &[OutcomeFile]| {
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
        .map_err(|e| match e {
            super::records::ModifyError::NotFound(id) => AdminError::NotFound(id),
            super::records::ModifyError::Store(s) => AdminError::Store(s),
            super::records::ModifyError::Refused(never) => match never {},
        })?;
        self.queue.request(id);
        tracing::info!(consultation = %id, version = record.consultation.outcome.len(), "outcome published");
        Ok(record)
    }

    /// Keeps one file privately, then puts its public copy on the site (both create-only: the
    /// folder is new).
    async fn store_outcome_file(
        &self,
        id: &ConsultationId,
        folder: &str,
        file: &OutcomeFile,
        body: &Body,
    ) -> Result<(), StoreError> {
        let private = object_key(private_key(id, folder, &file.name))?;
        let meta = ObjectMeta {
            content_type: file.media_type.clone(),
            content_disposition: None,
        };
        self.private
            .put(&private, body.clone(), &meta, PutMode::CreateNew)
            .await?;
        let public = object_key(site_paths::outcome_file_key(id, folder, &file.name))?;
        let meta = crate::site::site_meta(public.as_str());
        self.site
            .put(&public, body.clone(), &meta, PutMode::CreateNew)
            .await
    }
}
