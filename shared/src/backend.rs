//! Wiring: every port bound to one storage backend, embedded (files + SQLite) or AWS (S3 +
//! DynamoDB), and the services built on them. Functions and the local host start here.

use std::sync::Arc;

use crate::closing::Closer;
use crate::domain::limits::Limits;
use crate::email::list::EmailList;
use crate::http::admin::{AdminState, AdminToken};
use crate::http::intake::IntakeState;
use crate::intake::Intake;
use crate::intake::uploads::Uploads;
use crate::ports::UploadStaging;
use crate::ports::{
    Clock, CloseScheduler, Consultations, Mailer, ObjectStore, PublicationState, PublishQueue,
    Responses, Subscriptions,
};
use crate::secretariat::Secretariat;

/// Allowance for clocks of different machines disagreeing, on top of the in-flight grace.
const CLOCK_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);
use crate::publish::Publisher;
use crate::transparency::LogKey;

/// The environment variable naming the SSM SecureString parameter that holds the signing key.
pub const SIGNING_KEY_PARAMETER_VAR: &str = "VERBATIM_SIGNING_KEY_PARAMETER";

/// The environment variable naming the bucket for presigned uploads (optional).
pub const STAGING_BUCKET_VAR: &str = "VERBATIM_STAGING_BUCKET";

/// The parameter used when none is named and resources may be created (emulators, first runs).
pub const DEFAULT_SIGNING_KEY_PARAMETER: &str = "/verbatim/log-signing-key";

/// The name a new key gets: the public site's host (`VERBATIM_PUBLIC_URL`), else the local one.
#[cfg(feature = "aws")]
pub fn log_key_name_from_env() -> String {
    std::env::var("VERBATIM_PUBLIC_URL")
        .ok()
        .and_then(|url| {
            let host = url
                .split("://")
                .nth(1)?
                .split(['/', ':'])
                .next()?
                .to_owned();
            signed_note::is_key_name_valid(&host).then_some(host)
        })
        .unwrap_or_else(|| crate::adapters::signing_key::LOCAL_KEY_NAME.to_owned())
}

#[cfg(any(feature = "embedded", feature = "aws"))]
use crate::ports::StoreError;

/// The ports of one storage backend.
#[derive(Clone)]
pub struct Backend {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub publication: Arc<dyn PublicationState>,
    /// The email lists' subscribers (private).
    pub subscriptions: Arc<dyn Subscriptions>,
    /// Originals and anything not public.
    pub private: Arc<dyn ObjectStore>,
    /// The public site.
    pub site: Arc<dyn ObjectStore>,
    /// Presigned uploads waiting for their response (never published, short-lived).
    pub staging: Arc<dyn ObjectStore>,
    /// Grants clients a direct PUT into `staging`.
    pub presigner: Arc<dyn UploadStaging>,
    /// Signs the transparency logs and receipts (`None`: no key configured; receipts are then
    /// unsigned and publishing fails until one is).
    pub log_key: Option<Arc<LogKey>>,
    /// How long intake waits for a pending response's number before answering `202`.
    pub receipt_wait: std::time::Duration,
    /// How long a response may take from received to stored (see
    /// [`crate::intake::DEFAULT_IN_FLIGHT_GRACE`]); intake and closing share it.
    pub in_flight_grace: jiff::SignedDuration,
}

/// Names of the AWS resources, from the environment (the same variables on Lambda and locally).
#[derive(Debug, Clone)]
pub struct AwsNames {
    pub table: String,
    pub private_bucket: String,
    pub site_bucket: String,
}

impl AwsNames {
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("set {name} (the AWS store needs VERBATIM_TABLE, VERBATIM_PRIVATE_BUCKET and VERBATIM_SITE_BUCKET)"))
        };
        Ok(Self {
            table: var("VERBATIM_TABLE")?,
            private_bucket: var("VERBATIM_PRIVATE_BUCKET")?,
            site_bucket: var("VERBATIM_SITE_BUCKET")?,
        })
    }
}

/// How the functions that send or receive mail reach people, from their environment.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Responses go to `{consultation}@{mail_domain}`.
    pub mail_domain: String,
    /// The public site, which also serves `/api/`: the base of every link in mail.
    pub public_url: String,
    /// The sender of receipts and list mail (an address of a verified SES identity).
    pub from: String,
}

impl MailSettings {
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    format!("set {name} (mail needs VERBATIM_MAIL_DOMAIN and VERBATIM_PUBLIC_URL)")
                })
        };
        let mail_domain = var("VERBATIM_MAIL_DOMAIN")?;
        Ok(Self {
            from: var("VERBATIM_MAIL_FROM").unwrap_or_else(|_| format!("verbatim@{mail_domain}")),
            public_url: var("VERBATIM_PUBLIC_URL")?.trim_end_matches('/').to_owned(),
            mail_domain,
        })
    }

    /// Mail through SES, with the function's SDK settings (loaded once, shared with its store).
    #[cfg(feature = "aws")]
    pub fn ses_mailer(&self, config: &aws_config::SdkConfig) -> Arc<dyn Mailer> {
        Arc::new(crate::adapters::ses::SesMailer::new(
            aws_sdk_sesv2::Client::new(config),
            &self.from,
        ))
    }
}

impl Backend {
    /// The embedded store in `data_dir`: `verbatim.sqlite3`, `private/` and `site/`.
    #[cfg(feature = "embedded")]
    pub fn embedded(data_dir: &std::path::Path) -> Result<Self, StoreError> {
        use crate::adapters::fs::FsObjectStore;
        use crate::adapters::sqlite::SqliteStore;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::backend(format!("creating {}", data_dir.display()), e))?;
        let records = Arc::new(SqliteStore::open(&data_dir.join("verbatim.sqlite3"))?);
        let log_key = crate::adapters::signing_key::load_or_create_file(
            &data_dir.join("log-signing-key"),
            crate::adapters::signing_key::LOCAL_KEY_NAME,
        )?;
        let folder = |name: &str| {
            FsObjectStore::open(data_dir.join(name))
                .map_err(|e| StoreError::backend(format!("creating {name}/"), e))
        };
        Ok(Self {
            consultations: records.clone(),
            responses: records.clone(),
            publication: records.clone(),
            subscriptions: records,
            private: Arc::new(folder("private")?),
            site: Arc::new(folder("site")?),
            staging: Arc::new(folder("staging")?),
            presigner: Arc::new(crate::intake::uploads::LocalStaging),
            log_key: Some(Arc::new(log_key)),
            receipt_wait: crate::intake::DEFAULT_RECEIPT_WAIT,
            in_flight_grace: crate::intake::DEFAULT_IN_FLIGHT_GRACE,
        })
    }

    /// S3 and DynamoDB, configured by the SDK's standard environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials). With `create`, missing table and buckets are made.
    #[cfg(feature = "aws")]
    pub async fn aws(
        config: &aws_config::SdkConfig,
        names: &AwsNames,
        create: bool,
    ) -> Result<Self, StoreError> {
        use crate::adapters::{dynamodb, s3};
        let dynamo = aws_sdk_dynamodb::Client::new(config);
        let s3_client = s3::client(config);
        if create {
            dynamodb::ensure_table(&dynamo, &names.table).await?;
            s3::ensure_bucket(&s3_client, &names.private_bucket).await?;
            s3::ensure_bucket(&s3_client, &names.site_bucket).await?;
        }
        let parameter = std::env::var(SIGNING_KEY_PARAMETER_VAR)
            .ok()
            .filter(|p| !p.is_empty())
            .or_else(|| create.then(|| DEFAULT_SIGNING_KEY_PARAMETER.to_owned()));
        let log_key = match parameter {
            Some(parameter) => Some(Arc::new(
                crate::adapters::signing_key::from_ssm(
                    &aws_sdk_ssm::Client::new(config),
                    &parameter,
                    create,
                    &log_key_name_from_env(),
                )
                .await?,
            )),
            None => {
                tracing::warn!(
                    "{SIGNING_KEY_PARAMETER_VAR} is not set: receipts are not signed and the transparency log cannot be published"
                );
                None
            }
        };
        let records = Arc::new(dynamodb::DynamoStore::new(dynamo, &names.table));
        // Staged uploads go to their own bucket when one is named (it can expire them without
        // the private bucket's object lock), else under `staging/` in the private bucket.
        let staging_bucket = std::env::var(STAGING_BUCKET_VAR)
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| names.private_bucket.clone());
        if create {
            s3::ensure_bucket(&s3_client, &staging_bucket).await?;
        }
        Ok(Self {
            consultations: records.clone(),
            responses: records.clone(),
            publication: records.clone(),
            subscriptions: records,
            private: Arc::new(s3::S3ObjectStore::new(
                s3_client.clone(),
                &names.private_bucket,
            )),
            site: Arc::new(s3::S3ObjectStore::new(
                s3_client.clone(),
                &names.site_bucket,
            )),
            staging: Arc::new(s3::S3ObjectStore::new(s3_client.clone(), &staging_bucket)),
            presigner: Arc::new(s3::S3Staging::new(s3_client, &staging_bucket)),
            log_key,
            receipt_wait: crate::intake::DEFAULT_RECEIPT_WAIT,
            in_flight_grace: crate::intake::DEFAULT_IN_FLIGHT_GRACE,
        })
    }

    /// The AWS backend as a Lambda sees it: names and SDK settings from its environment.
    #[cfg(feature = "aws")]
    pub async fn aws_from_env() -> Result<Self, String> {
        let names = AwsNames::from_env()?;
        let config = aws_config::load_from_env().await;
        Self::aws(&config, &names, false)
            .await
            .map_err(|e| e.to_string())?
            .with_env_settings()
    }

    /// The settings an entry point may take from its environment, read once at start-up:
    /// `VERBATIM_RECEIPT_WAIT` (`2s`, `500ms`) and `VERBATIM_IN_FLIGHT_GRACE_SECONDS`. A value
    /// that does not parse is an error, never silently the default.
    pub fn with_env_settings(mut self) -> Result<Self, String> {
        if let Ok(raw) = std::env::var("VERBATIM_RECEIPT_WAIT") {
            self.receipt_wait = crate::intake::parse_wait(&raw)
                .map_err(|e| format!("VERBATIM_RECEIPT_WAIT: {e}"))?;
        }
        if let Ok(raw) = std::env::var(crate::intake::IN_FLIGHT_GRACE_VAR) {
            self.in_flight_grace = crate::intake::parse_in_flight_grace(&raw)?;
        }
        Ok(self)
    }

    pub fn intake_state(&self, clock: Arc<dyn Clock>, queue: Arc<dyn PublishQueue>) -> IntakeState {
        let intake = Arc::new(Intake {
            consultations: self.consultations.clone(),
            responses: self.responses.clone(),
            private: self.private.clone(),
            clock: clock.clone(),
            queue,
            in_flight_grace: self.in_flight_grace,
            limits: Limits::default(),
            receipt_wait: self.receipt_wait,
            log_key: self.log_key.clone(),
            recently_open: Default::default(),
        });
        IntakeState {
            uploads: Arc::new(Uploads {
                store: self.staging.clone(),
                staging: self.presigner.clone(),
                intake: intake.clone(),
                clock: clock.clone(),
            }),
            intake,
            consultations: self.consultations.clone(),
            clock,
            limits: Limits::default(),
        }
    }

    pub fn admin_state(
        &self,
        clock: Arc<dyn Clock>,
        queue: Arc<dyn PublishQueue>,
        scheduler: Arc<dyn CloseScheduler>,
        token: AdminToken,
    ) -> AdminState {
        AdminState {
            secretariat: Arc::new(Secretariat {
                consultations: self.consultations.clone(),
                clock,
                queue,
                scheduler,
            }),
            token: Arc::new(token),
        }
    }

    /// The closing, with a settle time of the in-flight grace plus a margin for clock skew.
    pub fn closer(&self, clock: Arc<dyn Clock>, queue: Arc<dyn PublishQueue>) -> Closer {
        Closer {
            consultations: self.consultations.clone(),
            responses: self.responses.clone(),
            private: self.private.clone(),
            site: self.site.clone(),
            queue,
            clock,
            settle: self.in_flight_grace + CLOCK_MARGIN,
            log_key: self.log_key.clone(),
        }
    }

    /// The consultations' email lists, mailing through `mailer` with links to `public_url`.
    pub fn email_list(
        &self,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        public_url: impl Into<String>,
        mail_domain: impl Into<String>,
    ) -> EmailList {
        EmailList {
            consultations: self.consultations.clone(),
            responses: self.responses.clone(),
            publication: self.publication.clone(),
            subscriptions: self.subscriptions.clone(),
            mailer,
            clock,
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            mail_domain: mail_domain.into(),
        }
    }

    pub fn publisher(&self, clock: Arc<dyn Clock>) -> Publisher {
        Publisher {
            consultations: self.consultations.clone(),
            responses: self.responses.clone(),
            publication: self.publication.clone(),
            private: self.private.clone(),
            site: self.site.clone(),
            clock,
            log_key: self.log_key.clone(),
        }
    }
}
