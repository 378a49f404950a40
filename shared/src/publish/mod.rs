//! Publication: copies every accepted response's exact bytes to the public site and renders the
//! pages and manifests that list them.
//!
//! Resumable and idempotent: a high-water mark records how many responses are published, and
//! each run publishes from there, rewriting only the pages the new responses land on plus the
//! consultation's head (bounded by the page size), so the cost of one more response does not
//! grow with the consultation. Publishing twice writes the same bytes.

pub mod answers;
pub mod health;
pub mod pipeline;
pub mod turn;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::TryStreamExt;

use thiserror::Error;

use crate::domain::site_paths::{self, Edition, page_of, page_range};
use crate::domain::{ConsultationId, Receipt, Response, StoredFile};
use crate::extract::{FileText, Isolation, ResponseText};
use crate::intake::spool::Spool;
use crate::ports::{
    Body, Clock, ConsultationRecord, Consultations, Copied, ObjectKey, ObjectMeta, ObjectStore,
    PublicationState, PutMode, Responses, StoreError,
};
use crate::site::site_meta;
use turn::Turn;

/// How many responses' pages and texts are written at once.
const READINGS_AT_ONCE: usize = 16;

/// Each response's page and extracted text follow publication at once when at most this many
/// wait (a page of responses); more means a rush, and they wait for the search index's next
/// rebuild (at most a minute), so that a rush costs publication what it cost before.
pub const READ_NOW_AT_MOST: u64 = crate::domain::site_paths::PAGE_SIZE;

/// What [`Publisher::publish_readings`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readings {
    UpToDate,
    Written(u64),
    /// This many wait, more than asked to write now.
    Deferred(u64),
}

#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the original {0} is missing from the private store")]
    MissingOriginal(String),
    #[error("copying an original: {0}")]
    Io(#[from] std::io::Error),
    #[error("the transparency log: {0}")]
    Log(#[from] crate::transparency::publish::LogPublishError),
    #[error(
        "no signing key is configured for the transparency log (set VERBATIM_SIGNING_KEY_PARAMETER)"
    )]
    NoLogKey,
    #[error("signing a response's log entry: {0}")]
    Sign(#[from] crate::transparency::TransparencyError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error(
        "another publisher has held the publication turn of {0} for longer than this one waits; publishing it again later"
    )]
    Busy(ConsultationId),
    #[error("the publication turn of {0} was taken over while this publisher held it: stopped")]
    TurnLost(ConsultationId),
}

pub struct Publisher {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub publication: Arc<dyn PublicationState>,
    pub private: Arc<dyn ObjectStore>,
    pub site: Arc<dyn ObjectStore>,
    pub clock: Arc<dyn Clock>,
    /// Signs each consultation's transparency log.
    pub log_key: Option<Arc<crate::transparency::LogKey>>,
    /// The witnesses asked to cosign each checkpoint (`--witness-policy`), if any.
    pub cosigning: Option<Arc<crate::transparency::cosigning::Cosigning>>,
    /// Starts the child process that reads a PDF's text.
    pub pdf: Isolation,
}

fn key(raw: String) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(raw).map_err(|e| StoreError::backend("naming a site object", e))
}

impl Publisher {
    /// Numbers what is pending (the sequencer: publication is its one writer per
    /// consultation), then publishes what is not yet public, and refreshes the pages.
    pub async fn publish(&self, id: &ConsultationId) -> Result<(), PublishError> {
        self.sequence(id).await?;
        self.publish_numbered(id).await
    }

    /// Numbers what is pending, and keeps privately what a sealed consultation can no longer
    /// number (see [`crate::sequencing`]). Returns how many it numbered.
    pub async fn sequence(&self, id: &ConsultationId) -> Result<u64, StoreError> {
        crate::sequencing::sequence(
            self.consultations.as_ref(),
            self.responses.as_ref(),
            self.private.as_ref(),
            id,
        )
        .await
    }

    /// Takes the consultation's publication turn (see [`turn`]), waiting up to `wait` for a
    /// holder to finish or its turn to expire.
    pub async fn turn(
        &self,
        id: &ConsultationId,
        wait: std::time::Duration,
    ) -> Result<Turn, PublishError> {
        Turn::take(&self.publication, id, wait)
            .await?
            .ok_or_else(|| PublishError::Busy(id.clone()))
    }

    /// The consultation's publication turn if nobody holds it now.
    pub async fn turn_if_free(&self, id: &ConsultationId) -> Result<Option<Turn>, StoreError> {
        Turn::take(&self.publication, id, std::time::Duration::ZERO).await
    }

    /// Publishes what is numbered and not yet public, and refreshes the pages, in the
    /// consultation's publication turn.
    pub async fn publish_numbered(&self, id: &ConsultationId) -> Result<(), PublishError> {
        self.turn(id, turn::WAIT_FOR_TURN)
            .await?
            .run(async |turn| self.publish_numbered_in(id, turn).await)
            .await
    }

    /// Publishes what is numbered and not yet public, and refreshes the pages, in `turn`.
    pub async fn publish_numbered_in(
        &self,
        id: &ConsultationId,
        turn: &mut Turn,
    ) -> Result<(), PublishError> {
        let Some(record) = self.consultations.get(id).await? else {
            return Ok(());
        };
        let total = record.response_count;
        let done = self.publication.published(id).await?.min(total);

        let mut rendered = BTreeSet::new();
        let mut latest = None;
        if done < total {
            // Publication never gets ahead of what is kept: on the embedded store a record
            // commits before the flush that makes it and its originals durable, and this flush
            // covers every record counted in `total`.
            self.private.sync().await?;
            for page in page_of(done + 1)..=page_of(total) {
                turn.keep().await?;
                let responses = self.responses.range(id, page_range(page, total)).await?;
                // Copies are independent (create-only, the mark moves after all of them): a
                // page's new responses are copied in one batch.
                let new: Vec<&Response> = responses.iter().filter(|r| r.number > done).collect();
                self.copy_originals(&new).await?;
                // The record as it will be once this round is published (its count names the
                // question pages' last page).
                let counted = ConsultationRecord {
                    response_count: total,
                    ..record.clone()
                };
                answers::publish_page(
                    self.private.as_ref(),
                    self.site.as_ref(),
                    &counted,
                    page,
                    &responses,
                    done,
                )
                .await?;
                let entries = receipts(&responses);
                self.write_page(&record, page, &entries).await?;
                rendered.insert(page);
                if page == page_of(total) {
                    latest = Some(entries);
                }
            }
        }
        let first_page = receipts(&self.responses.range(id, page_range(1, total)).await?);
        if !rendered.contains(&1) {
            self.write_page(&record, 1, &first_page).await?;
        }
        let head = crate::site::pages::manifest_head(&record, &first_page, self.clock.now());
        self.write(site_paths::manifest_url(id), head.into_bytes())
            .await?;
        // The feed carries the last page's responses (at most a page): bounded, like the rest.
        let latest = match latest {
            Some(entries) => entries,
            None if page_of(total) == 1 => first_page,
            None => receipts(
                &self
                    .responses
                    .range(id, page_range(page_of(total), total))
                    .await?,
            ),
        };
        for edition in Edition::all() {
            let search = crate::site::response_pages::search_page(edition, &record);
            self.write(
                format!("/{}", edition.key(&site_paths::search_key(id))),
                search.into_bytes(),
            )
            .await?;
            let feed =
                crate::site::pages::consultation_feed(edition, &record, &latest, self.clock.now());
            self.write(edition.url(&site_paths::feed_url(id)), feed.into_bytes())
                .await?;
        }
        if !record.consultation.outcome.is_empty() {
            self.write_outcome(&record).await?;
        }
        // After the pages (a reader never finds the log ahead of the manifests), before the
        // high-water mark (a crash here is redone, and the rebuilt log must match). The turn
        // is renewed right before: no other publisher's checkpoint is newer than this one.
        turn.keep().await?;
        self.publish_log(id, total).await?;
        // The batch's copies are durable before the mark says they are published.
        self.site.sync().await?;
        self.publication.set_published(id, total).await?;
        self.publish_index().await
    }

    /// The Group's outcome: each version's signed statement (the same bytes each time), and
    /// the outcome page in every edition with the latest version's texts, read from the
    /// private store where the Secretariat's publication kept them.
    async fn write_outcome(&self, record: &ConsultationRecord) -> Result<(), PublishError> {
        use crate::domain::outcome::{STATEMENT_FILE_NAME, private_key, statement, text_language};
        let c = &record.consultation;
        let log_key = self.log_key.clone().ok_or(PublishError::NoLogKey)?;
        let origin = crate::transparency::checkpoint::origin(log_key.name(), c.id.as_str());
        for version in &c.outcome {
            let note = crate::transparency::checkpoint::sign_note(
                &log_key,
                &statement(&origin, &c.id, version),
            )?;
            let path = site_paths::outcome_file_key(&c.id, &version.folder, STATEMENT_FILE_NAME);
            self.write(format!("/{path}"), note).await?;
        }
        let mut texts = Vec::new();
        if let Some(latest) = c.outcome.last() {
            for file in &latest.texts {
                let Some(lang) = text_language(&file.name) else {
                    continue;
                };
                let object = key(private_key(&c.id, &latest.folder, &file.name))?;
                let bytes = match self.private.get(&object).await? {
                    Some(found) => found.into_bytes().await?,
                    None => return Err(PublishError::MissingOriginal(object.as_str().to_owned())),
                };
                texts.push((lang, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        for edition in Edition::all() {
            let page = crate::site::outcome_pages::outcome_page(
                edition,
                record,
                &texts,
                Some(log_key.verifier().as_str()),
            );
            let path = edition.key(&site_paths::outcome_key(&c.id));
            self.write(format!("/{path}"), page.into_bytes()).await?;
        }
        Ok(())
    }

    /// Appends the consultation's responses `..=total` to its transparency log.
    async fn publish_log(&self, id: &ConsultationId, total: u64) -> Result<(), PublishError> {
        let key = self.log_key.clone().ok_or(PublishError::NoLogKey)?;
        crate::transparency::publish::LogPublisher {
            responses: self.responses.clone(),
            site: self.site.clone(),
            key,
            cosigning: self.cosigning.clone(),
        }
        .publish(id, total)
        .await?;
        Ok(())
    }

    /// Asks the witnesses that have not cosigned a consultation's published checkpoint again
    /// (those resting after a failure excepted), and publishes it with what they give. Cheap
    /// when nothing is missing: one read of the checkpoint.
    ///
    /// Only in the consultation's publication turn, taken without waiting: a publisher holding
    /// it asks the witnesses itself before it writes the checkpoint.
    pub async fn refresh_cosignatures(&self, id: &ConsultationId) -> Result<(), PublishError> {
        let (Some(key), Some(_)) = (self.log_key.clone(), &self.cosigning) else {
            return Ok(());
        };
        let Some(turn) = self.turn_if_free(id).await? else {
            return Ok(());
        };
        let log = crate::transparency::publish::LogPublisher {
            responses: self.responses.clone(),
            site: self.site.clone(),
            key,
            cosigning: self.cosigning.clone(),
        };
        turn.run(async |_| Ok::<_, PublishError>(log.refresh_cosignatures(id).await?))
            .await
    }

    /// The witness policy in force, at `/log/policy` (C2SP tlog-policy): the operator's, with
    /// the log's own key added when it names none; without witnesses, `quorum none`.
    pub async fn publish_policy(&self) -> Result<(), PublishError> {
        let Some(key) = &self.log_key else {
            return Ok(());
        };
        let log_line = format!("log {}\n", key.verifier_key());
        let text = match &self.cosigning {
            Some(c) if !c.policy.logs().is_empty() => c.policy.text().to_owned(),
            Some(c) => format!("{log_line}{}", c.policy.text()),
            None => format!("{log_line}quorum none\n"),
        };
        self.write(
            format!("/{}", crate::transparency::publish::POLICY_PATH),
            text.into_bytes(),
        )
        .await?;
        self.site.sync().await?;
        Ok(())
    }

    /// What every page uses and no response changes: the stylesheet, the scripts and the
    /// verify page in every language. Written when a publisher starts, not with every batch.
    pub async fn publish_assets(&self) -> Result<(), PublishError> {
        use crate::site::{layout, log_pages, response_pages};
        let mut assets = vec![
            (
                layout::STYLESHEET_KEY.to_owned(),
                layout::STYLESHEET.as_bytes().to_vec(),
            ),
            (
                log_pages::VERIFY_SCRIPT_KEY.to_owned(),
                log_pages::VERIFY_SCRIPT.as_bytes().to_vec(),
            ),
            (
                log_pages::ED25519_SCRIPT_KEY.to_owned(),
                log_pages::ED25519_SCRIPT.as_bytes().to_vec(),
            ),
            (
                layout::SCRIPT_KEY.to_owned(),
                layout::SCRIPT.as_bytes().to_vec(),
            ),
            (
                layout::UPLOAD_SCRIPT_KEY.to_owned(),
                layout::UPLOAD_SCRIPT.as_bytes().to_vec(),
            ),
            (
                response_pages::SEARCH_SCRIPT_KEY.to_owned(),
                response_pages::SEARCH_SCRIPT.as_bytes().to_vec(),
            ),
        ];
        for edition in Edition::all() {
            assets.push((
                edition.key(log_pages::VERIFY_PAGE_KEY),
                log_pages::verify_page(edition).into_bytes(),
            ));
        }
        // All at once: on Lambda this runs in the publish function's initialization, where
        // twelve S3 requests one after the other were most of its cold start.
        futures::future::try_join_all(
            assets
                .into_iter()
                .map(|(key, bytes)| self.write(format!("/{key}"), bytes)),
        )
        .await?;
        self.site.sync().await?;
        self.publish_policy().await
    }

    /// The site's front page in every language and the feed of all consultations. Publishers
    /// of different consultations may run at once, so it re-reads after writing and writes
    /// again until what it wrote is current.
    pub async fn publish_index(&self) -> Result<(), PublishError> {
        let mut records = self.consultations.list().await?;
        for _ in 0..10 {
            let now = self.clock.now();
            for edition in Edition::all() {
                let html = crate::site::pages::index_page(edition, &records, now);
                self.write(
                    format!("/{}", edition.key(&site_paths::index_key())),
                    html.into_bytes(),
                )
                .await?;
            }
            for edition in Edition::all() {
                let feed = crate::site::pages::all_feed(edition, &records, now);
                self.write(edition.url(&site_paths::all_feed_url()), feed.into_bytes())
                    .await?;
            }
            let now = self.consultations.list().await?;
            if now == records {
                break;
            }
            records = now;
        }
        self.site.sync().await?;
        Ok(())
    }

    async fn write_page(
        &self,
        record: &ConsultationRecord,
        page: u64,
        entries: &[Receipt],
    ) -> Result<(), PublishError> {
        let id = &record.consultation.id;
        let now = self.clock.now();
        for edition in Edition::all() {
            let html = crate::site::pages::consultation_page(edition, record, page, entries, now);
            self.write(
                format!("/{}", edition.key(&site_paths::page_key(id, page))),
                html.into_bytes(),
            )
            .await?;
        }
        let json = crate::site::pages::manifest_page(record, page, entries);
        self.write(site_paths::manifest_page_url(id, page), json.into_bytes())
            .await
    }

    /// Writes a page or manifest at a site path (`/…`), replacing the previous version. Made
    /// durable with the rest of its batch (`sync` before the publication mark moves: a crash
    /// before that redoes the batch, and rewrites these pages).
    async fn write(&self, path: String, bytes: Vec<u8>) -> Result<(), PublishError> {
        let key = key(path.trim_start_matches('/').to_owned())?;
        let meta = site_meta(key.as_str());
        self.site
            .put_deferred(&key, Body::Bytes(bytes.into()), &meta, PutMode::Overwrite)
            .await?;
        Ok(())
    }

    /// Writes the page and extracted text of every published response that has none yet, unless
    /// more than `at_most` wait. Resumable: a mark in the private store (`search/{id}/read`)
    /// says how far it went; writing twice writes the same bytes.
    pub async fn publish_readings(
        &self,
        id: &ConsultationId,
        at_most: Option<u64>,
    ) -> Result<Readings, PublishError> {
        let published = self.publication.published(id).await?;
        let mark = key(format!("search/{id}/read"))?;
        let done = match self.private.get(&mark).await? {
            Some(object) => String::from_utf8_lossy(&object.into_bytes().await?)
                .trim()
                .parse::<u64>()
                .unwrap_or(0),
            None => 0,
        }
        .min(published);
        let waiting = published - done;
        if waiting == 0 {
            return Ok(Readings::UpToDate);
        }
        if at_most.is_some_and(|most| waiting > most) {
            return Ok(Readings::Deferred(waiting));
        }
        let Some(record) = self.consultations.get(id).await? else {
            return Ok(Readings::UpToDate);
        };
        for page in page_of(done + 1)..=page_of(published) {
            let responses = self
                .responses
                .range(id, page_range(page, published))
                .await?;
            let new: Vec<&Response> = responses.iter().filter(|r| r.number > done).collect();
            for group in new.chunks(READINGS_AT_ONCE) {
                let pages = group.iter().map(|r| self.publish_reading(&record, r));
                futures::future::try_join_all(pages).await?;
            }
        }
        self.site.sync().await?;
        let body = Body::Bytes(published.to_string().into_bytes().into());
        let meta = crate::ports::ObjectMeta::plain_text();
        self.private
            .put(&mark, body, &meta, PutMode::Overwrite)
            .await?;
        Ok(Readings::Written(waiting))
    }

    /// The reading room after a publication: the pages and texts now if few wait, and, when
    /// the search index is due, every page and text that waits, then the index, unless the
    /// caller `hold`s a due rebuild for a while (the local worker does while a rush goes on:
    /// a rebuild reads every response, and on one machine it competes with intake).
    pub async fn refresh_reading(
        &self,
        search: &crate::search::SearchIndex,
        id: &ConsultationId,
        hold: Option<std::time::Duration>,
    ) -> Result<crate::search::Refresh, PublishError> {
        use crate::search::{Due, Refresh};
        self.publish_readings(id, Some(READ_NOW_AT_MOST)).await?;
        Ok(match search.due(id).await? {
            Due::UpToDate => Refresh::UpToDate,
            Due::NotDue(wait) => Refresh::NotDue(wait),
            Due::Now { published } => match hold {
                Some(hold) => Refresh::Held(hold),
                None => {
                    self.publish_readings(id, None).await?;
                    // The table follows the index: both read every published page.
                    self.publish_csv(id, published).await?;
                    search.build(id, published).await?
                }
            },
        })
    }

    /// `responses.csv` of the first `published` responses (see [`answers`] for when).
    pub async fn publish_csv(
        &self,
        id: &ConsultationId,
        published: u64,
    ) -> Result<(), PublishError> {
        let Some(record) = self.consultations.get(id).await? else {
            return Ok(());
        };
        answers::publish_csv(
            self.private.as_ref(),
            self.responses.as_ref(),
            self.site.as_ref(),
            &record,
            published,
        )
        .await
    }

    /// The response's own page in every edition, with the text of its files, and that text as
    /// a derived file (`extracted/{n}.txt`). A file whose text cannot be read is noted, never
    /// an error: only the store failing stops publication.
    async fn publish_reading(
        &self,
        record: &ConsultationRecord,
        response: &Response,
    ) -> Result<(), PublishError> {
        let r = &response.response;
        let text = response_text(self.private.as_ref(), &self.pdf, response).await?;
        let (id, number) = (&r.consultation, response.number);
        let derived = derived_file(response, &text);
        self.write(site_paths::extracted_url(id, number), derived.into_bytes())
            .await?;
        let receipt = match &self.log_key {
            Some(key) => crate::transparency::sign_receipt(key, &response.receipt())?,
            None => response.receipt(),
        };
        for edition in Edition::all() {
            let page = crate::site::response_pages::response_page(edition, record, &receipt, &text);
            self.write(
                format!("/{}", edition.key(&site_paths::response_key(id, number))),
                page.into_bytes(),
            )
            .await?;
        }
        Ok(())
    }

    /// Copies the originals of `responses` to the site, byte for byte. Published files are
    /// never replaced: a copy that finds its file there (made by a run that did not finish)
    /// leaves it. Where the site can copy from the private store itself (a hard link on disk, a
    /// server-side copy on S3) the bytes do not pass through here and the copies go as one
    /// batch; the publication's `sync` makes them durable.
    async fn copy_originals(&self, responses: &[&Response]) -> Result<(), PublishError> {
        let mut direct = Vec::new();
        let mut direct_files = Vec::new();
        let mut streamed = Vec::new();
        for response in responses {
            let r = &response.response;
            for file in &r.files {
                let source = key(file.original_key.clone())?;
                let target = key(site_paths::file_key(
                    &r.consultation,
                    response.number,
                    &file.name,
                ))?;
                let meta = site_meta(target.as_str());
                match self.private.location(&source) {
                    Some(location) => {
                        direct.push((location, target, meta));
                        direct_files.push(file);
                    }
                    None => streamed.push((file, target, meta)),
                }
            }
        }
        let outcomes = self.site.copy_all_from(&direct).await?;
        for ((_, target, meta), (file, outcome)) in direct
            .into_iter()
            .zip(direct_files.into_iter().zip(outcomes))
        {
            if outcome == Copied::CannotCopy {
                streamed.push((file, target, meta));
            }
        }
        for (file, target, meta) in streamed {
            self.copy_through_here(file, &target, &meta).await?;
        }
        Ok(())
    }

    /// Copies an original whose bytes must pass through this process: spooled through a local
    /// file (flat memory, and a retryable upload body) and checked against its SHA-256.
    async fn copy_through_here(
        &self,
        file: &StoredFile,
        target: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<(), PublishError> {
        let source = key(file.original_key.clone())?;
        let Some(object) = self.private.get(&source).await? else {
            return Err(PublishError::MissingOriginal(file.original_key.clone()));
        };
        let mut spool = Spool::create(&file.name)?;
        let mut body = object.body;
        while let Some(chunk) = body.try_next().await? {
            spool.write(&chunk).await?;
        }
        let copy = spool.finish(String::new()).await?;
        if copy.sha256 != file.sha256 {
            return Err(PublishError::Io(std::io::Error::other(format!(
                "the original {} does not match its recorded SHA-256",
                file.original_key
            ))));
        }
        match self
            .site
            .put(target, copy.body(), meta, PutMode::CreateNew)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The words of each of a response's files, read from the private originals (only the types
/// that have words are fetched). A file whose text cannot be read is noted, never an error.
pub async fn response_text(
    private: &dyn ObjectStore,
    pdf: &Isolation,
    response: &Response,
) -> Result<ResponseText, PublishError> {
    use crate::extract::{MESSAGE, ReadElsewhere, message_text};
    let mut text = ResponseText::default();
    let files: std::collections::BTreeSet<String> = response
        .response
        .files
        .iter()
        .map(|file| file.sha256.clone())
        .collect();
    for file in &response.response.files {
        let message = file.media_type == MESSAGE;
        let words = if message || crate::extract::reads(&file.media_type) {
            let source = key(file.original_key.clone())?;
            let Some(object) = private.get(&source).await? else {
                return Err(PublishError::MissingOriginal(file.original_key.clone()));
            };
            let bytes = object.into_bytes().await?;
            if message {
                // Email intake's own copy of the message: its body is `response.txt`.
                let body = response.response.channel == crate::domain::Channel::Email
                    && file.name == crate::email::receive::MESSAGE_FILE_NAME;
                let elsewhere = ReadElsewhere {
                    body,
                    files: &files,
                };
                match read_message(bytes).await {
                    Ok(parts) => message_text(pdf, parts, elsewhere).await,
                    Err(skipped) => Err(skipped),
                }
            } else {
                crate::extract::text_of(pdf, &file.media_type, bytes.into()).await
            }
        } else {
            Err(crate::extract::Skipped::NotText)
        };
        text.files.push(FileText {
            name: file.name.clone(),
            words,
        });
    }
    Ok(text)
}

/// A message kept as a file, read with email intake's MIME reader (which never fails: a
/// damaged message gives what could be read of it).
async fn read_message(
    raw: Vec<u8>,
) -> Result<crate::extract::MessageParts, crate::extract::Skipped> {
    let message = tokio::task::spawn_blocking(move || crate::email::message::parse(&raw, None))
        .await
        .map_err(|e| crate::extract::Skipped::Unreadable(format!("the reader failed: {e}")))?;
    Ok(crate::extract::MessageParts {
        subject: message.subject,
        body: message.text,
        attachments: message
            .attachments
            .into_iter()
            .map(|attachment| (attachment.name, attachment.bytes))
            .collect(),
    })
}

/// The derived text file of a response, as [`Publisher`] writes it to the site.
pub fn derived_file(response: &Response, text: &ResponseText) -> String {
    let (id, number) = (&response.response.consultation, response.number);
    text.derived_file(id.as_str(), number, &site_paths::response_url(id, number))
}

/// The summary of a closed consultation in every language (written with the dossier).
pub async fn write_summary_pages(
    site: &dyn ObjectStore,
    record: &ConsultationRecord,
    summary: &crate::domain::Summary,
) -> Result<(), StoreError> {
    for edition in Edition::all() {
        let html = crate::site::pages::summary_page(edition, record, summary);
        let key = key(edition.key(&site_paths::summary_key(&record.consultation.id)))?;
        site.put(
            &key,
            Body::Bytes(html.into_bytes().into()),
            &site_meta(key.as_str()),
            PutMode::Overwrite,
        )
        .await?;
    }
    Ok(())
}

fn receipts(responses: &[Response]) -> Vec<Receipt> {
    responses.iter().map(Response::receipt).collect()
}
