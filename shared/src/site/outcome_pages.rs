//! What the Secretariat publishes beside the responses: the Group's outcome (its own page,
//! `/consultations/{id}/outcome/` in every edition, the box at the top of the consultation's
//! page, its entry in the consultation's feed), and the consultation's description and
//! background documents. Texts are plain text: paragraphs and links are shown, nothing the
//! author typed is ever read as HTML.

use jiff::Timestamp;
use maud::{Markup, html};

use crate::domain::deadline::rfc3339_geneva;
use crate::domain::outcome::{OutcomeVersion, PublishedFile, STATEMENT_FILE_NAME};
use crate::domain::site_paths::{self, Edition};
use crate::domain::{Consultation, ConsultationId, Language};
use crate::i18n::Catalogue;
use crate::ports::ConsultationRecord;

use super::layout::{Here, dir, layout, localized};

fn when(m: &Catalogue, at: Timestamp) -> Markup {
    html! { time datetime=(rfc3339_geneva(at)) data-local { (m.geneva_time(at)) } }
}

/// The text's paragraphs (separated by a blank line), its line breaks, and its `http(s)://`
/// addresses as links. Hand-written: a Markdown renderer would read far more than the
/// Secretariat means to write, and nothing here may become HTML.
pub fn plain_text(text: &str) -> Markup {
    let normalized = text.replace("\r\n", "\n");
    let paragraphs = normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    html! {
        @for paragraph in paragraphs {
            p {
                @for (i, line) in paragraph.lines().enumerate() {
                    @if i > 0 { br; }
                    (linked(line))
                }
            }
        }
    }
}

/// A line with its web addresses as links (trailing punctuation stays outside the link).
fn linked(line: &str) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = line;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let tail = &rest[start..];
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', ')', '!', '?', '"', '\'']);
        if url.len() <= "https://".len() {
            parts.push((false, &rest[..start + end]));
            rest = &rest[start + end..];
            continue;
        }
        parts.push((false, &rest[..start]));
        parts.push((true, url));
        rest = &rest[start + url.len()..];
    }
    parts.push((false, rest));
    html! {
        @for (is_link, part) in parts {
            @if is_link { a href=(part) { (part) } } @else { (part) }
        }
    }
}

/// The files of a version: each a download with its size and SHA-256.
pub(super) fn files(
    m: &Catalogue,
    id: &ConsultationId,
    version: &OutcomeVersion,
    list: &[PublishedFile],
) -> Markup {
    html! {
        ul class="files" {
            @for f in list {
                li {
                    a href=(site_paths::outcome_file_url(id, &version.folder, &f.name)) download { (f.name) }
                    " (" (m.p("bytes", f.size, &[])) ", " (f.media_type) ") "
                    span class="sha" { (m.t("sha256")) " " code { (f.sha256) } }
                }
            }
        }
    }
}

/// The texts to show in the reader's language: theirs if there is one, else every one there
/// is, each marked with its language.
fn texts_for(lang: Language, texts: &[(Language, String)]) -> Vec<&(Language, String)> {
    match texts.iter().find(|(l, _)| *l == lang) {
        Some(own) => vec![own],
        None => texts.iter().collect(),
    }
}

/// The outcome's own page: the latest version's texts and documents, its signed statement, and
/// every earlier version with its files. `texts` are the latest version's texts.
pub fn outcome_page(
    edition: Edition,
    record: &ConsultationRecord,
    texts: &[(Language, String)],
    log_key: Option<&str>,
) -> String {
    let c = &record.consultation;
    let path = site_paths::outcome_url(&c.id);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let title = c.title.get(m.lang()).1;
    let page_title = m.f("outcome_page_title", &[("title", &title)]);
    layout(
        here,
        &page_title,
        html! {
            h1 { (m.t("outcome_heading")) }
            p { a href=(here.url(&site_paths::consultation_url(&c.id))) { (localized(m, &c.title)) } }
            @if let Some(latest) = c.outcome.last() {
                p { (m.t("outcome_intro")) }
                dl {
                    dt { (m.t("outcome_published")) } dd { (when(m, latest.published_at)) }
                    dt { (m.t("outcome_version")) } dd { (latest.version) }
                }
                @let shown = texts_for(m.lang(), texts);
                @for (lang, text) in &shown {
                    @if *lang == m.lang() {
                        section class="outcome-text" { (plain_text(text)) }
                    } @else {
                        section class="outcome-text" lang=(lang.code()) dir=(dir(*lang)) aria-label=(m.t(&format!("lang_{}", lang.code()))) {
                            h2 { (m.t(&format!("lang_{}", lang.code()))) }
                            (plain_text(text))
                        }
                    }
                }
                h2 { (m.t("outcome_files")) }
                (files(m, &c.id, latest, &latest.texts))
                (files(m, &c.id, latest, &latest.documents))
                p class="note" {
                    (m.t("outcome_exact")) " "
                    a href=(site_paths::outcome_file_url(&c.id, &latest.folder, STATEMENT_FILE_NAME)) { (m.t("outcome_statement")) }
                    @if let Some(key) = log_key { " (" code { (key) } ")" }
                }
                @if c.outcome.len() > 1 {
                    h2 { (m.t("outcome_earlier")) }
                    ul {
                        @for version in c.outcome.iter().rev().skip(1) {
                            li {
                                (m.f("outcome_version_n", &[("version", &version.version)])) ", " (when(m, version.published_at))
                                (files(m, &c.id, version, &version.texts))
                                (files(m, &c.id, version, &version.documents))
                            }
                        }
                    }
                }
            } @else {
                p { (m.t("outcome_none")) }
            }
        },
    )
}

/// The box at the top of the consultation's page, once the Group's outcome is published.
pub(super) fn outcome_box(here: Here, c: &Consultation) -> Markup {
    let m = here.m();
    html! {
        @if let Some(latest) = c.outcome.last() {
            section class="outcome" aria-labelledby="outcome" {
                h2 id="outcome" { (m.t("outcome_heading")) }
                p {
                    (m.t("outcome_published")) " " (when(m, latest.published_at)) ". "
                    a href=(here.url(&site_paths::outcome_url(&c.id))) { (m.t("outcome_read")) }
                }
                @if !latest.documents.is_empty() {
                    (files(m, &c.id, latest, &latest.documents))
                }
            }
        }
    }
}

/// The consultation's description (in the reader's language, or the fallback marked with its
/// own) and its background documents, each a download with its size and SHA-256.
pub(super) fn about(here: Here, c: &Consultation) -> Markup {
    let m = here.m();
    html! {
        @if let Some(description) = &c.description {
            @let (lang, text) = description.get(m.lang());
            @if lang == m.lang() {
                div class="description" { (plain_text(text)) }
            } @else {
                div class="description" lang=(lang.code()) dir=(dir(lang)) { (plain_text(text)) }
            }
        }
        @if !c.documents.is_empty() {
            section aria-labelledby="documents" {
                h2 id="documents" { (m.t("documents_heading")) }
                ul class="files" {
                    @for d in &c.documents {
                        li {
                            a href=(site_paths::document_file_url(&c.id, &d.folder, &d.file.name)) download { (d.file.name) }
                            " (" (m.p("bytes", d.file.size, &[])) ", " (d.file.media_type) ") "
                            span class="sha" { (m.t("sha256")) " " code { (d.file.sha256) } }
                        }
                    }
                }
            }
        }
    }
}

/// The feed entry of the latest version (newest first in the feed, so it comes before the
/// responses).
pub(super) fn outcome_entry(edition: Edition, c: &Consultation, id: String) -> Markup {
    let m = crate::i18n::messages(edition.lang);
    html! {
        @if let Some(latest) = c.outcome.last() {
            @let at = latest.published_at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            entry {
                id { (id) }
                title { (m.f("outcome_entry_title", &[("version", &latest.version)])) }
                updated { (at) }
                published { (at) }
                author { name { "ITU CWG-Internet" } }
                link rel="alternate" type="text/html" href=(edition.url(&site_paths::outcome_url(&c.id))) {}
                @for f in latest.files() {
                    link rel="enclosure" type=(f.media_type) length=(f.size) title=(f.name) href=(site_paths::outcome_file_url(&c.id, &latest.folder, &f.name)) {}
                }
                summary type="text" { (m.t("outcome_intro")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_keeps_paragraphs_and_links_and_never_html() {
        let html = plain_text(
            "First <b>line</b>\r\nsecond line.\r\n\r\nSee https://www.itu.int/cwg (report), \
             or http://example.org.\n\n\n",
        )
        .into_string();
        assert_eq!(
            html,
            "<p>First &lt;b&gt;line&lt;/b&gt;<br>second line.</p>\
             <p>See <a href=\"https://www.itu.int/cwg\">https://www.itu.int/cwg</a> (report), \
             or <a href=\"http://example.org\">http://example.org</a>.</p>"
        );
        assert_eq!(
            plain_text("only https:// here").into_string(),
            "<p>only https:// here</p>"
        );
    }
}
