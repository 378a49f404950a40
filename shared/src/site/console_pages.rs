//! The Secretariat's console pages (`/admin/…`): pure functions of domain data, in the site's
//! frame and stylesheet, in the six languages, with no script needed. Forms follow the GOV.UK
//! patterns: a label on every field, an error summary at the top linking to each field in
//! error, buttons that say what they do.

use maud::{DOCTYPE, Markup, html};

use super::layout::{SCRIPT_KEY, STYLESHEET_KEY, dir};
use super::pages::{localized, when};
use crate::domain::account::AccountName;
use crate::domain::site_paths;
use crate::domain::{Action, AuditEntry, Language, Status};
use crate::i18n::{Catalogue, messages};
use crate::ports::ConsultationRecord;

use super::console_forms::field_error;
pub use super::console_forms::{CONSOLE_PATH, FieldError, Wording};

/// What every console page needs to know: its language and path (for the language links),
/// who is signed in and their form token (for the sign-out button).
pub struct Frame<'a> {
    pub lang: Language,
    pub path: &'a str,
    pub signed_in: Option<(&'a AccountName, &'a str)>,
}

impl Frame<'_> {
    fn m(&self) -> &'static Catalogue {
        messages(self.lang)
    }
}

/// The console page of consultation `id`.
pub fn console_page_path(id: &crate::domain::ConsultationId) -> String {
    format!("{CONSOLE_PATH}/consultations/{id}")
}

/// `path` in `lang` (the console takes its language from `?lang=`).
pub fn console_url(path: &str, lang: Language) -> String {
    format!("{path}?lang={}", lang.code())
}

fn page(frame: &Frame, title: &str, body: Markup) -> String {
    let m = frame.m();
    let lang = frame.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) dir=(dir(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " — " (m.t("console_title")) }
                link rel="stylesheet" href={ "/" (STYLESHEET_KEY) };
                @for other in Language::ALL {
                    link rel="alternate" hreflang=(other.code()) href=(console_url(frame.path, other));
                }
                script src={ "/" (SCRIPT_KEY) } defer {}
            }
            body data-your-time=(m.t("your_time")) {
                a class="skip" href="#main" { (m.t("skip_to_content")) }
                header {
                    p class="site" {
                        a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_title")) }
                        " · " (m.t("site_name"))
                    }
                    nav aria-label=(m.t("languages")) {
                        ul class="languages" {
                            @for other in Language::ALL {
                                li {
                                    @let name = messages(other).t("language_name");
                                    @if other == lang {
                                        a href=(console_url(frame.path, other)) lang=(other.code()) hreflang=(other.code()) aria-current="page" { (name) }
                                    } @else {
                                        a href=(console_url(frame.path, other)) lang=(other.code()) hreflang=(other.code()) { (name) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some((name, token)) = frame.signed_in {
                        nav aria-label=(m.t("console_title")) {
                            ul {
                                li { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_consultations")) } }
                                li { a href=(console_url(&format!("{CONSOLE_PATH}/users"), lang)) { (m.t("console_users_title")) } }
                                li { a href=(console_url(&format!("{CONSOLE_PATH}/account/totp"), lang)) { (m.t("console_totp_title")) } }
                            }
                        }
                        form method="post" action={ (CONSOLE_PATH) "/sign-out" } {
                            p {
                                (m.f("console_signed_in_as", &[("name", &name)])) " "
                                input type="hidden" name="csrf" value=(token);
                                input type="hidden" name="lang" value=(lang.code());
                                button type="submit" { (m.t("console_sign_out_button")) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
    .into_string()
}

/// The GOV.UK error summary: first in the page, each error a link to its field.
fn error_summary(m: &Catalogue, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title" {
                h2 id="error-summary-title" { (m.t("console_error_summary")) }
                ul {
                    @for e in errors {
                        li { a href={ "#" (e.field) } { (e.message) } }
                    }
                }
            }
        }
    }
}

/// A labelled text input, with its error if it has one.
fn input(
    errors: &[FieldError],
    id: &'static str,
    label: &str,
    kind: &str,
    value: &str,
    extra: Option<(&str, &str)>,
) -> Markup {
    let error = field_error(errors, id);
    let described = error.as_ref().map(|_| format!("{id}-error"));
    html! {
        p {
            label for=(id) { (label) }
            @if let Some((hint_id, hint)) = extra {
                br;
                span class="note" id=(hint_id) { (hint) }
            }
            @if let Some(error) = &error { (error) }
            br;
            input type=(kind) id=(id) name=(id) value=(value)
                aria-invalid=[error.as_ref().map(|_| "true")]
                aria-describedby=[described.or(extra.map(|(h, _)| h.to_owned()))]
                autocomplete=(match id { "password" => "current-password", "name" => "username", "code" => "one-time-code", _ => "off" });
        }
    }
}

/// The sign-in page: name, password and (for an account that has one) a TOTP code.
pub fn sign_in_page(lang: Language, form_token: &str, name: &str, errors: &[FieldError]) -> String {
    let m = messages(lang);
    let frame = Frame {
        lang,
        path: &format!("{CONSOLE_PATH}/sign-in"),
        signed_in: None,
    };
    let body = html! {
        (error_summary(m, errors))
        h1 { (m.t("console_sign_in_title")) }
        form method="post" action={ (CONSOLE_PATH) "/sign-in" } novalidate {
            input type="hidden" name="csrf" value=(form_token);
            input type="hidden" name="lang" value=(lang.code());
            (input(errors, "name", m.t("console_name"), "text", name, None))
            (input(errors, "password", m.t("console_password"), "password", "", None))
            (input(errors, "code", m.t("console_code"), "text", "", Some(("code-hint", m.t("console_code_hint")))))
            p { button type="submit" { (m.t("console_sign_in_button")) } }
        }
    };
    page(&frame, m.t("console_sign_in_title"), body)
}

/// A page that only says something (a refusal), with a way back.
pub fn message_page(lang: Language, title: &str, text: &str) -> String {
    let m = messages(lang);
    let frame = Frame {
        lang,
        path: &format!("{CONSOLE_PATH}/"),
        signed_in: None,
    };
    page(
        &frame,
        title,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_back")) } }
        },
    )
}

fn status(m: &Catalogue, status: Status) -> &str {
    m.t(match status {
        Status::Scheduled => "status_scheduled",
        Status::Open => "status_open",
        Status::Closed => "status_closed",
    })
}

/// `/admin/`: every consultation, with its status, deadline and count.
pub fn list_page(
    frame: &Frame,
    records: &[(ConsultationRecord, crate::domain::summary::Overview)],
    now: jiff::Timestamp,
) -> String {
    let m = frame.m();
    let lang = frame.lang;
    let body = html! {
        h1 { (m.t("console_consultations")) }
        p { a href=(console_url(&format!("{CONSOLE_PATH}/consultations/new"), lang)) { (m.t("console_new_title")) } }
        @if records.is_empty() {
            p { (m.t("console_no_consultations")) }
        } @else {
            table {
                thead {
                    tr {
                        th scope="col" { (m.t("console_col_consultation")) }
                        th scope="col" { (m.t("console_col_status")) }
                        th scope="col" { (m.t("console_col_deadline")) }
                        th scope="col" { (m.t("console_col_responses")) }
                        th scope="col" { (m.t("console_col_published")) }
                        th scope="col" { (m.t("console_col_late")) }
                        th scope="col" { (m.t("console_col_not_published")) }
                        th scope="col" { (m.t("console_col_last_published")) }
                    }
                }
                tbody {
                    @for (r, o) in records {
                        @let c = &r.consultation;
                        @let plus = if o.more { "+" } else { "" };
                        tr {
                            td {
                                a href=(console_url(&format!("{CONSOLE_PATH}/consultations/{}", c.id), lang)) { (localized(m, &c.title)) }
                                br; code { (c.id) }
                            }
                            td { (status(m, c.status_at(now))) }
                            td { (when(m, c.deadline)) }
                            td { (r.response_count) }
                            td { (o.published) }
                            td { (o.late) (plus) }
                            td { (o.not_published) (plus) }
                            td {
                                @match o.last_published {
                                    Some(at) => (when(m, at)),
                                    None => (m.t("console_never")),
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(frame, m.t("console_consultations"), body)
}

fn action(m: &Catalogue, action: Action) -> &str {
    m.t(match action {
        Action::Created => "console_action_created",
        Action::DeadlineChanged => "console_action_deadline_changed",
        Action::Reopened => "console_action_reopened",
        Action::Closed => "console_action_closed",
        Action::Sealed => "console_action_sealed",
        Action::DossierBuilt => "console_action_dossier_built",
        Action::OutcomePublished => "console_action_outcome_published",
        Action::DescriptionChanged => "console_action_description_changed",
        Action::DocumentsAdded => "console_action_documents_added",
        Action::WordingChanged => "console_action_wording_changed",
    })
}

/// What the deadline form was given, to show it again with its errors.
#[derive(Default)]
pub struct DeadlineForm<'a> {
    pub deadline: &'a str,
    pub meeting_date: &'a str,
    pub reason: &'a str,
}

/// What the consultation page's forms were given, to show them again with their errors.
#[derive(Default)]
pub struct ConsultationForms<'a> {
    pub deadline: DeadlineForm<'a>,
    /// The description's texts as sent (else the form shows the current ones).
    pub description: Option<&'a std::collections::BTreeMap<Language, String>>,
    /// The outcome's texts as sent.
    pub outcome: Option<&'a std::collections::BTreeMap<Language, String>>,
    /// The title and questions as sent: by language, the title, and the questions one a line.
    pub wording: Option<&'a Wording>,
}

/// What the console's consultation page shows, as read from the store.
pub struct ConsultationView<'a> {
    pub record: &'a ConsultationRecord,
    pub audit: &'a [AuditEntry],
    pub kept: &'a crate::domain::kept::KeptList,
    pub tally: &'a crate::domain::summary::Tally,
}

/// `/admin/consultations/{id}`: its status, counts, downloads, audit trail, the form that
/// moves the deadline or reopens it, and what the Secretariat publishes beside the responses
/// (description, background documents, the Group's outcome).
pub fn consultation_page(
    frame: &Frame,
    view: &ConsultationView,
    now: jiff::Timestamp,
    forms: &ConsultationForms,
    errors: &[FieldError],
) -> String {
    let ConsultationView {
        record,
        audit,
        kept,
        tally,
    } = view;
    use super::console_publishing::{
        description_section, documents_section, outcome_section, wording_section,
    };
    let form = &forms.deadline;
    let m = frame.m();
    let lang = frame.lang;
    let c = &record.consultation;
    let csrf = frame.signed_in.map(|(_, token)| token).unwrap_or_default();
    let closed = c.status_at(now) == Status::Closed;
    let body = html! {
        (error_summary(m, errors))
        p { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_consultations")) } }
        h1 { (localized(m, &c.title)) }
        dl {
            dt { (m.t("console_col_status")) } dd { (status(m, c.status_at(now))) }
            dt { (m.t("console_col_deadline")) } dd { (when(m, c.deadline)) }
            dt { (m.t("console_col_responses")) } dd { (record.response_count) }
        }
        h2 { (m.t("console_links")) }
        ul {
            li { a href=(site_paths::consultation_url(&c.id)) { (m.t("console_public_page")) } }
            li { a href=(site_paths::manifest_url(&c.id)) { (m.t("manifest_link")) } }
            li { a href=(site_paths::summary_url(&c.id)) { (m.t("summary_link")) } }
            li { a href=(site_paths::dossier_url(&c.id)) { (m.t("console_dossier")) } }
            li { a href=(site_paths::csv_url(&c.id)) { (m.t("console_csv")) } }
            @if !c.outcome.is_empty() {
                li { a href=(site_paths::outcome_url(&c.id)) { (m.t("outcome_read")) } }
            }
        }
        h2 id="move" { (if closed { m.t("console_reopen_heading") } else { m.t("console_move_heading") }) }
        p { (m.t("console_move_note")) }
        form method="post" action={ (CONSOLE_PATH) "/consultations/" (c.id) "/deadline" } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="lang" value=(lang.code());
            (input(errors, "meeting_date", m.t("console_meeting_date"), "date", form.meeting_date, Some(("meeting_date-hint", m.t("console_meeting_date_hint")))))
            (input(errors, "deadline", m.t("console_deadline"), "text", form.deadline, Some(("deadline-hint", m.t("console_deadline_hint")))))
            (input(errors, "reason", m.t("console_reason"), "text", form.reason, None))
            p { button type="submit" { (if closed { m.t("console_reopen_button") } else { m.t("console_move_button") }) } }
        }
        (outcome_section(m, lang, csrf, c, forms.outcome, errors))
        (description_section(m, lang, csrf, c, forms.description, errors))
        (wording_section(m, lang, csrf, c, forms.wording, errors))
        (documents_section(m, lang, csrf, c, errors))
        (kept_section(m, c, kept))
        section aria-labelledby="tally" {
            h2 id="tally" { (m.t("console_tally_heading")) }
            p {
                (m.p("console_tally_intro", tally.published, &[]))
                @if tally.truncated {
                    " " (m.p("console_tally_truncated", tally.summary.total, &[]))
                }
            }
            @if tally.summary.total > 0 {
                (super::pages::summary_charts(m, c.deadline, &tally.summary))
            }
        }
        h2 { (m.t("console_audit")) }
        table {
            thead {
                tr {
                    th scope="col" { (m.t("console_col_when")) }
                    th scope="col" { (m.t("console_col_who")) }
                    th scope="col" { (m.t("console_col_what")) }
                }
            }
            tbody {
                @for entry in audit.iter() {
                    tr {
                        td { (when(m, entry.at)) }
                        td {
                            @match (&entry.by, entry.actor) {
                                (Some(by), _) => (by),
                                (None, crate::domain::Actor::System) => (m.t("console_by_system")),
                                (None, crate::domain::Actor::Secretariat) => (m.t("console_by_unknown")),
                            }
                        }
                        td {
                            (action(m, entry.action))
                            @if let Some(reason) = entry.details.get("reason").and_then(|r| r.as_str()) {
                                ": " (reason)
                            }
                        }
                    }
                }
            }
        }
    };
    let title = c.title.get(lang).1.to_owned();
    page(frame, &title, body)
}

/// What was kept privately instead of being published, each a download for the Secretariat.
fn kept_section(
    m: &Catalogue,
    c: &crate::domain::Consultation,
    kept: &crate::domain::kept::KeptList,
) -> Markup {
    use crate::domain::kept::KeptReason;
    let reason = |r: KeptReason| m.t(&format!("console_kept_{}", r.code().replace('-', "_")));
    html! {
        section aria-labelledby="kept" {
            h2 id="kept" { (m.t("console_kept_heading")) }
            p { (m.t("console_kept_note")) }
            @if kept.items.is_empty() {
                p { (m.t("console_kept_none")) }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { (m.t("console_kept_col_reason")) }
                            th scope="col" { (m.t("console_kept_col_file")) }
                            th scope="col" { (m.t("console_kept_col_size")) }
                            th scope="col" { (m.t("console_kept_col_when")) }
                        }
                    }
                    tbody {
                        @for item in &kept.items {
                            tr {
                                td { (reason(item.reason)) }
                                td {
                                    a href={ (CONSOLE_PATH) "/consultations/" (c.id) "/kept/" (item.reason.code()) "/" (item.name) } download {
                                        code { (item.name) }
                                    }
                                }
                                td { (m.p("bytes", item.size, &[])) }
                                td { (when(m, item.kept_at)) }
                            }
                        }
                    }
                }
                @for r in &kept.more {
                    p { (m.f("console_kept_more", &[("reason", &reason(*r))])) }
                }
            }
        }
    }
}

/// The new-consultation form as filled in (and carried through the check page).
#[derive(Default)]
pub struct NewConsultation {
    pub id: String,
    pub title: std::collections::BTreeMap<Language, String>,
    /// One question a line, in each language; line `i` of each is question `i`.
    pub questions: std::collections::BTreeMap<Language, String>,
    /// The description in each language given (optional).
    pub description: std::collections::BTreeMap<Language, String>,
    pub meeting_date: String,
    pub opens_at: String,
    pub csrf: String,
    /// `check` (the default), `edit` (back to the form) or `create`.
    pub action: String,
    pub lang: String,
}

fn language_name(m: &Catalogue, lang: Language) -> &str {
    m.t(&format!("lang_{}", lang.code()))
}

fn hidden_fields(form: &NewConsultation) -> Markup {
    html! {
        input type="hidden" name="id" value=(form.id);
        @for (lang, title) in &form.title {
            input type="hidden" name={ "title_" (lang.code()) } value=(title);
        }
        @for (lang, questions) in &form.questions {
            input type="hidden" name={ "questions_" (lang.code()) } value=(questions);
        }
        @for (lang, text) in &form.description {
            input type="hidden" name={ "description_" (lang.code()) } value=(text);
        }
        input type="hidden" name="meeting_date" value=(form.meeting_date);
        input type="hidden" name="opens_at" value=(form.opens_at);
    }
}

/// `/admin/consultations/new`: id, title and questions in up to six languages, the meeting
/// date and an optional opening.
pub fn new_consultation_page(
    frame: &Frame,
    form: &NewConsultation,
    errors: &[FieldError],
) -> String {
    let m = frame.m();
    let lang = frame.lang;
    let csrf = frame.signed_in.map(|(_, token)| token).unwrap_or_default();
    let body = html! {
        (error_summary(m, errors))
        p { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_consultations")) } }
        h1 { (m.t("console_new_title")) }
        form method="post" action={ (CONSOLE_PATH) "/consultations/new" } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="lang" value=(lang.code());
            input type="hidden" name="action" value="check";
            (input(errors, "id", m.t("console_id"), "text", &form.id, Some(("id-hint", m.t("console_id_hint")))))
            fieldset {
                legend { (m.t("console_title_legend")) }
                @for l in Language::ALL {
                    @let id = format!("title_{}", l.code());
                    @let error = field_error(errors, &id);
                    p {
                        label for=(id) { (language_name(m, l)) }
                        @if let Some(error) = &error { (error) }
                        br;
                        input type="text" id=(id) name=(id) lang=(l.code()) dir=(dir(l))
                            value=(form.title.get(&l).map(String::as_str).unwrap_or_default())
                            aria-invalid=[error.as_ref().map(|_| "true")];
                    }
                }
            }
            fieldset {
                legend { (m.t("console_questions_legend")) }
                p class="note" id="questions-hint" { (m.t("console_questions_hint")) }
                @for l in Language::ALL {
                    @let id = format!("questions_{}", l.code());
                    @let error = field_error(errors, &id);
                    p {
                        label for=(id) { (language_name(m, l)) }
                        @if let Some(error) = &error { (error) }
                        br;
                        textarea id=(id) name=(id) rows="4" lang=(l.code()) dir=(dir(l))
                            aria-describedby="questions-hint"
                            aria-invalid=[error.as_ref().map(|_| "true")] {
                            (form.questions.get(&l).map(String::as_str).unwrap_or_default())
                        }
                    }
                }
            }
            fieldset {
                legend { (m.t("console_description_heading")) }
                p class="note" id="description-hint" { (m.t("console_description_hint")) }
                @for l in Language::ALL {
                    @let id = format!("description_{}", l.code());
                    @let error = field_error(errors, &id);
                    p {
                        label for=(id) { (language_name(m, l)) }
                        @if let Some(error) = &error { (error) }
                        br;
                        textarea id=(id) name=(id) rows="4" lang=(l.code()) dir=(dir(l))
                            aria-describedby="description-hint"
                            aria-invalid=[error.as_ref().map(|_| "true")] {
                            (form.description.get(&l).map(String::as_str).unwrap_or_default())
                        }
                    }
                }
            }
            (input(errors, "meeting_date", m.t("console_meeting_date"), "date", &form.meeting_date, Some(("meeting_date-hint", m.t("console_meeting_date_hint")))))
            (input(errors, "opens_at", m.t("console_opens_at"), "text", &form.opens_at, Some(("opens_at-hint", m.t("console_opens_at_hint")))))
            p { button type="submit" { (m.t("console_continue_button")) } }
        }
    };
    page(frame, m.t("console_new_title"), body)
}

/// Check your answers: what will be created, with the deadline the rule gives, before saving.
pub fn check_page(
    frame: &Frame,
    form: &NewConsultation,
    consultation: &crate::domain::Consultation,
) -> String {
    let m = frame.m();
    let lang = frame.lang;
    let csrf = frame.signed_in.map(|(_, token)| token).unwrap_or_default();
    let body = html! {
        h1 { (m.t("console_check_title")) }
        dl {
            dt { (m.t("console_id")) } dd { code { (consultation.id) } }
            dt { (m.t("console_title_legend")) } dd { (localized(m, &consultation.title)) }
            dt { (m.t("console_col_deadline")) } dd { (when(m, consultation.deadline)) " (" (m.t("deadline_rule_note")) ")" }
            dt { (m.t("console_opens_at")) } dd { (when(m, consultation.opens_at)) }
            dt { (m.t("console_description_heading")) }
            dd {
                @match &consultation.description {
                    Some(d) => {
                        @for (i, l) in d.languages().enumerate() {
                            @if i > 0 { ", " }
                            (language_name(m, l))
                        }
                    }
                    None => (m.t("console_missing")),
                }
            }
        }
        h2 { (m.t("console_questions_legend")) }
        table {
            thead {
                tr {
                    th scope="col" { "#" }
                    @for l in Language::ALL { th scope="col" lang=(l.code()) { (l.code()) } }
                }
            }
            tbody {
                @for (i, question) in consultation.questions.iter().enumerate() {
                    tr {
                        th scope="row" { (i + 1) }
                        @for l in Language::ALL {
                            td {
                                @if question.languages().any(|q| q == l) {
                                    (m.t("console_present"))
                                } @else {
                                    (m.t("console_missing"))
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action={ (CONSOLE_PATH) "/consultations/new" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="lang" value=(lang.code());
            (hidden_fields(form))
            p {
                button type="submit" name="action" value="create" { (m.t("console_create_button")) }
                " "
                button type="submit" name="action" value="edit" { (m.t("console_change_button")) }
            }
        }
    };
    page(frame, m.t("console_check_title"), body)
}

/// `/admin/users`, for administrators: every account, adding one, removing one, and giving one
/// a new password.
pub fn users_page(
    frame: &Frame,
    accounts: &[crate::domain::account::Account],
    name: &str,
    errors: &[FieldError],
) -> String {
    let m = frame.m();
    let lang = frame.lang;
    let csrf = frame.signed_in.map(|(_, token)| token).unwrap_or_default();
    let hidden = html! {
        input type="hidden" name="csrf" value=(csrf);
        input type="hidden" name="lang" value=(lang.code());
    };
    let body = html! {
        (error_summary(m, errors))
        p { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_consultations")) } }
        h1 { (m.t("console_users_title")) }
        table {
            thead {
                tr {
                    th scope="col" { (m.t("console_name")) }
                    th scope="col" { (m.t("console_col_admin")) }
                    th scope="col" { (m.t("console_col_totp")) }
                    th scope="col" { (m.t("console_col_created")) }
                    th scope="col" { (m.t("console_col_actions")) }
                }
            }
            tbody {
                @for a in accounts {
                    tr {
                        th scope="row" { (a.name) }
                        td { (if a.admin { m.t("console_yes") } else { m.t("console_no") }) }
                        td { (if a.totp.is_some() { m.t("console_yes") } else { m.t("console_no") }) }
                        td { (when(m, a.created_at)) }
                        td {
                            form method="post" action={ (CONSOLE_PATH) "/users/" (a.name) "/password" } {
                                (hidden)
                                @let id = format!("password-{}", a.name);
                                label for=(id) { (m.f("console_new_password_for", &[("name", &a.name)])) }
                                " "
                                input type="password" id=(id) name="password" autocomplete="new-password";
                                " "
                                button type="submit" { (m.t("console_reset_button")) }
                            }
                            form method="post" action={ (CONSOLE_PATH) "/users/" (a.name) "/remove" } {
                                (hidden)
                                button type="submit" { (m.f("console_remove_button", &[("name", &a.name)])) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (m.t("console_add_user_title")) }
        form method="post" action={ (CONSOLE_PATH) "/users" } novalidate {
            (hidden)
            (input(errors, "name", m.t("console_name"), "text", name, None))
            (input(errors, "password", m.t("console_password"), "password", "", Some(("password-hint", m.t("console_password_hint")))))
            p {
                input type="checkbox" id="admin" name="admin" value="yes";
                " "
                label for="admin" { (m.t("console_admin_label")) }
            }
            p { button type="submit" { (m.t("console_add_user_button")) } }
        }
    };
    page(frame, m.t("console_users_title"), body)
}

/// `/admin/account/totp`: a new secret to put in an authenticator app, and the code it shows
/// to confirm.
pub fn totp_page(
    frame: &Frame,
    secret: &str,
    uri: &str,
    has_one: bool,
    errors: &[FieldError],
) -> String {
    let m = frame.m();
    let lang = frame.lang;
    let csrf = frame.signed_in.map(|(_, token)| token).unwrap_or_default();
    let body = html! {
        (error_summary(m, errors))
        p { a href=(console_url(&format!("{CONSOLE_PATH}/"), lang)) { (m.t("console_consultations")) } }
        h1 { (m.t("console_totp_title")) }
        @if has_one { p { (m.t("console_totp_replaces")) } }
        p { (m.t("console_totp_steps")) }
        dl {
            dt { (m.t("console_totp_secret")) } dd { code { (secret) } }
            dt { (m.t("console_totp_uri")) } dd { code { (uri) } }
        }
        form method="post" action={ (CONSOLE_PATH) "/account/totp" } novalidate {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="lang" value=(lang.code());
            input type="hidden" name="secret" value=(secret);
            (input(errors, "code", m.t("console_code"), "text", "", None))
            p { button type="submit" { (m.t("console_totp_button")) } }
        }
    };
    page(frame, m.t("console_totp_title"), body)
}
