//! The Group's outcome for a consultation. Resolution 1344 asks the Group to present the results
//! of the consultations for its deliberations and to make the results of its work known to all
//! ITU members, international organizations and stakeholders: after its meeting the Secretariat
//! publishes texts (in any of the six languages) and documents (the report, the meeting's
//! conclusions). Each publication is a new version: the latest is shown, the earlier ones stay
//! listed with their dates. Every text and document is published byte-exact with its SHA-256,
//! and each version's list of them is a statement signed with the log's key.

use std::collections::BTreeSet;

use super::ValidationError;
use super::consultation::{ConsultationId, Language};
pub use super::consultation::{OutcomeVersion, PublishedFile};
use super::response::sanitize_file_name;

/// The largest text of one language (64 KiB): a summary of conclusions, not a report (a report
/// is a document).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Documents in one version.
pub const MAX_DOCUMENTS: usize = 20;

impl OutcomeVersion {
    /// The languages it has a text in.
    pub fn languages(&self) -> Vec<Language> {
        self.texts
            .iter()
            .filter_map(|t| text_language(&t.name))
            .collect()
    }

    /// The text and document files, texts first.
    pub fn files(&self) -> impl Iterator<Item = &PublishedFile> {
        self.texts.iter().chain(&self.documents)
    }
}

/// Where a file of the outcome version kept in `folder` is kept privately (the record; the
/// site's copy is derived).
pub fn private_key(id: &ConsultationId, folder: &str, name: &str) -> String {
    format!("outcome/{id}/{folder}/{name}")
}

/// The name of the file holding the text in `lang`.
pub fn text_file_name(lang: Language) -> String {
    format!("text.{}.txt", lang.code())
}

/// The language of a text file's name, if it is one.
pub fn text_language(name: &str) -> Option<Language> {
    let code = name.strip_prefix("text.")?.strip_suffix(".txt")?;
    Language::parse(code)
}

/// What the Secretariat sent, checked: at least a text or a document, each text UTF-8 and
/// within [`MAX_TEXT_BYTES`], at most one text a language, at most [`MAX_DOCUMENTS`] documents
/// whose sanitized names are distinct and are not a text's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeDraft {
    pub texts: Vec<(Language, String)>,
    /// The documents' sanitized names, in the order sent.
    pub document_names: Vec<String>,
}

impl OutcomeDraft {
    /// Checks `texts` (by the field name they came in, `text.{lang}`) and the documents' names
    /// as sent.
    pub fn parse(
        texts: Vec<(String, Vec<u8>)>,
        document_names: &[String],
    ) -> Result<Self, ValidationError> {
        let mut parsed: Vec<(Language, String)> = Vec::new();
        for (field, bytes) in texts {
            let lang = field
                .strip_prefix("text.")
                .and_then(Language::parse)
                .ok_or_else(|| {
                    ValidationError::new(
                        &field,
                        "a text field is named text.{lang}, lang one of ar, en, es, fr, ru, zh",
                    )
                })?;
            if parsed.iter().any(|(l, _)| *l == lang) {
                return Err(ValidationError::new(
                    &field,
                    "sent twice: one text a language",
                ));
            }
            if bytes.len() > MAX_TEXT_BYTES {
                return Err(ValidationError::new(
                    &field,
                    format!(
                        "at most {} KiB: put a longer text in a document",
                        MAX_TEXT_BYTES / 1024
                    ),
                ));
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| ValidationError::new(&field, "the text must be UTF-8"))?;
            if text.trim().is_empty() {
                return Err(ValidationError::new(&field, "the text is empty"));
            }
            parsed.push((lang, text));
        }
        parsed.sort_by_key(|(lang, _)| Language::ALL.iter().position(|l| l == lang));
        if parsed.is_empty() && document_names.is_empty() {
            return Err(ValidationError::new(
                "text.en",
                "an outcome needs a text in at least one language (text.{lang}) or a document (file)",
            ));
        }
        if document_names.len() > MAX_DOCUMENTS {
            return Err(ValidationError::new(
                "file",
                format!("at most {MAX_DOCUMENTS} documents"),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut names = Vec::with_capacity(document_names.len());
        for raw in document_names {
            let name = sanitize_file_name(raw);
            if name.is_empty() {
                return Err(ValidationError::new(
                    "file",
                    "every document needs a file name",
                ));
            }
            if text_language(&name).is_some() || name == STATEMENT_FILE_NAME {
                return Err(ValidationError::new(
                    "file",
                    format!("{name} is the name of a text or the statement: rename the document"),
                ));
            }
            if !seen.insert(name.to_lowercase()) {
                return Err(ValidationError::new(
                    "file",
                    format!("two documents are named {name}: rename one"),
                ));
            }
            names.push(name);
        }
        Ok(Self {
            texts: parsed,
            document_names: names,
        })
    }
}

/// The signed statement of a version, beside its files.
pub const STATEMENT_FILE_NAME: &str = "statement";

/// The text the log's key signs for a version: what was published, when, and the SHA-256 and
/// size of every file, so a reader can check the files they downloaded (a signed note; its
/// first line names the format and can never be mistaken for a checkpoint or a receipt).
pub fn statement(origin: &str, id: &ConsultationId, version: &OutcomeVersion) -> String {
    let mut text = format!(
        "verbatim-outcome/v1\n{origin}\n{id}\n{}\n{}\n",
        version.version,
        version.published_at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
    );
    for file in version.files() {
        text.push_str(&format!("{} {} {}\n", file.sha256, file.size, file.name));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(f, t)| (f.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_draft_needs_a_text_or_a_document() {
        let none = OutcomeDraft::parse(vec![], &[]);
        assert_eq!(none.unwrap_err().field, "text.en");
        let doc = OutcomeDraft::parse(vec![], &["../report.pdf".into(), "".into()]).unwrap();
        assert_eq!(
            doc.document_names,
            ["report.pdf", "file"],
            "sanitized, a name given"
        );
        let text = OutcomeDraft::parse(
            texts(&[("text.fr", "Conclusions"), ("text.ar", "نتائج")]),
            &[],
        )
        .unwrap();
        let langs: Vec<_> = text.texts.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            langs,
            [Language::Ar, Language::Fr],
            "in the order of the languages"
        );
    }

    #[test]
    fn texts_are_checked_by_their_field() {
        let cases = [
            (texts(&[("text.xx", "a")]), "text.xx"),
            (texts(&[("text", "a")]), "text"),
            (texts(&[("text.en", "a"), ("text.en", "b")]), "text.en"),
            (texts(&[("text.ru", "  \r\n")]), "text.ru"),
            (vec![("text.zh".to_owned(), vec![0xff, 0xfe])], "text.zh"),
            (
                vec![("text.es".to_owned(), vec![b'a'; MAX_TEXT_BYTES + 1])],
                "text.es",
            ),
        ];
        for (sent, field) in cases {
            assert_eq!(OutcomeDraft::parse(sent, &[]).unwrap_err().field, field);
        }
        let at_limit = vec![("text.es".to_owned(), vec![b'a'; MAX_TEXT_BYTES])];
        assert!(OutcomeDraft::parse(at_limit, &[]).is_ok());
    }

    #[test]
    fn document_names_are_distinct_and_not_reserved() {
        for names in [
            vec!["a.pdf".to_owned(), "A.PDF".to_owned()],
            vec!["text.en.txt".to_owned()],
            vec!["statement".to_owned()],
            (0..=MAX_DOCUMENTS).map(|i| format!("{i}.pdf")).collect(),
        ] {
            let refused = OutcomeDraft::parse(vec![], &names).unwrap_err();
            assert_eq!(refused.field, "file", "{names:?}");
        }
    }

    #[test]
    fn the_statement_lists_every_file() {
        let file = |name: &str| PublishedFile {
            name: name.into(),
            media_type: "text/plain".into(),
            size: 3,
            sha256: "ab".repeat(32),
        };
        let version = OutcomeVersion {
            version: 2,
            published_at: "2027-04-02T09:30:00Z".parse().unwrap(),
            by: Some("ana".into()),
            folder: "f".into(),
            texts: vec![file("text.en.txt")],
            documents: vec![file("report.pdf")],
        };
        let id = ConsultationId::parse("net-2027").unwrap();
        let text = statement("example.org/verbatim/consultations/net-2027", &id, &version);
        assert_eq!(
            text,
            format!(
                "verbatim-outcome/v1\nexample.org/verbatim/consultations/net-2027\nnet-2027\n2\n\
                 2027-04-02T09:30:00.000Z\n{0} 3 text.en.txt\n{0} 3 report.pdf\n",
                "ab".repeat(32)
            )
        );
        assert_eq!(version.languages(), [Language::En]);
    }
}
