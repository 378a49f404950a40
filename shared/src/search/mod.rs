//! The consultation's full-text search: a static Pagefind index, built from the text extracted
//! from every published response (`extracted/{n}.txt` on the site) and written to the site next
//! to the pages, so searching needs no server. Pagefind cannot add to an index, so each build
//! reads every response's text: that is why it runs at most once a [`REBUILD_EVERY`] while
//! responses arrive (and once more when the consultation closes), never per response.
//!
//! One index for every language, built as Chinese (`zh`): that makes Pagefind segment Chinese
//! and Japanese words with its dictionary segmenter (the `extended` feature), while words in
//! the other scripts are still split at spaces and punctuation; the pages of every edition load
//! the same index (Pagefind falls back to the only language it has). No stemming: responses mix
//! languages, so "policy" does not find "policies".
//!
//! The index is split into blocks of [`BLOCK_SIZE`] responses, each its own Pagefind index
//! (block 1 at `pagefind/`, block `b` at `pagefind/{b}/`), which the search page merges. A
//! response's text never changes once published, so a full block is never built again: a
//! rebuild indexes only the blocks that miss responses (normally the last one), and its time
//! and memory are bounded by a block, not by the consultation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::site_paths;
use crate::domain::{ConsultationId, Response, Status};
use crate::ports::{
    Body, Clock, Consultations, ObjectKey, ObjectStore, PublicationState, PutMode, Responses,
    StoreError,
};
use crate::site::site_meta;

/// The index is rebuilt at most this often while responses arrive (by default).
pub const REBUILD_EVERY: Duration = Duration::from_secs(60);
/// At most this much of a response's text goes into the index (its whole text stays in
/// `extracted/{n}.txt`): bounds the index and the memory of a build at 10,000 responses.
pub const MAX_INDEXED_BYTES: usize = 64 * 1024;
/// Responses per index block (by default; see the module's documentation). At about half a
/// megabyte of Pagefind's memory per response, a block's build takes about 0.5 GB and 3 s.
pub const BLOCK_SIZE: u64 = 1_000;
/// How many extracted texts are read at once.
const READS_AT_ONCE: usize = 32;
/// The language the index is built as (see the module's documentation).
const INDEX_LANGUAGE: &str = "zh";
/// How long a part that newer builds no longer use stays published before it is deleted: a
/// search page loads the entry point once and then fetches parts query by query, so a reader
/// who opened it before a rebuild still needs the parts of the build it loaded.
pub const SUPERSEDED_KEPT: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the search index: {0}")]
    Index(String),
}

/// What the site says about its index: how many responses it covers and when it was built.
/// Published as `covered.json` next to the index, read by the search page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Covered {
    /// The index covers responses 1 to this.
    pub responses: u64,
    /// When the index was built (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub built_at: Timestamp,
    /// How many index blocks there are: block 1 at `pagefind/`, block `b` at `pagefind/{b}/`,
    /// merged by the search page.
    #[serde(default)]
    pub blocks: u64,
    /// Responses per block: block `b` holds responses `(b - 1) × block_size + 1` to
    /// `b × block_size`. 0 in an index built before blocks: one index at `pagefind/`.
    #[serde(default)]
    pub block_size: u64,
}

/// Whether the index is due for a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    UpToDate,
    NotDue(Duration),
    Now { published: u64 },
}

/// What [`SearchIndex::refresh`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The index covers every published response.
    UpToDate,
    /// Built less than a minute ago: due again after this.
    NotDue(Duration),
    /// Due, but held by the caller for this long (locally, while a rush goes on).
    Held(Duration),
    Built {
        responses: u64,
        files_written: usize,
        took: Duration,
    },
}

pub struct SearchIndex {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub publication: Arc<dyn PublicationState>,
    /// Keeps the names of the index files already written (they are named by their content)
    /// and when a build last used each.
    pub private: Arc<dyn ObjectStore>,
    pub site: Arc<dyn ObjectStore>,
    pub clock: Arc<dyn Clock>,
    /// At most one rebuild per consultation in this time ([`REBUILD_EVERY`] unless set).
    pub rebuild_every: Duration,
    /// Responses per index block ([`BLOCK_SIZE`] unless set; at least 1).
    pub block_size: u64,
}

fn key(raw: String) -> Result<ObjectKey, StoreError> {
    ObjectKey::parse(raw).map_err(|e| StoreError::backend("naming a search index object", e))
}

impl SearchIndex {
    /// Rebuilds the consultation's index if it misses published responses and was built more
    /// than `rebuild_every` ago (or never), or at once if the consultation is closed.
    pub async fn refresh(&self, id: &ConsultationId) -> Result<Refresh, SearchError> {
        Ok(match self.due(id).await? {
            Due::UpToDate => Refresh::UpToDate,
            Due::NotDue(wait) => Refresh::NotDue(wait),
            Due::Now { published } => self.build(id, published).await?,
        })
    }

    /// Whether [`SearchIndex::refresh`] would rebuild now.
    pub async fn due(&self, id: &ConsultationId) -> Result<Due, SearchError> {
        let Some(record) = self.consultations.get(id).await? else {
            return Ok(Due::UpToDate);
        };
        let published = self.publication.published(id).await?;
        let covered = self.covered(id).await?;
        if published == 0 || covered.as_ref().is_some_and(|c| c.responses >= published) {
            return Ok(Due::UpToDate);
        }
        let now = self.clock.now();
        let closed = record.consultation.status_at(now) == Status::Closed;
        if let Some(covered) = &covered
            && !closed
        {
            let since = now.duration_since(covered.built_at);
            let since = Duration::try_from(since).unwrap_or_default();
            if since < self.rebuild_every {
                return Ok(Due::NotDue(self.rebuild_every - since));
            }
        }
        Ok(Due::Now { published })
    }

    async fn covered(&self, id: &ConsultationId) -> Result<Option<Covered>, StoreError> {
        let bytes = read(
            self.site.as_ref(),
            &covered_key(id)?,
            "reading covered.json",
        )
        .await?;
        // A damaged file is rebuilt over, not trusted.
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Brings the index up to responses `1..=published`: builds each block that misses some
    /// (every block if the index has none yet, or blocks of another size), writes what is new of
    /// it, then `covered.json`, which tells readers which blocks to merge. `covered.json` follows
    /// each block, so a first build of many blocks that runs out of time (a Lambda invocation's
    /// 300 s) goes on from there next time instead of starting over.
    pub async fn build(&self, id: &ConsultationId, published: u64) -> Result<Refresh, SearchError> {
        let started = Instant::now();
        let built_at = self.clock.now();
        let size = self.block_size.max(1);
        let first = match self.covered(id).await? {
            Some(c) if c.block_size == size && c.blocks > 0 => block_of(c.responses + 1, size),
            _ => 1,
        };
        let blocks = block_of(published, size);
        let mut files_written = 0;
        for block in first..=blocks {
            let numbers = (block - 1) * size + 1..=published.min(block * size);
            let responses = self.responses.range(id, numbers).await?;
            let texts: Vec<(Response, String)> = futures::stream::iter(responses)
                .map(|response| async move {
                    let text = self.extracted_text(id, response.number).await?;
                    Ok::<_, StoreError>((response, text))
                })
                .buffered(READS_AT_ONCE)
                .try_collect()
                .await?;
            let files = index_files(id, block, &texts).await?;
            files_written += self.write_index(id, block, files).await?;
            let covered = Covered {
                responses: published.min(block * size),
                built_at,
                blocks: block,
                block_size: size,
            };
            self.write_covered(id, &covered).await?;
        }
        if blocks < first {
            // No block to build (no response yet, or the index covers them all): say so.
            let covered = Covered {
                responses: published,
                built_at,
                blocks,
                block_size: size,
            };
            self.write_covered(id, &covered).await?;
        }
        Ok(Refresh::Built {
            responses: published,
            files_written,
            took: started.elapsed(),
        })
    }

    /// The words of response `number` as the index takes them: the derived file without its
    /// header and notes, at most [`MAX_INDEXED_BYTES`]. A response published before texts were
    /// extracted has none: it is found by its submitter's details only.
    async fn extracted_text(&self, id: &ConsultationId, number: u64) -> Result<String, StoreError> {
        let key = key(site_paths::extracted_key(id, number))?;
        let bytes = read(self.site.as_ref(), &key, "reading an extracted text").await?;
        Ok(bytes.map_or_else(String::new, |bytes| {
            indexable(&String::from_utf8_lossy(&bytes))
        }))
    }

    /// Writes the index's files: the ones named by their content only if not written before
    /// (a rebuild after one more response changes a few of thousands), the entry point last, so
    /// a reader never loads an entry whose parts are not there yet; then deletes the parts no
    /// build has used for [`SUPERSEDED_KEPT`].
    async fn write_index(
        &self,
        id: &ConsultationId,
        block: u64,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<usize, SearchError> {
        let now_ms = self.clock.now().as_millisecond();
        let written_key = key(match block {
            1 => format!("search/{id}/written"),
            _ => format!("search/{id}/written-{block}"),
        })?;
        let list = read(
            self.private.as_ref(),
            &written_key,
            "reading the index's file list",
        )
        .await?;
        let written = parse_written(&String::from_utf8_lossy(&list.unwrap_or_default()), now_ms);
        let used: BTreeSet<String> = files
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| is_content_named(name))
            .collect();
        let prefix = block_prefix(id, block);
        let (entry, rest): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(name, _)| name == "pagefind-entry.json");
        let new: Vec<(String, Vec<u8>)> = rest
            .into_iter()
            .filter(|(name, _)| !(is_content_named(name) && written.contains_key(name)))
            .collect();
        let count = new.len() + entry.len();
        futures::stream::iter(new)
            .map(|(name, bytes)| {
                let prefix = &prefix;
                async move {
                    self.put(key(format!("{prefix}{name}"))?, bytes, PutMode::Overwrite)
                        .await
                }
            })
            .buffer_unordered(READS_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        self.site.sync().await?;
        for (name, bytes) in entry {
            self.put(key(format!("{prefix}{name}"))?, bytes, PutMode::Overwrite)
                .await?;
        }
        let (kept, superseded) = sweep(written, &used, now_ms);
        // The list first: a part deleted but still listed would never be written again.
        self.private
            .put(
                &written_key,
                Body::Bytes(format_written(&kept).into_bytes().into()),
                &crate::ports::ObjectMeta::plain_text(),
                PutMode::Overwrite,
            )
            .await?;
        futures::stream::iter(superseded)
            .map(|name| {
                let prefix = &prefix;
                async move { self.site.delete(&key(format!("{prefix}{name}"))?).await }
            })
            .buffer_unordered(READS_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(count)
    }

    async fn write_covered(
        &self,
        id: &ConsultationId,
        covered: &Covered,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(covered).expect("Covered serializes");
        self.put(covered_key(id)?, json, PutMode::Overwrite).await?;
        self.site.sync().await
    }

    async fn put(&self, key: ObjectKey, bytes: Vec<u8>, mode: PutMode) -> Result<(), StoreError> {
        let meta = site_meta(key.as_str());
        self.site
            .put_deferred(&key, Body::Bytes(bytes.into()), &meta, mode)
            .await
    }
}

/// The list of parts written, one `name<TAB>last used (Unix ms)` a line. A line without a time
/// (the list as first kept, before parts were ever deleted) counts as used now.
fn parse_written(list: &str, now_ms: i64) -> BTreeMap<String, i64> {
    list.lines()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('\t') {
            Some((name, at)) => (name.to_owned(), at.parse().unwrap_or(now_ms)),
            None => (line.to_owned(), now_ms),
        })
        .collect()
}

fn format_written(written: &BTreeMap<String, i64>) -> String {
    written
        .iter()
        .map(|(name, at)| format!("{name}\t{at}\n"))
        .collect()
}

/// After a build that uses the parts `used`: every part written so far with when a build last
/// used it (now for `used`), and the parts unused for longer than [`SUPERSEDED_KEPT`], to
/// delete (and forget).
fn sweep(
    mut written: BTreeMap<String, i64>,
    used: &BTreeSet<String>,
    now_ms: i64,
) -> (BTreeMap<String, i64>, Vec<String>) {
    let kept_ms = SUPERSEDED_KEPT.as_millis() as i64;
    for name in used {
        written.insert(name.clone(), now_ms);
    }
    let superseded: Vec<String> = written
        .iter()
        .filter(|(_, at)| now_ms - **at > kept_ms)
        .map(|(name, _)| name.clone())
        .collect();
    for name in &superseded {
        written.remove(name);
    }
    (written, superseded)
}

/// The block that holds response `number` (block 0 for none: an index of no response).
fn block_of(number: u64, size: u64) -> u64 {
    number.div_ceil(size)
}

/// Where block `block` of the index is published: block 1 where the index always was.
fn block_prefix(id: &ConsultationId, block: u64) -> String {
    match block {
        1 => site_paths::search_index_prefix(id),
        _ => format!("{}{block}/", site_paths::search_index_prefix(id)),
    }
}

/// The whole object at `key`, or `None` if there is none.
async fn read(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    what: &'static str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(object) = store.get(key).await? else {
        return Ok(None);
    };
    let bytes = object
        .into_bytes()
        .await
        .map_err(|e| StoreError::backend(what, e))?;
    Ok(Some(bytes))
}

fn covered_key(id: &ConsultationId) -> Result<ObjectKey, StoreError> {
    key(format!(
        "{}covered.json",
        site_paths::search_index_prefix(id)
    ))
}

/// Pagefind's index parts (`*.pf_meta`, `*.pf_index`, `*.pf_fragment`, `*.pf_filter`) are named
/// by a hash of their content: once written, never different.
fn is_content_named(name: &str) -> bool {
    name.contains(".pf_")
}

/// The files a search page needs of `block`: its index and entry point, and with the first
/// block (the one the page loads) Pagefind's script, worker and WebAssembly, which the merged
/// blocks share. Its ready-made interfaces are left out (the page has its own, in the site's
/// languages).
fn is_needed(name: &str, block: u64) -> bool {
    is_content_named(name)
        || name == "pagefind-entry.json"
        || (block == 1
            && (name.starts_with("wasm.") || matches!(name, "pagefind.js" | "pagefind-worker.js")))
}

/// The body of a derived text file, as the index takes it: after the header (up to the first
/// blank line), without the `[No text: …]` and `[Cut here …]` notes, cut at
/// [`MAX_INDEXED_BYTES`] on a character boundary.
fn indexable(derived: &str) -> String {
    let body = derived.split_once("\n\n").map_or("", |(_, body)| body);
    let mut out = String::new();
    for line in body.lines() {
        if line.starts_with("[No text: ") || line.starts_with("[Cut here") {
            continue;
        }
        // A file's heading (`=== name ===`): its name is worth finding, the rule is not.
        let line = line
            .strip_prefix("=== ")
            .and_then(|l| l.strip_suffix(" ==="))
            .unwrap_or(line);
        if out.len() + line.len() + 1 > MAX_INDEXED_BYTES {
            let mut end = MAX_INDEXED_BYTES.saturating_sub(out.len());
            while end > 0 && !line.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(&line[..end.min(line.len())]);
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// One Pagefind record per response: its page's address, a title that needs no translation
/// (number, name, organization) and its words with the submitter's details.
async fn index_files(
    id: &ConsultationId,
    block: u64,
    texts: &[(Response, String)],
) -> Result<Vec<(String, Vec<u8>)>, SearchError> {
    use pagefind::api::PagefindIndex;
    use pagefind::options::PagefindServiceConfig;
    // Pagefind's API answers with `anyhow` errors: their message is what is kept.
    let failed = |e: anyhow::Error| SearchError::Index(e.to_string());
    let options = PagefindServiceConfig::builder()
        .keep_index_url(true)
        .force_language(INDEX_LANGUAGE.to_owned())
        .build();
    let mut index = PagefindIndex::new(Some(options)).map_err(failed)?;
    for (response, text) in texts {
        let submitter = &response.response.submitter;
        let title = match &submitter.organization {
            Some(org) => format!("{}. {} ({org})", response.number, submitter.name),
            None => format!("{}. {}", response.number, submitter.name),
        };
        let mut content = format!("{title}\n");
        if let Some(country) = &submitter.country {
            content.push_str(country.as_str());
            content.push('\n');
        }
        content.push_str(text);
        let meta = BTreeMap::from([("title".to_owned(), title)]);
        index
            .add_custom_record(
                site_paths::response_url(id, response.number),
                content,
                INDEX_LANGUAGE.to_owned(),
                Some(meta),
                None,
                None,
            )
            .await
            .map_err(failed)?;
    }
    let files = index.get_files().await.map_err(failed)?;
    Ok(files
        .into_iter()
        .filter_map(|file| {
            let name = file.filename.to_string_lossy().replace('\\', "/");
            is_needed(&name, block).then_some((name, file.contents))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_takes_the_words_not_the_header_nor_the_notes() {
        let derived = "Text extracted automatically…\nDerived, not the record: …\n\n\
                       === response.txt ===\nSpectrum matters.\n\n=== scan.png ===\n\
                       [No text: no text is extracted from this type of file.]\n";
        let words = indexable(derived);
        assert!(words.contains("Spectrum matters."));
        assert!(words.contains("\nscan.png\n"));
        assert!(!words.contains("==="));
        assert!(!words.contains("extracted automatically"));
        assert!(!words.contains("No text"));
    }

    #[test]
    fn indexed_words_are_bounded_on_a_character_boundary() {
        let derived = format!("header\n\n{}", "互联网".repeat(MAX_INDEXED_BYTES));
        let words = indexable(&derived);
        assert!(words.len() <= MAX_INDEXED_BYTES);
        assert!(words.chars().all(|c| "互联网".contains(c)));
    }

    #[test]
    fn responses_fall_into_blocks_of_the_block_size() {
        assert_eq!(block_of(0, 1_000), 0);
        assert_eq!(block_of(1, 1_000), 1);
        assert_eq!(block_of(1_000, 1_000), 1);
        assert_eq!(block_of(1_001, 1_000), 2);
        assert_eq!(block_of(5, 2), 3);
        let id = ConsultationId::parse("internet-2027").unwrap();
        assert_eq!(
            block_prefix(&id, 1),
            "consultations/internet-2027/pagefind/"
        );
        assert_eq!(
            block_prefix(&id, 12),
            "consultations/internet-2027/pagefind/12/"
        );
    }

    #[test]
    fn superseded_parts_are_deleted_an_hour_after_their_last_use() {
        let hour = SUPERSEDED_KEPT.as_millis() as i64;
        let now = 10 * hour;
        // As first kept (names only): counted as used now, so nothing goes at once.
        let written = parse_written("a.pf_index\nold.pf_fragment\n", now);
        assert_eq!(written["old.pf_fragment"], now);
        let used: BTreeSet<String> = ["a.pf_index".into(), "b.pf_index".into()].into();
        let (kept, gone) = sweep(written, &used, now);
        assert!(gone.is_empty());
        assert_eq!(kept.len(), 3);
        // Just within the hour: still there for a reader of the older build.
        let (kept, gone) = sweep(kept, &used, now + hour);
        assert!(gone.is_empty());
        assert_eq!(kept["old.pf_fragment"], now);
        // Past it: deleted and forgotten; the parts in use stay, whatever their age.
        let (kept, gone) = sweep(kept, &used, now + hour + 1);
        assert_eq!(gone, vec!["old.pf_fragment".to_owned()]);
        assert_eq!(
            kept.keys().cloned().collect::<Vec<_>>(),
            vec!["a.pf_index".to_owned(), "b.pf_index".to_owned()]
        );
        // The list reads back as written.
        assert_eq!(parse_written(&format_written(&kept), 0), kept);
    }

    #[test]
    fn only_the_parts_a_search_needs_are_published() {
        assert!(is_needed("pagefind.js", 1));
        assert!(is_needed("fragment/zh_738364f.pf_fragment", 1));
        assert!(is_needed("wasm.zh.pagefind", 1));
        assert!(is_needed("pagefind-entry.json", 1));
        assert!(!is_needed("pagefind-ui.js", 1));
        // A merged block: its index and entry only (the script and WebAssembly are block 1's).
        assert!(is_needed("fragment/zh_738364f.pf_fragment", 2));
        assert!(is_needed("pagefind-entry.json", 2));
        assert!(!is_needed("pagefind.js", 2));
        assert!(!is_needed("wasm.zh.pagefind", 2));
        assert!(is_content_named("pagefind.zh_dbdeb3541e.pf_meta"));
        assert!(!is_content_named("pagefind-entry.json"));
    }
}
