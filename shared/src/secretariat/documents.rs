//! What a consultation's page says about it beyond its title and questions: a description
//! (plain text in any of the six languages) and background documents (files published
//! byte-exact, like responses: kept privately, copied to the site, then named by the record).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::records::modify;
use super::{AdminError, Secretariat};
use crate::domain::outcome::MAX_DOCUMENTS;
use crate::domain::{
    Action, Actor, AuditEntry, BackgroundDocument, ConsultationId, Localized, PublishedFile,
    ValidationError, WordingRequest, sanitize_file_name, site_paths,
};
use crate::intake::spool::SpooledFile;
use crate::ports::ConsultationRecord;

/// Where a background document is kept privately.
fn private_key(id: &ConsultationId, folder: &str, name: &str) -> String {
    format!("documents/{id}/{folder}/{name}")
}

impl Secretariat {
    /// Gives or replaces the consultation's description (audited, with the languages before
    /// and after).
    pub async fn describe(
        &self,
        id: &ConsultationId,
        raw: BTreeMap<String, String>,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        let description = Localized::parse_description(raw)?;
        let now = self.clock.now();
        let record = modify::<std::convert::Infallible>(self.consultations.as_ref(), id, |c| {
            if c.description.as_ref() == Some(&description) {
                return Ok(None);
            }
            let languages = |d: Option<&Localized>| {
                d.map(|d| d.languages().collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            let details = json!({
                "from": languages(c.description.as_ref()),
                "to": languages(Some(&description)),
            });
            c.description = Some(description.clone());
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::Secretariat,
                by: by.clone(),
                action: Action::DescriptionChanged,
                details,
            }))
        })
        .await
        .map_err(AdminError::from_modify)?;
        self.queue.request(id);
        Ok(record)
    }

    /// Rewords or translates the consultation's title and questions (audited with what changed;
    /// see [`crate::domain::Consultation::change_wording`] for the rule on the questions).
    pub async fn reword(
        &self,
        id: &ConsultationId,
        request: WordingRequest,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        let now = self.clock.now();
        let record = modify(self.consultations.as_ref(), id, |c| {
            let Some(details) = c.change_wording(request.clone(), now)? else {
                return Ok(None);
            };
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::Secretariat,
                by: by.clone(),
                action: Action::WordingChanged,
                details,
            }))
        })
        .await?;
        self.queue.request(id);
        Ok(record)
    }

    /// Publishes background documents, added after the ones there (audited with their names,
    /// sizes and SHA-256). Nothing is stored unless every one passes: a name (sanitized) not
    /// taken by another document of the consultation, an allowed type.
    pub async fn add_documents(
        &self,
        id: &ConsultationId,
        files: Vec<SpooledFile>,
        by: Option<String>,
    ) -> Result<ConsultationRecord, AdminError> {
        let Some(record) = self.consultations.get(id).await? else {
            return Err(AdminError::NotFound(id.clone()));
        };
        if files.is_empty() {
            return Err(ValidationError::new("file", "send at least one document").into());
        }
        let existing = &record.consultation.documents;
        if existing.len() + files.len() > MAX_DOCUMENTS * 5 {
            return Err(ValidationError::new(
                "file",
                format!(
                    "a consultation has at most {} background documents",
                    MAX_DOCUMENTS * 5
                ),
            )
            .into());
        }
        let mut taken: BTreeSet<String> = existing
            .iter()
            .map(|d| d.file.name.to_lowercase())
            .collect();
        let mut checked = Vec::with_capacity(files.len());
        for spooled in &files {
            let name = sanitize_file_name(&spooled.raw_name);
            if !taken.insert(name.to_lowercase()) {
                return Err(ValidationError::new(
                    "file",
                    format!("a document named {name} is there already: rename this one"),
                )
                .into());
            }
            let media_type = spooled
                .media_type(&name)
                .await
                .map_err(|u| ValidationError::text("file", u.text()))?;
            let file = PublishedFile {
                name,
                media_type: media_type.to_owned(),
                size: spooled.size,
                sha256: spooled.sha256.clone(),
            };
            checked.push((file, spooled.body()));
        }
        let folder = uuid::Uuid::now_v7().simple().to_string();
        for (file, body) in &checked {
            let private = private_key(id, &folder, &file.name);
            let public = site_paths::document_file_key(id, &folder, &file.name);
            self.store_published(private, public, file, body).await?;
        }
        let now = self.clock.now();
        let added: Vec<BackgroundDocument> = checked
            .into_iter()
            .map(|(file, _)| BackgroundDocument {
                folder: folder.clone(),
                file,
                added_at: now,
            })
            .collect();
        let record = modify(self.consultations.as_ref(), id, |c| {
            // Another upload may have taken a name since the check above.
            if let Some(clash) = added.iter().find(|d| {
                c.documents
                    .iter()
                    .any(|e| e.file.name.to_lowercase() == d.file.name.to_lowercase())
            }) {
                return Err(ValidationError::new(
                    "file",
                    format!(
                        "a document named {} is there already: rename this one",
                        clash.file.name
                    ),
                ));
            }
            let details = json!({
                "documents": added.iter().map(|d| json!({
                    "name": d.file.name, "size": d.file.size, "sha256": d.file.sha256,
                })).collect::<Vec<_>>(),
            });
            c.documents.extend(added.iter().cloned());
            Ok(Some(AuditEntry {
                at: now,
                consultation: id.clone(),
                actor: Actor::Secretariat,
                by: by.clone(),
                action: Action::DocumentsAdded,
                details,
            }))
        })
        .await?;
        self.queue.request(id);
        Ok(record)
    }
}
