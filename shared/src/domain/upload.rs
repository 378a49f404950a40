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
            && expiry.len() <= 12
            && expiry.bytes().all(|b| b.is_ascii_digit())
            && nonce.len() == 32
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

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.expires_at, self.nonce)
    }
}
