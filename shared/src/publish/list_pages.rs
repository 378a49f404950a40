//! The email list's pages: what a subscriber sees after the form or a link from a message.
//! A link only ever shows a button: mail scanners that open links must not confirm or cancel
//! anything; the button's POST (or a mail client's RFC 8058 one-click POST) does.

use maud::html;

use super::render::standalone_page;
use crate::domain::ConsultationId;
use crate::domain::Language;
use crate::domain::site_paths::consultation_url;

/// After the subscribe form: the same words whether or not the address was subscribed.
pub fn check_your_inbox(consultation: &ConsultationId, title: &str) -> String {
    standalone_page(
        Language::En,
        "Check your inbox",
        html! {
            h1 { "Check your inbox" }
            p {
                "We sent a message to the address you gave. Open the link in it to confirm that you want to receive every response published in "
                a href=(consultation_url(consultation)) { (title) } "."
            }
            p { "Nothing is sent to you until you confirm. Your address is never published." }
        },
    )
}

/// A confirmation or unsubscribe link, opened: one button that does it.
pub fn confirm_action(action: ListAction, token: &str) -> String {
    let (heading, explanation, button) = match action {
        ListAction::Confirm => (
            "Confirm your subscription",
            "Press the button to start receiving the responses published in this consultation.",
            "Confirm",
        ),
        ListAction::Unsubscribe => (
            "Unsubscribe",
            "Press the button to stop receiving the responses published in this consultation. Your address will be deleted.",
            "Unsubscribe",
        ),
    };
    standalone_page(
        Language::En,
        heading,
        html! {
            h1 { (heading) }
            p { (explanation) }
            form method="post" action={ "/api/subscriptions/" (action.path()) "?token=" (token) } {
                button type="submit" { (button) }
            }
        },
    )
}

/// What the button did.
pub fn done(action: ListAction, consultation: &ConsultationId, title: &str) -> String {
    let heading = match action {
        ListAction::Confirm => "Subscription confirmed",
        ListAction::Unsubscribe => "Unsubscribed",
    };
    standalone_page(
        Language::En,
        heading,
        html! {
            h1 { (heading) }
            @match action {
                ListAction::Confirm => p {
                    "You will receive every response published in "
                    a href=(consultation_url(consultation)) { (title) }
                    ", with a link to stop in each message."
                },
                ListAction::Unsubscribe => p {
                    "You will receive nothing more from "
                    a href=(consultation_url(consultation)) { (title) }
                    ", and your address has been deleted."
                },
            }
        },
    )
}

/// A list request that could not be done, and what to do instead.
pub fn list_error(status: u16, message: &str) -> String {
    standalone_page(
        Language::En,
        "Email list",
        html! {
            h1 { "That did not work" }
            p role="alert" { (message) }
            p { "Error " (status) "." }
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
