//! What the Secretariat publishes from a consultation's console page, beside the responses:
//! its description, its background documents and the Group's outcome. Each form posts to the
//! console route of the same use case as the admin API's (`PUT …/description`,
//! `POST …/documents`, `POST …/outcome`), so nothing is console-only.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::console_forms::{CONSOLE_PATH, FieldError, field_error};
use super::layout::dir;
use super::outcome_pages::files;
use super::pages::when;
use crate::domain::site_paths;
use crate::domain::{Consultation, Language};
use crate::i18n::Catalogue;

/// The id of the description's text box in `lang` (also its field name).
pub fn description_field(lang: Language) -> String {
    format!("description_{}", lang.code())
}

/// The id of the outcome's text box in `lang` (its field name is the API's, `text.{lang}`).
pub fn outcome_text_field(lang: Language) -> String {
    format!("outcome-text-{}", lang.code())
}

/// The ids of the file inputs, for the error summary's links.
pub const DOCUMENT_FILE_FIELD: &str = "document-file";
pub const OUTCOME_FILE_FIELD: &str = "outcome-file";

fn language_name(m: &Catalogue, lang: Language) -> &str {
    m.t(&format!("lang_{}", lang.code()))
}

/// One text box a language, labelled with the language's name, written in its direction.
fn texts_by_language(
    m: &Catalogue,
    errors: &[FieldError],
    id_of: impl Fn(Language) -> String,
    name_of: impl Fn(Language) -> String,
    hint: &str,
    given: &BTreeMap<Language, String>,
) -> Markup {
    html! {
        @for l in Language::ALL {
            @let id = id_of(l);
            @let error = field_error(errors, &id);
            p {
                label for=(id) { (language_name(m, l)) }
                @if let Some(error) = &error { (error) }
                br;
                textarea id=(id) name=(name_of(l)) rows="6" lang=(l.code()) dir=(dir(l))
                    aria-describedby=(hint)
                    aria-invalid=[error.as_ref().map(|_| "true")] {
                    (given.get(&l).map(String::as_str).unwrap_or_default())
                }
            }
        }
    }
}

/// A file input that takes several files, with its label and error.
fn file_input(m: &Catalogue, errors: &[FieldError], id: &str, label: &str) -> Markup {
    let error = field_error(errors, id);
    html! {
        p {
            label for=(id) { (label) }
            br;
            span class="note" id={ (id) "-hint" } { (m.t("console_files_hint")) }
            @if let Some(error) = &error { (error) }
            br;
            input type="file" id=(id) name="file" multiple
                aria-describedby={ (id) "-hint" }
                aria-invalid=[error.as_ref().map(|_| "true")];
        }
    }
}

fn hidden(csrf: &str, lang: Language) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        input type="hidden" name="lang" value=(lang.code());
    }
}

/// The description: as the public page shows it, and the form that replaces it (filled with
/// `given` when it comes back with errors, else with the current texts).
pub fn description_section(
    m: &Catalogue,
    lang: Language,
    csrf: &str,
    c: &Consultation,
    given: Option<&BTreeMap<Language, String>>,
    errors: &[FieldError],
) -> Markup {
    let current: BTreeMap<Language, String> = c
        .description
        .iter()
        .flat_map(|d| d.languages().map(|l| (l, d.get(l).1.to_owned())))
        .collect();
    let given = given.unwrap_or(&current);
    html! {
        section aria-labelledby="description" {
            h2 id="description" { (m.t("console_description_heading")) }
            @if c.description.is_none() { p { (m.t("console_description_none")) } }
            form method="post" action={ (CONSOLE_PATH) "/consultations/" (c.id) "/description" } novalidate {
                (hidden(csrf, lang))
                p class="note" id="description-hint" { (m.t("console_description_hint")) }
                (texts_by_language(m, errors, description_field, description_field, "description-hint", given))
                p { button type="submit" { (m.t("console_description_button")) } }
            }
        }
    }
}

/// The id of the title's box in `lang` on the consultation's page (its field name is the
/// creation form's, `title_{lang}`).
pub fn wording_title_field(lang: Language) -> String {
    format!("wording-title-{}", lang.code())
}

/// The id of the questions' box in `lang` (field `questions_{lang}`, one question a line).
pub fn wording_questions_field(lang: Language) -> String {
    format!("wording-questions-{}", lang.code())
}

/// The title and questions: the form that rewords or translates them (filled with `given`
/// when it comes back with errors, else with the current texts).
pub fn wording_section(
    m: &Catalogue,
    lang: Language,
    csrf: &str,
    c: &Consultation,
    given: Option<&super::console_forms::Wording>,
    errors: &[FieldError],
) -> Markup {
    let current = super::console_forms::Wording {
        title: c
            .title
            .languages()
            .map(|l| (l, c.title.get(l).1.to_owned()))
            .collect(),
        questions: Language::ALL
            .into_iter()
            .filter(|l| c.questions.iter().any(|q| q.languages().any(|ql| ql == *l)))
            .map(|l| {
                let lines: Vec<&str> = c
                    .questions
                    .iter()
                    .map(|q| {
                        if q.languages().any(|ql| ql == l) {
                            q.get(l).1
                        } else {
                            ""
                        }
                    })
                    .collect();
                (l, lines.join("\n"))
            })
            .collect(),
    };
    let given = given.unwrap_or(&current);
    html! {
        section aria-labelledby="wording" {
            h2 id="wording" { (m.t("console_wording_heading")) }
            form method="post" action={ (CONSOLE_PATH) "/consultations/" (c.id) "/wording" } novalidate {
                (hidden(csrf, lang))
                p class="note" id="wording-hint" { (m.t("console_wording_hint")) }
                fieldset {
                    legend { (m.t("console_title_legend")) }
                    @for l in Language::ALL {
                        @let id = wording_title_field(l);
                        @let error = field_error(errors, &id);
                        p {
                            label for=(id) { (language_name(m, l)) }
                            @if let Some(error) = &error { (error) }
                            br;
                            input type="text" id=(id) name={ "title_" (l.code()) } lang=(l.code()) dir=(dir(l))
                                value=(given.title.get(&l).map(String::as_str).unwrap_or_default())
                                aria-invalid=[error.as_ref().map(|_| "true")];
                        }
                    }
                }
                fieldset {
                    legend { (m.t("console_questions_legend")) }
                    (texts_by_language(m, errors, wording_questions_field, |l| format!("questions_{}", l.code()), "wording-hint", &given.questions))
                }
                p { button type="submit" { (m.t("console_wording_button")) } }
            }
        }
    }
}

/// The background documents: those published, and the form that adds more.
pub fn documents_section(
    m: &Catalogue,
    lang: Language,
    csrf: &str,
    c: &Consultation,
    errors: &[FieldError],
) -> Markup {
    html! {
        section aria-labelledby="documents" {
            h2 id="documents" { (m.t("documents_heading")) }
            @if c.documents.is_empty() {
                p { (m.t("console_documents_none")) }
            } @else {
                ul class="files" {
                    @for d in &c.documents {
                        li {
                            a href=(site_paths::document_file_url(&c.id, &d.folder, &d.file.name)) download { (d.file.name) }
                            " (" (m.p("bytes", d.file.size, &[])) ", " (d.file.media_type) ", " (when(m, d.added_at)) ") "
                            span class="sha" { (m.t("sha256")) " " code { (d.file.sha256) } }
                        }
                    }
                }
            }
            form method="post" action={ (CONSOLE_PATH) "/consultations/" (c.id) "/documents" } enctype="multipart/form-data" novalidate {
                (hidden(csrf, lang))
                (file_input(m, errors, DOCUMENT_FILE_FIELD, m.t("console_documents_label")))
                p { button type="submit" { (m.t("console_documents_button")) } }
            }
        }
    }
}

/// The Group's outcome: every version published (the latest shown on the site), and the form
/// that publishes a new one.
pub fn outcome_section(
    m: &Catalogue,
    lang: Language,
    csrf: &str,
    c: &Consultation,
    given: Option<&BTreeMap<Language, String>>,
    errors: &[FieldError],
) -> Markup {
    let empty = BTreeMap::new();
    html! {
        section aria-labelledby="outcome" {
            h2 id="outcome" { (m.t("outcome_heading")) }
            @if c.outcome.is_empty() {
                p { (m.t("outcome_none")) }
            } @else {
                p { a href=(site_paths::outcome_url(&c.id)) { (m.t("outcome_read")) } }
                @for version in c.outcome.iter().rev() {
                    h3 { (m.f("outcome_version_n", &[("version", &version.version)])) }
                    p {
                        (m.t("outcome_published")) " " (when(m, version.published_at))
                        @if let Some(by) = &version.by { " · " (m.f("console_published_by", &[("name", by)])) }
                    }
                    (files(m, &c.id, version, &version.texts))
                    (files(m, &c.id, version, &version.documents))
                }
            }
            h3 { (if c.outcome.is_empty() { m.t("console_outcome_publish") } else { m.t("console_outcome_publish_new") }) }
            p { (m.t("console_outcome_note")) }
            form method="post" action={ (CONSOLE_PATH) "/consultations/" (c.id) "/outcome" } enctype="multipart/form-data" novalidate {
                (hidden(csrf, lang))
                p class="note" id="outcome-hint" { (m.t("console_outcome_hint")) }
                (texts_by_language(m, errors, outcome_text_field, |l| format!("text.{}", l.code()), "outcome-hint", given.unwrap_or(&empty)))
                (file_input(m, errors, OUTCOME_FILE_FIELD, m.t("console_outcome_files_label")))
                p { button type="submit" { (m.t("console_outcome_button")) } }
            }
        }
    }
}
