//! What every console form shares, the pages and the publishing sections alike: where the
//! console lives and how a field in error is named and shown.

use maud::{Markup, html};

use crate::domain::Language;

/// Where the console lives; its session cookie is scoped to this path.
pub const CONSOLE_PATH: &str = "/admin";

/// A field in error: its id in the form, and what is wrong, in the page's language.
pub struct FieldError {
    pub field: std::borrow::Cow<'static, str>,
    pub message: String,
}

/// The error message of `field`, if it has one, with the id its input's `aria-describedby`
/// points to.
pub(super) fn field_error(errors: &[FieldError], field: &str) -> Option<Markup> {
    errors.iter().find(|e| e.field == field).map(|e| {
        html! { p class="error" id={ (field) "-error" } { (e.message) } }
    })
}

/// The title and questions boxes of the console, by language (questions one a line).
#[derive(Debug, Default)]
pub struct Wording {
    pub title: std::collections::BTreeMap<Language, String>,
    pub questions: std::collections::BTreeMap<Language, String>,
}
