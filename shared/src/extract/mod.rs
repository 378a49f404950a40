//! The words of a response's files, for searching: a derived copy, never the record (the
//! original bytes are). Pure functions of a file's bytes and media type, bounded in what they
//! read, unpack and return, so that a hostile file (a ZIP bomb dressed as a DOCX, a corrupt
//! archive, a binary called text) is skipped with a reason and costs no more than a fair one.
//!
//! Office Open XML (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS, ODP) are ZIP archives of XML
//! parts: read with `zip` and `quick-xml`, streaming, the text of the parts that hold the
//! document's words. Plain text, HTML and RTF are read directly (see [`markup`]).

mod markup;
mod package;

use std::fmt;

/// At most this much text is kept from one file; what follows is dropped (and said so).
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;
/// At most this much is unpacked from one archive, all parts together: more is a ZIP bomb.
pub const MAX_UNPACKED_BYTES: u64 = 64 * 1024 * 1024;
/// At most this many parts are read from one archive.
pub const MAX_PARTS: usize = 2_000;

/// The text of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// The file had more text than [`MAX_TEXT_BYTES`].
    pub truncated: bool,
}

/// Why a file has no extracted text (it is still published, byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A type whose text is not read (images, plain ZIP archives, PDF for now).
    NotText,
    /// The file is not what its type says, or is damaged.
    Unreadable(String),
    /// Reading it would unpack more than [`MAX_UNPACKED_BYTES`] or [`MAX_PARTS`] parts.
    TooLarge,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotText => f.write_str("no text is extracted from this type of file"),
            Self::Unreadable(why) => write!(f, "the file could not be read: {why}"),
            Self::TooLarge => write!(
                f,
                "the file unpacks to more than {} MiB or {MAX_PARTS} parts",
                MAX_UNPACKED_BYTES / 1024 / 1024
            ),
        }
    }
}

/// The text of a file of `media_type` (as recorded at intake).
pub fn extract(media_type: &str, bytes: &[u8]) -> Result<Extracted, Skipped> {
    use package::Kind;
    let text = match media_type {
        "text/plain" => markup::plain(bytes),
        "text/html" => markup::html(&markup::plain(bytes)),
        "application/rtf" => markup::rtf(bytes),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            package::text(bytes, Kind::Word)?
        }
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            package::text(bytes, Kind::Sheet)?
        }
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            package::text(bytes, Kind::Slides)?
        }
        "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet"
        | "application/vnd.oasis.opendocument.presentation" => {
            package::text(bytes, Kind::OpenDocument)?
        }
        _ => return Err(Skipped::NotText),
    };
    Ok(bounded(text))
}

/// Cuts `text` at [`MAX_TEXT_BYTES`], on a character boundary.
fn bounded(mut text: String) -> Extracted {
    let truncated = text.len() > MAX_TEXT_BYTES;
    if truncated {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Extracted { text, truncated }
}

/// Collects text with bounded growth, joining runs of white space into one.
#[derive(Default)]
struct TextSink {
    text: String,
    pending_break: Option<char>,
}

impl TextSink {
    fn push(&mut self, words: &str) {
        for c in words.chars() {
            if c.is_whitespace() {
                self.separate(if c == '\n' { '\n' } else { ' ' });
            } else if !c.is_control() {
                if let Some(gap) = self.pending_break.take()
                    && !self.text.is_empty()
                {
                    self.text.push(gap);
                }
                self.text.push(c);
            }
        }
    }

    /// A space, or a line break, before the next word (a line break wins).
    fn separate(&mut self, gap: char) {
        if self.pending_break != Some('\n') {
            self.pending_break = Some(gap);
        }
    }

    /// Whether more text would be cut anyway (reading can stop).
    fn full(&self) -> bool {
        self.text.len() > MAX_TEXT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_BYTES);
        let cut = bounded(long);
        assert!(cut.truncated);
        assert!(cut.text.len() <= MAX_TEXT_BYTES);
        assert!(cut.text.chars().all(|c| c == 'é'));
        assert!(!bounded("short".into()).truncated);
    }

    #[test]
    fn white_space_is_joined_and_controls_dropped() {
        let mut sink = TextSink::default();
        sink.push("  one \t two\n\n\nthree\u{7}four  ");
        assert_eq!(sink.text, "one two\nthreefour");
    }

    #[test]
    fn types_without_words_are_skipped() {
        assert_eq!(extract("image/png", b"\x89PNG"), Err(Skipped::NotText));
        assert_eq!(extract("application/zip", b"PK"), Err(Skipped::NotText));
    }
}
