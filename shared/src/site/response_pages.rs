//! The page of one response (its permanent address) and the consultation's search page.
//!
//! The response page shows what the record holds (who, when, how, each file with its size and
//! SHA-256, the signed log entry) and, folded away and labelled as derived, the text read from
//! its files. The search page is static: `assets/search.js` loads the consultation's Pagefind
//! index from the site and shows matching responses with an excerpt; without JavaScript it says
//! so and points to the manifest and the dossier. A question's page lists every answer to it.

use maud::{Markup, html};

use crate::domain::Receipt;
use crate::domain::answer;
use crate::domain::site_paths::{self, Edition};
use crate::extract::ResponseText;
use crate::ports::ConsultationRecord;

use super::layout::{Here, interpolate, layout};

/// The search page's script: loads the Pagefind index and shows the results.
pub const SEARCH_SCRIPT_KEY: &str = "assets/search.js";
pub const SEARCH_SCRIPT: &str = include_str!("assets/search.js");

/// The most extracted text a response page shows, over all its files (the whole text is in
/// `extracted/{n}.txt`, linked): a response may carry 20 files of up to 2 MiB of text each, and
/// the page exists in 7 editions. As much as the search index reads of a response
/// (`search::MAX_INDEXED_BYTES`; the site does not depend on the search, which uses it).
pub const PAGE_TEXT_BYTES: usize = 64 * 1024;

/// The page of response `receipt` (signed, so its log entry shows) with the words of its files.
pub fn response_page(
    edition: Edition,
    record: &ConsultationRecord,
    receipt: &Receipt,
    text: &ResponseText,
) -> String {
    let c = &record.consultation;
    let path = site_paths::response_url(&c.id, receipt.number);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let title = m.f(
        "response_title",
        &[("number", &receipt.number), ("name", &receipt.name)],
    );
    layout(
        here,
        &title,
        html! {
            p { a href=(here.url(&site_paths::consultation_url(&c.id))) { (super::pages::localized(m, &c.title)) } }
            h1 { (title) }
            dl {
                @if let Some(org) = &receipt.organization {
                    dt { (m.t("col_organization")) } dd { (org) }
                }
                @if let Some(category) = receipt.category {
                    dt { (m.t("col_category")) } dd { (super::pages::category_label(m, category)) }
                }
                @if let Some(country) = &receipt.country {
                    dt { (m.t("col_country")) } dd { (country.as_str()) }
                }
                dt { (m.t("col_received")) } dd { (super::pages::when_utc(m, &receipt.received_at)) }
                dt { (m.t("col_channel")) } dd { (m.channel_name(receipt.channel)) }
                dt { (m.t("response_id")) } dd { code { (receipt.id) } }
            }
            (answers_section(here, record, receipt, text))
            h2 { (m.t("response_files_heading")) }
            (super::pages::file_list(m, &receipt.files))
            @if let Some(log) = &receipt.log {
                h2 { (m.t("response_log_heading")) }
                p class="log-entry" { (interpolate(m.t("response_log_text"), &[
                    ("index", html! { (log.leaf_index) }),
                    ("origin", html! { code { (log.origin) } }),
                    ("leaf_hash", html! { code class="sha" { (log.leaf_hash) } }),
                    ("key", html! { code class="sha" { (log.key) } }),
                ])) }
                p { a href=(here.url(&format!("/{}", crate::site::log_pages::VERIFY_PAGE_KEY.trim_end_matches("index.html")))) { (m.t("log_check_link")) } }
            }
            (extracted_section(here, record, receipt, text))
            p { a href=(here.url(&site_paths::page_url(&c.id, site_paths::page_of(receipt.number)))) { (m.t("response_all")) } }
        },
    )
}

/// Each answer under its question, with a link to the answer as received (the record) and to
/// every answer to that question. The words shown are read from the file, like the extracted
/// text below, and cut at [`PAGE_TEXT_BYTES`] each.
fn answers_section(
    here: Here,
    record: &ConsultationRecord,
    receipt: &Receipt,
    text: &ResponseText,
) -> Markup {
    let m = here.m();
    let c = &record.consultation;
    let answered: Vec<(usize, &crate::domain::PublicFile)> = receipt
        .files
        .iter()
        .filter_map(|f| Some((answer::question_of_file(&f.name)?, f)))
        .filter(|(k, _)| (1..=c.questions.len()).contains(k))
        .collect();
    let words_of = |name: &str| {
        text.files
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.words.as_ref().ok())
            .map(|w| w.text.as_str())
    };
    html! {
        @if !answered.is_empty() {
            section aria-labelledby="answers" {
                h2 id="answers" { (m.t("answers_heading")) }
                @for (k, file) in &answered {
                    @let q = &c.questions[k - 1];
                    h3 id={ "answer-" (k) } {
                        (m.f("answers_question_label", &[("number", k)])) " "
                        (super::pages::localized(m, q))
                    }
                    @if let Some(words) = words_of(&file.name) {
                        @let shown = cut(words, PAGE_TEXT_BYTES);
                        div class="text" dir="auto" {
                            @for paragraph in shown.split('\n') { p { (paragraph) } }
                        }
                        @if shown.len() < words.len() { p class="note" { (m.t("extracted_cut")) } }
                    }
                    p {
                        a href=(file.url) download { (m.t("answers_as_received")) } " (" (file.name) ")"
                        " · "
                        a href=(here.url(&site_paths::question_url(&c.id, *k, site_paths::page_of(receipt.number)))) { (m.t("answers_all_link")) }
                    }
                }
            }
        }
    }
}

/// Page `page` of the answers to question `k`: the answers among that page's responses (see
/// publish::answers), each with who sent it, its words and a link to its response
/// and to the answer as received.
pub fn question_page(
    edition: Edition,
    record: &ConsultationRecord,
    k: usize,
    page: u64,
    total: u64,
    entries: &[crate::domain::answer::AnswerEntry],
) -> String {
    let c = &record.consultation;
    let path = site_paths::question_url(&c.id, k, page);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let title = m.f("question_page_title", &[("number", &k)]);
    let page_title = if page == 1 {
        title.clone()
    } else {
        format!("{title} — {}", m.f("page_n", &[("page", &page)]))
    };
    let pages = site_paths::page_count(total).max(1);
    let question = c.questions.get(k - 1);
    layout(
        here,
        &page_title,
        html! {
            p { a href=(here.url(&site_paths::consultation_url(&c.id))) { (super::pages::localized(m, &c.title)) } }
            h1 { (title) }
            @if let Some(q) = question { p class="question" { (super::pages::localized(m, q)) } }
            p class="note" { (m.t("question_page_note")) " " (m.t("question_page_paging")) }
            @if entries.is_empty() {
                p { (m.t("question_page_empty")) }
            } @else {
                ol class="responses" {
                    @for e in entries {
                        li id={ "response-" (e.number) } {
                            article aria-labelledby={ "answer-" (e.number) "-title" } {
                                h2 id={ "answer-" (e.number) "-title" } {
                                    a href=(here.url(&site_paths::response_url(&c.id, e.number))) { (m.f("response_title", &[("number", &e.number), ("name", &e.name)])) }
                                }
                                @if let Some(org) = &e.organization { p { (org) } }
                                @if let Some(text) = &e.text {
                                    div class="text" dir="auto" {
                                        @for paragraph in text.split('\n') { p { (paragraph) } }
                                    }
                                    @if e.cut { p class="note" { (m.t("extracted_cut")) } }
                                }
                                p {
                                    a href=(e.file.url) download { (m.t("answers_as_received")) }
                                    " (" (e.file.name) ", " (m.p("bytes", e.file.size, &[])) ")"
                                }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav aria-label=(m.t("pages_nav")) {
                    ul class="pages" { @for p in 1..=pages {
                        li {
                            @if p == page {
                                a href=(here.url(&site_paths::question_url(&c.id, k, p))) aria-current="page" aria-label=(m.f("page_n", &[("page", &p)])) { (p) }
                            } @else {
                                a href=(here.url(&site_paths::question_url(&c.id, k, p))) aria-label=(m.f("page_n", &[("page", &p)])) { (p) }
                            }
                        }
                    } }
                }
            }
        },
    )
}

/// The first `max` bytes of `text`, cut on a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The words of each file, folded away: derived, so labelled as such.
fn extracted_section(
    here: Here,
    record: &ConsultationRecord,
    receipt: &Receipt,
    text: &ResponseText,
) -> Markup {
    let m = here.m();
    let id = &record.consultation.id;
    let whole_text = html! {
        a href=(site_paths::extracted_url(id, receipt.number)) type="text/plain" { (m.t("extracted_link")) }
    };
    html! {
        details class="extracted" {
            summary { (m.t("extracted_heading")) }
            p class="note" {
                (m.t("extracted_note")) " "
                (whole_text)
            }
            @for (file, shown) in text.files.iter().zip(shown_texts(text, PAGE_TEXT_BYTES)) {
                section {
                    h3 { (file.name) }
                    @match (&file.words, shown) {
                        (Ok(words), Some(shown)) if !shown.is_empty() => {
                            // The text's own language is unknown: `dir="auto"` lets Arabic read right to left.
                            div class="text" dir="auto" {
                                @for paragraph in shown.split('\n') { p { (paragraph) } }
                            }
                            @if shown.len() < words.text.len() {
                                p class="note" {
                                    (m.t("extracted_cut")) " "
                                    (whole_text)
                                }
                            }
                        }
                        (Ok(words), None) if !words.text.is_empty() => p class="note" {
                            (m.t("extracted_cut")) " "
                            (whole_text)
                        },
                        (Ok(_), _) => p class="note" { (m.t("extracted_none")) },
                        (Err(skipped), _) => p class="note" {
                            (m.t("extracted_none")) " " span lang="en" { "(" (skipped) ")" }
                        },
                    }
                }
            }
        }
    }
}

/// What the page shows of each file's words, within `budget` bytes over all files, in order: the
/// whole text, its first part (cut at a character boundary: then the budget is spent), or `None`
/// once the budget is spent.
fn shown_texts(text: &ResponseText, mut budget: usize) -> Vec<Option<&str>> {
    text.files
        .iter()
        .map(|file| {
            let words = file.words.as_ref().map(|w| w.text.as_str()).unwrap_or("");
            let mut end = words.len().min(budget);
            while !words.is_char_boundary(end) {
                end -= 1;
            }
            // A file cut short spends the budget: later files are not shown in part.
            budget = if end < words.len() { 0 } else { budget - end };
            if end == 0 && !words.is_empty() {
                return None;
            }
            Some(&words[..end])
        })
        .collect()
}

/// The consultation's search page: a form that works as a link target (`?q=`), results shown
/// by `assets/search.js`, and, without JavaScript, where else every response can be read.
pub fn search_page(edition: Edition, record: &ConsultationRecord) -> String {
    let c = &record.consultation;
    let path = site_paths::search_url(&c.id);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let heading = m.t("search_heading");
    let dossier = html! { a href=(site_paths::dossier_url(&c.id)) { "dossier.zip" } };
    let manifest = html! { a href=(site_paths::manifest_url(&c.id)) type="application/json" { "responses.json" } };
    layout(
        here,
        &format!("{heading} — {}", c.title.get(m.lang()).1),
        html! {
            p { a href=(here.url(&site_paths::consultation_url(&c.id))) { (super::pages::localized(m, &c.title)) } }
            h1 { (heading) }
            (super::pages::search_form(here, record))
            noscript { p class="note" { (interpolate(m.t("search_nojs"), &[("manifest", manifest), ("dossier", dossier)])) } }
            div id="search"
                hidden
                data-index=(site_paths::search_index_url(&c.id))
                data-covers=(m.t("search_covers"))
                data-found=(m.t("search_found"))
                data-none=(m.t("search_none"))
                data-loading=(m.t("search_loading"))
                data-failed=(m.t("search_failed"))
                data-empty=(m.t("search_empty_index"))
                data-prefix=(here.url(""))
            {
                p id="search-covers" class="note" {}
                p id="search-status" role="status" {}
                p class="note" { (m.t("search_excerpt_note")) }
                ul id="search-results" {}
            }
            script src={ "/" (SEARCH_SCRIPT_KEY) } type="module" {}
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{Extracted, FileText};

    fn file(text: &str) -> FileText {
        FileText {
            name: "f.txt".to_owned(),
            words: Ok(Extracted {
                text: text.to_owned(),
                truncated: false,
            }),
        }
    }

    #[test]
    fn the_page_shows_texts_within_its_budget_cut_at_characters() {
        let text = ResponseText {
            files: vec![file("abc"), file("数据保护"), file(""), file("more")],
        };
        // 3 + 6 bytes: "数据" fits, "保" (3 bytes) would not; then the budget is spent.
        assert_eq!(
            shown_texts(&text, 9),
            vec![Some("abc"), Some("数据"), Some(""), None]
        );
        // A file cut short ends what is shown, even with a byte left.
        assert_eq!(
            shown_texts(&text, 10),
            vec![Some("abc"), Some("数据"), Some(""), None]
        );
        assert_eq!(
            shown_texts(&text, 100),
            vec![Some("abc"), Some("数据保护"), Some(""), Some("more")]
        );
        // Less than one character left: nothing of the file, not an empty text.
        assert_eq!(
            shown_texts(&text, 4),
            vec![Some("abc"), None, Some(""), None]
        );
    }
}
