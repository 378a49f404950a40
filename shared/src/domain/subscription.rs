//! The consultation's email list (Res. 1344: "an email list set up by the Secretariat").
//!
//! Subscribing is double opt-in: a request stores a pending subscription and mails a link;
//! only a confirmed subscription receives the list's mail. Every link carries a token naming
//! the subscription and a random secret, so a link works without any session and a guessed or
//! altered link does nothing. Addresses are private: they are never published.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ConsultationId, Language, ValidationError};

/// The longest address, in bytes (RFC 5321's limit on a path).
pub const MAX_EMAIL_BYTES: usize = 254;

/// An email address, checked for plausibility (not deliverability: the confirmation mail is
/// what proves the address works and belongs to the person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let address = raw.trim();
        let plausible = address.len() <= MAX_EMAIL_BYTES
            && !address
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
            && address.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if plausible {
            Ok(Self(address.to_owned()))
        } else {
            Err(ValidationError::text(
                "email",
                super::Text::key("err_email"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule of [`EmailAddress::parse`] as a regular expression without anchors, for a
    /// trimmed address (its length in bytes aside): one `@` between a non-empty local part and
    /// a domain holding a dot not at either end, no white space, control character, `<`, `>`
    /// or `,`.
    pub fn pattern() -> String {
        use super::schema::{CONTROL, WHITE_SPACE};
        let part = format!("[^{WHITE_SPACE}{CONTROL}<>,@]");
        let domain_edge = format!("[^{WHITE_SPACE}{CONTROL}<>,@.]");
        format!("{part}+@{domain_edge}{part}*\\.{part}*{domain_edge}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names a subscriber within a consultation without revealing the address: derived from the
/// address (case-insensitively), so subscribing twice finds the same subscription.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriberId(String);

impl SubscriberId {
    pub fn of(address: &EmailAddress) -> Self {
        let digest = Sha256::digest(address.as_str().to_lowercase().as_bytes());
        Self(hex::encode(&digest[..16]))
    }

    fn parse(raw: &str) -> Option<Self> {
        is_lower_hex(raw, SubscriptionToken::SUBSCRIBER_DIGITS).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `raw` is exactly `len` lowercase hex digits, as `hex::encode` writes them.
fn is_lower_hex(raw: &str, len: usize) -> bool {
    raw.len() == len && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A subscription to one consultation's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub consultation: ConsultationId,
    pub subscriber: SubscriberId,
    pub address: EmailAddress,
    /// 32 random bytes, hex: the part of every link that cannot be guessed.
    pub secret: String,
    pub requested_at: Timestamp,
    /// Set by the confirmation; until then the list sends nothing but the confirmation request.
    pub confirmed_at: Option<Timestamp>,
    /// The language of the page the subscriber subscribed from: the list writes to them in
    /// it. Stored inside the record in both stores; records from before it read as English.
    #[serde(default = "english")]
    pub language: Language,
    /// When a confirmation (or "already subscribed") mail last went to the address: asking
    /// again within [`MAIL_AT_MOST_EVERY`] sends nothing, so nobody can flood an inbox with
    /// requests. Records from before it read as never mailed.
    #[serde(default)]
    pub mailed_at: Option<Timestamp>,
}

/// At most one confirmation mail per address and consultation in this time, whatever the
/// number of requests.
pub const MAIL_AT_MOST_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

fn english() -> Language {
    Language::En
}

impl Subscription {
    /// A new, unconfirmed subscription; `random` comes from a cryptographic generator.
    pub fn request(
        consultation: ConsultationId,
        address: EmailAddress,
        random: [u8; 32],
        now: Timestamp,
    ) -> Self {
        Self {
            consultation,
            subscriber: SubscriberId::of(&address),
            address,
            secret: hex::encode(random),
            requested_at: now,
            confirmed_at: None,
            language: Language::En,
            mailed_at: None,
        }
    }

    /// Whether a request at `now` may mail the address (nothing mailed within the last hour).
    pub fn may_mail(&self, now: Timestamp) -> bool {
        self.mailed_at
            .is_none_or(|at| now.duration_since(at) >= MAIL_AT_MOST_EVERY)
    }

    /// The same subscription, written to in `language`.
    pub fn in_language(self, language: Language) -> Self {
        Self { language, ..self }
    }

    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// The token of this subscription's confirmation and unsubscribe links.
    pub fn token(&self) -> SubscriptionToken {
        SubscriptionToken {
            consultation: self.consultation.clone(),
            subscriber: self.subscriber.clone(),
            secret: self.secret.clone(),
        }
    }

    /// Whether `token` is this subscription's, compared in constant time.
    pub fn accepts(&self, token: &SubscriptionToken) -> bool {
        token.consultation == self.consultation
            && token.subscriber == self.subscriber
            && bool::from(token.secret.as_bytes().ct_eq(self.secret.as_bytes()))
    }
}

/// `{consultation}.{subscriber}.{secret}`: everything a link needs, URL-safe as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionToken {
    pub consultation: ConsultationId,
    pub subscriber: SubscriberId,
    secret: String,
}

impl SubscriptionToken {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.trim().split('.');
        let (Some(consultation), Some(subscriber), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self {
            consultation: ConsultationId::parse(consultation).ok()?,
            subscriber: SubscriberId::parse(subscriber)?,
            secret: is_lower_hex(secret, Self::SECRET_DIGITS).then(|| secret.to_owned())?,
        })
    }
}

impl SubscriptionToken {
    /// The hex digits of the subscriber id and of the secret.
    const SUBSCRIBER_DIGITS: usize = 32;
    const SECRET_DIGITS: usize = 64;
}

impl utoipa::PartialSchema for SubscriptionToken {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schema::string()
            .pattern(Some(format!(
                "^{}\\.[0-9a-f]{{{}}}\\.[0-9a-f]{{{}}}$",
                ConsultationId::pattern(),
                Self::SUBSCRIBER_DIGITS,
                Self::SECRET_DIGITS
            )))
            .description(Some(
                "The token of the link in the message: `{consultation}.{subscriber}.{secret}`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SubscriptionToken {}

impl fmt::Display for SubscriptionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.consultation,
            self.subscriber.as_str(),
            self.secret
        )
    }
}

/// Why no more mail goes to an address: it bounced (a delivery failure report named it; no
/// mail of any consultation goes there again), or its owner unsubscribed from one
/// consultation (no mail about that consultation goes there again, not even its outcome).
/// Kept by [`SubscriberId`], never by the address itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailStop {
    Bounced,
    Unsubscribed(ConsultationId),
}

/// How far the mailing of the Group's outcome to the list and to the respondents got, per
/// consultation: the version being mailed (only the latest is: an older one not yet sent is
/// superseded) and where its run is, so that a run that stops (a crash, Lambda's time limit)
/// resumes there. Who was mailed is kept apart, one mark per address (see
/// [`crate::ports::Subscriptions::claim_outcome_mail`]), so nobody gets a version twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutcomeMailing {
    /// 0: no outcome mailed yet.
    pub version: u32,
    pub stage: MailingStage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum MailingStage {
    /// The list's confirmed subscribers (all read at once: a list is thousands, not millions).
    #[default]
    Subscribers,
    /// The respondents who gave an address, by response number: those up to `through` are
    /// done.
    Respondents {
        through: u64,
    },
    Done,
}

impl OutcomeMailing {
    /// Whether `latest` (the outcome's latest version) still has mail to send.
    pub fn is_due(&self, latest: u32) -> bool {
        latest > self.version
            || (latest > 0 && latest == self.version && self.stage != MailingStage::Done)
    }

    /// Where a run for `latest` starts: where the last one stopped if it was mailing the same
    /// version, from the beginning for a newer one.
    pub fn resume(self, latest: u32) -> Self {
        if latest == self.version {
            self
        } else {
            Self {
                version: latest,
                stage: MailingStage::Subscribers,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_mailing_resumes_its_version_and_starts_over_for_a_newer_one() {
        let none = OutcomeMailing::default();
        assert!(!none.is_due(0), "no outcome, nothing to mail");
        assert!(none.is_due(1));
        let halfway = OutcomeMailing {
            version: 2,
            stage: MailingStage::Respondents { through: 300 },
        };
        assert!(halfway.is_due(2));
        assert_eq!(halfway.resume(2), halfway);
        assert_eq!(
            halfway.resume(3),
            OutcomeMailing {
                version: 3,
                stage: MailingStage::Subscribers
            }
        );
        let done = OutcomeMailing {
            version: 2,
            stage: MailingStage::Done,
        };
        assert!(!done.is_due(2));
        assert!(done.is_due(3));
        let json = serde_json::to_string(&halfway).unwrap();
        assert_eq!(
            json,
            r#"{"version":2,"stage":{"stage":"respondents","through":300}}"#
        );
        assert_eq!(
            serde_json::from_str::<OutcomeMailing>(&json).unwrap(),
            halfway
        );
    }

    #[test]
    fn records_from_before_languages_read_as_english() {
        let french = subscription("ada@example.org").in_language(Language::Fr);
        let mut stored = serde_json::to_value(&french).unwrap();
        assert_eq!(stored["language"], "fr");
        let back: Subscription = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(back.language, Language::Fr);
        stored.as_object_mut().unwrap().remove("language");
        let old: Subscription = serde_json::from_value(stored).unwrap();
        assert_eq!(old.language, Language::En);
    }

    fn subscription(address: &str) -> Subscription {
        Subscription::request(
            ConsultationId::parse("net-2027").unwrap(),
            EmailAddress::parse(address).unwrap(),
            [7; 32],
            Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn addresses() {
        for good in [
            "ada@example.org",
            "  a.b+c@mail.example.co.uk ",
            "名@例え.jp",
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ada",
            "ada@localhost",
            "@example.org",
            "ada@@example.org",
            "ada@example.org.",
            "a da@example.org",
            "Ada <ada@example.org>",
            "a@example.org,b@example.org",
            "ada@example.org\r\nBcc: x@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn the_subscriber_id_ignores_case_and_hides_the_address() {
        let a = subscription("Ada@Example.org");
        let b = subscription("ada@example.org");
        assert_eq!(a.subscriber, b.subscriber);
        assert_ne!(a.subscriber, subscription("bob@example.org").subscriber);
        assert!(!a.subscriber.as_str().contains("ada"));
    }

    #[test]
    fn tokens_round_trip_and_only_the_right_one_is_accepted() {
        let s = subscription("ada@example.org");
        let token = s.token().to_string();
        let parsed = SubscriptionToken::parse(&token).unwrap();
        assert!(s.accepts(&parsed));

        let mut wrong_secret = token.clone();
        wrong_secret.replace_range(token.len() - 1.., "8");
        assert!(!s.accepts(&SubscriptionToken::parse(&wrong_secret).unwrap()));
        let other = subscription("bob@example.org");
        assert!(!other.accepts(&parsed));

        for bad in [
            "",
            "net-2027",
            "net-2027.abc.def",
            &format!("{token}.x"),
            &token.replace("net-2027", "NET"),
            &token[..token.len() - 1],
        ] {
            assert!(SubscriptionToken::parse(bad).is_none(), "{bad}");
        }
    }
}
