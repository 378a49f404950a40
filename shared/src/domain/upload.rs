//! The id of a presigned upload: it carries its own expiry and 122 random bits, so it cannot
//! be guessed and an expired one is refused without a lookup.

use jiff::Timestamp;

/// An upload's id: `{expiry as Unix seconds}-{32 hex digits of a UUID v4}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadId {
    expires_at: i64,
    nonce: String,
}

impl UploadId {
    /// The most digits of the expiry (Unix seconds).
    const MAX_EXPIRY_DIGITS: usize = 12;
    /// The hex digits of the random part.
    const NONCE_DIGITS: usize = 32;

    /// A fresh id, valid until `expires_at`.
    pub fn new(expires_at: Timestamp) -> Self {
        Self {
            expires_at: expires_at.as_second(),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// `None` for anything not shaped like an id this module made.
    pub fn parse(raw: &str) -> Option<Self> {
        let (expiry, nonce) = raw.split_once('-')?;
        let well_formed = !expiry.is_empty()
            && expiry.len() <= Self::MAX_EXPIRY_DIGITS
            && expiry.bytes().all(|b| b.is_ascii_digit())
            && nonce.len() == Self::NONCE_DIGITS
            && nonce
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            return None;
        }
        Some(Self {
            expires_at: expiry.parse().ok()?,
            nonce: nonce.to_owned(),
        })
    }

    pub fn expires_at(&self) -> Timestamp {
        Timestamp::from_second(self.expires_at).unwrap_or(Timestamp::MIN)
    }
}

impl utoipa::PartialSchema for UploadId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string()
            .pattern(Some(format!(
                "^[0-9]{{1,{}}}-[0-9a-f]{{{}}}$",
                Self::MAX_EXPIRY_DIGITS,
                Self::NONCE_DIGITS
            )))
            .description(Some(
                "A presigned upload: its expiry (Unix seconds) and 128 bits of a random UUID v4. \
                 Unguessable, and valid only for the consultation that granted it.",
            ))
            .examples(["1764338400-3f2a9c0d4b1e4f5a8c7d6e5f4a3b2c1d"])
            .into()
    }
}

impl utoipa::ToSchema for UploadId {}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.expires_at, self.nonce)
    }
}
