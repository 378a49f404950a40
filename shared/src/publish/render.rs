//! The public site's pages and manifests, rendered from records. Everything a submitter typed
//! goes through maud's escaping; nothing here does I/O.

use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};
use serde_json::json;

use crate::domain::site_paths::{self, page_count};
use crate::domain::{Category, Language, Receipt, Status};
use crate::ports::ConsultationRecord;
use crate::views::{ConsultationView, human_geneva};

pub const STYLESHEET_KEY: &str = "assets/site.css";
pub const STYLESHEET: &str = include_str!("site.css");

/// The interface language; catalogues for the other five come with the multilingual site.
const LANG: Language = Language::En;

pub(crate) fn layout(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang=(LANG.code()) dir=(if LANG.is_rtl() { "rtl" } else { "ltr" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Verbatim" }
                link rel="stylesheet" href={ "/" (STYLESHEET_KEY) };
            }
            body {
                header { a href="/" { "Verbatim" } " · Open consultations of the ITU Council Working Group on international Internet-related public policy issues (CWG-Internet)" }
                main { (body) }
                footer { "Every response is published exactly as received, byte for byte (ITU Council Resolution 1344)." }
            }
        }
    }
    .into_string()
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Scheduled => "Not yet open",
        Status::Open => "Open for responses",
        Status::Closed => "Closed",
    }
}

pub fn index_page(records: &[ConsultationRecord], now: Timestamp) -> String {
    layout(
        "Open consultations",
        html! {
            h1 { "Open consultations" }
            @if records.is_empty() {
                p { "There are no consultations yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Consultation" } th scope="col" { "Status" } th scope="col" { "Deadline" } th scope="col" { "Responses" } } }
                    tbody {
                        @for record in records {
                            @let c = &record.consultation;
                            tr {
                                td { a href=(site_paths::consultation_url(&c.id)) { (c.title.get(LANG).1) } }
                                td { (status_label(c.status_at(now))) }
                                td { (human_geneva(c.deadline)) }
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
    record: &ConsultationRecord,
    page: u64,
    entries: &[Receipt],
    now: Timestamp,
) -> String {
    let c = &record.consultation;
    let title = c.title.get(LANG).1;
    let pages = page_count(record.response_count);
    layout(
        title,
        html! {
            h1 { (title) }
            dl {
                dt { "Status" } dd { (status_label(c.status_at(now))) }
                dt { "Responses accepted from" } dd { (human_geneva(c.opens_at)) }
                dt { "Deadline" } dd {
                    (human_geneva(c.deadline))
                    @if c.deadline_rule == crate::domain::DeadlineRule::Resolution1344 {
                        " — one month before the Group's meeting"
                    }
                }
                dt { "Meeting of the Group" } dd { (c.meeting_date) }
                dt { "Responses received" } dd { (record.response_count) }
                @if let Some(closing) = &c.closing {
                    dt { "Closed" } dd { (human_geneva(closing.closed_at)) }
                }
            }
            @if page == 1 {
                @if let Some(dossier) = c.closing.as_ref().and_then(|cl| cl.dossier.as_ref()) {
                    section aria-labelledby="dossier" {
                        h2 id="dossier" { "For the Group's meeting" }
                        p {
                            "All " (dossier.response_count) " responses, every file byte for byte, with an index: "
                            a href=(site_paths::dossier_url(&c.id)) download { "dossier.zip" }
                            " (" (dossier.size) " bytes, SHA-256 " code { (dossier.sha256) } "). "
                            a href=(site_paths::summary_url(&c.id)) { "Summary: counts and near-identical responses" } "."
                        }
                        (crate::transparency::render::dossier_log(&c.id, dossier))
                    }
                }
                @if !c.deadline_history.is_empty() {
                    h2 { "Deadline changes" }
                    ul {
                        @for change in &c.deadline_history {
                            li {
                                (human_geneva(change.changed_at)) ": "
                                @if change.reopened { "reopened, " }
                                "deadline moved from " (human_geneva(change.from)) " to " (human_geneva(change.to))
                                @if let Some(reason) = &change.reason { " — " (reason) }
                            }
                        }
                    }
                }
                h2 { "Questions" }
                ol { @for q in &c.questions { li { (q.get(LANG).1) } } }
                @if c.status_at(now) != Status::Closed { (how_to_respond(record)) }
                @if c.status_at(now) == Status::Open { (response_form(record)) }
            }
            h2 id="responses" { "Responses" }
            p { a href=(site_paths::manifest_url(&c.id)) { "All responses as JSON (responses.json)" } }
            @if entries.is_empty() {
                p { "No responses yet." }
            } @else {
                ol class="responses" start=(entries[0].number) {
                    @for r in entries { li id={ "response-" (r.number) } { (response_entry(r)) } }
                }
            }
            @if pages > 1 {
                nav aria-label="Pages of responses" {
                    ul { @for p in 1..=pages {
                        li { @if p == page { span aria-current="page" { (p) } } @else { a href=(site_paths::page_url(&c.id, p)) { (p) } } }
                    } }
                }
            }
        },
    )
}

fn response_entry(r: &Receipt) -> Markup {
    html! {
        article {
            h3 { "Response " (r.number) " — " (r.name) }
            p {
                @if let Some(org) = &r.organization { (org) " · " }
                @if let Some(cat) = r.category { (category_label(cat)) " · " }
                @if let Some(country) = &r.country { (country.as_str()) " · " }
                "received " time datetime=(r.received_at) { (r.received_at) }
            }
            ul class="files" {
                @for f in &r.files {
                    li {
                        a href=(f.url) download { (f.name) }
                        " (" (f.size) " bytes, " (f.media_type) ") "
                        span class="sha" { "SHA-256 " code { (f.sha256) } }
                    }
                }
            }
        }
    }
}

fn category_label(c: Category) -> &'static str {
    match c {
        Category::Government => "Government",
        Category::PrivateSector => "Private sector",
        Category::CivilSociety => "Civil society",
        Category::Academia => "Academia",
        Category::TechnicalCommunity => "Technical community",
        Category::IntergovernmentalOrganization => "Intergovernmental organization",
        Category::Individual => "Individual",
    }
}

fn how_to_respond(record: &ConsultationRecord) -> Markup {
    let c = &record.consultation;
    let endpoint = format!("/api/consultations/{}/responses", c.id);
    html! {
        h2 { "How to respond" }
        p {
            "Anyone may respond: governments, companies, civil society, academia, the technical community, intergovernmental organizations and individuals. "
            "Responses must arrive by " strong { (human_geneva(c.deadline)) } ". "
        }
        p {
            "Use the form below, or send a " code { "POST" } " request to " code { (endpoint) }
            " (multipart/form-data with your files, or JSON with text only; see "
            a href="/api/openapi.json" { "the API description" } "). You get a receipt with the SHA-256 of each file at once."
        }
        p {
            "Every response is published exactly as received, with your name, organization, category and country. "
            "Your email address is never published."
        }
    }
}

/// A plain multipart form: works without JavaScript.
fn response_form(record: &ConsultationRecord) -> Markup {
    let id = &record.consultation.id;
    html! {
        h2 { "Respond" }
        form method="post" enctype="multipart/form-data" action={ "/api/consultations/" (id) "/responses" } {
            p { label for="name" { "Name (required)" } input id="name" name="name" required autocomplete="name"; }
            p { label for="organization" { "Organization" } input id="organization" name="organization" autocomplete="organization"; }
            p { label for="email" { "Email (never published; for your receipt)" } input id="email" name="email" type="email" autocomplete="email"; }
            p {
                label for="category" { "Stakeholder category" }
                select id="category" name="category" {
                    option value="" { "—" }
                    @for c in Category::ALL { option value=(c.code()) { (category_label(c)) } }
                }
            }
            p { label for="country" { "Country (ISO code, e.g. CH)" } input id="country" name="country" maxlength="2" autocomplete="country"; }
            p { label for="text" { "Your response" } textarea id="text" name="text" rows="12" {} }
            p { label for="file" { "Files (PDF, DOC, DOCX, ODT, RTF, TXT, HTML, XLSX, ODS, PPTX, ODP, PNG, JPEG, ZIP; up to 25 MB each)" } input id="file" name="file" type="file" multiple; }
            p { button type="submit" { "Send response" } }
        }
    }
}

/// What a browser gets after posting the form (no JavaScript needed): the number, and every
/// file with its SHA-256, so the submitter can check the published copy.
pub fn receipt_page(receipt: &Receipt) -> String {
    layout(
        &format!("Response {} received", receipt.number),
        html! {
            h1 { "Thank you: response " (receipt.number) " received" }
            p {
                "Received " time datetime=(receipt.received_at) { (receipt.received_at) }
                " for the consultation "
                a href=(site_paths::consultation_url(&receipt.consultation)) { (receipt.consultation) } ". "
                "It is published exactly as sent; keep this page as your receipt."
            }
            table {
                thead { tr { th scope="col" { "File" } th scope="col" { "Bytes" } th scope="col" { "SHA-256" } } }
                tbody {
                    @for f in &receipt.files {
                        tr { td { a href=(f.url) download { (f.name) } } td { (f.size) } td class="sha" { code { (f.sha256) } } }
                    }
                }
            }
            p { "Response id: " code { (receipt.id) } }
            (crate::transparency::render::receipt_log(receipt))
        },
    )
}

/// An error for a browser: what went wrong and the way back to the form.
pub fn error_page(status: u16, message: &str) -> String {
    layout(
        "Your response was not accepted",
        html! {
            h1 { "Your response was not accepted" }
            p role="alert" { (message) }
            p { "Error " (status) ". Go back to the form, correct it and send again." }
        },
    )
}

/// The Group's overview of a closed consultation: who responded, and which responses are
/// identical or nearly identical (flagged for attention, never removed or altered).
pub fn summary_page(record: &ConsultationRecord, summary: &crate::closing::Summary) -> String {
    let c = &record.consultation;
    let title = c.title.get(LANG).1;
    let counts = |heading: &str, label: &str, map: &std::collections::BTreeMap<String, u64>| {
        html! {
            h2 { (heading) }
            table {
                thead { tr { th scope="col" { (label) } th scope="col" { "Responses" } } }
                tbody { @for (key, count) in map { tr { td { (key) } td { (count) } } } }
            }
        }
    };
    layout(
        &format!("Summary: {title}"),
        html! {
            h1 { "Summary: " (title) }
            p {
                (summary.total) " responses received by " (human_geneva(c.deadline)) ". "
                a href=(site_paths::consultation_url(&c.id)) { "All responses" } " · "
                a href=(site_paths::dossier_url(&c.id)) download { "dossier.zip" }
            }
            (counts("By stakeholder category", "Category", &summary.by_category))
            (counts("By country", "Country", &summary.by_country))
            (counts("By channel", "Channel", &summary.by_channel))
            h2 { "Identical or nearly identical responses" }
            @if summary.similar.is_empty() {
                p { "No two responses have identical or nearly identical text." }
            } @else {
                p { "Responses whose text is the same, or almost the same, are grouped here so that copies are visible at a glance. Every one of them is published and in the dossier, unchanged." }
                ul {
                    @for group in &summary.similar {
                        li {
                            (group.numbers.len()) @if group.identical { " identical responses: " } @else { " nearly identical responses: " }
                            @for (i, number) in group.numbers.iter().enumerate() {
                                @if i > 0 { ", " }
                                a href={ (site_paths::page_url(&c.id, site_paths::page_of(*number))) "#response-" (number) } { (number) }
                            }
                        }
                    }
                }
            }
        },
    )
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
    let body = json!({
        "consultation": ConsultationView::new(record, now),
        "total": record.response_count,
        "page_size": site_paths::PAGE_SIZE,
        "pages": pages,
        "responses": first_page,
    });
    serde_json::to_string_pretty(&body).expect("JSON values serialize")
}

pub fn manifest_page(record: &ConsultationRecord, page: u64, entries: &[Receipt]) -> String {
    let body = json!({
        "consultation": record.consultation.id,
        "page": page,
        "responses": entries,
    });
    serde_json::to_string_pretty(&body).expect("JSON values serialize")
}
