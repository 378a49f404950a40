//! What is kept privately instead of being published: mail that could not be a response (sent
//! after the deadline or before the opening, bounces, automatic replies, list requests with no
//! sender) and responses received in time but still unnumbered when the closing was sealed
//! (set aside by the sequencer, never deleted). Nothing of it is public; the Secretariat sees
//! it, and downloads its bytes, in the console and through the admin API.

use jiff::Timestamp;
use serde::Serialize;

use super::ConsultationId;

/// Why something was kept. The code is the folder it is kept under, and the API's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeptReason {
    /// Mail sent after the deadline.
    Late,
    /// Mail sent before the consultation opened.
    Early,
    /// A delivery failure report.
    Bounces,
    /// An automatic reply (out of office, …).
    AutoReplies,
    /// A list request with no address to answer.
    NoSender,
    /// A response received in time, still unnumbered when the closing was sealed.
    AfterSeal,
}

impl KeptReason {
    pub const ALL: [KeptReason; 6] = [
        Self::Late,
        Self::Early,
        Self::Bounces,
        Self::AutoReplies,
        Self::NoSender,
        Self::AfterSeal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Late => "late",
            Self::Early => "early",
            Self::Bounces => "bounces",
            Self::AutoReplies => "auto-replies",
            Self::NoSender => "no-sender",
            Self::AfterSeal => "after-seal",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Where the private store keeps what was kept for this reason in `consultation`.
    pub fn prefix(self, consultation: &ConsultationId) -> String {
        match self {
            Self::AfterSeal => format!("late/{consultation}/"),
            mail => format!("mail/{}/{consultation}/", mail.code()),
        }
    }

    /// The media type of what is kept: a message as received, or a response's record.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::AfterSeal => "application/json",
            _ => "message/rfc822",
        }
    }

    /// The key of `name` (one plain file name, as a listing gives it) kept for this reason.
    pub fn key(self, consultation: &ConsultationId, name: &str) -> Option<String> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        plain.then(|| format!("{}{name}", self.prefix(consultation)))
    }
}

/// One thing kept.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeptItem {
    pub reason: KeptReason,
    /// Its file name: the message's SHA-256 (`.eml`), or the response's id (`.json`).
    pub name: String,
    pub size: u64,
    /// When it was kept.
    #[schema(value_type = String, format = DateTime)]
    pub kept_at: Timestamp,
}

/// What was kept for a consultation, at most `per_reason` for each reason (oldest name first).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct KeptList {
    pub items: Vec<KeptItem>,
    /// The reasons with more kept than listed.
    pub more: Vec<KeptReason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_folder_and_names_stay_inside_it() {
        let c = ConsultationId::parse("net-2027").unwrap();
        for r in KeptReason::ALL {
            assert_eq!(KeptReason::parse(r.code()), Some(r));
        }
        assert_eq!(KeptReason::Late.prefix(&c), "mail/late/net-2027/");
        assert_eq!(KeptReason::AfterSeal.prefix(&c), "late/net-2027/");
        assert_eq!(
            KeptReason::Bounces.key(&c, "ab12.eml").as_deref(),
            Some("mail/bounces/net-2027/ab12.eml")
        );
        for bad in ["", "../x.eml", "a/b.eml", ".hidden", "a b.eml"] {
            assert_eq!(KeptReason::Late.key(&c, bad), None, "{bad}");
        }
    }
}
