//! A sentence meant for a person, kept as a catalogue key and its arguments until the reader's
//! language is known: errors are raised deep in the core (limits, fields, deadlines) but read
//! on a page or in a JSON body in one of six languages, so they are rendered at the edge by the
//! message catalogues (`publish::i18n`), never by translating English strings.

use jiff::Timestamp;

/// What a person is told: a catalogue message, or a text only available in English (the
/// wording of a library's error, an administrator's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Message {
        key: &'static str,
        args: Vec<(&'static str, Arg)>,
    },
    English(String),
}

/// A value put into a message; the catalogue decides how each kind reads in its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Shown as given (a file name, a code).
    Plain(String),
    /// A count; the first one in a message picks its plural form.
    Count(u64),
    /// A form field by its name (`name`, `country`, `file`…), shown with its label.
    Field(String),
    /// An instant, in Geneva time with its offset, in the reader's words.
    Geneva(Timestamp),
    /// An instant in UTC, `2027-02-28 22:59:59`.
    Utc(Timestamp),
    /// An instant as RFC 3339 with the Geneva offset, for programs.
    Rfc3339(Timestamp),
    /// A message within the message.
    Nested(Box<Text>),
}

impl Text {
    /// The catalogue's `key`, with no arguments.
    pub fn key(key: &'static str) -> Self {
        Self::Message {
            key,
            args: Vec::new(),
        }
    }

    /// The catalogue's `key` with its arguments.
    pub fn with(key: &'static str, args: impl IntoIterator<Item = (&'static str, Arg)>) -> Self {
        Self::Message {
            key,
            args: args.into_iter().collect(),
        }
    }

    pub fn english(text: impl Into<String>) -> Self {
        Self::English(text.into())
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::English(text)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::English(text.to_owned())
    }
}

impl Arg {
    pub fn plain(value: impl std::fmt::Display) -> Self {
        Self::Plain(value.to_string())
    }

    pub fn count(value: impl TryInto<u64>) -> Self {
        Self::Count(value.try_into().unwrap_or(u64::MAX))
    }

    pub fn field(name: impl Into<String>) -> Self {
        Self::Field(name.into())
    }
}
