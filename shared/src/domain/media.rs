//! The allow-list of file types, judged by the content's signature, never by the sender's claim.

use thiserror::Error;

use super::{Arg, Text};

/// How many leading bytes of a file are kept to judge its type.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The types a response may carry, as detected from content.
pub const ALLOWED: [&str; 14] = [
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
    "application/rtf",
    "text/html",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.presentation",
    "image/png",
    "image/jpeg",
    "application/zip",
    "text/plain",
];

/// The media type judged from a file's content, never from the sender's claim (one of
/// [`ALLOWED`]); the text of a response is always `text/plain`. A name for the API
/// description: files carry it as a string.
pub struct MediaType;

impl utoipa::PartialSchema for MediaType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string()
            .enum_values(Some(ALLOWED))
            .description(Some(
                "The media type judged from the file's content, never from the sender's claim. \
                 The text of a response is always `text/plain`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for MediaType {}

/// A file whose content is not of an allowed type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.text())]
pub struct Unsupported {
    pub name: String,
    pub reason: Text,
}

impl Unsupported {
    /// `{file}: {reason}. Allowed: PDF, …`, in any language.
    pub fn text(&self) -> Text {
        Text::with(
            "err_unsupported_file",
            [
                ("file", Arg::Plain(self.name.clone())),
                ("reason", Arg::Nested(Box::new(self.reason.clone()))),
            ],
        )
    }
}

/// The media type of a file from its first bytes (up to [`SNIFF_BYTES`]).
pub fn classify(name: &str, head: &[u8]) -> Result<&'static str, Unsupported> {
    if head.is_empty() {
        return Err(Unsupported {
            name: name.to_owned(),
            reason: Text::key("err_content_empty"),
        });
    }
    if let Some(kind) = infer::get(head) {
        return ALLOWED
            .iter()
            .find(|t| **t == kind.mime_type())
            .copied()
            .ok_or_else(|| Unsupported {
                name: name.to_owned(),
                reason: Text::with(
                    "err_content_type",
                    [
                        ("type", Arg::plain(kind.mime_type())),
                        ("extension", Arg::plain(kind.extension())),
                    ],
                ),
            });
    }
    if looks_like_text(head) {
        Ok("text/plain")
    } else {
        Err(Unsupported {
            name: name.to_owned(),
            reason: Text::key("err_content_unknown"),
        })
    }
}

/// A ZIP archive's media type.
pub const ZIP: &str = "application/zip";

/// What an Office Open XML package is, from the names in its ZIP directory: the signature
/// alone says only "ZIP" (a minimal DOCX starts with `[Content_Types].xml`, and the part that
/// says what it is may come anywhere after it). `None`: not a package of these three kinds.
/// OpenDocument files need no help: their first entry, `mimetype`, names their type.
pub fn office_type<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let names: Vec<&str> = names.into_iter().collect();
    if !names.contains(&"[Content_Types].xml") {
        return None;
    }
    [
        (
            "word/document.xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "xl/workbook.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "ppt/presentation.xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
    ]
    .into_iter()
    .find(|(part, _)| names.contains(part))
    .map(|(_, media_type)| media_type)
}

/// Plain text in any encoding: UTF-16 with a byte-order mark, or bytes with no NUL and hardly
/// any control characters (legacy 8-bit encodings are text too, so invalid UTF-8 is fine).
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let controls = head
        .iter()
        .filter(|&&b| matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F))
        .count();
    !head.contains(&0) && controls * 100 <= head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(head: &[u8]) -> Result<&'static str, Unsupported> {
        classify("f", head)
    }

    #[test]
    fn allowed_signatures() {
        assert_eq!(
            kind(b"%PDF-1.7\n\x00\xff binary").unwrap(),
            "application/pdf"
        );
        assert_eq!(kind(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap(), "image/png");
        assert_eq!(kind(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").unwrap(), "image/jpeg");
        assert_eq!(
            kind(b"PK\x03\x04\x14\0\0\0\0\0").unwrap(),
            "application/zip"
        );
        assert_eq!(kind(b"{\\rtf1\\ansi hello}").unwrap(), "application/rtf");
        assert_eq!(kind(b"<!DOCTYPE html><html>").unwrap(), "text/html");
    }

    #[test]
    fn office_packages_by_their_parts() {
        let docx = ["[Content_Types].xml", "_rels/.rels", "word/document.xml"];
        assert_eq!(
            office_type(docx),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(
            office_type(["[Content_Types].xml", "docProps/app.xml", "xl/workbook.xml"]),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert_eq!(
            office_type(["ppt/presentation.xml", "[Content_Types].xml"]),
            Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
        );
        assert_eq!(office_type(["word/document.xml"]), None, "no content types");
        assert_eq!(office_type(["[Content_Types].xml", "notes.txt"]), None);
        assert_eq!(office_type(["photos/a.jpg", "photos/b.jpg"]), None);
    }

    #[test]
    fn text_in_any_encoding() {
        assert_eq!(kind(b"line one\r\nline two\r\n").unwrap(), "text/plain");
        assert_eq!(kind(b"\xEF\xBB\xBFwith a BOM").unwrap(), "text/plain");
        assert_eq!(
            kind(b"caf\xe9 en latin-1, \xff\xfe invalid UTF-8").unwrap(),
            "text/plain"
        );
        assert_eq!(kind(b"\xFF\xFEh\0i\0").unwrap(), "text/plain", "UTF-16 LE");
    }

    #[test]
    fn refused_whatever_the_name_says() {
        let elf = b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0";
        let err = classify("report.pdf", elf).unwrap_err();
        assert!(
            err.to_string().starts_with("report.pdf: its content is"),
            "{err}"
        );
        assert!(
            kind(b"MZ\x90\0\x03\0\0\0\x04\0").is_err(),
            "Windows executable"
        );
        assert!(
            kind(b"GIF89a\x01\0\x01\0").is_err(),
            "GIF is not on the list"
        );
        assert!(kind(b"binary\0with\0nuls\0").is_err());
        assert!(kind(b"").unwrap_err().to_string().contains("empty"));
    }
}
