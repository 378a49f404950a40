//! The consultation's email list: subscribe (double opt-in), confirm, unsubscribe (one click,
//! RFC 8058, or by mail), and the fan-out of every published response to the confirmed
//! subscribers, with a link to its page and files (never the attachments themselves).
//!
//! The list follows publication: it mails responses `1..=published`, in order, and records how
//! far it got, so a restart resumes where it stopped. Delivery is at least once: a crash in the
//! middle of one response's fan-out sends that response again to the subscribers already served.

use std::sync::Arc;

use rand::Rng;
use thiserror::Error;

use crate::domain::site_paths::{self, Edition};
use crate::domain::subscription::MAIL_AT_MOST_EVERY;
use crate::domain::{
    ConsultationId, EmailAddress, Language, Localized, MailStop, Receipt, Status, Subscription,
    SubscriptionToken, ValidationError,
};
use crate::i18n::messages;
use crate::ports::{
    Clock, Consultations, ListHeaders, Mailer, ObjectStore, OutgoingMail, PublicationState,
    Responses, StoreError, Subscriptions,
};

/// Responses read from the store per batch while mailing the list.
const BATCH: u64 = 100;

#[derive(Debug, Error)]
pub enum ListError {
    #[error("there is no consultation {0}")]
    NoSuchConsultation(ConsultationId),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(
        "the consultation {0} is closed: its list will send nothing more, so it takes no new subscribers"
    )]
    Closed(ConsultationId),
    #[error("this link is not valid; copy the whole link from the message, or subscribe again")]
    UnknownToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ListError {
    /// What the person is told, in any language; `None` for a storage failure (retried).
    pub fn text(&self) -> Option<(Option<&str>, crate::domain::Text)> {
        use crate::domain::{Arg, Text};
        Some(match self {
            Self::NoSuchConsultation(id) => (
                None,
                Text::with("err_no_consultation", [("consultation", Arg::plain(id))]),
            ),
            Self::Invalid(v) => (Some(v.field.as_str()), v.message.clone()),
            Self::Closed(id) => (
                None,
                Text::with("err_list_closed", [("consultation", Arg::plain(id))]),
            ),
            Self::UnknownToken => (None, Text::key("err_list_unknown_token")),
            Self::Store(_) => return None,
        })
    }
}

/// What a confirmation or unsubscribe link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChange {
    pub consultation: ConsultationId,
    /// The consultation's title in every language given, for the page that says what
    /// happened (in the reader's language).
    pub title: Localized,
}

pub struct EmailList {
    pub consultations: Arc<dyn Consultations>,
    pub responses: Arc<dyn Responses>,
    pub publication: Arc<dyn PublicationState>,
    pub subscriptions: Arc<dyn Subscriptions>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    /// The public site, which also serves `/api/` (e.g. `https://consultations.example.org`).
    pub public_url: String,
    pub mail_domain: String,
    /// The private record, where the outcome's texts are read from for its mail.
    pub private: Arc<dyn ObjectStore>,
    /// At most one outcome mail each this long (the mailer's sending rate).
    pub mail_pace: std::time::Duration,
}

impl EmailList {
    /// Asks `address` to confirm a subscription. The answer is the same whether or not the
    /// address is subscribed already (that stays private); the mail says which.
    /// The list writes to the subscriber in `language` (the subscribe form's), from the
    /// confirmation request on.
    pub async fn subscribe(
        &self,
        consultation: &ConsultationId,
        address: &str,
        language: Language,
    ) -> Result<ListChange, ListError> {
        let address = EmailAddress::parse(address)?;
        let (title, status) = self.title_and_status(consultation).await?;
        // A closed consultation's list sends nothing more: no new subscribers.
        if status == Status::Closed {
            return Err(ListError::Closed(consultation.clone()));
        }
        let request = Subscription::request(
            consultation.clone(),
            address,
            rand::rng().random(),
            self.clock.now(),
        )
        .in_language(language);
        let stored = self.subscriptions.request(&request).await?;
        // One mail per address per hour, whatever the requests: only the request that records
        // this mail sends it (the first for a new subscription; later ones once an hour has
        // passed). The requester is answered the same either way: nothing tells them.
        let now = self.clock.now();
        if !stored.may_mail(now)
            || !self
                .subscriptions
                .record_mailed(consultation, &stored.subscriber, stored.mailed_at, now)
                .await?
        {
            tracing::info!(consultation = %consultation, "a subscription mail was sent within the hour; not sent again");
            return Ok(ListChange {
                consultation: consultation.clone(),
                title,
            });
        }
        // The reply is in the language just used, even if an earlier request chose another.
        let mail = if stored.is_confirmed() {
            self.already_subscribed_mail(&stored, &title, language)
        } else {
            self.confirmation_mail(&stored, &title, language)
        };
        if let Err(e) = self.mailer.send(&mail).await {
            // Not sent, so not the hour's mail: the request's retry (the form again, or the
            // message's next delivery) sends it, rather than being taken for a repeat.
            let before = stored.mailed_at.unwrap_or(now - MAIL_AT_MOST_EVERY);
            if let Err(undo) = self
                .subscriptions
                .record_mailed(consultation, &stored.subscriber, Some(now), before)
                .await
            {
                tracing::warn!(consultation = %consultation, error = %undo, "a subscription mail not sent stays recorded: the next one can go in an hour");
            }
            return Err(e.into());
        }
        Ok(ListChange {
            consultation: consultation.clone(),
            title,
        })
    }

    /// Confirms the subscription a confirmation link names.
    pub async fn confirm(&self, token: &str) -> Result<ListChange, ListError> {
        let (subscription, title) = self.by_token(token).await?;
        let now = self.clock.now();
        if !self
            .subscriptions
            .confirm(&subscription.consultation, &subscription.subscriber, now)
            .await?
        {
            return Err(ListError::UnknownToken);
        }
        Ok(ListChange {
            consultation: subscription.consultation,
            title,
        })
    }

    /// Removes the subscription an unsubscribe link names. Using the link again is fine: the
    /// subscription is gone either way.
    pub async fn unsubscribe(&self, token: &str) -> Result<ListChange, ListError> {
        let token = SubscriptionToken::parse(token).ok_or(ListError::UnknownToken)?;
        let title = self.title(&token.consultation).await?;
        let change = ListChange {
            consultation: token.consultation.clone(),
            title,
        };
        match self
            .subscriptions
            .subscription(&token.consultation, &token.subscriber)
            .await?
        {
            None => Ok(change),
            Some(s) if s.accepts(&token) => {
                // Stopped first: nothing about this consultation (its outcome included) goes
                // to the address again, even if it also responded.
                self.subscriptions
                    .stop_mail(
                        &s.subscriber,
                        &MailStop::Unsubscribed(s.consultation.clone()),
                    )
                    .await?;
                self.subscriptions
                    .remove(&s.consultation, &s.subscriber)
                    .await?;
                tracing::info!(consultation = %s.consultation, "unsubscribed by link");
                Ok(change)
            }
            Some(_) => Err(ListError::UnknownToken),
        }
    }

    /// `{id}+unsubscribe@`: removes the sender's subscription and tells the address so (which
    /// also tells its owner if someone else forged the request).
    pub async fn unsubscribe_address(
        &self,
        consultation: &ConsultationId,
        address: &str,
    ) -> Result<(), ListError> {
        let address = EmailAddress::parse(address)?;
        let title = self.title(consultation).await?;
        let subscriber = crate::domain::SubscriberId::of(&address);
        let language = self
            .subscriptions
            .subscription(consultation, &subscriber)
            .await?
            .map_or(Language::En, |s| s.language);
        self.subscriptions
            .stop_mail(&subscriber, &MailStop::Unsubscribed(consultation.clone()))
            .await?;
        if self.subscriptions.remove(consultation, &subscriber).await? {
            let m = messages(language);
            let title = title.get(language).1;
            let mail = OutgoingMail {
                to: address.to_string(),
                subject: m.f("mail_unsubscribed_subject", &[("title", &title)]),
                text: m.f(
                    "mail_unsubscribed_text",
                    &[
                        ("title", &title),
                        ("consultation", consultation),
                        ("address", &self.address(consultation, "+unsubscribe")),
                        ("page", &self.consultation_page(consultation, language)),
                    ],
                ),
                in_reply_to: None,
                list: None,
            };
            self.mailer.send(&mail).await?;
        }
        Ok(())
    }

    /// A delivery failure report said mail to `address` failed for good: nothing more goes
    /// there, from any consultation; and when the report came back from `consultation`'s list
    /// mail, the address leaves that list.
    pub async fn bounced(
        &self,
        address: &EmailAddress,
        consultation: Option<&ConsultationId>,
    ) -> Result<(), StoreError> {
        tracing::info!(consultation = ?consultation.map(|c| c.as_str()), "an address bounced; no more mail goes to it");
        let subscriber = crate::domain::SubscriberId::of(address);
        self.subscriptions
            .stop_mail(&subscriber, &MailStop::Bounced)
            .await?;
        if let Some(consultation) = consultation {
            self.subscriptions.remove(consultation, &subscriber).await?;
        }
        Ok(())
    }

    /// Mails every published response the list has not sent yet to every confirmed subscriber.
    /// Returns how many messages were sent.
    pub async fn notify(&self, consultation: &ConsultationId) -> Result<u64, ListError> {
        let published = self.publication.published(consultation).await?;
        let mut notified = self.subscriptions.notified(consultation).await?;
        if notified >= published {
            return Ok(0);
        }
        let subscribers = self.subscriptions.confirmed(consultation).await?;
        if subscribers.is_empty() {
            // Nobody to write to: one mark for the whole batch, not a write per response.
            self.subscriptions
                .set_notified(consultation, published)
                .await?;
            return Ok(0);
        }
        let title = self.title(consultation).await?;
        let mut sent = 0;
        while notified < published {
            let last = published.min(notified + BATCH);
            let batch = self
                .responses
                .range(consultation, notified + 1..=last)
                .await?;
            for response in batch {
                let receipt = response.receipt();
                for subscriber in &subscribers {
                    self.mailer
                        .send(&self.response_mail(subscriber, &title, &receipt))
                        .await?;
                    sent += 1;
                }
                self.subscriptions
                    .set_notified(consultation, receipt.number)
                    .await?;
            }
            notified = last;
        }
        Ok(sent)
    }

    async fn by_token(&self, token: &str) -> Result<(Subscription, Localized), ListError> {
        let token = SubscriptionToken::parse(token).ok_or(ListError::UnknownToken)?;
        let subscription = self
            .subscriptions
            .subscription(&token.consultation, &token.subscriber)
            .await?
            .filter(|s| s.accepts(&token))
            .ok_or(ListError::UnknownToken)?;
        let title = self.title(&token.consultation).await?;
        Ok((subscription, title))
    }

    async fn title(&self, consultation: &ConsultationId) -> Result<Localized, ListError> {
        Ok(self.title_and_status(consultation).await?.0)
    }

    /// The consultation's title (in English, for mail) and where it stands now.
    async fn title_and_status(
        &self,
        consultation: &ConsultationId,
    ) -> Result<(Localized, Status), ListError> {
        let record = self
            .consultations
            .get(consultation)
            .await?
            .ok_or_else(|| ListError::NoSuchConsultation(consultation.clone()))?;
        let c = &record.consultation;
        Ok((c.title.clone(), c.status_at(self.clock.now())))
    }

    fn address(&self, consultation: &ConsultationId, suffix: &str) -> String {
        format!("{consultation}{suffix}@{}", self.mail_domain)
    }

    /// A page of the site in `language`'s edition (English unprefixed, as it always was).
    pub(super) fn page(&self, path: &str, language: Language) -> String {
        let edition = match language {
            Language::En => Edition::DEFAULT,
            other => Edition::of(other),
        };
        format!("{}{}", self.public_url, edition.url(path))
    }

    fn consultation_page(&self, consultation: &ConsultationId, language: Language) -> String {
        self.page(&site_paths::consultation_url(consultation), language)
    }

    /// A confirmation or unsubscribe link; its page answers in the subscriber's language.
    pub(super) fn link(&self, action: &str, subscription: &Subscription) -> String {
        format!(
            "{}/api/subscriptions/{action}?token={}&lang={}",
            self.public_url,
            subscription.token(),
            subscription.language.code()
        )
    }

    pub(super) fn list_headers(&self, subscription: &Subscription) -> ListHeaders {
        ListHeaders {
            id: format!("<{}.{}>", subscription.consultation, self.mail_domain),
            unsubscribe_url: self.link("unsubscribe", subscription),
            unsubscribe_mailto: self.address(&subscription.consultation, "+unsubscribe"),
            returns_to: self.address(&subscription.consultation, "+bounces"),
        }
    }

    fn confirmation_mail(
        &self,
        s: &Subscription,
        title: &Localized,
        language: Language,
    ) -> OutgoingMail {
        let m = messages(language);
        let title = title.get(language).1;
        let link = self.link("confirm", &s.clone().in_language(language));
        OutgoingMail {
            to: s.address.to_string(),
            subject: m.f("mail_confirm_subject", &[("title", &title)]),
            text: m.f(
                "mail_confirm_text",
                &[
                    ("title", &title),
                    ("consultation", &s.consultation),
                    ("link", &link),
                    ("button", &m.t("list_confirm_button")),
                ],
            ),
            in_reply_to: None,
            list: None,
        }
    }

    fn already_subscribed_mail(
        &self,
        s: &Subscription,
        title: &Localized,
        language: Language,
    ) -> OutgoingMail {
        let m = messages(language);
        let title = title.get(language).1;
        OutgoingMail {
            to: s.address.to_string(),
            subject: m.f("mail_already_subject", &[("title", &title)]),
            text: m.f(
                "mail_already_text",
                &[
                    ("title", &title),
                    ("consultation", &s.consultation),
                    ("link", &self.link("unsubscribe", s)),
                ],
            ),
            in_reply_to: None,
            list: Some(self.list_headers(s)),
        }
    }

    /// A published response, for one subscriber, in their language.
    fn response_mail(
        &self,
        s: &Subscription,
        title: &Localized,
        receipt: &Receipt,
    ) -> OutgoingMail {
        let language = s.language;
        let m = messages(language);
        let from = [
            Some(receipt.name.as_str()),
            receipt.organization.as_deref(),
            receipt.country.as_ref().map(|c| c.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let page = format!(
            "{}#response-{}",
            self.page(
                &site_paths::page_url(&receipt.consultation, site_paths::page_of(receipt.number)),
                language
            ),
            receipt.number
        );
        let received = receipt
            .received_at
            .parse()
            .map(|at| m.geneva_time(at))
            .unwrap_or_else(|_| receipt.received_at.clone());
        let mut text = m.f(
            "mail_response_text",
            &[
                ("number", &receipt.number),
                ("title", &title.get(language).1),
                ("consultation", &receipt.consultation),
                ("from", &from),
                ("received", &received),
                ("channel", &m.channel_name(receipt.channel)),
                ("page", &page),
            ],
        );
        text.push('\n');
        for file in &receipt.files {
            text.push_str(&format!(
                "  {}  ({}, {} {})\n    {}{}\n",
                file.name,
                m.p("bytes", file.size, &[]),
                m.t("sha256"),
                file.sha256,
                self.public_url,
                file.url
            ));
        }
        text.push_str("\n--\n");
        text.push_str(&m.f(
            "mail_list_footer",
            &[("link", &self.link("unsubscribe", s))],
        ));
        text.push('\n');
        OutgoingMail {
            to: s.address.to_string(),
            subject: m.f(
                "mail_response_subject",
                &[
                    ("consultation", &receipt.consultation),
                    ("number", &receipt.number),
                    ("name", &receipt.name),
                ],
            ),
            text,
            in_reply_to: None,
            list: Some(self.list_headers(s)),
        }
    }
}
