//! The public site's renderers: every page, feed and manifest, as pure functions of domain
//! data, and the headers each site object is served with. Publication and closing decide what
//! to write; this module only says what it looks like.

pub mod charts;
pub mod console_forms;
pub mod console_pages;
pub mod console_publishing;
pub mod layout;
pub mod list_pages;
pub mod log_pages;
pub mod outcome_pages;
pub mod pages;
pub mod response_pages;
pub mod views;

use crate::domain::site_paths;
use crate::ports::ObjectMeta;

/// The headers a site object is served with, from its key alone, so S3 metadata and the local
/// host agree. Submitted files are always downloads, never rendered by the browser.
pub fn site_meta(key: &str) -> ObjectMeta {
    if crate::transparency::publish::is_log_text(key) {
        return crate::transparency::publish::meta(key);
    }
    if site_paths::is_dossier(key) {
        let consultation = key.split('/').nth(1).unwrap_or("consultation");
        return ObjectMeta {
            content_type: "application/zip".to_owned(),
            content_disposition: Some(attachment(&format!("{consultation}-dossier.zip"))),
        };
    }
    if site_paths::is_response_file(key) || site_paths::is_secretariat_file(key) {
        let name = key.rsplit('/').next().unwrap_or("file");
        return ObjectMeta {
            content_type: "application/octet-stream".to_owned(),
            content_disposition: Some(attachment(name)),
        };
    }
    let content_type = match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("atom") => "application/atom+xml; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        // `header=present`: the first row names the columns (RFC 4180).
        Some("csv") => "text/csv; charset=utf-8; header=present",
        _ => "application/octet-stream",
    };
    ObjectMeta {
        content_type: content_type.to_owned(),
        content_disposition: None,
    }
}

/// `Content-Disposition: attachment` with an ASCII fallback and the exact name (RFC 6266/5987).
pub fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 5987 attr-char: alphanumerics and !#$&+-.^_`|~ stay as they are.
    const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR_CHAR);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}
