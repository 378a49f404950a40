//! The Secretariat's people: one account each, so the audit log can say who did what. Names,
//! password hashes, second factors (TOTP), console sessions and the sign-in throttle, as values
//! with their rules; storing them is the `Accounts` port's job.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::ValidationError;

/// A person's sign-in name: 2 to 64 characters, lowercase letters a-z, digits, `.`, `-` and
/// `_`, starting with a letter (`ada.lovelace`). Parsed once; it cannot hold anything else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        let valid = (2..=64).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
        if valid {
            Ok(Self(raw))
        } else {
            Err(ValidationError::new(
                "name",
                "must be 2 to 64 characters: lowercase letters a-z, digits, '.', '-' and '_', \
                 starting with a letter",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountName {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> Self {
        name.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted, in characters (OWASP Authentication Cheat Sheet, "Password
/// Length": at least 8 with a second factor, 15 without; 12 is the issue's floor, and TOTP is
/// offered to everyone).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest, in bytes: hashing is deliberately slow, so unbounded input is a lever for a
/// denial of service (OWASP Password Storage Cheat Sheet, "Maximum Password Lengths").
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A new password that meets the rules. Never printed, never stored: only its hash is.
pub struct Password(String);

impl Password {
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new(
                "password",
                format!("is too short: at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(ValidationError::new(
                "password",
                format!("is too long: at most {MAX_PASSWORD_BYTES} bytes"),
            ));
        }
        Ok(Self(raw))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A password's argon2id hash as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`),
/// which carries its own parameters, so raising them later leaves old hashes verifiable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

/// OWASP Password Storage Cheat Sheet, "Argon2id": "a minimum configuration of 19 MiB of
/// memory, an iteration count of 2, and 1 degree of parallelism".
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_PARALLELISM: u32 = 1;

fn argon2id() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        None,
    )
    .expect("the OWASP parameters are valid");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

impl PasswordHash {
    /// Hashes with a fresh random salt. Slow on purpose (tens of milliseconds): run it off the
    /// async threads.
    pub fn new(password: &Password) -> Self {
        use argon2::password_hash::PasswordHasher;
        let hash = argon2id()
            .hash_password(password.reveal().as_bytes())
            .expect("hashing with valid parameters and a random salt");
        Self(hash.to_string())
    }

    /// Whether `given` is the password hashed here (compared in constant time by argon2).
    pub fn verify(&self, given: &str) -> bool {
        use argon2::password_hash::PasswordVerifier;
        let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(&self.0) else {
            return false;
        };
        given.len() <= MAX_PASSWORD_BYTES
            && argon2id()
                .verify_password(given.as_bytes(), &parsed)
                .is_ok()
    }

    /// Spends the time a verification takes, for a name with no account, so that the answer's
    /// timing does not tell which names exist (OWASP Authentication Cheat Sheet, "Authentication
    /// Responses").
    pub fn verify_nothing(given: &str) {
        static DUMMY: std::sync::LazyLock<PasswordHash> = std::sync::LazyLock::new(|| {
            PasswordHash::new(&Password::parse("not anyone's password").expect("long enough"))
        });
        let _ = DUMMY.verify(given);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A TOTP secret (RFC 6238 with HMAC-SHA-1, 6 digits, 30-second steps, as every authenticator
/// app reads by default): 20 random bytes, shown to people in base32 (RFC 4648, no padding).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TotpSecret(Vec<u8>);

/// RFC 6238's time step.
pub const TOTP_STEP_SECONDS: i64 = 30;
/// Codes a step early or late are accepted too, for clocks that drift (RFC 6238, section 5.2).
pub const TOTP_SKEW_STEPS: i64 = 1;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl TotpSecret {
    /// 160 random bits: the length RFC 4226 (section 4) recommends for HMAC-SHA-1.
    pub fn generate() -> Self {
        let bytes: [u8; 20] = rand::random();
        Self(bytes.to_vec())
    }

    /// Reads a base32 secret (case and spaces ignored); at least 80 bits.
    pub fn parse_base32(raw: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("secret", "is not a base32 TOTP secret");
        let mut bits: u64 = 0;
        let mut held = 0;
        let mut bytes = Vec::new();
        for c in raw.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let value = BASE32
                .iter()
                .position(|b| char::from(*b) == c.to_ascii_uppercase())
                .ok_or_else(invalid)?;
            bits = (bits << 5) | value as u64;
            held += 5;
            if held >= 8 {
                held -= 8;
                bytes.push((bits >> held) as u8);
            }
        }
        if bytes.len() < 10 || bytes.len() > 64 {
            return Err(invalid());
        }
        Ok(Self(bytes))
    }

    pub fn base32(&self) -> String {
        let mut out = String::new();
        let mut bits: u64 = 0;
        let mut held = 0;
        for byte in &self.0 {
            bits = (bits << 8) | u64::from(*byte);
            held += 8;
            while held >= 5 {
                held -= 5;
                out.push(char::from(BASE32[((bits >> held) & 31) as usize]));
            }
        }
        if held > 0 {
            out.push(char::from(BASE32[((bits << (5 - held)) & 31) as usize]));
        }
        out
    }

    /// The `otpauth://` URI authenticator apps read (Google Authenticator's key URI format).
    pub fn uri(&self, issuer: &str, account: &AccountName) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={TOTP_STEP_SECONDS}",
            enc(issuer),
            enc(account.as_str()),
            self.base32(),
            enc(issuer)
        )
    }

    /// The 6-digit code of time step `step` (RFC 4226's HOTP with the step as counter).
    pub fn code_at_step(&self, step: i64) -> u32 {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any size");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        binary % 1_000_000
    }

    /// Whether `code` is the code at `now`, a step before or a step after.
    pub fn accepts(&self, code: &str, now: Timestamp) -> bool {
        self.matching_step(code, now).is_some()
    }

    /// The time step whose code `code` is, among the step of `now`, the one before and the one
    /// after; every candidate is compared, in constant time.
    pub fn matching_step(&self, code: &str, now: Timestamp) -> Option<i64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let step = now.as_second().div_euclid(TOTP_STEP_SECONDS);
        let mut found = None;
        for delta in -TOTP_SKEW_STEPS..=TOTP_SKEW_STEPS {
            let expected = format!("{:06}", self.code_at_step(step + delta));
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
                found = Some(step + delta);
            }
        }
        found
    }
}

impl TryFrom<String> for TotpSecret {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse_base32(&raw)
    }
}

impl From<TotpSecret> for String {
    fn from(secret: TotpSecret) -> Self {
        secret.base32()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// One person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: AccountName,
    pub password: PasswordHash,
    /// Set once the person has confirmed a code from their authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpSecret>,
    /// The time step of the last TOTP code used: a code is good once (RFC 6238, section 5.2;
    /// OWASP Multifactor Authentication Cheat Sheet), so one seen over a shoulder or taken
    /// from a phishing page cannot be used again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_last_step: Option<i64>,
    /// May manage accounts.
    pub admin: bool,
    pub created_at: Timestamp,
    /// Raised when the password is reset: sessions started before are no longer valid.
    #[serde(default)]
    pub session_epoch: u64,
}

impl Account {
    pub fn new(name: AccountName, password: &Password, admin: bool, now: Timestamp) -> Self {
        Self {
            name,
            password: PasswordHash::new(password),
            totp: None,
            totp_last_step: None,
            admin,
            created_at: now,
            session_epoch: 0,
        }
    }

    /// The account with a new password; every session started before ends.
    pub fn with_password(mut self, password: &Password) -> Self {
        self.password = PasswordHash::new(password);
        self.session_epoch += 1;
        self
    }
}

/// How long a session lasts at most, and without a request (OWASP Session Management Cheat
/// Sheet, "Session Expiration": idle 15-30 minutes for most applications, plus an absolute
/// timeout of a working day for those used all day).
pub const SESSION_ABSOLUTE: SignedDuration = SignedDuration::from_hours(8);
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_mins(30);
/// A session's last request is recorded at most this often (one write a minute, not one per
/// request); the idle timeout is thus exact to within a minute.
pub const SESSION_TOUCH_EVERY: SignedDuration = SignedDuration::from_mins(1);

/// A session's secret id as the browser holds it: 256 random bits (OWASP Session Management
/// Cheat Sheet, "Session ID Entropy": at least 64), hex. Only its hash is stored.
pub struct SessionId(String);

/// The stored form of a [`SessionId`]: its SHA-256, hex. Someone who reads the store learns
/// no session they could use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

impl SessionId {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(hex::encode(bytes))
    }

    /// A session id as a cookie gave it back; anything but 64 hex digits is no session.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> SessionKey {
        SessionKey(hex::encode(sha2::Sha256::digest(self.0.as_bytes())))
    }

    /// The token the session's forms carry against cross-site requests: derived from the
    /// secret id, so it needs no storage, and a page that shows it does not show the id (OWASP
    /// CSRF Prevention Cheat Sheet, "Synchronizer Token Pattern", one token per session).
    pub fn form_token(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"verbatim console form token\0");
        hasher.update(self.0.as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Whether `given` is this session's form token (in constant time).
    pub fn accepts_form_token(&self, given: &str) -> bool {
        self.form_token().as_bytes().ct_eq(given.as_bytes()).into()
    }
}

impl SessionKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signed-in person's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: AccountName,
    /// The account's [`Account::session_epoch`] at sign-in.
    pub epoch: u64,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
}

impl Session {
    /// When the session ends unless used before: the idle limit, capped by the absolute one.
    pub fn expires_at(&self) -> Timestamp {
        (self.last_seen + SESSION_IDLE).min(self.created_at + SESSION_ABSOLUTE)
    }

    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at()
    }

    /// Whether the session still belongs to `account` as it is now: no password reset since,
    /// and not begun before the account was made (a removed account's sessions do not pass
    /// to a new account of the same name).
    pub fn is_of(&self, account: &Account) -> bool {
        self.account == account.name
            && self.epoch == account.session_epoch
            && self.created_at >= account.created_at
    }
}

/// At most this many failed sign-ins of one account in [`THROTTLE_WINDOW`]…
pub const MAX_FAILURES: u32 = 10;
pub const THROTTLE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// …after which every sign-in of that account is refused for this long, the right password
/// included (OWASP Authentication Cheat Sheet, "Account Lockout": a threshold, an observation
/// window and a lockout duration).
pub const LOCKOUT: SignedDuration = SignedDuration::from_mins(15);

/// The failed sign-ins of one account name (whether or not it exists), kept in the store so
/// that every instance of the function sees the same count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInThrottle {
    /// When the window of the failures counted began.
    pub window_start: Option<Timestamp>,
    pub failures: u32,
    pub locked_until: Option<Timestamp>,
}

impl SignInThrottle {
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The throttle after a failure at `at`: a new window if the last one is over, and locked
    /// for [`LOCKOUT`] when the failures reach [`MAX_FAILURES`].
    /// Failures while locked are not counted: the lock ends when it said it would.
    pub fn after_failure(&self, at: Timestamp) -> Self {
        if self.is_locked(at) {
            return self.clone();
        }
        let mut next = match self.window_start {
            Some(start) if at < start + THROTTLE_WINDOW => self.clone(),
            _ => Self {
                window_start: Some(at),
                failures: 0,
                locked_until: self.locked_until,
            },
        };
        next.failures += 1;
        if next.failures >= MAX_FAILURES {
            next.locked_until = Some(at + LOCKOUT);
            // The count starts again once the lockout is over.
            next.window_start = Some(at + LOCKOUT);
            next.failures = 0;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn names() {
        for good in ["ada", "ada.lovelace", "a1", "grace_hopper-2"] {
            assert!(AccountName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "Ada",
            "1ada",
            "ada lovelace",
            "ada@itu",
            &"a".repeat(65),
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_at_least_12_characters_and_verify_only_themselves() {
        assert!(Password::parse("elevenchars").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert!(
            Password::parse("ééééééééééé").is_err(),
            "characters, not bytes"
        );
        let hash = PasswordHash::new(&Password::parse("correct horse battery").unwrap());
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hash.verify("correct horse battery"));
        assert!(!hash.verify("correct horse batterY"));
        assert!(!PasswordHash("garbage".into()).verify("garbage"));
    }

    /// RFC 6238, appendix B, the SHA-1 rows (their 8-digit codes, last 6 digits here).
    #[test]
    fn totp_matches_the_rfc_6238_test_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (seconds, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            let now = Timestamp::from_second(seconds).unwrap();
            assert!(secret.accepts(code, now), "{seconds}");
            assert_eq!(format!("{:06}", secret.code_at_step(seconds / 30)), code);
        }
        let now = Timestamp::from_second(1111111111).unwrap();
        assert!(secret.accepts("050471", now + SignedDuration::from_secs(30)));
        assert!(!secret.accepts("050471", now + SignedDuration::from_secs(90)));
        assert!(!secret.accepts("50471", now));
        assert_eq!(secret.matching_step("050471", now), Some(1111111111 / 30));
        assert_eq!(
            secret.matching_step("050471", now + SignedDuration::from_secs(30)),
            Some(1111111111 / 30),
            "the step the code belongs to, not the step of now"
        );
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::parse_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            secret
        );
        assert!(
            secret
                .uri("Verbatim", &AccountName::parse("ada").unwrap())
                .starts_with("otpauth://totp/Verbatim:ada?secret=GEZDGNBV")
        );
    }

    #[test]
    fn sessions_expire_when_idle_and_after_eight_hours() {
        let start = at("2026-12-01T08:00:00Z");
        let mut session = Session {
            account: AccountName::parse("ada").unwrap(),
            epoch: 0,
            created_at: start,
            last_seen: start,
        };
        assert!(session.is_live(start + SignedDuration::from_mins(29)));
        assert!(!session.is_live(start + SignedDuration::from_mins(30)));
        session.last_seen = start + SignedDuration::from_mins(470);
        assert!(session.is_live(start + SignedDuration::from_mins(479)));
        assert!(!session.is_live(start + SignedDuration::from_mins(480)));
        let id = SessionId::generate();
        assert_eq!(id.reveal().len(), 64);
        assert_ne!(id.key().as_str(), id.reveal());
        assert!(id.accepts_form_token(&id.form_token()));
        assert!(!SessionId::generate().accepts_form_token(&id.form_token()));
        assert!(SessionId::parse("xyz").is_none());
    }

    #[test]
    fn ten_failures_in_fifteen_minutes_lock_the_account_for_fifteen_more() {
        let start = at("2026-12-01T08:00:00Z");
        let mut throttle = SignInThrottle::default();
        for i in 0..9 {
            throttle = throttle.after_failure(start + SignedDuration::from_mins(i));
            assert!(!throttle.is_locked(start + SignedDuration::from_mins(i)));
        }
        let tenth = start + SignedDuration::from_mins(10);
        throttle = throttle.after_failure(tenth);
        assert!(throttle.is_locked(tenth));
        assert!(throttle.is_locked(tenth + SignedDuration::from_mins(14)));
        assert_eq!(
            throttle.after_failure(tenth + SignedDuration::from_mins(1)),
            throttle
        );
        assert!(!throttle.is_locked(tenth + SignedDuration::from_mins(15)));
        // Failures spread out never lock.
        let mut slow = SignInThrottle::default();
        for i in 0..30 {
            slow = slow.after_failure(start + SignedDuration::from_mins(2 * i));
            assert!(
                !slow.is_locked(start + SignedDuration::from_mins(2 * i)),
                "{i}"
            );
        }
    }
}
