//! The public site's pages, feeds and manifests, rendered from records in any of the six
//! languages. Everything a submitter typed goes through maud's escaping; every interface string
//! comes from the message catalogues (`i18n`); nothing here does I/O.
//!
//! Pages work without JavaScript. `assets/site.js` (same origin, no inline code, so the strict
//! CSP holds) adds the reader's own time zone, the countdown, the response filter and form hints;
//! the strings it needs travel as `data-` attributes rendered here.

use jiff::Timestamp;
use maud::{Markup, PreEscaped, html};

use crate::domain::answer;
use crate::domain::deadline::rfc3339_geneva;
use crate::domain::limits::Limits;
use crate::domain::site_paths::{self, Edition, page_count};
use crate::domain::{
    Category, ConsultationId, DeadlineRule, Language, Localized, PublicFile, Receipt, Status, Text,
};
use crate::i18n::{Catalogue, messages};
use crate::ports::ConsultationRecord;
use crate::site::views::{ConsultationView, Manifest, ManifestPage};

use super::layout::{Here, UPLOAD_SCRIPT_KEY, dir, interpolate, layout};

const UPLOAD_MESSAGES: [&str; 18] = [
    "upload_files_label",
    "upload_sending",
    "upload_sent",
    "upload_failed",
    "upload_finishing",
    "upload_too_large",
    "upload_too_many",
    "upload_total_too_large",
    "upload_empty",
    "upload_refused",
    "upload_network",
    "receipt_heading",
    "receipt_text",
    "col_file",
    "col_bytes",
    "sha256",
    "response_id",
    "log_receipt_text",
];

/// A date for people in the page's language, Geneva time with its offset; the script adds the
/// reader's own time zone from the machine-readable `datetime`.
pub(super) fn when(m: &Catalogue, at: Timestamp) -> Markup {
    html! { time datetime=(rfc3339_geneva(at)) data-local { (m.geneva_time(at)) } }
}

/// A receipt's UTC timestamp (`…Z`) shown like any other date.
pub(super) fn when_utc(m: &Catalogue, raw: &str) -> Markup {
    match raw.parse::<Timestamp>() {
        Ok(at) => when(m, at),
        Err(_) => html! { time datetime=(raw) { (raw) } },
    }
}

pub(super) use super::layout::localized;

/// The note that says which language a fallback text is shown in, if any is.
fn fallback_note<'a>(m: &Catalogue, texts: impl IntoIterator<Item = &'a Localized>) -> Markup {
    let fallback = texts
        .into_iter()
        .map(|t| t.get(m.lang()).0)
        .find(|l| *l != m.lang());
    html! {
        @if let Some(lang) = fallback {
            p class="note" { (m.f("fallback_note", &[("language", &m.t(&format!("lang_{}", lang.code())))])) }
        }
    }
}

fn status_label(m: &Catalogue, status: Status) -> &str {
    m.t(match status {
        Status::Scheduled => "status_scheduled",
        Status::Open => "status_open",
        Status::Closed => "status_closed",
    })
}

pub(super) fn category_label(m: &Catalogue, c: Category) -> &str {
    m.t(&format!("category_{}", c.code()))
}

pub fn index_page(edition: Edition, records: &[ConsultationRecord], now: Timestamp) -> String {
    let here = Here { edition, path: "/" };
    let m = here.m();
    layout(
        here,
        m.t("index_title"),
        html! {
            h1 { (m.t("index_title")) }
            @if records.is_empty() {
                p { (m.t("index_empty")) }
            } @else {
                (fallback_note(m, records.iter().map(|r| &r.consultation.title)))
                table {
                    thead { tr {
                        th scope="col" { (m.t("col_consultation")) }
                        th scope="col" { (m.t("col_status")) }
                        th scope="col" { (m.t("col_deadline")) }
                        th scope="col" { (m.t("col_responses")) }
                    } }
                    tbody {
                        @for record in records {
                            @let c = &record.consultation;
                            tr {
                                td { a href=(here.url(&site_paths::consultation_url(&c.id))) { (localized(m, &c.title)) } }
                                td { (status_label(m, c.status_at(now))) }
                                td { (when(m, c.deadline)) }
                                td { (record.response_count) }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn consultation_page(
    edition: Edition,
    record: &ConsultationRecord,
    page: u64,
    entries: &[Receipt],
    now: Timestamp,
) -> String {
    let c = &record.consultation;
    let path = site_paths::page_url(&c.id, page);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let title = c.title.get(m.lang()).1;
    let pages = page_count(record.response_count);
    let status = c.status_at(now);
    let page_title = if page == 1 {
        title.to_owned()
    } else {
        format!("{title} — {}", m.f("page_n", &[("page", &page)]))
    };
    layout(
        here,
        &page_title,
        html! {
            h1 { (localized(m, &c.title)) }
            (fallback_note(m, std::iter::once(&c.title).chain(&c.questions)))
            @if page == 1 {
                (super::outcome_pages::outcome_box(here, c))
                (super::outcome_pages::about(here, c))
            }
            dl {
                dt { (m.t("label_status")) } dd { (status_label(m, status)) }
                dt { (m.t("label_opens")) } dd { (when(m, c.opens_at)) }
                dt { (m.t("label_deadline")) } dd {
                    (when(m, c.deadline))
                    @if c.deadline_rule == DeadlineRule::Resolution1344 {
                        " — " (m.t("deadline_rule_note"))
                    }
                }
                dt { (m.t("label_meeting")) } dd { (c.meeting_date) }
                dt { (m.t("label_count")) } dd { (record.response_count) }
                @if let Some(closing) = &c.closing {
                    dt { (m.t("label_closed")) } dd { (when(m, closing.closed_at)) }
                }
            }
            @if status == Status::Open {
                p id="countdown" role="timer" data-deadline=(rfc3339_geneva(c.deadline)) hidden {}
            }
            @if page == 1 {
                (download_everything(here, record))
                @if !c.deadline_history.is_empty() {
                    h2 { (m.t("changes_heading")) }
                    ul {
                        @for change in &c.deadline_history {
                            @let key = if change.reopened { "change_reopened" } else { "change_moved" };
                            li {
                                (when(m, change.changed_at)) ": "
                                (m.f(key, &[("from", &m.geneva_time(change.from)), ("to", &m.geneva_time(change.to))]))
                                @if let Some(reason) = &change.reason { " — " (reason) }
                            }
                        }
                    }
                }
                h2 { (m.t("questions_heading")) }
                ol {
                    @for (i, q) in c.questions.iter().enumerate() {
                        li {
                            (localized(m, q))
                            // Its page exists once a response is published.
                            @if record.response_count > 0 {
                                " — " a href=(here.url(&site_paths::question_url(&c.id, i + 1, 1))) { (m.t("answers_all_link")) }
                            }
                        }
                    }
                }
                @if status != Status::Closed { (how_to_respond(m, &c.id, c.deadline)) }
                @if status == Status::Open { (response_form(here, &c.id, &c.questions)) }
                @if status != Status::Closed { (subscribe_form(here, &c.id)) }
            }
            h2 id="responses" { (m.t("responses_heading")) }
            @if record.response_count > 0 {
                (search_form(here, record))
            }
            @if record.response_count > 0 {
                p {
                    a href=(site_paths::csv_url(&c.id)) type="text/csv" download { (m.t("csv_link")) }
                    " " span class="note" { (m.t("csv_note")) }
                }
            }
            p {
                a href=(site_paths::manifest_url(&c.id)) type="application/json" { (m.t("manifest_link")) }
                " · "
                a href=(here.url(&site_paths::feed_url(&c.id))) type="application/atom+xml" hreflang=(m.lang().code()) { (m.t("feed_link")) }
            }
            @if entries.is_empty() {
                p { (m.t("responses_empty")) }
            } @else {
                (filter_form(m, &c.id))
                ol class="responses" start=(entries[0].number) {
                    @for r in entries { (response_entry(here, r)) }
                }
            }
            @if pages > 1 {
                nav aria-label=(m.t("pages_nav")) {
                    ul class="pages" { @for p in 1..=pages {
                        li {
                            @if p == page {
                                a href=(here.url(&site_paths::page_url(&c.id, p))) aria-current="page" aria-label=(m.f("page_n", &[("page", &p)])) { (p) }
                            } @else {
                                a href=(here.url(&site_paths::page_url(&c.id, p))) aria-label=(m.f("page_n", &[("page", &p)])) { (p) }
                            }
                        }
                    } }
                }
            }
        },
    )
}

/// The dossier once the closing is final; until then the manifest, which lists every file.
fn download_everything(here: Here, record: &ConsultationRecord) -> Markup {
    let m = here.m();
    let c = &record.consultation;
    let dossier = c.closing.as_ref().and_then(|cl| cl.dossier.as_ref());
    html! {
        section aria-labelledby="download-everything" {
            h2 id="download-everything" { (m.t("download_everything")) }
            @if let Some(dossier) = dossier {
                p { strong { (m.t("dossier_heading")) } }
                p {
                    (m.p("dossier_text", dossier.response_count, &[])) " "
                    a href=(site_paths::dossier_url(&c.id)) download { "dossier.zip" }
                    " (" (m.p("bytes", dossier.size, &[])) ", " (m.t("sha256")) " "
                    code class="sha" { (dossier.sha256) } ")"
                }
                p { a href=(here.url(&site_paths::summary_url(&c.id))) { (m.t("summary_link")) } }
                (crate::site::log_pages::dossier_log(here.edition, &c.id, dossier))
            } @else {
                p {
                    (m.t("download_open")) " "
                    a href=(site_paths::manifest_url(&c.id)) type="application/json" { "responses.json" }
                }
            }
        }
    }
}

fn response_entry(here: Here, r: &Receipt) -> Markup {
    let m = here.m();
    html! {
        li id={ "response-" (r.number) }
            data-name=(r.name)
            data-organization=(r.organization.as_deref().unwrap_or(""))
            data-category=(r.category.map(Category::code).unwrap_or(""))
            data-country=(r.country.as_ref().map(|c| c.as_str()).unwrap_or(""))
        {
            article aria-labelledby={ "response-" (r.number) "-title" } {
                h3 id={ "response-" (r.number) "-title" } {
                    a href=(here.url(&site_paths::response_url(&r.consultation, r.number))) { (m.f("response_title", &[("number", &r.number), ("name", &r.name)])) }
                }
                p {
                    @if let Some(org) = &r.organization { (org) " · " }
                    @if let Some(cat) = r.category { (category_label(m, cat)) " · " }
                    @if let Some(country) = &r.country { (country.as_str()) " · " }
                    (m.t("received")) " " (when_utc(m, &r.received_at))
                }
                (file_list(m, &r.files))
            }
        }
    }
}

/// A response's files, each a download with its size, type and SHA-256.
pub(super) fn file_list(m: &Catalogue, files: &[PublicFile]) -> Markup {
    html! {
        ul class="files" {
            @for f in files {
                li {
                    a href=(f.url) download { (f.name) }
                    " (" (m.p("bytes", f.size, &[])) ", " (f.media_type) ") "
                    span class="sha" { (m.t("sha256")) " " code { (f.sha256) } }
                }
            }
        }
    }
}

/// Filters the responses of this page as the reader types, and can search every page through
/// the JSON manifest. Hidden without JavaScript, which it needs.
fn filter_form(m: &Catalogue, id: &ConsultationId) -> Markup {
    html! {
        form id="filter" class="filter" role="search" aria-labelledby="filter-heading" data-manifest=(site_paths::manifest_url(id)) hidden {
            h3 id="filter-heading" { (m.t("filter_heading")) }
            div class="field" {
                label for="filter-text" { (m.t("filter_text")) }
                input id="filter-text" name="q" type="search";
            }
            div class="field" {
                label for="filter-category" { (m.t("filter_category")) }
                select id="filter-category" name="category" {
                    option value="" { (m.t("filter_any")) }
                    @for c in Category::ALL { option value=(c.code()) { (category_label(m, c)) } }
                }
            }
            div class="field" {
                label for="filter-country" { (m.t("filter_country")) }
                input id="filter-country" name="country" maxlength="2" size="3" autocomplete="off";
            }
            button id="filter-all" type="button" { (m.t("filter_all_pages")) }
            p id="filter-status" role="status" {}
            ul id="filter-results" {}
        }
    }
}

fn how_to_respond(m: &Catalogue, id: &ConsultationId, deadline: Timestamp) -> Markup {
    let endpoint = format!("/api/consultations/{id}/responses");
    html! {
        h2 { (m.t("how_heading")) }
        p { (m.t("how_who")) }
        p { strong { (m.f("how_deadline", &[("deadline", &m.geneva_time(deadline))])) } }
        p { (interpolate(m.t("how_api"), &[
            ("endpoint", html! { code dir="ltr" { (endpoint) } }),
            ("api", html! { a href="/api/openapi.json" { (m.t("api_description")) } }),
        ])) }
        p { (m.t("how_public")) }
    }
}

/// One form field with its label, an optional hint and a slot for its error, tied together
/// with `aria-describedby` so a screen reader reads all three.
fn field(id: &str, label: &str, hint: Option<&str>, control: Markup) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            @if let Some(hint) = hint { p class="hint" id={ (id) "-hint" } { (hint) } }
            (control)
            p class="error" id={ (id) "-error" } hidden {}
        }
    }
}

fn described_by(id: &str, hint: bool) -> String {
    if hint {
        format!("{id}-hint {id}-error")
    } else {
        format!("{id}-error")
    }
}

/// A plain multipart form: works without JavaScript; the receipt or the error comes back as a
/// page in the reader's language (`?lang=`). With JavaScript, `upload.js` sends the chosen files
/// through presigned uploads instead (past API Gateway's 10 MB request limit), checked first
/// against the limits and with the words it shows in `data-` attributes.
fn response_form(here: Here, id: &ConsultationId, questions: &[Localized]) -> Markup {
    let m = here.m();
    let lang = here.edition.lang.code();
    let required = format!("{} ({})", m.t("field_name"), m.t("required"));
    let limits = Limits::default();
    let words: serde_json::Map<String, serde_json::Value> = UPLOAD_MESSAGES
        .iter()
        .map(|key| ((*key).to_owned(), m.t(key).into()))
        .collect();
    html! {
        section aria-labelledby="respond" {
            h2 id="respond" { (m.t("form_heading")) }
            form id="response-form" method="post" enctype="multipart/form-data" action={ "/api/consultations/" (id) "/responses?lang=" (lang) }
                data-uploads={ "/api/consultations/" (id) "/uploads?lang=" (lang) }
                data-consultation=(here.url(&site_paths::consultation_url(id)))
                data-max-file-bytes=(limits.max_file_bytes)
                data-max-files=(limits.max_files)
                data-max-total-bytes=(limits.max_total_bytes)
                data-messages=(serde_json::Value::Object(words))
            {
                (field("name", &required, None, html! {
                    input id="name" name="name" required autocomplete="name" maxlength="300" aria-describedby=(described_by("name", false));
                }))
                (field("organization", m.t("field_organization"), None, html! {
                    input id="organization" name="organization" autocomplete="organization" maxlength="300" aria-describedby=(described_by("organization", false));
                }))
                (field("email", m.t("field_email"), Some(m.t("field_email_hint")), html! {
                    input id="email" name="email" type="email" autocomplete="email" dir="ltr" aria-describedby=(described_by("email", true));
                }))
                (field("category", m.t("field_category"), None, html! {
                    select id="category" name="category" aria-describedby=(described_by("category", false)) {
                        option value="" { (m.t("none_selected")) }
                        @for c in Category::ALL { option value=(c.code()) { (category_label(m, c)) } }
                    }
                }))
                (field("country", m.t("field_country"), Some(m.t("field_country_hint")), html! {
                    input id="country" name="country" maxlength="2" size="3" pattern="[A-Za-z]{2}" autocomplete="off" dir="ltr" aria-describedby=(described_by("country", true));
                }))
                (answer_fields(m, questions))
                (field("text", m.t("field_text"), None, html! {
                    textarea id="text" name="text" rows="12" aria-describedby=(described_by("text", false)) {}
                }))
                (field("file", m.t("field_files"), Some(m.t("field_files_hint")), html! {
                    input id="file" name="file" type="file" multiple aria-describedby=(described_by("file", true));
                }))
                p { button type="submit" { (m.t("submit")) } }
            }
            script src={ "/" (UPLOAD_SCRIPT_KEY) } defer {}
        }
    }
}

/// One text box per question (`answer-{k}`), labelled with the question in the reader's
/// language (or its fallback, marked with its own language), grouped under one legend.
fn answer_fields(m: &Catalogue, questions: &[Localized]) -> Markup {
    html! {
        fieldset class="answers" aria-describedby="answers-hint" {
            legend { (m.t("answers_form_heading")) }
            p class="hint" id="answers-hint" { (m.t("answers_form_hint")) }
            @for (i, q) in questions.iter().enumerate() {
                @let id = answer::answer_field(i + 1);
                div class="field" {
                    label for=(id) {
                        (m.f("answers_question_label", &[("number", &(i + 1))])) " "
                        (localized(m, q))
                    }
                    textarea id=(id) name=(id) rows="6" aria-describedby=(described_by(&id, false)) {}
                    p class="error" id={ (id) "-error" } hidden {}
                }
            }
        }
    }
}

/// The consultation's email list: the intake function answers this post.
fn subscribe_form(here: Here, id: &ConsultationId) -> Markup {
    let m = here.m();
    let lang = here.edition.lang.code();
    html! {
        section aria-labelledby="subscribe" {
            h2 id="subscribe" { (m.t("subscribe_heading")) }
            p { (m.t("subscribe_text")) }
            form id="subscribe-form" method="post" action={ "/api/consultations/" (id) "/subscriptions?lang=" (lang) } {
                div class="field" {
                    label for="subscribe-email" { (m.t("subscribe_email")) }
                    input id="subscribe-email" name="email" type="email" required autocomplete="email" dir="ltr";
                }
                p { button type="submit" { (m.t("subscribe_button")) } }
            }
        }
    }
}

/// What a browser gets after posting the form (no JavaScript needed): the number, and every
/// file with its SHA-256, so the submitter can check the published copy.
pub fn receipt_page(lang: Language, receipt: &Receipt) -> String {
    let path = site_paths::consultation_url(&receipt.consultation);
    let here = Here {
        edition: Edition::of(lang),
        path: &path,
    };
    let m = here.m();
    let number = &receipt.number;
    layout(
        here,
        &m.f("receipt_title", &[("number", number)]),
        html! {
            h1 { (m.f("receipt_heading", &[("number", number)])) }
            p { (interpolate(m.t("receipt_text"), &[
                ("received", when_utc(m, &receipt.received_at)),
                ("consultation", html! { a href=(here.url(&path)) { (receipt.consultation) } }),
            ])) }
            (receipt_files(m, receipt.files.iter().map(|f| (
                html! { a href=(f.url) download { (f.name) } },
                f.size,
                f.sha256.as_str(),
            ))))
            p { (m.t("response_id")) " " code { (receipt.id) } }
            (crate::site::log_pages::receipt_log(m, receipt))
            p { a href=(here.url(&path)) { (m.t("back_to_consultation")) } }
        },
    )
}

/// A receipt's files: each name (a link once published), its size and SHA-256.
fn receipt_files<'a>(m: &Catalogue, files: impl Iterator<Item = (Markup, u64, &'a str)>) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { (m.t("col_file")) }
                th scope="col" { (m.t("col_bytes")) }
                th scope="col" { (m.t("sha256")) }
            } }
            tbody {
                @for (name, size, sha256) in files {
                    tr {
                        td { (name) }
                        td { (size) }
                        td class="sha" { code { (sha256) } }
                    }
                }
            }
        }
    }
}

/// The receipt page of a response stored but not yet numbered: what was received, and where
/// its number can be asked for.
pub fn pending_receipt_page(
    lang: Language,
    receipt: &crate::domain::PendingReceipt,
    status_url: &str,
) -> String {
    let path = site_paths::consultation_url(&receipt.consultation);
    let here = Here {
        edition: Edition::of(lang),
        path: &path,
    };
    let m = here.m();
    layout(
        here,
        m.t("receipt_pending_title"),
        html! {
            h1 { (m.t("receipt_pending_title")) }
            p { (interpolate(m.t("receipt_pending_text"), &[
                ("received", when_utc(m, &receipt.received_at)),
                ("consultation", html! { a href=(here.url(&path)) { (receipt.consultation) } }),
            ])) }
            (receipt_files(m, receipt.files.iter().map(|f| (
                html! { (f.name) },
                f.size,
                f.sha256.as_str(),
            ))))
            p { (m.t("response_id")) " " code { (receipt.id) } }
            p { a href=(status_url) { (m.t("receipt_pending_link")) } }
            p { a href=(here.url(&path)) { (m.t("back_to_consultation")) } }
        },
    )
}

/// An error for a browser that posted the form: what went wrong, the field concerned, and the
/// way back to that field on the form.
pub fn error_page(
    lang: Language,
    status: u16,
    message: &Text,
    field: Option<&str>,
    consultation: Option<&ConsultationId>,
) -> String {
    let path = consultation.map_or_else(|| "/".to_owned(), site_paths::consultation_url);
    let here = Here {
        edition: Edition::of(lang),
        path: &path,
    };
    let m = here.m();
    let field_label = field.map(|f| m.field_label(f));
    // A message the catalogues lack (a library's words) is English, and marked so.
    let message_lang = match message {
        Text::English(_) => Language::En,
        Text::Message { .. } => lang,
    };
    let back = match (consultation, field) {
        (Some(_), Some(f)) => format!("{}#{f}", here.url(&path)),
        (Some(_), None) => format!("{}#respond", here.url(&path)),
        (None, _) => here.url("/"),
    };
    layout(
        here,
        m.t("error_title"),
        html! {
            h1 { (m.t("error_title")) }
            div role="alert" {
                @if let Some(label) = field_label { p { strong { (m.f("error_field", &[("field", &label)])) } } }
                p lang=(message_lang.code()) dir=(dir(message_lang)) { (m.render(message)) }
            }
            p { (m.f("error_status", &[("status", &status)])) " " a href=(back) { (m.t("error_back")) } }
        },
    )
}

/// The Group's overview of a closed consultation: who responded, and which responses are
/// identical or nearly identical (flagged for attention, never removed or altered).
/// The charts of what came in, each with its table: over time (per day, and per hour over the
/// last days before the deadline, where the rush is) and by category, country and channel.
/// On the public summary page and the Secretariat's console.
pub fn summary_charts(
    m: &Catalogue,
    deadline: jiff::Timestamp,
    summary: &crate::domain::Summary,
) -> Markup {
    use super::charts::{Bar, Shape, chart};
    let counts = |id: &str,
                  heading: &str,
                  label: &str,
                  map: &std::collections::BTreeMap<String, u64>,
                  name: &dyn Fn(&str) -> String| {
        let bars: Vec<Bar> = map
            .iter()
            .map(|(key, count)| Bar {
                label: name(key),
                count: *count,
            })
            .collect();
        html! {
            h2 { (heading) }
            (chart(m.lang(), m.t("chart_table"), id, heading, label, m.t("col_responses"), Shape::Rows, &bars))
        }
    };
    let series = |pairs: Vec<(String, u64)>| -> Vec<Bar> {
        pairs
            .into_iter()
            .map(|(label, count)| Bar { label, count })
            .collect()
    };
    let days = series(summary.by_day().into_iter().collect());
    let hours = series(
        summary
            .last_hours(deadline, RUSH_HOURS)
            .into_iter()
            .map(|(hour, count)| (hour.replace('T', " ") + ":00", count))
            .collect(),
    );
    let category = |code: &str| {
        Category::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .map_or_else(|| code.to_owned(), |c| category_label(m, c).to_owned())
    };
    let same = |code: &str| code.to_owned();
    html! {
        h2 { (m.t("chart_over_time")) }
        (chart(m.lang(), m.t("chart_table"), "by-day", m.t("chart_by_day"), m.t("col_day"), m.t("col_responses"), Shape::Columns, &days))
        (chart(m.lang(), m.t("chart_table"), "last-hours", m.t("chart_last_hours"), m.t("col_hour"), m.t("col_responses"), Shape::Columns, &hours))
        (counts("by-category", m.t("by_category"), m.t("col_category"), &summary.by_category, &category))
        (counts("by-country", m.t("by_country"), m.t("col_country"), &summary.by_country, &same))
        (counts("by-channel", m.t("by_channel"), m.t("col_channel"), &summary.by_channel, &same))
    }
}

/// The hours before the deadline whose responses the summary charts one by one: the rush.
const RUSH_HOURS: i64 = 72;

pub fn summary_page(
    edition: Edition,
    record: &ConsultationRecord,
    summary: &crate::domain::Summary,
) -> String {
    let c = &record.consultation;
    let path = site_paths::summary_url(&c.id);
    let here = Here {
        edition,
        path: &path,
    };
    let m = here.m();
    let title = c.title.get(m.lang()).1;
    layout(
        here,
        &m.f("summary_title", &[("title", &title)]),
        html! {
            h1 { (m.f("summary_title", &[("title", &title)])) }
            p {
                (m.p("summary_total", summary.total, &[("deadline", &m.geneva_time(c.deadline))])) " "
                a href=(here.url(&site_paths::consultation_url(&c.id))) { (m.t("all_responses")) } " · "
                a href=(site_paths::dossier_url(&c.id)) download { "dossier.zip" }
            }
            (summary_charts(m, c.deadline, summary))
            h2 { (m.t("answers_summary_heading")) }
            table {
                thead { tr { th scope="col" { (m.t("questions_heading")) } th scope="col" { (m.t("col_responses")) } } }
                tbody {
                    @for (i, q) in c.questions.iter().enumerate() {
                        @let count = summary.answers_by_question.get(&(i + 1)).copied().unwrap_or(0);
                        tr {
                            td {
                                a href=(here.url(&site_paths::question_url(&c.id, i + 1, 1))) {
                                    (m.f("answers_question_label", &[("number", &(i + 1))]))
                                }
                                " " (localized(m, q))
                            }
                            td { (m.p("answers_summary_count", count, &[])) }
                        }
                    }
                }
            }
            h2 { (m.t("similar_heading")) }
            @if summary.similar.is_empty() {
                p { (m.t("similar_none")) }
            } @else {
                p { (m.t("similar_intro")) }
                ul {
                    @for group in &summary.similar {
                        li {
                            @let key = if group.identical { "similar_identical" } else { "similar_near" };
                            (m.p(key, group.numbers.len() as u64, &[])) " "
                            @for (i, number) in group.numbers.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={ (here.url(&site_paths::page_url(&c.id, site_paths::page_of(*number)))) "#response-" (number) } { (number) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A stable Atom id, derived from what it names and the feed's language, so it never changes.
/// English keeps the ids its feeds had before there were other languages; each language's
/// feeds have their own (a translated entry is another document, RFC 4287 §4.2.6).
fn atom_id(lang: Language, what: &str) -> String {
    use sha2::Digest;
    let seed = match lang {
        Language::En => what.to_owned(),
        other => format!("{what} {}", other.code()),
    };
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!("urn:uuid:{}", uuid::Uuid::new_v8(bytes))
}

/// The Atom id of a consultation, in the feeds of `lang`.
fn consultation_urn(lang: Language, id: &ConsultationId) -> String {
    atom_id(lang, &format!("verbatim consultation {id}"))
}

/// The Atom id of a response: its own id in English, a derived one in other languages.
fn response_urn(lang: Language, r: &Receipt) -> String {
    match lang {
        Language::En => format!("urn:uuid:{}", r.id),
        other => atom_id(other, &format!("verbatim response {}", r.id)),
    }
}

/// The id of the feed of every consultation: the one it always had in English.
fn all_feed_urn(lang: Language) -> String {
    match lang {
        Language::En => format!("urn:uuid:{}", uuid::Uuid::new_v8(*b"verbatim-all-fee")),
        other => atom_id(other, "verbatim all consultations"),
    }
}

const ATOM_DECLARATION: PreEscaped<&str> =
    PreEscaped("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");

fn atom_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The Atom feed of a consultation in one language edition (`xml:lang`, the catalogue's
/// words, links to that edition's pages): its latest responses, newest first, each with its
/// files. Links are relative to the feed's own URL (RFC 4287 §2), so one file serves every host.
pub fn consultation_feed(
    edition: Edition,
    record: &ConsultationRecord,
    latest: &[Receipt],
    now: Timestamp,
) -> String {
    let c = &record.consultation;
    let lang = edition.lang;
    let m = messages(lang);
    let (title_lang, title) = c.title.get(lang);
    let updated = latest
        .iter()
        .filter_map(|r| r.received_at.parse::<Timestamp>().ok())
        .max()
        .unwrap_or(c.opens_at.min(now));
    let updated = c
        .outcome
        .last()
        .map_or(updated, |o| updated.max(o.published_at));
    let outcome_urn = c
        .outcome
        .last()
        .map(|o| atom_id(lang, &format!("verbatim outcome {} {}", c.id, o.version)));
    html! {
        (ATOM_DECLARATION)
        feed xmlns="http://www.w3.org/2005/Atom" xml:lang=(lang.code()) {
            id { (consultation_urn(lang, &c.id)) }
            title xml:lang=(title_lang.code()) { (title) }
            subtitle { (m.t("footer")) }
            updated { (atom_time(updated)) }
            author { name { "ITU CWG-Internet" } }
            link rel="self" href=(edition.url(&site_paths::feed_url(&c.id))) {}
            link rel="alternate" type="text/html" href=(edition.url(&site_paths::consultation_url(&c.id))) {}
            @if let Some(urn) = outcome_urn {
                (super::outcome_pages::outcome_entry(edition, c, urn))
            }
            @for r in latest.iter().rev() {
                entry {
                    id { (response_urn(lang, r)) }
                    title { (m.f("response_title", &[("number", &r.number), ("name", &r.name)])) }
                    updated { (r.received_at) }
                    published { (r.received_at) }
                    author { name { (r.name) } }
                    // The response's own page; and where it is listed.
                    link rel="alternate" type="text/html" href=(edition.url(&site_paths::response_url(&c.id, r.number))) {}
                    link rel="related" type="text/html" href={ (edition.url(&site_paths::page_url(&c.id, site_paths::page_of(r.number)))) "#response-" (r.number) } {}
                    @for f in &r.files {
                        link rel="enclosure" type=(f.media_type) length=(f.size) title=(f.name) href=(f.url) {}
                    }
                    summary type="text" {
                        @if let Some(org) = &r.organization { (org) " · " }
                        @for (i, f) in r.files.iter().enumerate() {
                            @if i > 0 { ", " }
                            (f.name) " (" (m.p("bytes", f.size, &[])) ", " (m.t("sha256")) " " (f.sha256) ")"
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The Atom feed of every consultation in one language edition: one entry each, updated when
/// it opens, receives a response or closes.
pub fn all_feed(edition: Edition, records: &[ConsultationRecord], now: Timestamp) -> String {
    let lang = edition.lang;
    let m = messages(lang);
    let updated = |r: &ConsultationRecord| {
        let c = &r.consultation;
        let mut at = c.opens_at.min(now);
        if let Some(closing) = &c.closing {
            at = at.max(closing.closed_at);
        }
        if let Some(change) = c.deadline_history.last() {
            at = at.max(change.changed_at);
        }
        at
    };
    let latest = records
        .iter()
        .map(updated)
        .max()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    html! {
        (ATOM_DECLARATION)
        feed xmlns="http://www.w3.org/2005/Atom" xml:lang=(lang.code()) {
            id { (all_feed_urn(lang)) }
            title { (m.t("index_title")) " — " (m.t("site_name")) }
            subtitle { (m.t("site_tagline")) }
            updated { (atom_time(latest)) }
            author { name { "ITU CWG-Internet" } }
            link rel="self" href=(edition.url(&site_paths::all_feed_url())) {}
            link rel="alternate" type="text/html" href=(edition.url("/")) {}
            @for record in records {
                @let c = &record.consultation;
                @let (title_lang, title) = c.title.get(lang);
                entry {
                    id { (consultation_urn(lang, &c.id)) }
                    title xml:lang=(title_lang.code()) { (title) }
                    updated { (atom_time(updated(record))) }
                    link rel="alternate" type="text/html" href=(edition.url(&site_paths::consultation_url(&c.id))) {}
                    link rel="related" type="application/atom+xml" href=(edition.url(&site_paths::feed_url(&c.id))) {}
                    summary type="text" {
                        (status_label(m, c.status_at(now))) ". "
                        (m.t("label_deadline")) ": " (m.geneva_time(c.deadline)) ". "
                        (m.t("label_count")) ": " (record.response_count) "."
                    }
                }
            }
        }
    }
    .into_string()
}

/// The manifest's entry point: the consultation, totals, page links, and page 1.
pub fn manifest_head(
    record: &ConsultationRecord,
    first_page: &[Receipt],
    now: Timestamp,
) -> String {
    let id = &record.consultation.id;
    let pages: Vec<String> = (1..=page_count(record.response_count))
        .map(|p| site_paths::manifest_page_url(id, p))
        .collect();
    let body = Manifest {
        consultation: ConsultationView::new(record, now),
        total: record.response_count,
        page_size: site_paths::PAGE_SIZE,
        pages,
        responses: first_page.to_vec(),
    };
    sorted_json(&body)
}

pub fn manifest_page(record: &ConsultationRecord, page: u64, entries: &[Receipt]) -> String {
    let body = ManifestPage {
        consultation: record.consultation.id.clone(),
        page,
        responses: entries.to_vec(),
    };
    sorted_json(&body)
}

/// Pretty JSON with every object's members in alphabetical order, as manifests have always
/// been written (through a `serde_json::Value`, whose objects are sorted).
fn sorted_json(body: &impl serde::Serialize) -> String {
    let value = serde_json::to_value(body).expect("manifests serialize");
    serde_json::to_string_pretty(&value).expect("JSON values serialize")
}

/// The search box: on the consultation page and on the search page itself.
pub(super) fn search_form(here: Here, record: &ConsultationRecord) -> Markup {
    let m = here.m();
    let id = &record.consultation.id;
    html! {
        form class="search" role="search" method="get" action=(here.url(&site_paths::search_url(id))) {
            label for="search-q" { (m.t("search_label")) }
            " "
            input id="search-q" name="q" type="search" required;
            " "
            button type="submit" { (m.t("search_button")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ConsultationRequest;
    use serde_json::json;

    fn record() -> ConsultationRecord {
        let request: ConsultationRequest = serde_json::from_value(json!({
            "id": "net-2031",
            "title": {"en": "Internet <access>", "ar": "النفاذ إلى الإنترنت"},
            "questions": [{"en": "What should be done?"}],
            "meeting_date": "2031-03-31",
        }))
        .unwrap();
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        ConsultationRecord {
            consultation: request.into_consultation(now).unwrap(),
            response_count: 0,
            version: 0,
        }
    }

    fn now() -> Timestamp {
        "2030-06-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_summary_flags_identical_and_nearly_identical_responses_with_links() {
        use crate::domain::similarity::SimilarGroup;
        let summary = crate::domain::Summary {
            total: 151,
            similar: vec![
                SimilarGroup {
                    numbers: vec![1, 2],
                    identical: true,
                },
                SimilarGroup {
                    numbers: vec![3, 99, 150],
                    identical: false,
                },
            ],
            answers_by_question: [(1, 2)].into(),
            ..Default::default()
        };
        let page = summary_page(Edition::DEFAULT, &record(), &summary);
        assert!(page.contains("2 identical responses:"), "{page}");
        assert!(page.contains("3 nearly identical responses:"), "{page}");
        assert!(page.contains(r#"<a href="/consultations/net-2031/questions/1/">Question 1:</a> What should be done?</td><td>2 answers</td>"#), "{page}");
        // Each number links to its response on the page that lists it.
        assert!(page.contains(r#"href="/consultations/net-2031/#response-3""#));
        assert!(page.contains(r#"href="/consultations/net-2031/page/2/#response-150""#));
        let french = summary_page(Edition::of(Language::Fr), &record(), &summary);
        assert!(french.contains(r#"href="/fr/consultations/net-2031/page/2/#response-150""#));
    }

    #[test]
    fn arabic_pages_are_right_to_left_and_say_which_texts_fall_back() {
        let page = consultation_page(Edition::of(Language::Ar), &record(), 1, &[], now());
        assert!(page.contains(r#"<html lang="ar" dir="rtl">"#), "{page}");
        assert!(page.contains("النفاذ إلى الإنترنت"));
        // The question exists only in English: shown in English, marked, and the note says so.
        assert!(page.contains(r#"<span lang="en" dir="ltr">What should be done?</span>"#));
        assert!(page.contains("معروض باللغة الإنكليزية"));
        assert!(page.contains(r#"action="/api/consultations/net-2031/responses?lang=ar""#));
    }

    #[test]
    fn the_form_has_one_labelled_box_per_question() {
        let page = consultation_page(Edition::of(Language::Ar), &record(), 1, &[], now());
        assert!(page.contains(r#"<label for="answer-1">السؤال 1: <span lang="en" dir="ltr">What should be done?</span></label>"#), "{page}");
        assert!(page.contains(
            r#"<textarea id="answer-1" name="answer-1" rows="6" aria-describedby="answer-1-error">"#
        ));
        assert!(page.contains(r#"<p class="error" id="answer-1-error" hidden>"#));
        assert!(
            !page.contains(r#"name="answer-2""#),
            "one question, one box"
        );
    }

    #[test]
    fn every_page_links_to_itself_in_every_language() {
        let page = consultation_page(Edition::DEFAULT, &record(), 1, &[], now());
        assert!(page.contains(r#"<html lang="en" dir="ltr">"#));
        for lang in Language::ALL {
            let href = format!(r#"href="/{}/consultations/net-2031/""#, lang.code());
            assert!(page.contains(&href), "{href}");
        }
        assert!(
            page.contains("Internet &lt;access&gt;"),
            "titles are escaped"
        );
        assert!(page.contains(r#"<script src="/assets/site.js" defer></script>"#));
        assert!(!page.contains("<script>"), "no inline script");
    }

    #[test]
    fn the_open_form_loads_the_upload_script_with_its_limits_and_words() {
        let attribute = |page: &str, name: &str| -> String {
            let start = page.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
            let end = start + page[start..].find('"').unwrap();
            page[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        let page = consultation_page(Edition::of(Language::Fr), &record(), 1, &[], now());
        assert!(page.contains(r#"<script src="/assets/upload.js" defer></script>"#));
        assert_eq!(
            attribute(&page, "data-uploads"),
            "/api/consultations/net-2031/uploads?lang=fr"
        );
        assert_eq!(
            attribute(&page, "data-consultation"),
            "/fr/consultations/net-2031/"
        );
        let limits = Limits::default();
        assert_eq!(
            attribute(&page, "data-max-file-bytes"),
            limits.max_file_bytes.to_string()
        );
        assert_eq!(
            attribute(&page, "data-max-files"),
            limits.max_files.to_string()
        );
        assert_eq!(
            attribute(&page, "data-max-total-bytes"),
            limits.max_total_bytes.to_string()
        );
        let words: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&attribute(&page, "data-messages")).unwrap();
        let fr = messages(Language::Fr);
        for key in UPLOAD_MESSAGES {
            assert_eq!(words[key], fr.t(key), "{key}");
        }
        assert_eq!(words["upload_sending"], "Envoi de {name}…");

        // Only a form that takes responses loads it.
        let mut closed = record();
        closed.consultation.deadline = "2030-02-01T00:00:00Z".parse().unwrap();
        let page = consultation_page(Edition::DEFAULT, &closed, 1, &[], now());
        assert!(!page.contains("upload.js"), "{page}");
    }

    #[test]
    fn feeds_are_escaped_xml_with_stable_ids() {
        let record = record();
        let feed = consultation_feed(Edition::DEFAULT, &record, &[], now());
        assert!(feed.starts_with(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">"
        ));
        assert!(feed.contains(r#"<title xml:lang="en">Internet &lt;access&gt;</title>"#));
        assert!(
            feed.contains(r#"<link rel="self" href="/consultations/net-2031/feed.atom"></link>"#)
        );
        assert_eq!(
            feed,
            consultation_feed(Edition::DEFAULT, &record, &[], now())
        );
        let all = all_feed(Edition::DEFAULT, std::slice::from_ref(&record), now());
        assert!(all.contains(&consultation_urn(Language::En, &record.consultation.id)));
        // The ids English feeds always had.
        assert!(all.contains(&format!(
            "<id>urn:uuid:{}</id>",
            uuid::Uuid::new_v8(*b"verbatim-all-fee")
        )));
    }

    #[test]
    fn each_language_has_its_own_feeds() {
        let record = record();
        let receipt: Receipt = serde_json::from_value(serde_json::json!({
            "consultation": "net-2031", "number": 1, "id": "0190c2a4-6e2b-7c1d-9f3e-5a6b7c8d9e0f",
            "received_at": "2026-11-28T10:00:00.000Z", "name": "Ada", "organization": null,
            "category": null, "country": null, "channel": "web",
            "files": [{"name": "a.pdf", "size": 1, "sha256": "00", "media_type": "application/pdf",
                       "url": "/consultations/net-2031/responses/1/a.pdf"}]
        }))
        .expect("a receipt");
        let fr = consultation_feed(
            Edition::of(Language::Fr),
            &record,
            std::slice::from_ref(&receipt),
            now(),
        );
        assert!(
            fr.contains(r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">"#),
            "{fr}"
        );
        assert!(fr.contains(r#"<link rel="self" href="/fr/consultations/net-2031/feed.atom">"#));
        assert!(
            fr.contains(
                r#"rel="related" type="text/html" href="/fr/consultations/net-2031/#response-1""#
            ),
            "{fr}"
        );
        assert!(
            fr.contains(
                r#"rel="alternate" type="text/html" href="/fr/consultations/net-2031/responses/1/""#
            ),
            "the entry links to the response's own page: {fr}"
        );
        assert!(fr.contains("<title>Réponse 1 : Ada</title>"), "{fr}");
        assert!(fr.contains("a.pdf (1 octet, SHA-256 00)"), "{fr}");
        // Files are the same bytes for every language: their links are not prefixed.
        assert!(fr.contains(r#"href="/consultations/net-2031/responses/1/a.pdf""#));
        let en = consultation_feed(
            Edition::DEFAULT,
            &record,
            std::slice::from_ref(&receipt),
            now(),
        );
        assert!(en.contains(&format!("<id>urn:uuid:{}</id>", receipt.id)));
        assert!(!fr.contains(&format!("<id>urn:uuid:{}</id>", receipt.id)));
        let all_ar = all_feed(
            Edition::of(Language::Ar),
            std::slice::from_ref(&record),
            now(),
        );
        assert!(all_ar.contains(r#"xml:lang="ar""#));
        assert!(all_ar.contains(r#"<link rel="self" href="/ar/feed.atom">"#));
        assert!(all_ar.contains(&format!(
            "<title>{} — ",
            messages(Language::Ar).t("index_title")
        )));
        let page = consultation_page(Edition::of(Language::Ru), &record, 1, &[], now());
        assert!(
            page.contains(r#"href="/ru/consultations/net-2031/feed.atom""#),
            "{page}"
        );
        assert!(page.contains(r#"href="/ru/feed.atom""#), "{page}");
    }

    #[test]
    fn interpolation_escapes_text_and_keeps_markup() {
        let out = interpolate(
            "a <b> {link} c {unknown}",
            &[("link", html! { a href="/x" { "x" } })],
        );
        assert_eq!(out.0, r#"a &lt;b&gt; <a href="/x">x</a> c {unknown}"#);
    }
}
