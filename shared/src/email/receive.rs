//! A response by email becomes a response like any other: same numbering, same deadline, same
//! page and manifest. The original message is published as `message.eml`, each attachment as
//! its own file, the text body as `response.txt`. What cannot be published (late, too early,
//! bounces, auto-replies) is kept privately, never lost.

use std::sync::Arc;

use crate::domain::deadline::human_geneva;
use crate::domain::media::classify;
use crate::domain::{
    Channel, ConsultationId, Language, Receipt, Refusal, ResponseId, SubmitterFields,
    sanitize_file_name,
};
use crate::email::list::{EmailList, ListError};
use crate::email::message::{InboundMessage, MessageKind};
use crate::i18n::{Catalogue, messages};
use crate::intake::spool::{Spool, SpooledFile};
use crate::intake::{Intake, IntakeError, Submission, Submitted};
use crate::ports::{
    Body, Consultations, Mailer, ObjectKey, ObjectMeta, ObjectStore, OutgoingMail, PutMode,
    StoreError,
};

/// The whole message as received, the first file of every email response.
pub const MESSAGE_FILE_NAME: &str = "message.eml";
/// SES accepts messages up to 40 MB; so does the local SMTP listener.
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;

/// What an address at the mail domain asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// `{consultation}@domain`: a response.
    Respond(ConsultationId),
    /// `{consultation}+subscribe@domain` / `+unsubscribe`: the consultation's email list.
    Subscribe(ConsultationId),
    Unsubscribe(ConsultationId),
    /// `{consultation}+bounces@domain`: what comes back from the list's mail (delivery
    /// failures, automatic replies). Kept, never answered.
    Returned(ConsultationId),
}

impl Recipient {
    pub fn consultation(&self) -> &ConsultationId {
        match self {
            Recipient::Respond(id)
            | Recipient::Subscribe(id)
            | Recipient::Unsubscribe(id)
            | Recipient::Returned(id) => id,
        }
    }
}

/// Reads `address` as one of Verbatim's addresses at `domain` (case-insensitive).
pub fn recipient(address: &str, domain: &str) -> Option<Recipient> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, at) = address.rsplit_once('@')?;
    if !at.eq_ignore_ascii_case(domain) {
        return None;
    }
    let local = local.to_ascii_lowercase();
    let (id, action) = match local.split_once('+') {
        Some((id, action)) => (id.to_owned(), Some(action.to_owned())),
        None => (local, None),
    };
    let id = ConsultationId::parse(&id).ok()?;
    match action.as_deref() {
        None => Some(Recipient::Respond(id)),
        Some("subscribe") => Some(Recipient::Subscribe(id)),
        Some("unsubscribe") => Some(Recipient::Unsubscribe(id)),
        Some("bounces") => Some(Recipient::Returned(id)),
        Some(_) => None,
    }
}

/// Why a message was kept rather than published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    AutoReply,
    Bounce,
    Late,
    NotOpenYet,
    /// A list request with no address to answer.
    NoSender,
}

impl Kept {
    /// Its folder, where the Secretariat finds it (see `domain::kept`).
    fn folder(self) -> &'static str {
        use crate::domain::kept::KeptReason;
        match self {
            Kept::AutoReply => KeptReason::AutoReplies,
            Kept::Bounce => KeptReason::Bounces,
            Kept::Late => KeptReason::Late,
            Kept::NotOpenYet => KeptReason::Early,
            Kept::NoSender => KeptReason::NoSender,
        }
        .code()
    }
}

/// How long a message's receipt waits for the response's number before saying it is stored
/// and will be numbered (the SMTP client waits meanwhile: RFC 5321 allows it ten minutes).
const NUMBER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug)]
pub enum Outcome {
    Published(Receipt),
    /// Stored, not yet numbered: the receipt mail says so and links the consultation's page.
    Pending(crate::domain::PendingReceipt),
    /// The same message again: the first delivery's receipt, nothing new stored or sent.
    Repeated(Receipt),
    Kept(Kept),
    /// A request to the consultation's list, answered by mail.
    Subscribed,
    Unsubscribed,
}

pub struct EmailIntake {
    pub intake: Arc<Intake>,
    pub consultations: Arc<dyn Consultations>,
    pub private: Arc<dyn ObjectStore>,
    pub mailer: Arc<dyn Mailer>,
    pub list: Arc<EmailList>,
    pub mail_domain: String,
    /// Where the public site is, for links in receipts (e.g. `https://consultations.example.org`).
    pub public_url: String,
}

impl EmailIntake {
    /// For `RCPT TO`: what the address asks for, or why it is refused.
    pub async fn accepts(&self, address: &str) -> Result<Recipient, String> {
        let Some(recipient) = recipient(address, &self.mail_domain) else {
            return Err(format!(
                "{address} is not an address of this service: write to <consultation>@{}",
                self.mail_domain
            ));
        };
        let id = recipient.consultation();
        match self.consultations.get(id).await {
            Ok(Some(_)) => Ok(recipient),
            Ok(None) => Err(format!("there is no consultation {id}")),
            Err(e) => Err(format!(
                "cannot check the address now ({e}); try again later"
            )),
        }
    }

    /// Answers a message sent to an address `accepts` refused (on AWS, SES takes mail for any
    /// address at the domain), unless it is a bounce or an auto-reply. Nothing is stored.
    pub async fn refuse(&self, message: &InboundMessage, reason: &str) {
        if message.kind == MessageKind::Response {
            let subject = "Your message was not delivered".to_owned();
            let url = format!("{}/", self.public_url);
            let text = with_other_languages(
                format!(
                    "Your message could not be taken: {reason}.\n\nThe open consultations are listed at {url}\n"
                ),
                |m| m.f("mail_undelivered_summary", &[("url", &url)]),
            );
            self.reply(message, (subject, text)).await;
        }
    }

    /// Takes a message stored whole before anyone read it (on AWS, by SES's receipt rule),
    /// once for each of this service's addresses it was sent to (SES gives no envelope: the
    /// headers say who it was for). Only a storage failure is an error, so that the caller
    /// retries; anything else about the message is answered or logged. `name` names the
    /// message in the logs.
    pub async fn take_stored(&self, name: &str, raw: &[u8]) -> Result<(), StoreError> {
        let addresses: Vec<String> = crate::email::message::delivered_to(raw)
            .into_iter()
            .filter(|a| recipient(a, &self.mail_domain).is_some())
            .collect();
        if addresses.is_empty() {
            tracing::warn!(%name, "no address of this service in the message; left in place");
            return Ok(());
        }
        // Read once, however many consultations it was sent to.
        let message = crate::email::message::parse(raw, None);
        for address in addresses {
            let to = match self.accepts(&address).await {
                Ok(to) => to,
                Err(reason) => {
                    tracing::info!(%name, %address, %reason, "refused");
                    self.refuse(&message, &reason).await;
                    continue;
                }
            };
            match self.deliver(&to, raw, &message).await {
                Ok(outcome) => tracing::info!(%name, %address, ?outcome, "message taken"),
                Err(IntakeError::Store(e)) => return Err(e),
                // The stored message stays where it is: nothing is lost.
                Err(e) => tracing::error!(%name, %address, error = %e, "message not taken"),
            }
        }
        Ok(())
    }

    /// Takes one message for one of Verbatim's addresses: a response, or a list request.
    /// `message` is `raw` as [`crate::email::message::parse`] read it, once for all the addresses it was sent to.
    pub async fn deliver(
        &self,
        to: &Recipient,
        raw: &[u8],
        message: &InboundMessage,
    ) -> Result<Outcome, IntakeError> {
        // A delivery failure report stops mail to the addresses it says failed, wherever it
        // came (list mail's come to `+bounces`; others may come to any address).
        if message.kind == MessageKind::Bounce {
            let from_list = match to {
                Recipient::Returned(consultation) => Some(consultation),
                _ => None,
            };
            for address in crate::email::message::failed_recipients(raw) {
                self.list.bounced(&address, from_list).await?;
            }
        }
        // Bounces and auto-replies are kept, never taken as a response or a list request;
        // whatever else comes back to `+bounces` is kept with them.
        if let Some(automatic) = automatic(message) {
            return self.keep(to.consultation(), message, raw, automatic).await;
        }
        match to {
            Recipient::Returned(consultation) => {
                self.keep(consultation, message, raw, Kept::Bounce).await
            }
            Recipient::Respond(consultation) => self.receive(consultation, raw, message).await,
            Recipient::Subscribe(consultation) | Recipient::Unsubscribe(consultation) => {
                self.list_request(to, consultation, raw, message).await
            }
        }
    }

    /// `+subscribe` / `+unsubscribe`: the From address asks. A subscription still needs the
    /// confirmation link mailed to that address, so a forged From cannot subscribe anyone.
    async fn list_request(
        &self,
        to: &Recipient,
        consultation: &ConsultationId,
        raw: &[u8],
        message: &InboundMessage,
    ) -> Result<Outcome, IntakeError> {
        let Some(address) = message.from_address.as_deref() else {
            return self.keep(consultation, message, raw, Kept::NoSender).await;
        };
        let subscribing = matches!(to, Recipient::Subscribe(_));
        let result = if subscribing {
            // A mail names no language: the list writes in English until the subscriber
            // subscribes again from a page in another.
            self.list
                .subscribe(consultation, address, crate::domain::Language::En)
                .await
                .map(|_| ())
        } else {
            self.list.unsubscribe_address(consultation, address).await
        };
        match result {
            Ok(()) => {}
            Err(ListError::Store(e)) => return Err(e.into()),
            Err(refusal) => {
                let subject = format!("Your request to the list of {consultation}");
                let text = with_other_languages(format!("{refusal}\n"), |m| match refusal.text() {
                    Some((Some(field), rule)) => m.field_rule(field, &rule),
                    Some((None, text)) => m.render(&text),
                    None => String::new(),
                });
                self.reply(message, (subject, text)).await;
            }
        }
        Ok(if subscribing {
            Outcome::Subscribed
        } else {
            Outcome::Unsubscribed
        })
    }

    /// Takes one message for one consultation. Errors are temporary (storage): the sender's
    /// mail server, or the S3 event, delivers again, and the derived id makes that harmless.
    async fn receive(
        &self,
        consultation: &ConsultationId,
        raw: &[u8],
        message: &InboundMessage,
    ) -> Result<Outcome, IntakeError> {
        let (submission, skipped) = self.submission(consultation, message, raw).await?;
        let submitted = match self.intake.submit(consultation, submission).await {
            // Mail is not in a hurry: the receipt waits for the number a while longer.
            Ok(Submitted::Pending(pending)) => self
                .intake
                .wait_for_number(consultation, &pending.id, NUMBER_WAIT)
                .await
                .map(|numbered| numbered.map_or(Submitted::Pending(pending), Submitted::Numbered)),
            other => other,
        };
        match submitted {
            Ok(Submitted::Numbered(receipt)) => {
                let mail = receipt_mail(&receipt, &skipped, &self.public_url);
                self.send_receipt(consultation, &receipt.id, message, mail)
                    .await?;
                Ok(Outcome::Published(receipt))
            }
            Ok(Submitted::Pending(pending)) => {
                let mail = pending_mail(&pending, &self.public_url);
                self.send_receipt(consultation, &pending.id, message, mail)
                    .await?;
                Ok(Outcome::Pending(pending))
            }
            // Delivered again: nothing new is stored, and the receipt is sent only if no
            // receipt went out before (its sending failed, and the failure asked for this).
            Err(IntakeError::AlreadyStored(existing)) => {
                let receipt = self.intake.receipt_of(&existing);
                let mail = receipt_mail(&receipt, &skipped, &self.public_url);
                self.send_receipt(consultation, &receipt.id, message, mail)
                    .await?;
                Ok(Outcome::Repeated(receipt))
            }
            Err(IntakeError::Refused(refusal)) => {
                let kept = match refusal {
                    Refusal::Closed { .. } => Kept::Late,
                    Refusal::NotOpen { .. } => Kept::NotOpenYet,
                };
                let outcome = self.keep(consultation, message, raw, kept).await?;
                self.reply(message, refusal_mail(consultation, refusal))
                    .await;
                Ok(outcome)
            }
            Err(e) => Err(e),
        }
    }

    async fn submission(
        &self,
        consultation: &ConsultationId,
        message: &InboundMessage,
        raw: &[u8],
    ) -> Result<(Submission, LeftInside), IntakeError> {
        let mut files = vec![spool(MESSAGE_FILE_NAME, raw, Some("message/rfc822")).await?];
        let mut skipped = LeftInside {
            max_files: self.intake.limits.max_files,
            ..LeftInside::default()
        };
        for (index, attachment) in message.attachments.iter().enumerate() {
            let name = attachment
                .name
                .clone()
                .unwrap_or_else(|| format!("attachment-{}", index + 1));
            // Files the web form would refuse stay inside message.eml, not published alone.
            if classify(&sanitize_file_name(&name), &attachment.bytes).is_err() {
                skipped.of_type.push(name);
                continue;
            }
            // A response carries as many files as the web form allows (message.eml is one):
            // the rest stay inside message.eml, which is published whole.
            if files.len() >= self.intake.limits.max_files {
                skipped.over_limit.push(name);
                continue;
            }
            files.push(spool(&name, &attachment.bytes, None).await?);
        }
        let text = match &message.text {
            Some(text) => Some(spool("", text, None).await?),
            None => None,
        };
        let submission = Submission {
            id: Some(ResponseId::derived(&[
                consultation.as_str().as_bytes(),
                message.digest.as_bytes(),
            ])),
            channel: Channel::Email,
            fields: SubmitterFields {
                name: Some(message.submitter_name()),
                email: message.from_address.clone(),
                ..Default::default()
            },
            text,
            // A message cannot be split by question: it stays one text and its attachments.
            answers: Default::default(),
            files,
            // A message says nothing reliable about its writer's language.
            language: None,
        };
        Ok((submission, skipped))
    }

    /// Keeps a message that is not published, under `mail/{why}/{consultation}/{digest}.eml`.
    async fn keep(
        &self,
        consultation: &ConsultationId,
        message: &InboundMessage,
        raw: &[u8],
        why: Kept,
    ) -> Result<Outcome, IntakeError> {
        let key = ObjectKey::parse(format!(
            "mail/{}/{consultation}/{}.eml",
            why.folder(),
            message.digest
        ))
        .map_err(|e| StoreError::backend("naming a kept message", e))?;
        let meta = ObjectMeta {
            content_type: "message/rfc822".to_owned(),
            content_disposition: None,
        };
        let body = Body::Bytes(bytes::Bytes::copy_from_slice(raw));
        match self
            .private
            .put(&key, body, &meta, PutMode::CreateNew)
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(consultation = %consultation, kept = why.folder(), "email kept, not published");
        Ok(Outcome::Kept(why))
    }

    /// Sends a stored response's receipt once: unless one went out for it already (a repeated
    /// delivery), and then records that it did. A failure to send is an error, after the
    /// response is stored: the sender's mail server (SMTP 451) or the S3 event (a failed
    /// invocation) delivers the message again, which stores nothing new and sends the receipt.
    async fn send_receipt(
        &self,
        consultation: &ConsultationId,
        response: &ResponseId,
        message: &InboundMessage,
        (subject, text): (String, String),
    ) -> Result<(), IntakeError> {
        let Some(mail) = answer_to(message, subject, text) else {
            return Ok(());
        };
        let sent = receipt_sent_key(consultation, response)?;
        if self.private.get(&sent).await?.is_some() {
            return Ok(());
        }
        self.mailer.send(&mail).await?;
        let meta = ObjectMeta {
            content_type: "text/plain".to_owned(),
            content_disposition: None,
        };
        match self
            .private
            .put(
                &sent,
                Body::Bytes(Default::default()),
                &meta,
                PutMode::CreateNew,
            )
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            // Sent, not recorded: a later repeated delivery may send it a second time.
            Err(e) => tracing::warn!(error = %e, %response, "recording a sent receipt failed"),
        }
        Ok(())
    }

    /// Answers the sender, unless the message asks not to be answered (`Precedence: bulk`…);
    /// a failure to send is logged, never a reason to lose the response.
    async fn reply(&self, message: &InboundMessage, (subject, text): (String, String)) {
        let Some(mail) = answer_to(message, subject, text) else {
            return;
        };
        if let Err(e) = self.mailer.send(&mail).await {
            tracing::error!(error = %e, "sending a reply failed");
        }
    }
}

/// The answer to `message`, unless it has no sender or asks not to be answered
/// (`Precedence: bulk`…).
fn answer_to(message: &InboundMessage, subject: String, text: String) -> Option<OutgoingMail> {
    let to = message
        .from_address
        .as_ref()
        .filter(|_| !message.no_reply)?;
    Some(OutgoingMail {
        to: to.clone(),
        subject,
        text,
        in_reply_to: message.message_id.clone(),
        list: None,
    })
}

/// Where the private store records that a response's receipt was mailed (an empty object).
fn receipt_sent_key(
    consultation: &ConsultationId,
    response: &ResponseId,
) -> Result<ObjectKey, IntakeError> {
    ObjectKey::parse(format!("receipts-sent/{consultation}/{response}"))
        .map_err(|e| StoreError::backend("naming a receipt's record", e).into())
}

/// Bounces and auto-replies are kept and never answered (no mail loops).
fn automatic(message: &InboundMessage) -> Option<Kept> {
    match message.kind {
        MessageKind::AutoReply => Some(Kept::AutoReply),
        MessageKind::Bounce => Some(Kept::Bounce),
        MessageKind::Response => None,
    }
}

async fn spool(
    name: &str,
    bytes: &[u8],
    media_type: Option<&'static str>,
) -> Result<SpooledFile, IntakeError> {
    let io = |e: std::io::Error| IntakeError::Store(StoreError::backend("spooling a message", e));
    let mut spool = Spool::create(name).map_err(io)?;
    spool.write(bytes).await.map_err(io)?;
    let mut file = spool.finish(name.to_owned()).await.map_err(io)?;
    file.media_type = media_type;
    Ok(file)
}

/// Mail says nothing of its sender's language: the reply is the English text (which carries
/// the details: file names, SHA-256, the log's proof, the same in any language), then its gist
/// in each of the other five, headed by the language's own name, so every sender finds a
/// sentence they read without the details being repeated six times.
fn with_other_languages(mut english: String, gist: impl Fn(&Catalogue) -> String) -> String {
    english.push_str("\n--\n");
    for lang in Language::ALL.into_iter().filter(|l| *l != Language::En) {
        let m = messages(lang);
        english.push_str(&format!("{}: {}\n", m.t("language_name"), gist(m)));
    }
    english
}

/// Attachments not published as files of their own: they stay, unchanged, inside
/// `message.eml`.
#[derive(Debug, Default)]
struct LeftInside {
    /// Of a type the consultation does not publish as a separate file.
    of_type: Vec<String>,
    /// Past `max_files`, the number of files one response may carry.
    over_limit: Vec<String>,
    max_files: usize,
}

fn receipt_mail(receipt: &Receipt, skipped: &LeftInside, public_url: &str) -> (String, String) {
    let mut text = format!(
        "Your response to the consultation {} was received at {} and is number {}.\n\
         It is published unedited; each file is listed with the SHA-256 of its exact bytes:\n\n",
        receipt.consultation, receipt.received_at, receipt.number
    );
    for file in &receipt.files {
        text.push_str(&format!(
            "  {}\n    {} bytes, SHA-256 {}\n    {}{}\n",
            file.name, file.size, file.sha256, public_url, file.url
        ));
    }
    if !skipped.of_type.is_empty() {
        text.push_str(&format!(
            "\nThese attachments are of a type the consultation does not publish as separate files; \
             they remain, unchanged, inside message.eml: {}\n",
            skipped.of_type.join(", ")
        ));
    }
    if !skipped.over_limit.is_empty() {
        text.push_str(&format!(
            "\nA response carries at most {} files, message.eml included; these {} attachments \
             remain, unchanged, inside message.eml: {}\n",
            skipped.max_files,
            skipped.over_limit.len(),
            skipped.over_limit.join(", ")
        ));
    }
    text.push_str(&format!("\nResponse id: {}\n", receipt.id));
    text.push_str(&crate::site::log_pages::receipt_text(receipt));
    let received = receipt.received_at.parse::<jiff::Timestamp>().ok();
    let text = with_other_languages(text, |m| {
        m.f(
            "mail_receipt_summary",
            &[
                ("number", &receipt.number),
                ("consultation", &receipt.consultation),
                (
                    "received",
                    &received.map_or_else(|| receipt.received_at.clone(), |at| m.geneva_time(at)),
                ),
            ],
        )
    });
    (
        format!(
            "Response {} received: {}",
            receipt.number, receipt.consultation
        ),
        text,
    )
}

/// A receipt without a number yet: what was received, and where the number will appear.
fn pending_mail(pending: &crate::domain::PendingReceipt, public_url: &str) -> (String, String) {
    let page = format!(
        "{public_url}{}",
        crate::domain::site_paths::consultation_url(&pending.consultation)
    );
    let mut text = format!(
        "Your response to the consultation {} was received at {} and is stored. Its number is \
         being assigned; the response will be listed, unedited, at {page}\n\n",
        pending.consultation, pending.received_at
    );
    for file in &pending.files {
        text.push_str(&format!(
            "  {}\n    {} bytes, SHA-256 {}\n",
            file.name, file.size, file.sha256
        ));
    }
    text.push_str(&format!("\nResponse id: {}\n", pending.id));
    let text = with_other_languages(text, |m| {
        m.f(
            "mail_pending_summary",
            &[("consultation", &pending.consultation), ("url", &page)],
        )
    });
    (format!("Response received: {}", pending.consultation), text)
}

fn refusal_mail(consultation: &ConsultationId, refusal: Refusal) -> (String, String) {
    match refusal {
        Refusal::Closed { deadline } => (
            format!("Consultation {consultation} is closed"),
            with_other_languages(
                format!(
                    "The consultation {consultation} closed at {} ({} UTC). Your message arrived after \
                     the deadline, so it is not published; it has been kept by the Secretariat.\n",
                    human_geneva(deadline),
                    deadline.strftime("%Y-%m-%d %H:%M:%S")
                ),
                |m| {
                    m.f(
                        "mail_late_summary",
                        &[
                            ("consultation", consultation),
                            ("deadline", &m.geneva_time(deadline)),
                        ],
                    )
                },
            ),
        ),
        Refusal::NotOpen { opens_at } => (
            format!("Consultation {consultation} is not open yet"),
            with_other_languages(
                format!(
                    "The consultation {consultation} opens at {}. Your message arrived before that, so \
                     it is not published; it has been kept by the Secretariat. Please send your \
                     response again once the consultation is open.\n",
                    human_geneva(opens_at)
                ),
                |m| {
                    m.f(
                        "mail_early_summary",
                        &[
                            ("consultation", consultation),
                            ("opens", &m.geneva_time(opens_at)),
                        ],
                    )
                },
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let d = "consultations.example.org";
        let id = || ConsultationId::parse("net-2027").unwrap();
        assert_eq!(
            recipient("net-2027@consultations.example.org", d),
            Some(Recipient::Respond(id()))
        );
        assert_eq!(
            recipient("<NET-2027@Consultations.Example.org>", d),
            Some(Recipient::Respond(id()))
        );
        assert_eq!(
            recipient("net-2027+subscribe@consultations.example.org", d),
            Some(Recipient::Subscribe(id()))
        );
        assert_eq!(
            recipient("net-2027+unsubscribe@consultations.example.org", d),
            Some(Recipient::Unsubscribe(id()))
        );
        assert_eq!(
            recipient("net-2027+other@consultations.example.org", d),
            None
        );
        assert_eq!(recipient("net-2027@elsewhere.org", d), None);
        assert_eq!(recipient("no_such id@consultations.example.org", d), None);
        assert_eq!(recipient("not an address", d), None);
    }

    #[test]
    fn list_refusals_have_words_in_every_language() {
        let id = ConsultationId::parse("net-2027").unwrap();
        let closed = ListError::Closed(id);
        let (field, text) = closed.text().unwrap();
        assert_eq!(field, None);
        assert_eq!(
            messages(Language::Fr).render(&text),
            "la consultation net-2027 est close : sa liste n'enverra plus rien, elle n'accepte donc plus d'abonnés"
        );
        let invalid = ListError::Invalid(crate::domain::EmailAddress::parse("nope").unwrap_err());
        let (field, text) = invalid.text().unwrap();
        assert_eq!(field, Some("email"));
        assert_eq!(
            messages(Language::Es).render(&text),
            "no es una dirección de correo electrónico (nombre@example.org)"
        );
    }

    #[test]
    fn replies_to_mail_keep_the_english_details_and_add_every_other_language() {
        let id = ConsultationId::parse("net-2027").unwrap();
        let deadline: jiff::Timestamp = "2027-02-28T22:59:59.999Z".parse().unwrap();
        let (subject, text) = refusal_mail(&id, Refusal::Closed { deadline });
        assert_eq!(subject, "Consultation net-2027 is closed");
        assert!(text.starts_with("The consultation net-2027 closed at 28 February 2027"));
        let (english, others) = text.split_once("\n--\n").unwrap();
        assert!(english.contains("2027-02-28 22:59:59 UTC"));
        let lines: Vec<&str> = others.lines().collect();
        assert_eq!(lines.len(), 5, "{others}");
        assert!(lines[0].starts_with("العربية: "));
        assert!(lines[2].starts_with("Français: "));
        assert!(
            others.contains("Français: Votre message à la consultation net-2027 est arrivé après la date limite (28 février 2027, 23:59, heure de Genève (UTC+01:00))"),
            "{others}"
        );
        assert!(others.contains("中文: "), "{others}");
        assert!(others.contains("Русский: Ваше письмо в консультацию net-2027 пришло после"));
    }
}
