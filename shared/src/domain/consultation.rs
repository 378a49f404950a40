//! A consultation: an issue the Group put to all stakeholders, with its questions and deadline.

use std::collections::BTreeMap;
use std::fmt;

use jiff::{Timestamp, civil::Date};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{
    AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

use super::ValidationError;
use super::deadline::deadline_for_meeting;

/// A consultation's id: a slug `[a-z0-9-]{3,64}`, used in URLs, object keys and email addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ConsultationId(String);

impl ConsultationId {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len()) || !ok_chars {
            return Err(ValidationError::new(
                "id",
                "must be 3 to 64 characters: lowercase letters a-z, digits and hyphens",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule of [`ConsultationId::parse`] as a regular expression, without anchors.
    pub fn pattern() -> String {
        format!("[a-z0-9-]{{{},{}}}", Self::MIN_LEN, Self::MAX_LEN)
    }
}

impl PartialSchema for ConsultationId {
    fn schema() -> RefOr<Schema> {
        super::schema::string()
            .pattern(Some(format!("^{}$", Self::pattern())))
            .min_length(Some(Self::MIN_LEN))
            .max_length(Some(Self::MAX_LEN))
            .description(Some(format!(
                "A consultation's id: {} to {} lowercase letters a-z, digits and hyphens. Used in \
                 URLs, object keys and email addresses.",
                Self::MIN_LEN,
                Self::MAX_LEN
            )))
            .examples(["internet-access-2027"])
            .into()
    }
}

impl ToSchema for ConsultationId {}

impl fmt::Display for ConsultationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConsultationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// One of the six official languages of the UN and the ITU.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ar,
    En,
    Es,
    Fr,
    Ru,
    Zh,
}

impl Language {
    pub const ALL: [Language; 6] = [
        Language::Ar,
        Language::En,
        Language::Es,
        Language::Fr,
        Language::Ru,
        Language::Zh,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Language::Ar => "ar",
            Language::En => "en",
            Language::Es => "es",
            Language::Fr => "fr",
            Language::Ru => "ru",
            Language::Zh => "zh",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Arabic is written right to left.
    pub fn is_rtl(self) -> bool {
        self == Language::Ar
    }

    /// The language codes as a schema, for the keys of a [`Localized`] text.
    fn code_schema() -> ObjectBuilder {
        super::schema::string().enum_values(Some(Self::ALL.map(Self::code)))
    }
}

/// A text given in one or more of the official languages (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Localized(BTreeMap<Language, String>);

impl Localized {
    fn parse(
        field: &str,
        raw: BTreeMap<String, String>,
        max_chars: usize,
    ) -> Result<Self, ValidationError> {
        let mut texts = BTreeMap::new();
        for (code, text) in raw {
            let lang = Language::parse(&code).ok_or_else(|| {
                ValidationError::new(
                    field,
                    format!("unknown language {code:?}: use ar, en, es, fr, ru or zh"),
                )
            })?;
            let text = text.trim();
            if text.is_empty() {
                return Err(ValidationError::new(
                    field,
                    format!("the {code} text is empty"),
                ));
            }
            if text.chars().count() > max_chars {
                return Err(ValidationError::new(
                    field,
                    format!("the {code} text is longer than {max_chars} characters"),
                ));
            }
            texts.insert(lang, text.to_owned());
        }
        if texts.is_empty() {
            return Err(ValidationError::new(
                field,
                "give the text in at least one language",
            ));
        }
        Ok(Self(texts))
    }

    /// The schema of a description as a request gives it.
    pub fn description_request_schema() -> ObjectBuilder {
        Self::request_schema(MAX_DESCRIPTION_CHARS).description(Some(format!(
            "What the consultation is about, by language code: paragraphs of plain text \
             separated by a blank line, at most {MAX_DESCRIPTION_CHARS} characters a language; \
             web addresses become links, nothing is read as HTML."
        )))
    }

    /// A consultation's description as a request gives it (field `description`).
    pub fn parse_description(raw: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        Self::parse("description", raw, MAX_DESCRIPTION_CHARS)
    }

    /// The text in `lang`, else in English, else in the first language given.
    pub fn get(&self, lang: Language) -> (Language, &str) {
        self.0
            .get_key_value(&lang)
            .or_else(|| self.0.get_key_value(&Language::En))
            .or_else(|| self.0.iter().next())
            .map(|(l, t)| (*l, t.as_str()))
            .expect("a Localized text has at least one language")
    }

    pub fn languages(&self) -> impl Iterator<Item = Language> + '_ {
        self.0.keys().copied()
    }

    /// A text in the official languages, keyed by language code, each text as `text` says.
    fn schema_of(text: ObjectBuilder) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(Language::code_schema()))
            .min_properties(Some(1))
            .additional_properties(Some(text))
    }

    /// A text as a request gives it: each language's text, trimmed, is not empty and has at
    /// most `max_chars` characters.
    fn request_schema(max_chars: usize) -> ObjectBuilder {
        Self::schema_of(
            super::schema::string()
                .min_length(Some(1))
                .max_length(Some(max_chars))
                .pattern(Some(super::schema::not_blank_pattern())),
        )
    }
}

impl PartialSchema for Localized {
    fn schema() -> RefOr<Schema> {
        Self::schema_of(super::schema::string().min_length(Some(1)))
            .description(Some(
                "A text in one or more of the official languages, keyed by language code.",
            ))
            .examples([serde_json::json!({"en": "Internet access", "fr": "Accès à l'Internet"})])
            .into()
    }
}

impl ToSchema for Localized {}

/// How the deadline was set: `resolution-1344`, one calendar month before the meeting at the
/// end of the day in Geneva; or `explicit`, given by the Secretariat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeadlineRule {
    /// One calendar month before the meeting, end of day in Geneva.
    #[serde(rename = "resolution-1344")]
    Resolution1344,
    Explicit,
}

/// Where the consultation stands now: `scheduled` before `opens_at`, `open` until and including
/// the `deadline` instant, `closed` after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Scheduled,
    Open,
    Closed,
}

/// A consultation as stored: validated, with its deadline resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    pub id: ConsultationId,
    pub title: Localized,
    pub questions: Vec<Localized>,
    pub meeting_date: Date,
    pub opens_at: Timestamp,
    pub deadline: Timestamp,
    pub deadline_rule: DeadlineRule,
    pub created_at: Timestamp,
    /// Every move of the deadline after creation, oldest first (shown on the page).
    #[serde(default)]
    pub deadline_history: Vec<DeadlineChange>,
    /// Set once the closing has been recorded; cleared when the Secretariat reopens.
    #[serde(default)]
    pub closing: Option<Closing>,
    /// The Group's outcome, every version published, oldest first (the last is shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcome: Vec<OutcomeVersion>,
    /// What the consultation is about, beyond its title: paragraphs of plain text (web
    /// addresses become links; nothing is read as HTML), in one or more languages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Localized>,
    /// Background documents, in the order added; each published byte-exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<BackgroundDocument>,
}

/// A background document of a consultation, published at
/// `/consultations/{id}/documents/{folder}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackgroundDocument {
    /// A fresh name for each upload, so two documents of one name never clash.
    pub folder: String,
    pub file: PublishedFile,
    pub added_at: Timestamp,
}

/// A file the Secretariat published: a background document, or a text or document of the
/// Group's outcome (see `domain::outcome`). Published byte-exact, like a response's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFile {
    /// The file's name on the site (sanitized; `text.{lang}.txt` for a text).
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes as sent.
    pub sha256: String,
}

/// One publication of the Group's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeVersion {
    /// 1 for the first publication, then 2, 3… (the latest is shown).
    pub version: u32,
    pub published_at: Timestamp,
    /// Who published it, as the audit names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Where its files are: `consultations/{id}/outcome/{folder}/` on the site. A fresh name
    /// for each publication, so two at once never write over each other's files.
    pub folder: String,
    /// The texts, one per language (`text.{lang}.txt`), in the order of [`Language::ALL`].
    pub texts: Vec<PublishedFile>,
    pub documents: Vec<PublishedFile>,
}

/// A recorded closing, and the dossier built for the Group once the set of responses is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub closed_at: Timestamp,
    /// When the set of responses became final (the deadline plus the in-flight grace had
    /// passed): from then on no append commits, so the dossier holds every stored response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_at: Option<Timestamp>,
    pub dossier: Option<DossierInfo>,
}

/// The dossier built at closing: how many responses it holds and the digest of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DossierInfo {
    pub built_at: Timestamp,
    pub response_count: u64,
    pub size: u64,
    pub sha256: String,
    /// The root hash (hex) of the transparency log's final checkpoint: `response_count`
    /// entries. The signed checkpoint itself is in the dossier as `checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_root: Option<String>,
}

/// One move of the deadline: an extension, a correction, or a reopening after closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineChange {
    /// When the Secretariat moved it (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: Timestamp,
    /// The deadline before.
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// The deadline after.
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub rule: DeadlineRule,
    /// The consultation had closed and is open again.
    pub reopened: bool,
    /// Why, as the Secretariat said.
    pub reason: Option<String>,
}

/// A new deadline asked for by the Secretariat: a new meeting date (the rule applies) or an
/// explicit instant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRequest {
    #[serde(default)]
    pub meeting_date: Option<String>,
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The longest reason a deadline change may give.
pub const MAX_REASON_CHARS: usize = 2_000;

/// How far ahead a changed deadline must be. Intake may decide on a consultation it read this
/// long ago at most (on AWS each function instance keeps the record it read for a moment, so
/// that a rush does not read one item per response): a deadline moved closer cannot come
/// before intake has seen it, and every response it accepts on what it read is in time under
/// the new deadline too.
pub const DEADLINE_NOTICE: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

impl PartialSchema for DeadlineRequest {
    fn schema() -> RefOr<Schema> {
        let nullable = |schema: ObjectBuilder| {
            schema.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        };
        let fields = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "meeting_date",
                nullable(super::schema::date(YEARS)).description(Some(
                    "A new meeting date: the deadline follows Resolution 1344 (one calendar \
                     month before, at the end of that day in Geneva).",
                )),
            )
            .property(
                "deadline",
                nullable(super::schema::date_time(YEARS)).description(Some(
                    "An explicit new deadline, the last instant a response is on time.",
                )),
            )
            .property(
                "reason",
                nullable(super::schema::string())
                    .max_length(Some(MAX_REASON_CHARS))
                    .description(Some(format!(
                        "Why (optional; trimmed; at most {MAX_REASON_CHARS} characters): \
                         shown in the deadline history."
                    ))),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let given = |field: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(field, super::schema::string())
                .required(field)
        };
        AllOfBuilder::new()
            .item(fields)
            .item(
                OneOfBuilder::new()
                    .item(given("meeting_date"))
                    .item(given("deadline")),
            )
            .description(Some(format!(
                "A new deadline: give exactly one of `meeting_date` or `deadline` (a null \
                 member is not given). Either must fall in the years {} to {} (in UTC) and, \
                 which no schema can say, the new deadline must be in the future and after the \
                 opening (else 422, field `deadline`). Unknown members are refused (400).",
                YEARS.start(),
                YEARS.end()
            )))
            .into()
    }
}

impl ToSchema for DeadlineRequest {}

impl Consultation {
    pub fn status_at(&self, now: Timestamp) -> Status {
        if self.closing.is_some() || now > self.deadline {
            Status::Closed
        } else if now < self.opens_at {
            Status::Scheduled
        } else {
            Status::Open
        }
    }

    /// Why a response received (completely) at `received_at` cannot be accepted, if it cannot.
    /// Only the instant of receipt counts: a recorded closing never refuses a response that
    /// arrived in time and is still being stored.
    pub fn refuses_at(&self, received_at: Timestamp) -> Option<Refusal> {
        if received_at > self.deadline {
            Some(Refusal::Closed {
                deadline: self.deadline,
            })
        } else if received_at < self.opens_at {
            Some(Refusal::NotOpen {
                opens_at: self.opens_at,
            })
        } else {
            None
        }
    }

    /// Records the closing, if the deadline has passed and it is not recorded yet.
    pub fn record_closing(&mut self, now: Timestamp) -> bool {
        if self.closing.is_some() || now <= self.deadline {
            return false;
        }
        self.closing = Some(Closing {
            closed_at: now,
            sealed_at: None,
            dossier: None,
        });
        true
    }

    /// Seals the recorded closing: the set of responses is final. A response received in time
    /// whose storing has not committed by now is refused rather than left out of the dossier.
    pub fn seal(&mut self, now: Timestamp) -> bool {
        match self.closing.as_mut() {
            Some(closing) if closing.sealed_at.is_none() => {
                closing.sealed_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// No response can be stored any more (until a reopening clears the closing).
    pub fn is_sealed(&self) -> bool {
        self.closing.as_ref().is_some_and(|c| c.sealed_at.is_some())
    }

    /// Moves the deadline (extension or correction while open), or reopens a closed
    /// consultation with a new deadline. The new deadline must be in the future.
    pub fn change_deadline(
        &mut self,
        request: DeadlineRequest,
        now: Timestamp,
    ) -> Result<DeadlineChange, ValidationError> {
        let (meeting_date, to, rule) = match (request.meeting_date, request.deadline) {
            (Some(date), None) => {
                let date = parse_meeting_date(&date)?;
                (
                    date,
                    deadline_for_meeting(date),
                    DeadlineRule::Resolution1344,
                )
            }
            (None, Some(raw)) => (
                self.meeting_date,
                parse_instant("deadline", &raw)?,
                DeadlineRule::Explicit,
            ),
            _ => {
                return Err(ValidationError::new(
                    "deadline",
                    "give either a new meeting_date (the deadline follows the Resolution) or an explicit deadline",
                ));
            }
        };
        if to <= now {
            return Err(ValidationError::new(
                "deadline",
                format!("the new deadline {to} has already passed"),
            ));
        }
        if to <= now + DEADLINE_NOTICE {
            return Err(ValidationError::new(
                "deadline",
                format!(
                    "the new deadline {to} is less than {} s away: intake may not have seen it by then",
                    DEADLINE_NOTICE.as_secs()
                ),
            ));
        }
        if to <= self.opens_at {
            return Err(ValidationError::new(
                "deadline",
                "the new deadline must come after the opening",
            ));
        }
        let reason = request
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(ValidationError::new(
                "reason",
                format!("is longer than {MAX_REASON_CHARS} characters"),
            ));
        }
        let change = DeadlineChange {
            changed_at: now,
            from: self.deadline,
            to,
            rule,
            reopened: self.status_at(now) == Status::Closed,
            reason,
        };
        self.meeting_date = meeting_date;
        self.deadline = to;
        self.deadline_rule = rule;
        self.closing = None;
        self.deadline_history.push(change.clone());
        Ok(change)
    }
}

/// Why a consultation refuses a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotOpen { opens_at: Timestamp },
    Closed { deadline: Timestamp },
}

/// What the Secretariat sends to open a consultation (the admin API's request body).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultationRequest {
    pub id: String,
    pub title: BTreeMap<String, String>,
    pub questions: Vec<BTreeMap<String, String>>,
    pub meeting_date: String,
    #[serde(default)]
    pub opens_at: Option<String>,
    #[serde(default)]
    pub deadline: Option<String>,
    /// What the consultation is about: paragraphs of plain text, by language code.
    #[serde(default)]
    pub description: Option<BTreeMap<String, String>>,
}

/// A new wording of a consultation: its title and its questions, each in one or more of the
/// six languages (a translation added, a mistake corrected). Once the consultation has opened,
/// its questions keep their number and order: responses answer them by position
/// (`answer-{k}`), and an answer must stay under the question it answered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordingRequest {
    pub title: BTreeMap<String, String>,
    pub questions: Vec<BTreeMap<String, String>>,
}

impl PartialSchema for WordingRequest {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The consultation's title and questions, replacing the ones it has. Once it \
                 has opened, the questions keep their number and order (422, field \
                 `questions`). Unknown members are refused (400).",
            ))
            .property(
                "title",
                Localized::request_schema(MAX_TITLE_CHARS).description(Some(format!(
                    "The title in one or more of the six official languages, each at most \
                     {MAX_TITLE_CHARS} characters."
                ))),
            )
            .required("title")
            .property(
                "questions",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(Localized::request_schema(MAX_QUESTION_CHARS))
                    .min_items(Some(1))
                    .max_items(Some(MAX_QUESTIONS))
                    .description(Some(format!(
                        "The questions, in order, each in one or more of the six languages \
                         (at most {MAX_QUESTION_CHARS} characters): 1 to {MAX_QUESTIONS}."
                    ))),
            )
            .required("questions")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for WordingRequest {}

impl Consultation {
    /// Takes the new wording. `Ok(None)`: it says exactly what the consultation says already.
    /// `Ok(Some(details))`: what changed, for the audit (the languages before and after).
    pub fn change_wording(
        &mut self,
        request: WordingRequest,
        now: Timestamp,
    ) -> Result<Option<serde_json::Value>, ValidationError> {
        let title = Localized::parse("title", request.title, MAX_TITLE_CHARS)?;
        if request.questions.is_empty() || request.questions.len() > MAX_QUESTIONS {
            return Err(ValidationError::new(
                "questions",
                format!("give 1 to {MAX_QUESTIONS} questions"),
            ));
        }
        let questions = request
            .questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| Localized::parse(&format!("questions[{i}]"), q, MAX_QUESTION_CHARS))
            .collect::<Result<Vec<_>, _>>()?;
        if questions.len() != self.questions.len() && self.status_at(now) != Status::Scheduled {
            return Err(ValidationError::new(
                "questions",
                format!(
                    "the consultation has opened: it keeps its {} questions, in their order, \
                     because responses answer them by position (reword or translate them \
                     instead)",
                    self.questions.len()
                ),
            ));
        }
        if title == self.title && questions == self.questions {
            return Ok(None);
        }
        let languages = |t: &Localized| t.languages().collect::<Vec<_>>();
        let changed: Vec<String> = questions
            .iter()
            .enumerate()
            .filter(|(i, q)| self.questions.get(*i) != Some(q))
            .map(|(i, _)| format!("questions[{i}]"))
            .collect();
        let details = serde_json::json!({
            "title": { "from": languages(&self.title), "to": languages(&title) },
            "questions": { "from": self.questions.len(), "to": questions.len() },
            "changed": (title != self.title).then_some("title").into_iter().map(str::to_owned)
                .chain(changed).collect::<Vec<_>>(),
        });
        self.title = title;
        self.questions = questions;
        Ok(Some(details))
    }
}

/// The longest description, in characters, in each language.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;

/// The longest title, in characters, in each language.
pub const MAX_TITLE_CHARS: usize = 500;
/// The longest question, in characters, in each language.
pub const MAX_QUESTION_CHARS: usize = 20_000;
/// The most questions a consultation may put.
pub const MAX_QUESTIONS: usize = 200;

impl PartialSchema for ConsultationRequest {
    fn schema() -> RefOr<Schema> {
        let nullable = |schema: ObjectBuilder| {
            schema.schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        };
        let (first, last) = (YEARS.start(), YEARS.end());
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "What the Secretariat sends to open a consultation. Unknown members are refused \
                 (400).",
            ))
            .property(
                "id",
                super::schema::string()
                    .pattern(Some(format!("^{}$", ConsultationId::pattern())))
                    .min_length(Some(ConsultationId::MIN_LEN))
                    .max_length(Some(ConsultationId::MAX_LEN))
                    .description(Some(format!(
                        "The consultation's id, used in its URLs: {} to {} lowercase letters \
                         a-z, digits and hyphens. It must not be taken (409).",
                        ConsultationId::MIN_LEN,
                        ConsultationId::MAX_LEN
                    )))
                    .examples(["internet-access-2027"]),
            )
            .required("id")
            .property(
                "title",
                Localized::request_schema(MAX_TITLE_CHARS).description(Some(format!(
                    "The title in one or more of the six official languages (at least one). \
                     Each text is trimmed; it must not be empty and may have at most \
                     {MAX_TITLE_CHARS} characters."
                ))),
            )
            .required("title")
            .property(
                "questions",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(
                        Localized::request_schema(MAX_QUESTION_CHARS).description(Some(format!(
                            "The question in one or more of the six official languages (at \
                             least one). Each text is trimmed; it must not be empty and may \
                             have at most {MAX_QUESTION_CHARS} characters."
                        ))),
                    )
                    .min_items(Some(1))
                    .max_items(Some(MAX_QUESTIONS))
                    .description(Some(format!(
                        "The questions put to stakeholders: 1 to {MAX_QUESTIONS}."
                    ))),
            )
            .required("questions")
            .property(
                "meeting_date",
                super::schema::date(YEARS)
                    .description(Some(format!(
                        "The date of the Group's meeting (YYYY-MM-DD, in the years {first} to \
                         {last}). Without `deadline`, it sets the deadline under Resolution \
                         1344, which must then be in the future."
                    )))
                    .examples(["2027-03-31"]),
            )
            .required("meeting_date")
            .property(
                "opens_at",
                nullable(super::schema::date_time(YEARS))
                    .description(Some(
                        "When the consultation opens: RFC 3339 with an offset. Absent or null: \
                         at once. It must be before the deadline (else 422, field `opens_at`).",
                    ))
                    .examples(["2026-12-01T00:00:00+01:00"]),
            )
            .property(
                "deadline",
                nullable(super::schema::date_time(YEARS))
                    .description(Some(
                        "An explicit deadline, the last instant a response is on time: RFC 3339 \
                         with an offset; it must be in the future (else 422, field `deadline`). \
                         Absent or null: one calendar month before `meeting_date`, \
                         23:59:59.999 Geneva time (Resolution 1344).",
                    ))
                    .examples(["2027-02-28T23:59:59+01:00"]),
            )
            .property(
                "description",
                Localized::description_request_schema()
                    .schema_type(SchemaType::from_iter([Type::Object, Type::Null])),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([serde_json::json!({
                "id": "internet-access-2027",
                "title": {"en": "Internet access", "fr": "Accès à l'Internet"},
                "questions": [{"en": "What should be done?"}],
                "meeting_date": "2027-03-31"
            })])
            .into()
    }
}

impl ToSchema for ConsultationRequest {}

impl ConsultationRequest {
    /// Validates the request into a consultation created at `now`.
    pub fn into_consultation(self, now: Timestamp) -> Result<Consultation, ValidationError> {
        let id = ConsultationId::parse(&self.id)?;
        let title = Localized::parse("title", self.title, MAX_TITLE_CHARS)?;
        if self.questions.is_empty() {
            return Err(ValidationError::new(
                "questions",
                "give at least one question",
            ));
        }
        if self.questions.len() > MAX_QUESTIONS {
            return Err(ValidationError::new(
                "questions",
                format!("at most {MAX_QUESTIONS} questions"),
            ));
        }
        let questions = self
            .questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| Localized::parse(&format!("questions[{i}]"), q, MAX_QUESTION_CHARS))
            .collect::<Result<Vec<_>, _>>()?;
        let description = self
            .description
            .map(Localized::parse_description)
            .transpose()?;
        let meeting_date = parse_meeting_date(&self.meeting_date)?;
        let opens_at = match self.opens_at {
            None => now,
            Some(raw) => parse_instant("opens_at", &raw)?,
        };
        let (deadline, deadline_rule) = match self.deadline {
            None => (
                deadline_for_meeting(meeting_date),
                DeadlineRule::Resolution1344,
            ),
            Some(raw) => (parse_instant("deadline", &raw)?, DeadlineRule::Explicit),
        };
        if deadline <= now {
            return Err(ValidationError::new(
                "deadline",
                format!("the deadline {deadline} has already passed"),
            ));
        }
        if opens_at >= deadline {
            return Err(ValidationError::new(
                "opens_at",
                "the consultation must open before its deadline",
            ));
        }
        Ok(Consultation {
            id,
            title,
            questions,
            meeting_date,
            opens_at,
            deadline,
            deadline_rule,
            created_at: now,
            deadline_history: Vec::new(),
            closing: None,
            outcome: Vec::new(),
            description,
            documents: Vec::new(),
        })
    }
}

/// An instant given as RFC 3339 with an offset (`2027-02-28T23:59:59+01:00` or `...Z`).
/// The years a consultation's dates may fall in. Far inside what the time library represents,
/// so that every sum the closing makes (a month before a meeting, the grace after a deadline)
/// exists: a date at the edge of the range is refused here, never a panic in the sweep.
pub const YEARS: std::ops::RangeInclusive<i16> = 2000..=9000;

fn out_of_range(field: &str) -> ValidationError {
    ValidationError::new(
        field,
        format!(
            "must be between the years {} and {}",
            YEARS.start(),
            YEARS.end()
        ),
    )
}

fn parse_instant(field: &str, raw: &str) -> Result<Timestamp, ValidationError> {
    let not_an_instant = || {
        ValidationError::new(
            field,
            "must be an RFC 3339 date and time with an offset, e.g. 2027-02-28T23:59:59+01:00",
        )
    };
    // The time library reads a leap second (`:60`) as `:59`: refused rather than moved.
    if has_leap_second(raw) {
        return Err(not_an_instant());
    }
    let at: Timestamp = raw.parse().map_err(|_| not_an_instant())?;
    if !YEARS.contains(&jiff::tz::TimeZone::UTC.to_datetime(at).year()) {
        return Err(out_of_range(field));
    }
    Ok(at)
}

/// Whether an RFC 3339 date and time gives 60 seconds (`…T23:59:60Z`).
fn has_leap_second(raw: &str) -> bool {
    raw.find(['T', 't', ' '])
        .and_then(|at| raw.get(at + 7..at + 9))
        .is_some_and(|seconds| seconds == "60")
}

/// A meeting date, `YYYY-MM-DD`, within [`YEARS`].
fn parse_meeting_date(raw: &str) -> Result<Date, ValidationError> {
    let date: Date = raw
        .parse()
        .map_err(|_| ValidationError::new("meeting_date", "must be a calendar date, YYYY-MM-DD"))?;
    if !YEARS.contains(&date.year()) {
        return Err(out_of_range("meeting_date"));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Dates at the edges of what the time library holds are refused, never a panic (a
    /// meeting in year -9999 once panicked the request; a deadline in 9999 would have
    /// panicked the closing sweep, which adds the grace to it).
    #[test]
    fn dates_at_the_edge_of_the_time_range_are_refused() {
        let request = |extra: serde_json::Value| {
            let mut body = json!({
                "id": "edge-2027", "title": {"en": "Edge"}, "questions": [{"en": "Q?"}],
                "meeting_date": "2027-03-31"
            });
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            serde_json::from_value::<ConsultationRequest>(body)
                .unwrap()
                .into_consultation(now())
        };
        for (extra, field) in [
            (json!({"meeting_date": "-009999-01-02"}), "meeting_date"),
            (json!({"meeting_date": "9999-12-31"}), "meeting_date"),
            (json!({"deadline": "9999-12-31T23:59:59Z"}), "deadline"),
            (json!({"opens_at": "-009999-01-01T00:00:00Z"}), "opens_at"),
            // A leap second, which the time library would read as the second before.
            (json!({"deadline": "2030-12-31T23:59:60Z"}), "deadline"),
        ] {
            let refused = request(extra.clone()).expect_err(&extra.to_string());
            assert_eq!(refused.field, field, "{extra}");
        }
        assert!(request(json!({"meeting_date": "8999-06-30"})).is_ok());
    }

    fn now() -> Timestamp {
        "2026-11-28T10:00:00Z".parse().unwrap()
    }

    fn request(body: serde_json::Value) -> ConsultationRequest {
        serde_json::from_value(body).unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "id": "internet-access-2027",
            "title": {"en": "Internet access", "fr": "Accès à l'Internet"},
            "questions": [{"en": "What should be done?"}],
            "meeting_date": "2027-03-31"
        })
    }

    #[test]
    fn slugs() {
        assert!(ConsultationId::parse("abc").is_ok());
        assert!(ConsultationId::parse(&"a".repeat(64)).is_ok());
        for bad in ["ab", "ABC", "a_b", "a b", "été", "../x", &"a".repeat(65)] {
            assert!(ConsultationId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn resolution_deadline_by_default() {
        let c = request(valid()).into_consultation(now()).unwrap();
        assert_eq!(c.deadline_rule, DeadlineRule::Resolution1344);
        assert_eq!(c.deadline, "2027-02-28T22:59:59.999Z".parse().unwrap());
        assert_eq!(c.opens_at, now());
        assert_eq!(c.status_at(now()), Status::Open);
    }

    #[test]
    fn explicit_deadline_is_recorded_as_such() {
        let mut body = valid();
        body["deadline"] = json!("2027-01-15T12:00:00+01:00");
        let c = request(body).into_consultation(now()).unwrap();
        assert_eq!(c.deadline_rule, DeadlineRule::Explicit);
        assert_eq!(c.deadline, "2027-01-15T11:00:00Z".parse().unwrap());
    }

    #[test]
    fn status_follows_the_clock() {
        let mut body = valid();
        body["opens_at"] = json!("2026-12-01T00:00:00Z");
        let c = request(body).into_consultation(now()).unwrap();
        assert_eq!(c.status_at(now()), Status::Scheduled);
        assert!(matches!(c.refuses_at(now()), Some(Refusal::NotOpen { .. })));
        assert_eq!(
            c.status_at(c.deadline),
            Status::Open,
            "the deadline instant is on time"
        );
        let late = c
            .deadline
            .checked_add(jiff::SignedDuration::from_millis(1))
            .unwrap();
        assert_eq!(c.status_at(late), Status::Closed);
    }

    #[test]
    fn closing_is_recorded_once_and_only_after_the_deadline() {
        let mut c = request(valid()).into_consultation(now()).unwrap();
        assert!(!c.record_closing(c.deadline), "not at the deadline instant");
        let after = c.deadline + jiff::SignedDuration::from_secs(1);
        assert!(c.record_closing(after));
        assert!(!c.record_closing(after + jiff::SignedDuration::from_secs(1)));
        assert_eq!(c.closing.as_ref().unwrap().closed_at, after);
        assert_eq!(
            c.status_at(now()),
            Status::Closed,
            "recorded closing wins over the clock"
        );
        // A response that arrived in time is not refused by the recorded closing.
        assert_eq!(c.refuses_at(c.deadline), None);
    }

    #[test]
    fn only_a_recorded_closing_is_sealed_once_and_a_reopening_unseals() {
        let mut c = request(valid()).into_consultation(now()).unwrap();
        assert!(!c.seal(now()), "nothing to seal while open");
        assert!(!c.is_sealed());
        let after = c.deadline + jiff::SignedDuration::from_secs(1);
        assert!(c.record_closing(after));
        assert!(!c.is_sealed(), "recording the closing does not seal");
        let final_at = after + jiff::SignedDuration::from_secs(35);
        assert!(c.seal(final_at));
        assert!(!c.seal(final_at + jiff::SignedDuration::from_secs(1)));
        assert_eq!(c.closing.as_ref().unwrap().sealed_at, Some(final_at));
        assert!(c.is_sealed());
        let reopen = DeadlineRequest {
            meeting_date: Some("2027-06-30".into()),
            deadline: None,
            reason: None,
        };
        c.change_deadline(reopen, final_at).unwrap();
        assert!(!c.is_sealed());
    }

    #[test]
    fn deadlines_move_and_closed_consultations_reopen() {
        let mut c = request(valid()).into_consultation(now()).unwrap();
        let extension = DeadlineRequest {
            meeting_date: None,
            deadline: Some("2027-03-10T12:00:00+01:00".into()),
            reason: Some(" More time was asked for ".into()),
        };
        let change = c.change_deadline(extension, now()).unwrap();
        assert!(!change.reopened);
        assert_eq!(change.reason.as_deref(), Some("More time was asked for"));
        assert_eq!(c.deadline_rule, DeadlineRule::Explicit);
        assert_eq!(c.deadline, "2027-03-10T11:00:00Z".parse().unwrap());

        let later: Timestamp = "2027-04-01T00:00:00Z".parse().unwrap();
        assert!(c.record_closing(later));
        let by_meeting = DeadlineRequest {
            meeting_date: Some("2027-06-30".into()),
            deadline: None,
            reason: None,
        };
        let change = c.change_deadline(by_meeting, later).unwrap();
        assert!(change.reopened);
        assert_eq!(c.closing, None);
        assert_eq!(c.deadline_rule, DeadlineRule::Resolution1344);
        assert_eq!(c.deadline, "2027-05-30T21:59:59.999Z".parse().unwrap());
        assert_eq!(c.status_at(later), Status::Open);
        assert_eq!(c.deadline_history.len(), 2);

        let past = DeadlineRequest {
            meeting_date: None,
            deadline: Some("2027-01-01T00:00:00Z".into()),
            reason: None,
        };
        assert_eq!(
            c.change_deadline(past, later).unwrap_err().field,
            "deadline"
        );
        let both = DeadlineRequest {
            meeting_date: Some("2027-06-30".into()),
            deadline: Some("2027-07-01T00:00:00Z".into()),
            reason: None,
        };
        assert_eq!(
            c.change_deadline(both, later).unwrap_err().field,
            "deadline"
        );
        // Closer than the notice intake needs to see it: refused; just past it: taken.
        let at = |t: Timestamp| DeadlineRequest {
            meeting_date: None,
            deadline: Some(t.to_string()),
            reason: None,
        };
        let too_soon = c.change_deadline(at(later + DEADLINE_NOTICE), later);
        assert!(
            too_soon.unwrap_err().message.to_string().contains("intake"),
            "a deadline within the notice"
        );
        assert_eq!(
            c.deadline_history.len(),
            2,
            "refused changes leave no trace"
        );
        let soon = later + DEADLINE_NOTICE + jiff::SignedDuration::from_millis(1);
        c.change_deadline(at(soon), later).unwrap();
        assert_eq!(c.deadline, soon);
    }

    #[test]
    fn refuses_bad_requests_with_the_field_named() {
        let cases = [
            ("id", json!("UP")),
            ("title", json!({})),
            ("title", json!({"de": "Titel"})),
            ("title", json!({"en": "   "})),
            ("questions", json!([])),
            ("meeting_date", json!("31/03/2027")),
            ("deadline", json!("2020-01-01T00:00:00Z")),
            ("deadline", json!("tomorrow")),
        ];
        for (field, value) in cases {
            let mut body = valid();
            body[field] = value.clone();
            let err = request(body).into_consultation(now()).unwrap_err();
            assert_eq!(err.field, field, "{field} = {value}");
        }
        let mut body = valid();
        body["opens_at"] = json!("2027-06-01T00:00:00Z");
        assert_eq!(
            request(body).into_consultation(now()).unwrap_err().field,
            "opens_at"
        );
    }

    #[test]
    fn localized_falls_back_to_english_then_first() {
        let c = request(valid()).into_consultation(now()).unwrap();
        assert_eq!(
            c.title.get(Language::Fr),
            (Language::Fr, "Accès à l'Internet")
        );
        assert_eq!(c.title.get(Language::Zh), (Language::En, "Internet access"));
    }
}
