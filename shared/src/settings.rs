//! The functions' settings, parsed once at start-up into typed structs. Each main reads its
//! process environment (`Vars::from_iter(std::env::vars())`) and hands it over; nothing below
//! the mains reads the environment, and a value that does not parse stops the start, naming
//! its variable. The local host takes the same settings as flags (clap, with the same
//! variables as fallbacks).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;

use crate::intake::{DEFAULT_IN_FLIGHT_GRACE, DEFAULT_RECEIPT_WAIT};

/// A variable that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub reason: String,
}

/// Named values, as the environment holds them. An empty value counts as unset.
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl FromIterator<(String, String)> for Vars {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().filter(|(_, v)| !v.is_empty()).collect())
    }
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &'static str, needed_for: &str) -> Result<String, SettingsError> {
        self.get(name).map(str::to_owned).ok_or(SettingsError {
            name,
            reason: format!("not set ({needed_for} needs it)"),
        })
    }

    /// `None` when unset; an error naming the variable when set but not understood.
    pub fn parsed<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SettingsError> {
        self.get(name)
            .map(|raw| parse(raw).map_err(|reason| SettingsError { name, reason }))
            .transpose()
    }
}

pub const RECEIPT_WAIT_VAR: &str = "VERBATIM_RECEIPT_WAIT";

/// The outcome's mail rate (messages a second, 1 to 1,000): the mailer's sending rate.
pub const MAIL_PER_SECOND_VAR: &str = "VERBATIM_MAIL_PER_SECOND";

/// The pause between two outcome mails at `raw` messages a second.
pub fn mail_pace(raw: &str) -> Result<std::time::Duration, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .map(|n| std::time::Duration::from_secs(1) / n)
        .ok_or_else(|| format!("{raw:?}: write whole messages a second, 1 to 1000"))
}
pub const IN_FLIGHT_GRACE_VAR: &str = "VERBATIM_IN_FLIGHT_GRACE_SECONDS";
/// The witness policy's text (C2SP tlog-policy) for the publish function; empty or unset: no
/// witnesses.
pub const WITNESS_POLICY_VAR: &str = "VERBATIM_WITNESS_POLICY";

/// The witness policy in `raw`; `None` when it is blank.
pub fn witness_policy(raw: &str) -> Result<Option<crate::transparency::policy::Policy>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    crate::transparency::policy::Policy::parse(raw)
        .map(Some)
        .map_err(|e| e.to_string())
}
pub const PUBLIC_URL_VAR: &str = "VERBATIM_PUBLIC_URL";
/// The SSM SecureString parameter that holds the signing key.
pub const SIGNING_KEY_PARAMETER_VAR: &str = "VERBATIM_SIGNING_KEY_PARAMETER";
/// The bucket for presigned uploads (optional: else `staging/` in the private bucket).
pub const STAGING_BUCKET_VAR: &str = "VERBATIM_STAGING_BUCKET";

/// How intake waits: for a number before answering `202`, and for a response received in time
/// to be stored (intake and closing share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub receipt_wait: Duration,
    pub in_flight_grace: SignedDuration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            receipt_wait: DEFAULT_RECEIPT_WAIT,
            in_flight_grace: DEFAULT_IN_FLIGHT_GRACE,
        }
    }
}

impl Timing {
    /// `VERBATIM_RECEIPT_WAIT` (`2s`, `500ms`) and `VERBATIM_IN_FLIGHT_GRACE_SECONDS`.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        let default = Self::default();
        Ok(Self {
            receipt_wait: vars
                .parsed(RECEIPT_WAIT_VAR, crate::intake::parse_wait)?
                .unwrap_or(default.receipt_wait),
            in_flight_grace: vars
                .parsed(IN_FLIGHT_GRACE_VAR, crate::intake::parse_in_flight_grace)?
                .unwrap_or(default.in_flight_grace),
        })
    }
}

/// The AWS resources a function works on, and how it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsNames {
    pub table: String,
    pub private_bucket: String,
    pub site_bucket: String,
    /// Presigned uploads' own bucket (it can expire them without the private bucket's object
    /// lock); `None`: under `staging/` in the private bucket.
    pub staging_bucket: Option<String>,
    /// The SSM parameter with the log's signing key; `None`: receipts are not signed and the
    /// log cannot be published (or, where resources may be created, a default one).
    pub signing_key_parameter: Option<String>,
    /// The name a new signing key gets: the public site's host.
    pub key_name: String,
}

impl AwsNames {
    /// `VERBATIM_TABLE`, `VERBATIM_PRIVATE_BUCKET`, `VERBATIM_SITE_BUCKET`, and optionally
    /// `VERBATIM_STAGING_BUCKET`, `VERBATIM_SIGNING_KEY_PARAMETER`, `VERBATIM_PUBLIC_URL`.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        let store = "the AWS store";
        Ok(Self {
            table: vars.required("VERBATIM_TABLE", store)?,
            private_bucket: vars.required("VERBATIM_PRIVATE_BUCKET", store)?,
            site_bucket: vars.required("VERBATIM_SITE_BUCKET", store)?,
            staging_bucket: vars.get(STAGING_BUCKET_VAR).map(str::to_owned),
            signing_key_parameter: vars.get(SIGNING_KEY_PARAMETER_VAR).map(str::to_owned),
            key_name: key_name(vars.get(PUBLIC_URL_VAR)),
        })
    }

    /// Names for a store whose resources are created on the spot (emulators, tests).
    pub fn new(table: &str, private_bucket: &str, site_bucket: &str) -> Self {
        Self {
            table: table.to_owned(),
            private_bucket: private_bucket.to_owned(),
            site_bucket: site_bucket.to_owned(),
            staging_bucket: None,
            signing_key_parameter: None,
            key_name: key_name(None),
        }
    }
}

/// The name a new signing key gets: the public site's host, else the local one.
pub fn key_name(public_url: Option<&str>) -> String {
    public_url
        .and_then(|url| {
            let host = url.split("://").nth(1)?.split(['/', ':']).next()?;
            signed_note::is_key_name_valid(host).then(|| host.to_owned())
        })
        .unwrap_or_else(|| crate::transparency::key::LOCAL_KEY_NAME.to_owned())
}

/// How the functions that send or receive mail reach people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Responses go to `{consultation}@{mail_domain}`.
    pub mail_domain: String,
    /// The public site, which also serves `/api/`: the base of every link in mail.
    pub public_url: String,
    /// The sender of receipts and list mail (an address of a verified SES identity).
    pub from: String,
}

impl MailSettings {
    /// `VERBATIM_MAIL_DOMAIN`, `VERBATIM_PUBLIC_URL`, and optionally `VERBATIM_MAIL_FROM`.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        let mail_domain = vars.required("VERBATIM_MAIL_DOMAIN", "mail")?;
        Ok(Self {
            from: vars
                .get("VERBATIM_MAIL_FROM")
                .map_or_else(|| format!("verbatim@{mail_domain}"), str::to_owned),
            public_url: vars
                .required(PUBLIC_URL_VAR, "mail")?
                .trim_end_matches('/')
                .to_owned(),
            mail_domain,
        })
    }
}

/// Where the admin function schedules closings (EventBridge Scheduler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleNames {
    pub group: String,
    /// The close function's ARN.
    pub target_arn: String,
    /// The role the scheduler assumes to invoke it.
    pub role_arn: String,
}

impl ScheduleNames {
    /// `VERBATIM_SCHEDULE_GROUP`, `VERBATIM_CLOSE_FUNCTION_ARN`, `VERBATIM_SCHEDULER_ROLE_ARN`.
    pub fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        let schedules = "closing schedules";
        Ok(Self {
            group: vars.required("VERBATIM_SCHEDULE_GROUP", schedules)?,
            target_arn: vars.required("VERBATIM_CLOSE_FUNCTION_ARN", schedules)?,
            role_arn: vars.required("VERBATIM_SCHEDULER_ROLE_ARN", schedules)?,
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_outcome_mail_rate_is_whole_messages_a_second() {
        assert_eq!(mail_pace("10"), Ok(std::time::Duration::from_millis(100)));
        assert_eq!(mail_pace(" 1 "), Ok(std::time::Duration::from_secs(1)));
        for bad in ["0", "1001", "2.5", "", "ten"] {
            assert!(mail_pace(bad).is_err(), "{bad}");
        }
    }
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bad_value_stops_the_start_naming_its_variable() {
        let error = Timing::from_vars(&vars(&[(IN_FLIGHT_GRACE_VAR, "soon")])).unwrap_err();
        assert_eq!(error.name, IN_FLIGHT_GRACE_VAR);
        assert!(
            error
                .to_string()
                .starts_with("VERBATIM_IN_FLIGHT_GRACE_SECONDS: ")
        );
        let error = Timing::from_vars(&vars(&[(RECEIPT_WAIT_VAR, "2 parsecs")])).unwrap_err();
        assert_eq!(error.name, RECEIPT_WAIT_VAR);
    }

    #[test]
    fn unset_and_empty_values_take_the_defaults() {
        assert_eq!(Timing::from_vars(&vars(&[])).unwrap(), Timing::default());
        assert_eq!(
            Timing::from_vars(&vars(&[(RECEIPT_WAIT_VAR, "")])).unwrap(),
            Timing::default()
        );
        let set = Timing::from_vars(&vars(&[
            (RECEIPT_WAIT_VAR, "500ms"),
            (IN_FLIGHT_GRACE_VAR, "12"),
        ]))
        .unwrap();
        assert_eq!(set.receipt_wait, Duration::from_millis(500));
        assert_eq!(set.in_flight_grace, SignedDuration::from_secs(12));
    }

    #[test]
    fn a_missing_name_says_what_needs_it() {
        let error = AwsNames::from_vars(&vars(&[("VERBATIM_TABLE", "t")])).unwrap_err();
        assert_eq!(error.name, "VERBATIM_PRIVATE_BUCKET");
        assert!(error.reason.contains("the AWS store"));
        let error = MailSettings::from_vars(&vars(&[("VERBATIM_MAIL_DOMAIN", "m.org")]));
        assert_eq!(error.unwrap_err().name, PUBLIC_URL_VAR);
    }

    #[test]
    fn names_come_with_their_options() {
        let names = AwsNames::from_vars(&vars(&[
            ("VERBATIM_TABLE", "t"),
            ("VERBATIM_PRIVATE_BUCKET", "p"),
            ("VERBATIM_SITE_BUCKET", "s"),
            (STAGING_BUCKET_VAR, "u"),
            (PUBLIC_URL_VAR, "https://consultations.example.org/"),
        ]))
        .unwrap();
        assert_eq!(names.staging_bucket.as_deref(), Some("u"));
        assert_eq!(names.signing_key_parameter, None);
        assert_eq!(names.key_name, "consultations.example.org");
        let mail = MailSettings::from_vars(&vars(&[
            ("VERBATIM_MAIL_DOMAIN", "m.org"),
            (PUBLIC_URL_VAR, "https://c.org/"),
        ]))
        .unwrap();
        assert_eq!(mail.public_url, "https://c.org");
        assert_eq!(mail.from, "verbatim@m.org");
    }
}
