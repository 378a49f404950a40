//! Plain text, HTML and RTF. HTML and RTF are read by small hand-written scanners rather than
//! full parsers: search needs their words, not their layout, and a scanner that never builds a
//! tree cannot be made to use more memory than the file's own size.

use super::TextSink;

/// Bytes as text: UTF-16 by its byte-order mark, else UTF-8 (a BOM dropped), else Windows-1252
/// read byte by byte (legacy 8-bit text is accepted at intake).
pub fn plain(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

fn utf16(bytes: &[u8], read: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| read([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// One byte of Windows-1252 (Latin-1 with printable characters in 0x80–0x9F).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// The words of an HTML document: text outside tags, comments, scripts and styles, with
/// character references decoded; block elements break lines.
pub fn html(source: &str) -> String {
    let mut sink = TextSink::default();
    let mut rest = source;
    while !rest.is_empty() && !sink.full() {
        let Some(open) = rest.find('<') else {
            sink.push(&decode_references(rest));
            break;
        };
        sink.push(&decode_references(&rest[..open]));
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let Some(close) = rest.find('>') else { break };
        let tag = rest[1..close].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &rest[close + 1..];
        if (name == "script" || name == "style") && !rest.is_empty() {
            // Their content is code, not words: skip to the closing tag.
            let closing = format!("</{name}");
            rest = find_ascii_case_insensitive(rest, &closing)
                .map_or("", |at| &rest[at + closing.len()..]);
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        }
        let block = matches!(
            name.as_str(),
            "p" | "div"
                | "br"
                | "li"
                | "tr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "td"
                | "th"
                | "section"
                | "article"
                | "blockquote"
                | "title"
        );
        sink.separate(if block { '\n' } else { ' ' });
    }
    sink.text
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `&amp;`, `&#233;`, `&#xE9;` and the common named references; an unknown one stays as is.
fn decode_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // A reference is short: its `;` within 12 bytes (found by byte, so that a character
        // of several bytes at the edge is not cut: the fuzzer found that panic).
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The words of an RTF document: the text of its groups, without control words, and without
/// the groups that hold no text (font and colour tables, pictures, `{\*\…}` destinations).
/// `\'hh` is a Windows-1252 byte, `\uN` a Unicode character (its fallback character skipped).
pub fn rtf(bytes: &[u8]) -> String {
    const SKIPPED: [&str; 8] = [
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        "object",
        "header",
        "footer",
    ];
    let mut sink = TextSink::default();
    // Per group: whether its text is skipped.
    let mut groups: Vec<bool> = vec![false];
    let mut i = 0;
    let mut skip_fallback = 0usize;
    while i < bytes.len() && !sink.full() {
        let skipping = *groups.last().unwrap_or(&false);
        match bytes[i] {
            b'{' => {
                groups.push(skipping);
                i += 1;
            }
            b'}' => {
                if groups.len() > 1 {
                    groups.pop();
                }
                i += 1;
            }
            b'\\' => {
                i += 1;
                let Some(&next) = bytes.get(i) else { break };
                if next == b'\'' {
                    let hex = bytes
                        .get(i + 1..i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
                        && !skipping
                    {
                        if skip_fallback > 0 {
                            skip_fallback -= 1;
                        } else {
                            sink.push(&windows_1252(byte).to_string());
                        }
                    }
                    i += 3;
                    continue;
                }
                if next == b'*' {
                    if let Some(group) = groups.last_mut() {
                        *group = true;
                    }
                    i += 1;
                    continue;
                }
                if !next.is_ascii_alphabetic() {
                    // A control symbol: `\\`, `\{`, `\}` are literal; `\~` a space.
                    if !skipping && matches!(next, b'\\' | b'{' | b'}') {
                        sink.push(&char::from(next).to_string());
                    } else if !skipping && next == b'~' {
                        sink.separate(' ');
                    }
                    i += 1;
                    continue;
                }
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let word = std::str::from_utf8(&bytes[start..i]).unwrap_or_default();
                let number_start = i;
                if i < bytes.len() && bytes[i] == b'-' {
                    i += 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let number: Option<i32> = std::str::from_utf8(&bytes[number_start..i])
                    .ok()
                    .and_then(|n| n.parse().ok());
                if i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                if SKIPPED.contains(&word) {
                    if let Some(group) = groups.last_mut() {
                        *group = true;
                    }
                } else if !skipping {
                    match word {
                        "par" | "line" | "row" | "sect" | "page" => sink.separate('\n'),
                        "tab" | "cell" => sink.separate(' '),
                        "u" => {
                            let code = number.unwrap_or(0);
                            let code = if code < 0 { code + 65_536 } else { code };
                            if let Some(c) = u32::try_from(code).ok().and_then(char::from_u32) {
                                sink.push(&c.to_string());
                            }
                            skip_fallback = 1;
                        }
                        _ => {}
                    }
                }
            }
            b'\r' | b'\n' => i += 1,
            byte => {
                if !skipping {
                    if skip_fallback > 0 {
                        skip_fallback -= 1;
                    } else {
                        sink.push(&char::from(byte).to_string());
                    }
                }
                i += 1;
            }
        }
    }
    sink.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_in_its_encodings() {
        assert_eq!(plain(b"\xEF\xBB\xBFcaf\xC3\xA9"), "café");
        assert_eq!(plain(b"caf\xe9 \x80"), "café €");
        assert_eq!(plain(b"\xFF\xFEh\0i\0"), "hi");
        assert_eq!(plain(b"\xFE\xFF\0h\0i"), "hi");
        assert_eq!(plain("互联网治理".as_bytes()), "互联网治理");
    }

    #[test]
    fn an_ampersand_before_a_character_of_several_bytes_is_kept() {
        // Found by the text_extract fuzz target: the reference's 12-byte window ended inside
        // the euro sign and the slice panicked.
        assert_eq!(html("&amp; m>x\u{659}€¤(R"), "& m>x\u{659}€¤(R");
        assert_eq!(html("a &xxxxxxxxx€; b"), "a &xxxxxxxxx€; b");
    }

    #[test]
    fn html_words_without_code_or_markup() {
        let page = "<!DOCTYPE html><html><head><title>Spectrum</title><style>p{color:red}</style>\
            <script>var x = '<p>';</script></head><body><p>IPv6 &amp; spectrum&#x21;</p>\
            <!-- hidden --><div>caf&eacute; &#233;t&eacute;</div><SCRIPT>alert(1)</SCRIPT>end</body></html>";
        assert_eq!(
            html(page),
            "Spectrum\nIPv6 & spectrum!\ncaf&eacute; ét&eacute;\nend"
        );
        assert_eq!(html("<p>unclosed <b"), "unclosed");
        assert_eq!(html("<script>never closed"), "");
    }

    #[test]
    fn rtf_words_without_tables_or_controls() {
        let doc = br"{\rtf1\ansi{\fonttbl{\f0 Times;}}{\colortbl;\red0;}{\*\generator Word;}\f0 Internet \b governance\b0\par caf\'e9 \u20320?\u22909? end\}}";
        assert_eq!(rtf(doc), "Internet governance\ncafé 你好 end}");
    }

    #[test]
    fn unbalanced_rtf_does_not_run_away() {
        assert_eq!(rtf(b"}}}}{\\rtf1 text"), "text");
        assert_eq!(rtf(b"{\\'zz\\u"), "");
    }
}
