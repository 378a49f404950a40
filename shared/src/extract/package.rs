//! Office Open XML and OpenDocument files: ZIP archives whose XML parts hold the words.

use std::io::{Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{MAX_PARTS, MAX_UNPACKED_BYTES, Skipped, TextSink};

/// Which parts of the package hold the document's words.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// DOCX: the body, then headers, footers, footnotes and comments.
    Word,
    /// XLSX: the shared strings and the sheets' inline strings.
    Sheet,
    /// PPTX: the slides in order, then their notes.
    Slides,
    /// ODT, ODS, ODP: `content.xml`.
    OpenDocument,
}

impl Kind {
    fn holds_words(self, part: &str) -> bool {
        let xml = part.ends_with(".xml");
        match self {
            Self::Word => {
                xml && part.starts_with("word/")
                    && [
                        "document",
                        "header",
                        "footer",
                        "footnotes",
                        "endnotes",
                        "comments",
                    ]
                    .iter()
                    .any(|p| part["word/".len()..].starts_with(p))
            }
            Self::Sheet => {
                part == "xl/sharedStrings.xml" || xml && part.starts_with("xl/worksheets/sheet")
            }
            Self::Slides => {
                xml && (part.starts_with("ppt/slides/slide")
                    || part.starts_with("ppt/notesSlides/notesSlide"))
            }
            Self::OpenDocument => part == "content.xml",
        }
    }

    /// Whether an element of this local name holds words (others hold numbers, formulas,
    /// styles). `None`: any element does.
    fn text_elements(self) -> Option<&'static [&'static [u8]]> {
        match self {
            Self::Word | Self::Sheet | Self::Slides => Some(&[b"t"]),
            Self::OpenDocument => None,
        }
    }
}

/// The text of the package's word-holding parts, in document order.
pub fn text(bytes: &[u8], kind: Kind) -> Result<String, Skipped> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Skipped::Unreadable(e.to_string()))?;
    if archive.len() > MAX_PARTS {
        return Err(Skipped::TooLarge);
    }
    let mut parts: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|name| kind.holds_words(name))
        .map(std::borrow::Cow::into_owned)
        .collect();
    // slide2 before slide10: by the number in the name, then by name.
    parts.sort_by_key(|name| (part_rank(name), number_in(name), name.clone()));
    if parts.is_empty() {
        return Err(Skipped::Unreadable(
            "it holds none of the parts its type needs".to_owned(),
        ));
    }
    let mut sink = TextSink::default();
    let mut unpacked = 0u64;
    for name in parts {
        if sink.full() {
            break;
        }
        let part = archive
            .by_name(&name)
            .map_err(|e| Skipped::Unreadable(e.to_string()))?;
        // Read at most what is left of the allowance, whatever the part's header declares:
        // one byte more means the archive unpacks past it.
        let allowance = MAX_UNPACKED_BYTES - unpacked;
        let mut xml = Vec::new();
        part.take(allowance + 1)
            .read_to_end(&mut xml)
            .map_err(|e| Skipped::Unreadable(e.to_string()))?;
        if xml.len() as u64 > allowance {
            return Err(Skipped::TooLarge);
        }
        unpacked += xml.len() as u64;
        words_of(&xml, kind, &mut sink)?;
        sink.separate('\n');
    }
    Ok(sink.text)
}

/// The document body first, then the rest (DOCX), or notes after slides (PPTX).
fn part_rank(name: &str) -> u8 {
    u8::from(!(name == "word/document.xml" || name.starts_with("ppt/slides/")))
}

fn number_in(name: &str) -> u64 {
    let digits: String = name
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// Appends the text of one XML part: the content of its text elements, a line break at the end
/// of each paragraph, heading or row, a space for tabs and cells.
fn words_of(xml: &[u8], kind: Kind, sink: &mut TextSink) -> Result<(), Skipped> {
    let mut reader = Reader::from_reader(xml);
    let mut depth_in_text = 0usize;
    let mut buffer = Vec::new();
    loop {
        if sink.full() {
            return Ok(());
        }
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|e| Skipped::Unreadable(format!("XML: {e}")))?;
        match event {
            Event::Start(start) if is_text_element(kind, start.local_name().as_ref()) => {
                depth_in_text += 1;
            }
            Event::Empty(empty) => match empty.local_name().as_ref() {
                b"tab" | b"s" => sink.separate(' '),
                b"br" | b"line-break" | b"cr" => sink.separate('\n'),
                _ => {}
            },
            Event::End(end) => {
                let name = end.local_name();
                let name = name.as_ref();
                if is_text_element(kind, name) {
                    depth_in_text = depth_in_text.saturating_sub(1);
                }
                match name {
                    b"p" | b"h" | b"row" | b"tr" => sink.separate('\n'),
                    b"c" | b"tc" | b"table-cell" | b"si" => sink.separate(' '),
                    _ => {}
                }
            }
            Event::Text(text) if depth_in_text > 0 || kind.text_elements().is_none() => {
                let decoded = text
                    .decode()
                    .map_err(|e| Skipped::Unreadable(format!("XML: {e}")))?;
                let unescaped = quick_xml::escape::unescape(&decoded)
                    .map_err(|e| Skipped::Unreadable(format!("XML: {e}")))?;
                sink.push(&unescaped);
            }
            Event::GeneralRef(reference) if depth_in_text > 0 || kind.text_elements().is_none() => {
                // `&amp;`, `&#233;`: the reader leaves references to us.
                let character = match reference.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => reference.decode().ok().and_then(|name| {
                        quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                    }),
                };
                if let Some(character) = character {
                    sink.push(&character);
                }
            }
            Event::CData(data) if depth_in_text > 0 => {
                sink.push(&String::from_utf8_lossy(&data));
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buffer.clear();
    }
}

fn is_text_element(kind: Kind, local_name: &[u8]) -> bool {
    kind.text_elements()
        .is_some_and(|names| names.contains(&local_name))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use test_support::zip_of;

    #[test]
    fn a_docx_body_then_its_footnotes() {
        let document = r#"<?xml version="1.0"?><w:document xmlns:w="w"><w:body>
            <w:p><w:r><w:t>Spectrum</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve">policy &amp; IPv6</w:t></w:r></w:p>
            <w:p><w:r><w:t>互联网治理</w:t></w:r></w:p><w:sectPr><w:pgSz w:w="11906"/></w:sectPr></w:body></w:document>"#.as_bytes();
        let notes = br#"<w:footnotes xmlns:w="w"><w:footnote><w:p><w:r><w:t>a note</w:t></w:r></w:p></w:footnote></w:footnotes>"#;
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/footnotes.xml", notes),
            ("word/document.xml", document),
            (
                "word/styles.xml",
                b"<w:styles><w:t>not words</w:t></w:styles>",
            ),
        ]);
        assert_eq!(
            text(&docx, Kind::Word).unwrap(),
            "Spectrum policy & IPv6\n互联网治理\na note"
        );
    }

    #[test]
    fn slides_in_their_order_and_sheets_by_their_strings() {
        let slide = |words: &str| {
            format!(r#"<p:sld xmlns:a="a"><a:p><a:r><a:t>{words}</a:t></a:r></a:p></p:sld>"#)
        };
        let (two, ten) = (slide("second"), slide("tenth"));
        let pptx = zip_of(&[
            ("ppt/slides/slide10.xml", ten.as_bytes()),
            ("ppt/slides/slide2.xml", two.as_bytes()),
        ]);
        assert_eq!(text(&pptx, Kind::Slides).unwrap(), "second\ntenth");
        let strings = br#"<sst><si><t>Country</t></si><si><t>Switzerland</t></si></sst>"#;
        let sheet = br#"<worksheet><sheetData><row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>inline</t></is></c><c><v>42</v></c></row></sheetData></worksheet>"#;
        let xlsx = zip_of(&[
            ("xl/sharedStrings.xml", strings),
            ("xl/worksheets/sheet1.xml", sheet),
        ]);
        assert_eq!(
            text(&xlsx, Kind::Sheet).unwrap(),
            "Country Switzerland\ninline"
        );
    }

    #[test]
    fn opendocument_content() {
        let content = r#"<office:document-content xmlns:text="t"><office:body><office:text>
            <text:h>Title</text:h><text:p>Arabic <text:s/>نص عربي</text:p></office:text></office:body></office:document-content>"#.as_bytes();
        let odt = zip_of(&[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", content),
        ]);
        assert_eq!(
            text(&odt, Kind::OpenDocument).unwrap(),
            "Title\nArabic نص عربي"
        );
    }

    #[test]
    fn hostile_packages_are_skipped() {
        // A ZIP bomb: 100 MiB of zeros compressed to about 100 KiB, as the document's body.
        let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        archive.start_file("word/document.xml", deflated).unwrap();
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..100 {
            archive.write_all(&zeros).unwrap();
        }
        let bomb = archive.finish().unwrap().into_inner();
        assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
        assert_eq!(text(&bomb, Kind::Word), Err(Skipped::TooLarge));

        let truncated = &zip_of(&[("word/document.xml", b"<w:t>x</w:t>")])[..20];
        assert!(matches!(
            text(truncated, Kind::Word),
            Err(Skipped::Unreadable(_))
        ));
        let no_body = zip_of(&[("notes.txt", b"hello")]);
        assert!(matches!(
            text(&no_body, Kind::Word),
            Err(Skipped::Unreadable(_))
        ));
        let broken_xml = zip_of(&[("word/document.xml", b"<w:t>fine</w:t></w:p></oops>")]);
        assert!(matches!(
            text(&broken_xml, Kind::Word),
            Err(Skipped::Unreadable(_))
        ));

        let many: Vec<(String, Vec<u8>)> = (0..=MAX_PARTS)
            .map(|i| (format!("word/header{i}.xml"), b"<w:t>x</w:t>".to_vec()))
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        assert_eq!(text(&zip_of(&refs), Kind::Word), Err(Skipped::TooLarge));
    }
}
