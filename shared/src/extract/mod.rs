//! The words of a response's files, for searching: a derived copy, never the record (the
//! original bytes are). Pure functions of a file's bytes and media type, bounded in what they
//! read, unpack and return, so that a hostile file (a ZIP bomb dressed as a DOCX, a corrupt
//! archive, a binary called text) is skipped with a reason and costs no more than a fair one.
//!
//! Office Open XML (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS, ODP) are ZIP archives of XML
//! parts: read with `zip` and `quick-xml`, streaming, the text of the parts that hold the
//! document's words. Plain text, HTML and RTF are read directly (see [`markup`]). PDF is read
//! by pdf-extract in a child process with bounded time and memory (see [`isolated`]). A message
//! kept as a file gives its body and its attachments' words as files (see [`message`]).

mod isolated;
mod markup;
mod message;
mod package;

use std::fmt;

pub use isolated::{CHILD_ARG, Isolation, run_if_child};
pub use message::{MessageParts, ReadElsewhere, message_text};

/// A message kept as a file (see [`message_text`]).
pub const MESSAGE: &str = "message/rfc822";

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
    /// A type whose text is not read (images, plain ZIP archives), or a message whose words
    /// are all read elsewhere.
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

/// Whether files of `media_type` have words to read (the others are not even fetched).
pub fn reads(media_type: &str) -> bool {
    matches!(
        media_type,
        "text/plain"
            | "text/html"
            | "application/rtf"
            | "application/pdf"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            | "application/vnd.oasis.opendocument.text"
            | "application/vnd.oasis.opendocument.spreadsheet"
            | "application/vnd.oasis.opendocument.presentation"
    )
}

/// The text of a file of `media_type`, PDF included (in a child process started as `pdf`
/// says). The other formats are read on a blocking thread: bounded, but not instant on a
/// large file.
pub async fn text_of(
    pdf: &Isolation,
    media_type: &str,
    bytes: bytes::Bytes,
) -> Result<Extracted, Skipped> {
    if media_type == "application/pdf" {
        // PDF text comes positioned on the page: runs of blank lines and spaces joined.
        return pdf.pdf_text(&bytes).await.map(|text| {
            let mut sink = TextSink::default();
            sink.push(&text);
            bounded(sink.text)
        });
    }
    let media_type = media_type.to_owned();
    tokio::task::spawn_blocking(move || extract(&media_type, &bytes))
        .await
        .unwrap_or_else(|e| Err(Skipped::Unreadable(format!("the reader failed: {e}"))))
}

/// The words of one published file, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileText {
    /// The file's published name.
    pub name: String,
    pub words: Result<Extracted, Skipped>,
}

/// The words of a response's files, in the order they are published: a derived copy for
/// reading and searching, written next to the originals, which stay the record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseText {
    pub files: Vec<FileText>,
}

impl ResponseText {
    /// Whether any file gave words.
    pub fn has_words(&self) -> bool {
        self.files
            .iter()
            .any(|f| f.words.as_ref().is_ok_and(|w| !w.text.is_empty()))
    }

    /// The derived text file (`extracted/{number}.txt` on the site and in the dossier): a
    /// header that says what it is, then each file's words under its name, or why there are
    /// none. In English: it is read by tools and the Group's staff, like `index.csv`.
    pub fn derived_file(&self, consultation: &str, number: u64, files_url: &str) -> String {
        let mut out = format!(
            "Text extracted automatically from the files of response {number} to the \
             consultation {consultation}, for reading and searching.\nDerived, not the record: \
             the files as sent, byte for byte, are at {files_url}\n"
        );
        for file in &self.files {
            out.push_str(&format!("\n=== {} ===\n", file.name));
            match &file.words {
                Ok(words) => {
                    out.push_str(&words.text);
                    out.push('\n');
                    if words.truncated {
                        out.push_str(&format!(
                            "[Cut here: only the first {} MiB of text are kept.]\n",
                            MAX_TEXT_BYTES / 1024 / 1024
                        ));
                    }
                }
                Err(skipped) => out.push_str(&format!("[No text: {skipped}.]\n")),
            }
        }
        out
    }
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
    fn the_derived_file_says_what_it_is_and_names_each_file() {
        let text = ResponseText {
            files: vec![
                FileText {
                    name: "response.txt".into(),
                    words: Ok(Extracted {
                        text: "Spectrum matters.".into(),
                        truncated: false,
                    }),
                },
                FileText {
                    name: "scan.png".into(),
                    words: Err(Skipped::NotText),
                },
            ],
        };
        assert!(text.has_words());
        let file = text.derived_file("net-2027", 7, "/consultations/net-2027/responses/7/");
        assert!(file.starts_with("Text extracted automatically from the files of response 7"));
        assert!(file.contains("Derived, not the record"));
        assert!(file.contains("=== response.txt ===\nSpectrum matters.\n"));
        assert!(file.contains("=== scan.png ===\n[No text: no text is extracted"));
        assert!(!ResponseText::default().has_words());
    }

    #[tokio::test]
    async fn pdf_goes_to_the_isolated_reader_and_the_rest_is_read_here() {
        let echo = Isolation::program(
            "sh",
            ["-c", "cat >/dev/null; printf 'from the child'"],
            isolated::TIME_LIMIT,
        );
        let pdf = text_of(&echo, "application/pdf", bytes::Bytes::from_static(b"%PDF"))
            .await
            .unwrap();
        assert_eq!(pdf.text, "from the child");
        let plain = text_of(
            &echo,
            "text/plain",
            bytes::Bytes::from_static(b"typed words"),
        )
        .await
        .unwrap();
        assert_eq!(plain.text, "typed words");
    }

    #[test]
    fn types_without_words_are_skipped() {
        assert_eq!(extract("image/png", b"\x89PNG"), Err(Skipped::NotText));
        assert_eq!(extract("application/zip", b"PK"), Err(Skipped::NotText));
    }
}
