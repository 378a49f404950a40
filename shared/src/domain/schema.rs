//! The JSON Schemas of the domain's values, built from the same constants their parsers check,
//! so that the API description (`http::openapi`, derived with utoipa) states each rule as the
//! code enforces it instead of copying its numbers.

use std::ops::RangeInclusive;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

/// A `string` schema, to be refined.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// What `str::trim` removes (Unicode `White_Space`), as the body of a regular-expression class.
/// Spelled out because `\s` means other characters in other regex dialects (Python's includes
/// U+001C to U+001F, which `trim` keeps).
pub const WHITE_SPACE: &str =
    r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// What `char::is_control` finds (Unicode `Cc`), as the body of a regular-expression class.
pub const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// A text that is not empty once trimmed: it holds a character that `trim` keeps.
pub fn not_blank_pattern() -> String {
    format!("[^{WHITE_SPACE}]")
}

/// A value that is read trimmed: `inner` between any white space; with `optional`, white space
/// alone (which reads as no value) too.
pub fn trimmed(inner: &str, optional: bool) -> String {
    let space = format!("[{WHITE_SPACE}]*");
    if optional {
        format!("^{space}(?:{inner}{space})?$")
    } else {
        format!("^{space}{inner}{space}$")
    }
}

/// A line of text read trimmed: once trimmed, 1 to `max_chars` characters and no control
/// character (white space inside is fine).
pub fn text_line(max_chars: usize, optional: bool) -> String {
    let edge = format!("[^{WHITE_SPACE}{CONTROL}]");
    let inside = format!("[^{CONTROL}]{{0,{}}}", max_chars.saturating_sub(2));
    let inner = if max_chars >= 2 {
        format!("{edge}(?:{inside}{edge})?")
    } else {
        edge
    };
    trimmed(&inner, optional)
}

/// One of `words` exactly, as an alternation without anchors.
pub fn one_of<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<&str> = words.into_iter().collect();
    format!("(?:{})", words.join("|"))
}

/// The four-digit numbers of `range` as a regular expression without anchors:
/// `2000..=9000` is `(?:[2-8][0-9]{3}|9000)`.
pub fn four_digit_range(range: RangeInclusive<i16>) -> String {
    assert!(
        (1000..=9999).contains(range.start()) && (1000..=9999).contains(range.end()),
        "four-digit numbers only"
    );
    let alternatives = digit_range(&range.start().to_string(), &range.end().to_string());
    format!("(?:{})", alternatives.join("|"))
}

/// Regular expressions matching every number from `low` to `high`, two strings of digits of
/// the same length.
fn digit_range(low: &str, high: &str) -> Vec<String> {
    let (Some(l), Some(h)) = (low.chars().next(), high.chars().next()) else {
        return vec![String::new()];
    };
    let rest = low.len() - 1;
    let any_rest = |first: String| match rest {
        0 => first,
        1 => format!("{first}[0-9]"),
        _ => format!("{first}[0-9]{{{rest}}}"),
    };
    let class = |from: char, to: char| {
        if from == to {
            from.to_string()
        } else {
            format!("[{from}-{to}]")
        }
    };
    if l == h {
        return digit_range(&low[1..], &high[1..])
            .into_iter()
            .map(|tail| format!("{l}{tail}"))
            .collect();
    }
    let low_is_all = low[1..].bytes().all(|b| b == b'0');
    let high_is_all = high[1..].bytes().all(|b| b == b'9');
    let mut found = Vec::new();
    let mut from = l;
    if !low_is_all {
        let nines = "9".repeat(rest);
        found.extend(
            digit_range(&low[1..], &nines)
                .into_iter()
                .map(|tail| format!("{l}{tail}")),
        );
        from = (l as u8 + 1) as char;
    }
    let to = if high_is_all {
        h
    } else {
        (h as u8 - 1) as char
    };
    if (from, to) == ('0', '9') && rest > 0 {
        found.push(format!("[0-9]{{{}}}", rest + 1));
    } else if from <= to {
        found.push(any_rest(class(from, to)));
    }
    if !high_is_all {
        let zeros = "0".repeat(rest);
        found.extend(
            digit_range(&zeros, &high[1..])
                .into_iter()
                .map(|tail| format!("{h}{tail}")),
        );
    }
    found
}

/// A calendar date `YYYY-MM-DD` in `years`.
pub fn date(years: RangeInclusive<i16>) -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(format!("^{}-{MONTH_DAY}$", four_digit_range(years))))
}

/// An RFC 3339 date and time with an offset (`Z` for UTC), its date in `years`, its
/// fraction of a second at most nanoseconds, and no leap second.
pub fn date_time(years: RangeInclusive<i16>) -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(format!(
            "^{}-{MONTH_DAY}[Tt]{TIME}$",
            four_digit_range(years)
        )))
}

const MONTH_DAY: &str = "(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])";
const TIME: &str = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?\
                    (?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_four_digit_numbers() {
        assert_eq!(four_digit_range(2000..=9000), "(?:[2-8][0-9]{3}|9000)");
        assert_eq!(four_digit_range(2000..=2999), "(?:2[0-9]{3})");
        assert_eq!(four_digit_range(1995..=2010), "(?:199[5-9]|200[0-9]|2010)");
        // Every number of a range matches, and its neighbours do not.
        for (low, high) in [(1995, 2010), (2000, 9000), (1234, 8765), (4321, 4329)] {
            let alternatives = digit_range(&low.to_string(), &high.to_string());
            let matches = |n: i32| alternatives.iter().any(|a| simple_match(a, &n.to_string()));
            for n in 1000..=9999 {
                assert_eq!(
                    matches(n),
                    (low..=high).contains(&n),
                    "{n} in {low}..={high}"
                );
            }
        }
    }

    /// Matches the digits, `[a-b]` classes and `[0-9]{n}` repetitions `digit_range` writes.
    fn simple_match(pattern: &str, text: &str) -> bool {
        let mut classes: Vec<(u8, u8)> = Vec::new();
        let p = pattern.as_bytes();
        let mut i = 0;
        while i < p.len() {
            if p[i] == b'[' {
                let class = (p[i + 1], p[i + 3]);
                i += 5;
                if p.get(i) == Some(&b'{') {
                    let end = i + pattern[i..].find('}').unwrap();
                    let times: usize = pattern[i + 1..end].parse().unwrap();
                    classes.extend(std::iter::repeat_n(class, times));
                    i = end + 1;
                } else {
                    classes.push(class);
                }
            } else {
                classes.push((p[i], p[i]));
                i += 1;
            }
        }
        classes.len() == text.len()
            && classes
                .iter()
                .zip(text.bytes())
                .all(|((from, to), b)| (*from..=*to).contains(&b))
    }
}
