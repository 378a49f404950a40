//! Making the Group's outcome known (Res. 1344: the results of the Group's work are made known
//! to all ITU members, international organizations and stakeholders): each version the
//! Secretariat publishes is mailed, in the background, to the consultation's list (its
//! confirmed subscribers) and to every respondent who gave an address, each in their language
//! where known, with a one-click link to stop.
//!
//! - **Never twice.** Before each mail the run claims it in the store (one mark per address and
//!   version); only the first claim sends. A run that dies between claim and send leaves that
//!   address unmailed: for a message sent once to thousands, never twice wins.
//! - **Never against a wish.** An address that bounced (anywhere) or unsubscribed from the
//!   consultation gets nothing ([`MailStop`]).
//! - **Resumable and paced.** Progress is saved as the run goes (subscribers, then respondents
//!   by number), so a run cut short (a crash, Lambda's time limit, the `until` it was given)
//!   resumes where it stopped; mail goes out at most at the mailer's rate.
//! - **Only the latest version** is mailed: a version superseded before its mailing finished
//!   is not finished (its readers get the newer one, which says it replaces the one before).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::list::{EmailList, ListError};
use crate::domain::outcome::{OutcomeVersion, private_key, text_file_name};
use crate::domain::site_paths;
use crate::domain::{
    Consultation, ConsultationId, EmailAddress, Language, MailingStage, OutcomeMailing,
    Subscription,
};
use crate::i18n::messages;
use crate::ports::{ObjectKey, OutgoingMail};

/// Responses read from the store per batch while looking for respondents' addresses.
const BATCH: u64 = 100;

/// The mail rate when the host sets none: SES's lowest production sending rate is 14 a second.
pub const DEFAULT_MAIL_PACE: Duration = Duration::from_millis(100);

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutcomeMailed {
    /// Mails sent by this run.
    pub sent: u64,
    /// Whether the latest version's mailing is complete (else a later run goes on).
    pub finished: bool,
}

/// Who a mail goes to, and so why they get it and how they stop it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    Subscriber,
    Respondent,
}

/// One run's state: the mails sent, the pace, and when it must stop.
struct Run {
    sent: u64,
    next_send: Instant,
    pace: Duration,
    until: Option<Instant>,
    /// The texts of the version read so far, by language (`None`: not in that language).
    texts: BTreeMap<Language, Option<String>>,
}

impl Run {
    fn out_of_time(&self) -> bool {
        self.until.is_some_and(|until| Instant::now() >= until)
    }

    /// Waits for the next slot of the pace.
    async fn pace(&mut self) {
        tokio::time::sleep_until(self.next_send).await;
        self.next_send = Instant::now().max(self.next_send) + self.pace;
    }
}

impl EmailList {
    /// Mails the consultation's latest outcome version to whoever has not had it yet, until
    /// done or `until`. Cheap when there is nothing to do: one read of the consultation, and
    /// one of the mailing's progress if it has an outcome.
    pub async fn mail_outcome(
        &self,
        consultation: &ConsultationId,
        until: Option<Instant>,
    ) -> Result<OutcomeMailed, ListError> {
        let record = self
            .consultations
            .get(consultation)
            .await?
            .ok_or_else(|| ListError::NoSuchConsultation(consultation.clone()))?;
        let c = &record.consultation;
        let Some(latest) = c.outcome.last() else {
            return Ok(OutcomeMailed {
                sent: 0,
                finished: true,
            });
        };
        let saved = self.subscriptions.outcome_mailing(consultation).await?;
        if !saved.is_due(latest.version) {
            return Ok(OutcomeMailed {
                sent: 0,
                finished: true,
            });
        }
        let mut mailing = saved.resume(latest.version);
        let mut run = Run {
            sent: 0,
            next_send: Instant::now(),
            pace: self.mail_pace,
            until,
            texts: BTreeMap::new(),
        };
        let finished = loop {
            match mailing.stage {
                MailingStage::Subscribers => {
                    for s in self.subscriptions.confirmed(consultation).await? {
                        if run.out_of_time() {
                            break;
                        }
                        self.mail_one(c, latest, &s, Audience::Subscriber, &mut run)
                            .await?;
                    }
                    if run.out_of_time() {
                        break false;
                    }
                    mailing.stage = MailingStage::Respondents { through: 0 };
                }
                MailingStage::Respondents { through } => {
                    let published = self.publication.published(consultation).await?;
                    if through >= published {
                        mailing.stage = MailingStage::Done;
                        continue;
                    }
                    let last = published.min(through + BATCH);
                    let mut done = through;
                    for response in self
                        .responses
                        .range(consultation, through + 1..=last)
                        .await?
                    {
                        if run.out_of_time() {
                            break;
                        }
                        let submitter = &response.response.submitter;
                        if let Some(address) = submitter
                            .email
                            .as_deref()
                            .and_then(|a| EmailAddress::parse(a).ok())
                        {
                            self.mail_respondent(c, latest, address, submitter.language, &mut run)
                                .await?;
                        }
                        done = response.number;
                    }
                    if !run.out_of_time() {
                        // Numbers never stored in the batch are done too.
                        done = last;
                    }
                    mailing.stage = MailingStage::Respondents { through: done };
                    // A batch's progress is kept before the next: a crash repeats at most
                    // one batch's reads (and sends nothing twice: the claims hold).
                    self.save(consultation, &mailing).await?;
                    if run.out_of_time() {
                        break false;
                    }
                }
                MailingStage::Done => break true,
            }
        };
        self.save(consultation, &mailing).await?;
        tracing::info!(consultation = %consultation, version = latest.version, sent = run.sent, finished, "outcome mailed");
        Ok(OutcomeMailed {
            sent: run.sent,
            finished,
        })
    }

    async fn save(
        &self,
        consultation: &ConsultationId,
        mailing: &OutcomeMailing,
    ) -> Result<(), ListError> {
        Ok(self
            .subscriptions
            .save_outcome_mailing(consultation, mailing)
            .await?)
    }

    /// A respondent's mail: the unsubscribe link needs a record with a secret, so the address
    /// gets a list record (unconfirmed: the list's own mail still needs a confirmation), or
    /// keeps the one it has.
    async fn mail_respondent(
        &self,
        c: &Consultation,
        version: &OutcomeVersion,
        address: EmailAddress,
        language: Option<Language>,
        run: &mut Run,
    ) -> Result<(), ListError> {
        let subscriber = crate::domain::SubscriberId::of(&address);
        // Stopped before a record is made: an address that unsubscribed is not stored again.
        if !self.claim(&c.id, version.version, &subscriber).await?
            || self.stopped(&c.id, &subscriber).await?
        {
            return Ok(());
        }
        let request = Subscription::request(
            c.id.clone(),
            address,
            rand::rng().random(),
            self.clock.now(),
        )
        .in_language(language.unwrap_or(Language::En));
        let stored = match self.subscriptions.request(&request).await {
            Ok(stored) => stored,
            Err(e) => {
                self.release(&c.id, version.version, &subscriber).await;
                return Err(e.into());
            }
        };
        let stored = match language {
            Some(language) => stored.in_language(language),
            None => stored,
        };
        self.send_claimed(c, version, &stored, Audience::Respondent, run)
            .await
    }

    async fn mail_one(
        &self,
        c: &Consultation,
        version: &OutcomeVersion,
        s: &Subscription,
        audience: Audience,
        run: &mut Run,
    ) -> Result<(), ListError> {
        if !self.claim(&c.id, version.version, &s.subscriber).await?
            || self.stopped(&c.id, &s.subscriber).await?
        {
            return Ok(());
        }
        self.send_claimed(c, version, s, audience, run).await
    }

    /// Whether the address asked for no mail about the consultation, or bounced (a claim made
    /// then stays: nothing is owed to it).
    async fn stopped(
        &self,
        consultation: &ConsultationId,
        subscriber: &crate::domain::SubscriberId,
    ) -> Result<bool, ListError> {
        Ok(self
            .subscriptions
            .mail_stopped(consultation, subscriber)
            .await?)
    }

    /// Claims the mail of `version` to `subscriber`: false if it is someone else's (sent, or
    /// being sent).
    async fn claim(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &crate::domain::SubscriberId,
    ) -> Result<bool, ListError> {
        Ok(self
            .subscriptions
            .claim_outcome_mail(consultation, version, subscriber)
            .await?)
    }

    async fn release(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &crate::domain::SubscriberId,
    ) {
        if let Err(e) = self
            .subscriptions
            .release_outcome_mail(consultation, version, subscriber)
            .await
        {
            tracing::warn!(consultation = %consultation, error = %e, "an outcome mail not sent stays claimed: that address will not get this version");
        }
    }

    /// Sends a claimed mail. One the mailer refuses gives its claim back and stops the run, to
    /// be retried.
    async fn send_claimed(
        &self,
        c: &Consultation,
        version: &OutcomeVersion,
        s: &Subscription,
        audience: Audience,
        run: &mut Run,
    ) -> Result<(), ListError> {
        let text = self.text_in(c, version, s.language, run).await?;
        let mail = self.outcome_mail(c, version, s, audience, text.as_deref());
        run.pace().await;
        if let Err(e) = self.mailer.send(&mail).await {
            self.release(&c.id, version.version, &s.subscriber).await;
            return Err(e.into());
        }
        run.sent += 1;
        Ok(())
    }

    /// The version's text in `language`, if it has one, read once a run from the private
    /// record (the bytes published).
    async fn text_in(
        &self,
        c: &Consultation,
        version: &OutcomeVersion,
        language: Language,
        run: &mut Run,
    ) -> Result<Option<String>, ListError> {
        if let Some(known) = run.texts.get(&language) {
            return Ok(known.clone());
        }
        let name = text_file_name(language);
        let text = if version.texts.iter().any(|t| t.name == name) {
            let key = ObjectKey::parse(private_key(&c.id, &version.folder, &name))
                .map_err(|e| crate::ports::StoreError::backend("naming an outcome text", e))?;
            match self.private.get(&key).await? {
                Some(object) => {
                    let bytes = object.into_bytes().await.map_err(|e| {
                        crate::ports::StoreError::backend("reading an outcome text", e)
                    })?;
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                None => None,
            }
        } else {
            None
        };
        run.texts.insert(language, text.clone());
        Ok(text)
    }

    fn outcome_mail(
        &self,
        c: &Consultation,
        version: &OutcomeVersion,
        s: &Subscription,
        audience: Audience,
        text_in_language: Option<&str>,
    ) -> OutgoingMail {
        let language = s.language;
        let m = messages(language);
        let title = c.title.get(language).1;
        let mut body = m.f(
            "mail_outcome_text",
            &[
                ("title", &title),
                ("consultation", &c.id),
                (
                    "page",
                    &self.page(&site_paths::outcome_url(&c.id), language),
                ),
            ],
        );
        body.push('\n');
        if version.version > 1 {
            body.push('\n');
            body.push_str(&m.f("mail_outcome_version", &[("version", &version.version)]));
            body.push('\n');
        }
        if let Some(text) = text_in_language {
            body.push('\n');
            body.push_str(m.t("mail_outcome_your_text"));
            body.push_str("\n\n");
            body.push_str(text.trim_end());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(m.t("mail_outcome_documents"));
        body.push('\n');
        for file in version.files() {
            body.push_str(&format!(
                "  {}  ({}, {} {})\n    {}{}\n",
                file.name,
                m.p("bytes", file.size, &[]),
                m.t("sha256"),
                file.sha256,
                self.public_url,
                site_paths::outcome_file_url(&c.id, &version.folder, &file.name)
            ));
        }
        body.push_str("\n--\n");
        let footer = match audience {
            Audience::Subscriber => "mail_list_footer",
            Audience::Respondent => "mail_outcome_footer_respondent",
        };
        body.push_str(&m.f(footer, &[("link", &self.link("unsubscribe", s))]));
        body.push('\n');
        OutgoingMail {
            to: s.address.to_string(),
            subject: m.f(
                "mail_outcome_subject",
                &[("consultation", &c.id), ("title", &title)],
            ),
            text: body,
            in_reply_to: None,
            list: Some(self.list_headers(s)),
        }
    }
}
