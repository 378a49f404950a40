//! Wiring: every port bound to one storage backend, embedded (files + SQLite) or AWS (S3 +
//! DynamoDB), and the services built on them. Functions and the local host start here.

use std::sync::Arc;

use crate::closing::Closer;
use crate::domain::limits::Limits;
use crate::email::list::EmailList;
use crate::email::receive::EmailIntake;
use crate::extract::Isolation;
use crate::http::admin::{AdminState, AdminToken};
use crate::http::intake::IntakeState;
use crate::intake::Intake;
use crate::intake::uploads::Uploads;
use crate::ports::{
    Accounts, Clock, CloseScheduler, Consultations, Mailer, ObjectStore, PublicationState,
    PublishQueue, Responses, Subscriptions, UploadStaging,
};
use crate::secretariat::Secretariat;

/// Allowance for clocks of different machines disagreeing, on top of the in-flight grace.
const CLOCK_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);
use crate::publish::Publisher;
use crate::transparency::LogKey;

/// The parameter used when none is named and resources may be created (emulators, first runs).
pub const DEFAULT_SIGNING_KEY_PARAMETER: &str = "/verbatim/log-signing-key";

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
    /// The Secretariat's accounts and console sessions (private).
    pub accounts: Arc<dyn Accounts>,
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

impl Backend {
    /// The embedded store in `data_dir`: `verbatim.sqlite3`, `private/` and `site/`.
    #[cfg(feature = "embedded")]
    pub fn embedded(data_dir: &std::path::Path) -> Result<Self, StoreError> {
        use crate::adapters::fs::FsObjectStore;
        use crate::adapters::sqlite::SqliteStore;
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::backend(format!("creating {}", data_dir.display()), e))?;
        // Records commit without a flush of their own: intake's flush of the private store
        // (and publication's of the site) flushes the database's file system too, so one
        // flush makes a batch's originals and records durable (see `adapters::sqlite`).
        let records = Arc::new(SqliteStore::open(&data_dir.join("verbatim.sqlite3"))?);
        let log_key = crate::adapters::signing_key::load_or_create_file(
            &data_dir.join("log-signing-key"),
            crate::transparency::key::LOCAL_KEY_NAME,
        )?;
        let folder = |name: &str| {
            FsObjectStore::open(data_dir.join(name))
                .and_then(|store| store.flushing_too(data_dir))
                .map_err(|e| StoreError::backend(format!("creating {name}/"), e))
        };
        let private = folder("private")?;
        // An original is stored if its file is there with its size; a name that cannot be a
        // key, or a file that cannot be looked at, is an error, never a reason to remove.
        let stored = |file: &crate::domain::StoredFile| -> std::io::Result<bool> {
            let key = crate::ports::ObjectKey::parse(file.original_key.clone())
                .map_err(std::io::Error::other)?;
            let Some(crate::ports::Location::File(path)) = private.location(&key) else {
                return Err(std::io::Error::other(
                    "the private store is not on this disk",
                ));
            };
            match std::fs::metadata(path) {
                Ok(found) => Ok(found.len() == file.size),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        };
        for (consultation, numbers) in records.drop_unflushed_tail(stored)? {
            tracing::error!(%consultation, first = numbers.start(), last = numbers.end(), "responses removed: the machine stopped before their files were flushed, so none was acknowledged; their numbers will be given again");
        }
        Ok(Self {
            consultations: records.clone(),
            responses: records.clone(),
            publication: records.clone(),
            subscriptions: records.clone(),
            accounts: records,
            private: Arc::new(private),
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
        names: &crate::settings::AwsNames,
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
        let parameter = names
            .signing_key_parameter
            .clone()
            .or_else(|| create.then(|| DEFAULT_SIGNING_KEY_PARAMETER.to_owned()));
        let log_key = match parameter {
            Some(parameter) => Some(Arc::new(
                crate::adapters::signing_key::from_ssm(
                    &aws_sdk_ssm::Client::new(config),
                    &parameter,
                    create,
                    &names.key_name,
                )
                .await?,
            )),
            None => {
                tracing::warn!(
                    "{} is not set: receipts are not signed and the transparency log cannot be published",
                    crate::settings::SIGNING_KEY_PARAMETER_VAR
                );
                None
            }
        };
        let records = Arc::new(dynamodb::DynamoStore::new(dynamo, &names.table));
        // Staged uploads go to their own bucket when one is named (it can expire them without
        // the private bucket's object lock), else under `staging/` in the private bucket.
        let staging_bucket = names
            .staging_bucket
            .clone()
            .unwrap_or_else(|| names.private_bucket.clone());
        if create {
            s3::ensure_bucket(&s3_client, &staging_bucket).await?;
        }
        Ok(Self {
            consultations: records.clone(),
            responses: records.clone(),
            publication: records.clone(),
            subscriptions: records.clone(),
            accounts: records,
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

    /// Only the accounts of the embedded store in `data_dir`, for `verbatim admin` while
    /// `verbatim serve` may be running on the same folder (SQLite's WAL mode lets both write;
    /// nothing of the responses is opened or repaired here).
    #[cfg(feature = "embedded")]
    pub fn embedded_accounts(data_dir: &std::path::Path) -> Result<Arc<dyn Accounts>, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::backend(format!("creating {}", data_dir.display()), e))?;
        Ok(Arc::new(crate::adapters::sqlite::SqliteStore::open(
            &data_dir.join("verbatim.sqlite3"),
        )?))
    }

    /// Only the accounts in the DynamoDB table, for `verbatim admin --store aws`.
    #[cfg(feature = "aws")]
    pub fn aws_accounts(
        config: &aws_config::SdkConfig,
        names: &crate::settings::AwsNames,
    ) -> Arc<dyn Accounts> {
        Arc::new(crate::adapters::dynamodb::DynamoStore::new(
            aws_sdk_dynamodb::Client::new(config),
            &names.table,
        ))
    }

    /// The Secretariat's people: accounts, sign-in and sessions.
    pub fn people(&self, clock: Arc<dyn Clock>) -> crate::secretariat::people::People {
        crate::secretariat::people::People {
            accounts: self.accounts.clone(),
            clock,
        }
    }

    /// How long intake waits for a number, and for a response received in time to be stored.
    pub fn with_timing(mut self, timing: crate::settings::Timing) -> Self {
        self.receipt_wait = timing.receipt_wait;
        self.in_flight_grace = timing.in_flight_grace;
        self
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
            people: Arc::new(self.people(clock.clone())),
            secretariat: Arc::new(Secretariat {
                consultations: self.consultations.clone(),
                clock,
                queue,
                scheduler,
                private: self.private.clone(),
                site: self.site.clone(),
                responses: self.responses.clone(),
                publication: self.publication.clone(),
            }),
            token: Arc::new(token),
            // Hosts that serve the console over HTTPS say so (see `verbatim serve` and the
            // admin function).
            console: Arc::new(crate::http::session::ConsoleSettings::default()),
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
            pdf: Isolation::current_exe(),
            health: Arc::default(),
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
            private: self.private.clone(),
            mail_pace: crate::email::outcome::DEFAULT_MAIL_PACE,
        }
    }

    /// Responses by email: the same intake as HTTP, and the list (its mailer, mail domain and
    /// public site) for subscription requests, receipts and replies.
    pub fn email_intake(&self, intake: Arc<Intake>, list: Arc<EmailList>) -> EmailIntake {
        EmailIntake {
            intake,
            consultations: self.consultations.clone(),
            private: self.private.clone(),
            mailer: list.mailer.clone(),
            mail_domain: list.mail_domain.clone(),
            public_url: list.public_url.clone(),
            list,
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
            cosigning: None,
            pdf: Isolation::current_exe(),
        }
    }

    /// The full-text search index of each consultation, built from what publication wrote.
    pub fn search_index(&self, clock: Arc<dyn Clock>) -> crate::search::SearchIndex {
        crate::search::SearchIndex {
            consultations: self.consultations.clone(),
            responses: self.responses.clone(),
            publication: self.publication.clone(),
            private: self.private.clone(),
            site: self.site.clone(),
            clock,
            rebuild_every: crate::search::REBUILD_EVERY,
            block_size: crate::search::BLOCK_SIZE,
        }
    }
}

/// Mail through SES, with the function's SDK settings (loaded once, shared with its store).
#[cfg(feature = "aws")]
pub fn ses_mailer(
    config: &aws_config::SdkConfig,
    mail: &crate::settings::MailSettings,
) -> Arc<dyn Mailer> {
    Arc::new(crate::adapters::ses::SesMailer::new(
        aws_sdk_sesv2::Client::new(config),
        &mail.from,
    ))
}
