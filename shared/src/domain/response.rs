//! A stakeholder's response: who sent it, when, through which channel, and the exact files.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

use super::consultation::ConsultationId;
use super::country::is_iso_3166_alpha2;
use super::subscription::EmailAddress;
use super::{Arg, Text, ValidationError};

/// A response's unique id (a UUID v7, so ids sort by arrival).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResponseId(String);

impl ResponseId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// An id derived from content (a UUID v8 of its SHA-256), so the same message delivered
    /// twice gets the same id and is stored once.
    pub fn derived(parts: &[&[u8]]) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(uuid::Uuid::new_v8(bytes).to_string())
    }

    /// An id as the API shows it (a UUID in its hyphenated form), from a URL.
    pub fn parse(raw: &str) -> Option<Self> {
        let uuid = uuid::Uuid::try_parse(raw).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == raw).then_some(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialSchema for ResponseId {
    fn schema() -> RefOr<Schema> {
        super::schema::string()
            .format(Some(SchemaFormat::Custom("uuid".into())))
            .description(Some(
                "The response's unique id: a UUID v7, so ids sort by arrival (a UUID v8 when \
                 derived from an `Idempotency-Key` or an email's content).",
            ))
            .examples(["01936f3a-7c2e-7b3a-9f1e-2a4b6c8d0e1f"])
            .into()
    }
}

impl ToSchema for ResponseId {}

impl Default for ResponseId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ResponseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the response arrived: `web`, the HTML form; `api`, a programmatic POST; `email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The HTML form.
    Web,
    /// A programmatic POST (JSON or multipart without a browser form).
    Api,
    Email,
}

/// A stakeholder category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Government,
    PrivateSector,
    CivilSociety,
    Academia,
    TechnicalCommunity,
    IntergovernmentalOrganization,
    Individual,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Government,
        Category::PrivateSector,
        Category::CivilSociety,
        Category::Academia,
        Category::TechnicalCommunity,
        Category::IntergovernmentalOrganization,
        Category::Individual,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::Government => "government",
            Category::PrivateSector => "private-sector",
            Category::CivilSociety => "civil-society",
            Category::Academia => "academia",
            Category::TechnicalCommunity => "technical-community",
            Category::IntergovernmentalOrganization => "intergovernmental-organization",
            Category::Individual => "individual",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == raw)
            .ok_or_else(|| {
                let codes: Vec<_> = Self::ALL.iter().map(|c| c.code()).collect();
                ValidationError::text(
                    "category",
                    Text::with("err_category", [("codes", Arg::Plain(codes.join(", ")))]),
                )
            })
    }
}

/// A country as an ISO 3166-1 alpha-2 code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Country(String);

impl Country {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let code = raw.trim().to_ascii_uppercase();
        if is_iso_3166_alpha2(&code) {
            Ok(Self(code))
        } else {
            Err(ValidationError::text("country", Text::key("err_country")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialSchema for Country {
    fn schema() -> RefOr<Schema> {
        super::schema::string()
            .pattern(Some("^[A-Z]{2}$"))
            .description(Some("An ISO 3166-1 alpha-2 country code, upper case."))
            .examples(["CH"])
            .into()
    }
}

impl ToSchema for Country {}

/// Who sent a response. The email address is kept privately and never published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitter {
    pub name: String,
    pub organization: Option<String>,
    pub category: Option<Category>,
    pub country: Option<Country>,
    pub email: Option<String>,
    /// The language the respondent wrote from (the form's page, or the API's `?lang=`), where
    /// known: the list writes to them in it (the Group's outcome). Private like the address;
    /// records from before it have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<super::Language>,
}

/// The longest name (of a submitter or an organization), in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The submitter fields as received, before validation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubmitterFields {
    pub name: Option<String>,
    pub organization: Option<String>,
    pub email: Option<String>,
    pub category: Option<String>,
    pub country: Option<String>,
}

/// The submitter fields' rules as schemas, for the response form and its JSON twin: each field
/// is read trimmed, and an empty one is not given.
impl SubmitterFields {
    /// `name`: required.
    pub fn name_schema() -> ObjectBuilder {
        super::schema::string()
            .pattern(Some(super::schema::text_line(MAX_NAME_CHARS, false)))
            .description(Some(format!(
                "The submitter's name (required; trimmed; at most {MAX_NAME_CHARS} characters, \
                 no control characters). Published."
            )))
            .examples(["Ada Lovelace"])
    }

    /// `organization`: optional.
    pub fn organization_schema() -> ObjectBuilder {
        super::schema::string()
            .pattern(Some(super::schema::text_line(MAX_NAME_CHARS, true)))
            .description(Some(format!(
                "The organization the submitter speaks for (optional; trimmed; at most \
                 {MAX_NAME_CHARS} characters, no control characters; empty means none). \
                 Published."
            )))
            .examples(["Analytical Engine Society"])
    }

    /// `email`: optional, never published.
    pub fn email_schema() -> ObjectBuilder {
        super::schema::string()
            .pattern(Some(super::schema::trimmed(&EmailAddress::pattern(), true)))
            .description(Some(format!(
                "A contact address (optional; trimmed; at most {} bytes; empty means none). \
                 Kept privately: it is never published, and never appears in a receipt or a \
                 manifest.",
                super::subscription::MAX_EMAIL_BYTES
            )))
            .examples(["ada@example.org"])
    }

    /// `category`: optional, one of [`Category::ALL`].
    pub fn category_schema() -> ObjectBuilder {
        let codes = super::schema::one_of(Category::ALL.map(Category::code));
        super::schema::string()
            .pattern(Some(super::schema::trimmed(&codes, true)))
            .description(Some(format!(
                "The submitter's stakeholder category (optional; trimmed; empty means none), \
                 one of: {}. Published.",
                Category::ALL.map(Category::code).join(", ")
            )))
            .examples(["civil-society"])
    }

    /// `country`: optional, ISO 3166-1 alpha-2 in either case.
    pub fn country_schema() -> ObjectBuilder {
        super::schema::string()
            .pattern(Some(super::schema::trimmed(
                &super::country::pattern_any_case(),
                true,
            )))
            .description(Some(
                "An ISO 3166-1 alpha-2 country code (optional; trimmed, case-insensitive, \
                 published in upper case; empty means none).",
            ))
            .examples(["CH"])
    }

    pub fn parse(self) -> Result<Submitter, ValidationError> {
        let name = non_empty(self.name)
            .ok_or_else(|| ValidationError::text("name", Text::key("err_name_required")))?;
        check_length("name", &name, MAX_NAME_CHARS)?;
        let organization = non_empty(self.organization);
        if let Some(org) = &organization {
            check_length("organization", org, MAX_NAME_CHARS)?;
        }
        let email = non_empty(self.email)
            .map(|e| EmailAddress::parse(&e).map(|a| a.as_str().to_owned()))
            .transpose()?;
        let category = non_empty(self.category)
            .map(|c| Category::parse(&c))
            .transpose()?;
        let country = non_empty(self.country)
            .map(|c| Country::parse(&c))
            .transpose()?;
        Ok(Submitter {
            name,
            organization,
            category,
            country,
            email,
            language: None,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.chars().any(char::is_control) {
        return Err(ValidationError::text(field, Text::key("err_control_chars")));
    }
    if value.chars().count() > max {
        return Err(ValidationError::text(
            field,
            Text::with("err_too_many_chars", [("count", Arg::count(max))]),
        ));
    }
    Ok(())
}

/// One file of a response, as stored: the exact bytes are identified by their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// The sanitized name under which the file is published.
    pub name: String,
    /// The media type judged from the content, not from the sender's claim.
    pub media_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the exact bytes.
    pub sha256: String,
    /// Where the original sits in the private store.
    pub original_key: String,
}

/// A response before the store gives it its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewResponse {
    pub id: ResponseId,
    pub consultation: ConsultationId,
    pub received_at: Timestamp,
    pub channel: Channel,
    pub submitter: Submitter,
    pub files: Vec<StoredFile>,
}

impl NewResponse {
    /// Whether `other` says the same: the same submitter and the same files (names, sizes,
    /// SHA-256), whenever and through whichever channel it came. A retry must say the same as
    /// the response it repeats to be given that response's receipt.
    pub fn says_the_same_as(&self, other: &NewResponse) -> bool {
        let files = |r: &NewResponse| {
            r.files
                .iter()
                .map(|f| (f.name.clone(), f.size, f.sha256.clone()))
                .collect::<Vec<_>>()
        };
        // The language a retry comes from says nothing about what it says.
        let who = |r: &NewResponse| Submitter {
            language: None,
            ..r.submitter.clone()
        };
        who(self) == who(other) && files(self) == files(other)
    }
}

/// An `Idempotency-Key` header: the client's own name for one response, so that sending it
/// again (after an answer was lost) gives the first receipt instead of storing it twice.
/// 1 to 255 visible ASCII characters (a UUID is the usual choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Option<Self> {
        let fits = (1..=Self::MAX_LEN).contains(&raw.len());
        (fits && raw.bytes().all(|b| b.is_ascii_graphic())).then(|| Self(raw.to_owned()))
    }

    /// The id of the response this key names in `consultation`: the same key always names the
    /// same response there, whoever sends it.
    pub fn response_id(&self, consultation: &ConsultationId) -> ResponseId {
        ResponseId::derived(&[
            b"Idempotency-Key",
            consultation.as_str().as_bytes(),
            self.0.as_bytes(),
        ])
    }
}

/// A stored response with its per-consultation number (1, 2, 3… without gaps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub number: u64,
    #[serde(flatten)]
    pub response: NewResponse,
}

/// A published file of a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PublicFile {
    /// The name under which the file is published (`response.txt` for the text,
    /// `answer-{k}.txt` for the answer to question k).
    #[schema(example = "response.txt")]
    pub name: String,
    #[schema(value_type = super::media::MediaType)]
    pub media_type: String,
    /// Its size in bytes.
    #[schema(minimum = 1)]
    pub size: u64,
    /// Lower-case hex SHA-256 of the exact bytes received and published.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// The file's path on the site, its name percent-encoded.
    #[schema(
        format = "uri-reference",
        example = "/consultations/internet-access-2027/responses/7/response.txt"
    )]
    pub url: String,
}

/// What the submitter gets at once, and what the manifest lists. It never includes the email
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f3a-7c2e-7b3a-9f1e-2a4b6c8d0e1f",
    "number": 7,
    "consultation": "internet-access-2027",
    "received_at": "2026-11-28T09:40:00.123Z",
    "channel": "api",
    "name": "Ada Lovelace",
    "organization": "Analytical Engine Society",
    "category": "civil-society",
    "country": "CH",
    "files": [
        {
            "name": "response.txt",
            "media_type": "text/plain",
            "size": 1834,
            "sha256": "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
            "url": "/consultations/internet-access-2027/responses/7/response.txt"
        },
        {
            "name": "Réponse finale (2).pdf",
            "media_type": "application/pdf",
            "size": 482113,
            "sha256": "9b74c9897bac770ffc029102a200c5de3f6e1e2d3c2a4f5b6c7d8e9f0a1b2c3d",
            "url": "/consultations/internet-access-2027/responses/7/R%C3%A9ponse%20finale%20%282%29.pdf"
        }
    ]
}))]
pub struct Receipt {
    pub id: ResponseId,
    /// The response's number within its consultation: 1, 2, 3… without gaps.
    #[schema(minimum = 1)]
    pub number: u64,
    pub consultation: ConsultationId,
    /// When the whole response had been received: UTC, with milliseconds.
    #[schema(
        format = DateTime,
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
        example = "2026-11-28T09:40:00.123Z"
    )]
    pub received_at: String,
    pub channel: Channel,
    /// The submitter's name, as published.
    pub name: String,
    /// The organization the submitter speaks for, if any.
    pub organization: Option<String>,
    pub category: Option<Category>,
    pub country: Option<Country>,
    /// The published files: `response.txt` first when there is a text, then the answers
    /// (`answer-{k}.txt`) in the order of the questions, then the attached files in the order
    /// sent.
    #[schema(min_items = 1)]
    pub files: Vec<PublicFile>,
    /// Where the response sits in the consultation's transparency log, signed: present on
    /// the receipt given to the submitter (see the transparency module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub log: Option<ReceiptLog>,
}

/// The receipt of a response that is stored but not yet numbered (`202 Accepted`): the
/// receipt without `number`, `log` and the files' `url` (which follow from the number), and
/// `"status": "pending"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingReceipt {
    pub id: ResponseId,
    pub consultation: ConsultationId,
    /// When the whole response had been received: UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub received_at: String,
    pub channel: Channel,
    pub name: String,
    pub organization: Option<String>,
    pub category: Option<Category>,
    pub country: Option<Country>,
    #[schema(min_items = 1)]
    pub files: Vec<PendingFile>,
    pub status: ReceiptStatus,
}

/// Where a receipt stands: `pending` until the response is numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    Pending,
}

/// A file of a pending receipt: its `url` comes with the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingFile {
    pub name: String,
    #[schema(value_type = super::media::MediaType)]
    pub media_type: String,
    #[schema(minimum = 1)]
    pub size: u64,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
}

impl NewResponse {
    /// The receipt while the response waits for its number.
    pub fn pending_receipt(&self) -> PendingReceipt {
        PendingReceipt {
            id: self.id.clone(),
            consultation: self.consultation.clone(),
            received_at: format_utc_millis(self.received_at),
            channel: self.channel,
            name: self.submitter.name.clone(),
            organization: self.submitter.organization.clone(),
            category: self.submitter.category,
            country: self.submitter.country.clone(),
            files: self
                .files
                .iter()
                .map(|f| PendingFile {
                    name: f.name.clone(),
                    media_type: f.media_type.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                })
                .collect(),
            status: ReceiptStatus::Pending,
        }
    }
}

impl Response {
    pub fn receipt(&self) -> Receipt {
        let r = &self.response;
        Receipt {
            id: r.id.clone(),
            number: self.number,
            consultation: r.consultation.clone(),
            received_at: format_utc_millis(r.received_at),
            channel: r.channel,
            name: r.submitter.name.clone(),
            organization: r.submitter.organization.clone(),
            category: r.submitter.category,
            country: r.submitter.country.clone(),
            files: r
                .files
                .iter()
                .map(|f| PublicFile {
                    name: f.name.clone(),
                    media_type: f.media_type.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                    url: super::site_paths::file_url(&r.consultation, self.number, &f.name),
                })
                .collect(),
            log: None,
        }
    }
}

/// `2026-11-28T09:40:00.123Z`: UTC, always three fractional digits.
pub fn format_utc_millis(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The name a file is published under: never a path, never hidden, never a device name.
///
/// Keeps the sender's name as far as is safe (any script, spaces), so a reader recognises it.
pub fn sanitize_file_name(raw: &str) -> String {
    // Only the last path component counts, whichever separator the sender's system uses.
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| match c {
            c if c.is_control() => '_',
            '<' | '>' | ':' | '"' | '|' | '?' | '*' | '%' | '#' => '_',
            c => c,
        })
        .collect();
    // Cut to length before trimming: a cut can end on a dot or a space (found by fuzzing).
    let trimmed =
        truncate_utf8(&cleaned, 150).trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut name = trimmed.to_owned();
    if name.is_empty() {
        name = "file".to_owned();
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if RESERVED.contains(&stem.as_str()) {
        name.insert(0, '_');
    }
    name
}

/// Makes `name` unique among `taken` by adding ` (2)`, ` (3)`… before the extension.
pub fn unique_file_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .expect("an unbounded range always finds a free name")
}

fn truncate_utf8(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A receipt's place in the log, signed by the log's key: proof, held by the submitter from
/// the moment of receipt, of what was received and when. Present on the receipt the submitter
/// gets (HTTP, HTML, email); absent from manifests. Entry `leaf_index` is the canonical JSON
/// (RFC 8785) of {channel, consultation, files:[{name, sha256, size}], number, received_at,
/// version:1}; see docs/transparency-log.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptLog {
    /// The log's origin line (`<key name>/consultations/<id>`).
    #[schema(example = "consultations.example.org/consultations/internet-access-2027")]
    pub origin: String,
    /// `number - 1`.
    pub leaf_index: u64,
    /// Lower-case hex `SHA-256(0x00 || canonical entry)`, RFC 6962.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub leaf_hash: String,
    /// The signed-note signature (base64 of the 4-byte key id and the Ed25519 signature) over
    /// `verbatim-receipt/v1\n<origin>\n<leaf_index>\n<base64 leaf hash>\n`.
    pub signature: String,
    /// The verifier key that checks `signature` (and the log's checkpoints), also published
    /// at /log/verifier-key: `<name>+<id>+<base64>`.
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_never_escape_their_folder() {
        assert_eq!(sanitize_file_name("../../x"), "x");
        assert_eq!(
            sanitize_file_name("..\\..\\windows\\system.ini"),
            "system.ini"
        );
        assert_eq!(sanitize_file_name("/etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(""), "file");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name("a\0b\nc.txt"), "a_b_c.txt");
        assert_eq!(sanitize_file_name("what?.pdf"), "what_.pdf");
        assert_eq!(sanitize_file_name("100%.pdf"), "100_.pdf");
        // A long name cut on a dot or a space loses them too (found by fuzzing).
        let cut = format!("{} . ..  .", "_".repeat(148));
        let name = sanitize_file_name(&cut);
        assert_eq!(name, "_".repeat(148));
        assert_eq!(sanitize_file_name("CON.txt"), "_CON.txt");
    }

    #[test]
    fn file_names_keep_any_script() {
        assert_eq!(
            sanitize_file_name("Réponse officielle.pdf"),
            "Réponse officielle.pdf"
        );
        assert_eq!(sanitize_file_name("ответ.docx"), "ответ.docx");
        assert_eq!(sanitize_file_name("回应.pdf"), "回应.pdf");
        assert_eq!(sanitize_file_name("رد.pdf"), "رد.pdf");
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = sanitize_file_name(&long);
        assert!(cut.len() <= 150 && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn duplicate_names_are_numbered() {
        let taken = vec![
            "a.pdf".to_owned(),
            "a (2).pdf".to_owned(),
            "README".to_owned(),
        ];
        assert_eq!(unique_file_name("a.pdf", &taken), "a (3).pdf");
        assert_eq!(unique_file_name("b.pdf", &taken), "b.pdf");
        assert_eq!(unique_file_name("README", &taken), "README (2)");
    }

    #[test]
    fn submitter_fields() {
        let ok = SubmitterFields {
            name: Some("  Ada  ".into()),
            organization: Some("".into()),
            email: Some("ada@example.org".into()),
            category: Some("civil-society".into()),
            country: Some("ch".into()),
        }
        .parse()
        .unwrap();
        assert_eq!(ok.name, "Ada");
        assert_eq!(ok.organization, None);
        assert_eq!(ok.category, Some(Category::CivilSociety));
        assert_eq!(ok.country.unwrap().as_str(), "CH");

        let field = |f: SubmitterFields| f.parse().unwrap_err().field;
        let named = || SubmitterFields {
            name: Some("Ada".into()),
            ..Default::default()
        };
        assert_eq!(field(SubmitterFields::default()), "name");
        assert_eq!(
            field(SubmitterFields {
                category: Some("alien".into()),
                ..named()
            }),
            "category"
        );
        assert_eq!(
            field(SubmitterFields {
                country: Some("XX".into()),
                ..named()
            }),
            "country"
        );
        assert_eq!(
            field(SubmitterFields {
                email: Some("nope".into()),
                ..named()
            }),
            "email"
        );
        assert_eq!(
            field(SubmitterFields {
                name: Some("a\u{7}".into()),
                ..named()
            }),
            "name"
        );
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = ResponseId::derived(&[b"net-2027", b"digest"]);
        assert_eq!(a, ResponseId::derived(&[b"net-2027", b"digest"]));
        assert_ne!(a, ResponseId::derived(&[b"other", b"digest"]));
        assert_ne!(
            a,
            ResponseId::derived(&[b"net-2027d", b"igest"]),
            "parts are delimited"
        );
        assert_eq!(
            uuid::Uuid::parse_str(a.as_str()).unwrap().get_version_num(),
            8
        );
    }

    #[test]
    fn received_at_has_milliseconds() {
        let at: Timestamp = "2026-11-28T09:40:00Z".parse().unwrap();
        assert_eq!(format_utc_millis(at), "2026-11-28T09:40:00.000Z");
        let at: Timestamp = "2026-11-28T09:40:00.123456Z".parse().unwrap();
        assert_eq!(format_utc_millis(at), "2026-11-28T09:40:00.123Z");
    }
}
