//! The email list's pages: what a subscriber sees after the form or a link from a message.
//! A link only ever shows a button: mail scanners that open links must not confirm or cancel
//! anything; the button's POST (or a mail client's RFC 8058 one-click POST) does.

use maud::html;

use super::layout::{interpolate, standalone_page};
use crate::domain::site_paths::{Edition, consultation_url};
use crate::domain::{ConsultationId, Language, Localized};
use crate::i18n::messages;

/// The consultation page in `lang`'s edition, linked by its title in that language.
fn consultation_link(
    lang: Language,
    consultation: &ConsultationId,
    title: &Localized,
) -> maud::Markup {
    let (title_lang, title) = title.get(lang);
    let edition = match lang {
        Language::En => Edition::DEFAULT,
        other => Edition::of(other),
    };
    html! {
        a href=(edition.url(&consultation_url(consultation))) lang=(title_lang.code()) { (title) }
    }
}

/// After the subscribe form: the same words whether or not the address was subscribed.
pub fn check_your_inbox(
    lang: Language,
    consultation: &ConsultationId,
    title: &Localized,
) -> String {
    let m = messages(lang);
    standalone_page(
        lang,
        m.t("list_inbox_title"),
        html! {
            h1 { (m.t("list_inbox_title")) }
            p { (interpolate(m.t("list_inbox_text"), &[("consultation", consultation_link(lang, consultation, title))])) }
            p { (m.t("list_inbox_note")) }
        },
    )
}

/// A confirmation or unsubscribe link, opened: one button that does it (in the language the
/// link names, carried on to the button's POST).
pub fn confirm_action(lang: Language, action: ListAction, token: &str) -> String {
    let m = messages(lang);
    let (heading, explanation, button) = match action {
        ListAction::Confirm => (
            "list_confirm_heading",
            "list_confirm_text",
            "list_confirm_button",
        ),
        ListAction::Unsubscribe => (
            "list_unsubscribe_heading",
            "list_unsubscribe_text",
            "list_unsubscribe_button",
        ),
    };
    standalone_page(
        lang,
        m.t(heading),
        html! {
            h1 { (m.t(heading)) }
            p { (m.t(explanation)) }
            form method="post" action={ "/api/subscriptions/" (action.path()) "?token=" (token) "&lang=" (lang.code()) } {
                button type="submit" { (m.t(button)) }
            }
        },
    )
}

/// What the button did.
pub fn done(
    lang: Language,
    action: ListAction,
    consultation: &ConsultationId,
    title: &Localized,
) -> String {
    let m = messages(lang);
    let (heading, text) = match action {
        ListAction::Confirm => ("list_confirmed_heading", "list_confirmed_text"),
        ListAction::Unsubscribe => ("list_unsubscribed_heading", "list_unsubscribed_text"),
    };
    standalone_page(
        lang,
        m.t(heading),
        html! {
            h1 { (m.t(heading)) }
            p { (interpolate(m.t(text), &[("consultation", consultation_link(lang, consultation, title))])) }
        },
    )
}

/// A list request that could not be done, and what to do instead, in the reader's language.
pub fn list_error(lang: Language, status: u16, message: &str) -> String {
    let m = messages(lang);
    standalone_page(
        lang,
        m.t("list_error_title"),
        html! {
            h1 { (m.t("list_error_heading")) }
            p role="alert" { (message) }
            p { (m.f("error_status", &[("status", &status)])) }
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListAction {
    Confirm,
    Unsubscribe,
}

impl ListAction {
    pub fn path(self) -> &'static str {
        match self {
            ListAction::Confirm => "confirm",
            ListAction::Unsubscribe => "unsubscribe",
        }
    }
}
