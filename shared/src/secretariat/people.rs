//! The Secretariat's people: adding, removing and resetting accounts (the `verbatim admin`
//! commands and the console's account pages), signing in and out, sessions, and setting up a
//! second factor. One use case for the command line, the console and the API alike.

use std::sync::Arc;

use jiff::Timestamp;

use crate::domain::ValidationError;
use crate::domain::account::{
    Account, AccountName, Password, PasswordHash, SESSION_TOUCH_EVERY, Session, SessionId,
    TotpSecret,
};
use crate::ports::{Accounts, Clock, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the name {0} is taken: choose another")]
    Taken(AccountName),
    #[error("there is no account {0}")]
    NoSuchAccount(AccountName),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in was refused. Which of name, password or code was wrong is never said (OWASP
/// Authentication Cheat Sheet, "Authentication and Error Messages").
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the name, password or code is not right")]
    Refused,
    /// Too many failures: every attempt is refused until `until`, the right password included.
    #[error("too many failed sign-ins: try again after {until}")]
    Locked { until: Timestamp },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Someone signed in, as a request knows them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: Account,
    pub session: Session,
}

pub struct People {
    pub accounts: Arc<dyn Accounts>,
    pub clock: Arc<dyn Clock>,
}

/// Hashing is slow on purpose: it runs on the blocking pool, not on the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("password hashing does not panic")
}

impl People {
    pub async fn add(
        &self,
        name: AccountName,
        password: Password,
        admin: bool,
    ) -> Result<Account, AccountError> {
        let now = self.clock.now();
        let account = blocking(move || Account::new(name, &password, admin, now)).await;
        match self.accounts.create_account(&account).await {
            Ok(()) => {
                tracing::info!(account = %account.name, admin, "account added");
                Ok(account)
            }
            Err(StoreError::Conflict(_)) => Err(AccountError::Taken(account.name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn remove(&self, name: &AccountName) -> Result<(), AccountError> {
        if !self.accounts.remove_account(name).await? {
            return Err(AccountError::NoSuchAccount(name.clone()));
        }
        tracing::info!(account = %name, "account removed");
        Ok(())
    }

    /// A new password; every session of the account ends.
    pub async fn reset_password(
        &self,
        name: &AccountName,
        password: Password,
    ) -> Result<(), AccountError> {
        let account = self.get(name).await?;
        let account = blocking(move || account.with_password(&password)).await;
        if !self.accounts.replace_account(&account).await? {
            return Err(AccountError::NoSuchAccount(name.clone()));
        }
        tracing::info!(account = %name, "password reset");
        Ok(())
    }

    pub async fn get(&self, name: &AccountName) -> Result<Account, AccountError> {
        self.accounts
            .account(name)
            .await?
            .ok_or_else(|| AccountError::NoSuchAccount(name.clone()))
    }

    pub async fn list(&self) -> Result<Vec<Account>, AccountError> {
        Ok(self.accounts.accounts().await?)
    }

    /// Sets up the second factor, once the person shows a code of `secret` from their app.
    pub async fn set_totp(
        &self,
        name: &AccountName,
        secret: TotpSecret,
        code: &str,
    ) -> Result<(), AccountError> {
        let Some(step) = secret.matching_step(code, self.clock.now()) else {
            return Err(ValidationError::new("code", "is not the code the app shows now").into());
        };
        let mut account = self.get(name).await?;
        account.totp = Some(secret);
        account.totp_last_step = Some(step);
        if !self.accounts.replace_account(&account).await? {
            return Err(AccountError::NoSuchAccount(name.clone()));
        }
        tracing::info!(account = %name, "second factor set up");
        Ok(())
    }

    /// Checks the name, password and (if the account has one) TOTP code, unless the name is
    /// locked; starts a session. Failures are counted per name, existing or not.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<(SessionId, SignedIn), SignInError> {
        let now = self.clock.now();
        let Ok(name) = AccountName::parse(name.trim()) else {
            let given = password.to_owned();
            blocking(move || PasswordHash::verify_nothing(&given)).await;
            return Err(SignInError::Refused);
        };
        let throttle = self.accounts.throttle(&name).await?;
        if let (true, Some(until)) = (throttle.is_locked(now), throttle.locked_until) {
            return Err(SignInError::Locked { until });
        }
        let account = self.accounts.account(&name).await?;
        let given = password.to_owned();
        let (account, password_ok) = blocking(move || match account {
            Some(account) => {
                let ok = account.password.verify(&given);
                (Some(account), ok)
            }
            None => {
                PasswordHash::verify_nothing(&given);
                (None, false)
            }
        })
        .await;
        // The second factor: a code of the account's secret, of a later step than the last
        // code used (`Some(None)`: the account has none).
        let second_factor = account.as_ref().and_then(|account| match &account.totp {
            None => Some(None),
            Some(secret) => code
                .and_then(|code| secret.matching_step(code, now))
                .filter(|step| account.totp_last_step.is_none_or(|last| *step > last))
                .map(Some),
        });
        // A code is good once: its step is recorded in one atomic step, so of two sign-ins
        // racing with one code (one seen over a shoulder, say) only one gets in.
        let accepted = match (&account, second_factor) {
            (Some(account), Some(Some(step))) if password_ok => {
                self.accounts.use_totp_step(&account.name, step).await?
            }
            (Some(_), Some(None)) => password_ok,
            _ => false,
        };
        let account = match account {
            Some(mut account) if accepted => {
                if let Some(Some(step)) = second_factor {
                    account.totp_last_step = Some(step);
                }
                account
            }
            _ => {
                let throttle = self.accounts.record_failure(&name, now).await?;
                tracing::warn!(account = %name, failures = throttle.failures, locked = throttle.is_locked(now), "sign-in refused");
                return match throttle.locked_until {
                    Some(until) if throttle.is_locked(now) => Err(SignInError::Locked { until }),
                    _ => Err(SignInError::Refused),
                };
            }
        };
        self.accounts.clear_failures(&name).await?;
        let id = SessionId::generate();
        let session = Session {
            account: account.name.clone(),
            epoch: account.session_epoch,
            created_at: now,
            last_seen: now,
        };
        self.accounts.start_session(&id.key(), &session).await?;
        tracing::info!(account = %account.name, "signed in");
        Ok((id, SignedIn { account, session }))
    }

    /// The person a session id belongs to, if the session is live and its account unchanged
    /// (not removed, no password reset since); records the request for the idle timeout.
    pub async fn signed_in(&self, id: &SessionId) -> Result<Option<SignedIn>, StoreError> {
        let now = self.clock.now();
        let key = id.key();
        let Some(session) = self.accounts.session(&key).await? else {
            return Ok(None);
        };
        if !session.is_live(now) {
            self.accounts.end_session(&key).await?;
            return Ok(None);
        }
        let Some(account) = self.accounts.account(&session.account).await? else {
            return Ok(None);
        };
        if !session.is_of(&account) {
            return Ok(None);
        }
        if now.duration_since(session.last_seen) >= SESSION_TOUCH_EVERY {
            self.accounts.touch_session(&key, now).await?;
        }
        Ok(Some(SignedIn { account, session }))
    }

    pub async fn sign_out(&self, id: &SessionId) -> Result<(), StoreError> {
        self.accounts.end_session(&id.key()).await
    }
}
