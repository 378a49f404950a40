//! The frame every page of the site shares: the document, its head (stylesheet, script,
//! alternate languages, feed), the header with the language switcher and the footer; and the
//! placement of markup inside catalogue texts. Used by every renderer of `site`.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::Language;
use crate::domain::site_paths::{self, Edition};
use crate::i18n::{Catalogue, messages};

pub const STYLESHEET_KEY: &str = "assets/site.css";
pub const STYLESHEET: &str = include_str!("assets/site.css");
/// Progressive enhancement for every page.
pub const SCRIPT_KEY: &str = "assets/site.js";
pub const SCRIPT: &str = include_str!("assets/site.js");
/// The response form's presigned uploads with a progress bar per file; loaded by that form only.
pub const UPLOAD_SCRIPT_KEY: &str = "assets/upload.js";
pub const UPLOAD_SCRIPT: &str = include_str!("assets/upload.js");
/// The catalogue texts `upload.js` shows, handed to it as one JSON `data-messages` attribute.
/// Everything a page needs to know about where it is: its language edition and its own path
/// (unprefixed), so the language switcher can point at the same page in every language.
#[derive(Clone, Copy)]
pub(super) struct Here<'a> {
    pub(super) edition: Edition,
    pub(super) path: &'a str,
}

impl Here<'_> {
    pub(super) fn m(&self) -> &'static Catalogue {
        messages(self.edition.lang)
    }

    pub(super) fn url(&self, path: &str) -> String {
        self.edition.url(path)
    }
}

/// A text the Secretariat gave in several languages: the reader's, or the stated fallback,
/// marked with its own language so screen readers pronounce it right.
pub(super) fn localized(m: &Catalogue, text: &crate::domain::Localized) -> Markup {
    let (lang, value) = text.get(m.lang());
    if lang == m.lang() {
        html! { (value) }
    } else {
        html! { span lang=(lang.code()) dir=(dir(lang)) { (value) } }
    }
}

pub(super) fn dir(lang: Language) -> &'static str {
    if lang.is_rtl() { "rtl" } else { "ltr" }
}

/// A page outside the site's tree (answers of the API to a browser) in `lang`'s edition.
pub fn standalone_page(lang: Language, title: &str, body: Markup) -> String {
    let edition = if lang == Language::En {
        Edition::DEFAULT
    } else {
        Edition::of(lang)
    };
    layout(Here { edition, path: "/" }, title, body)
}

/// A page of the site's tree at `path` (unprefixed) in `edition`, for pages rendered outside
/// this module (the transparency log's verify page).
pub fn edition_page(edition: Edition, path: &str, title: &str, body: Markup) -> String {
    layout(Here { edition, path }, title, body)
}

pub(super) fn layout(here: Here, title: &str, body: Markup) -> String {
    let m = here.m();
    let lang = here.edition.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) dir=(dir(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (m.t("site_name")) }
                link rel="stylesheet" href={ "/" (STYLESHEET_KEY) };
                @for other in Language::ALL {
                    link rel="alternate" hreflang=(other.code()) href=(Edition::of(other).url(here.path));
                }
                link rel="alternate" type="application/atom+xml" title=(m.t("feed_all")) href=(here.url(&site_paths::all_feed_url()));
                script src={ "/" (SCRIPT_KEY) } defer {}
            }
            body
                data-your-time=(m.t("your_time"))
                data-time-left=(m.t("time_left"))
                data-filter-shown=(m.plural_variants("filter_shown"))
                data-filter-found=(m.plural_variants("filter_found"))
                data-filter-loading=(m.t("filter_loading"))
                data-filter-failed=(m.t("filter_failed"))
            {
                a class="skip" href="#main" { (m.t("skip_to_content")) }
                header {
                    p class="site" {
                        a href=(here.url("/")) { (m.t("site_name")) }
                        " · " (m.t("site_tagline"))
                    }
                    nav aria-label=(m.t("languages")) {
                        ul class="languages" {
                            @for other in Language::ALL {
                                li {
                                    @let name = messages(other).t("language_name");
                                    @if other == lang {
                                        a href=(Edition::of(other).url(here.path)) lang=(other.code()) hreflang=(other.code()) aria-current="page" { (name) }
                                    } @else {
                                        a href=(Edition::of(other).url(here.path)) lang=(other.code()) hreflang=(other.code()) { (name) }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
                footer {
                    p { (m.t("footer")) }
                    p { a href=(here.url(&site_paths::all_feed_url())) { (m.t("feed_all")) } }
                }
            }
        }
    }
    .into_string()
}

/// A catalogue text with markup (a link, a date) in place of its `{name}` placeholders; the
/// text around them is escaped as usual.
pub fn interpolate(template: &str, parts: &[(&str, Markup)]) -> Markup {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(&html! { (rest[..start]) }.into_string());
        match parts.iter().find(|(n, _)| *n == name) {
            Some((_, markup)) => out.push_str(&markup.0),
            None => out.push_str(&html! { (rest[start..=start + len]) }.into_string()),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(&html! { (rest) }.into_string());
    PreEscaped(out)
}
