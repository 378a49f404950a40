//! The local host's SMTP listener: real SMTP (mailin's state machine, tokio I/O) feeding the same
//! email intake as SES does on AWS. Unknown recipients are refused at `RCPT TO` (550), messages
//! over the limit at the end of `DATA` (552); a message is answered 250 only once it is stored.
//!
//! Bounded against hostile clients: a client that stays silent longer than [`SmtpLimits::idle`]
//! is told so (421) and dropped (RFC 5321 §4.5.3.2 allows a server to time out), [`serve`] runs a
//! bounded number of conversations at once (further connections wait to be accepted), and a
//! line is read up to [`MAX_LINE`] bytes at a time. The conversation itself
//! ([`converse`]) runs over any byte stream, so the fuzz target drives it as a client would.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::email::message::parse;
use crate::email::receive::{EmailIntake, Outcome, Recipient};

/// The longest command line accepted (RFC 5321 allows 512; data lines may be longer).
pub const MAX_LINE: usize = 64 * 1024;

/// The most distinct recipients one connection may name (RFC 5321 §4.5.3.1.8 asks servers to
/// take at least 100 in a message): each is looked up, and remembered for the connection.
pub const MAX_RECIPIENTS: usize = 100;

/// What one SMTP conversation may take.
#[derive(Debug, Clone, Copy)]
pub struct SmtpLimits {
    /// The largest message taken (552 beyond it).
    pub max_message_bytes: usize,
    /// How long the client may take to send a line (a command, or a line of a message).
    pub idle: Duration,
}

/// A message whose `DATA` has ended, handed from the protocol to the I/O loop.
struct Delivery {
    from: String,
    to: Vec<Recipient>,
    data: Vec<u8>,
}

/// What the I/O loop and the protocol handler share: recipients are checked by the loop
/// (async) before the handler sees them, and a finished message goes the other way.
#[derive(Default)]
struct Shared {
    known: HashMap<String, Recipient>,
    refused: HashMap<String, String>,
    done: Option<Delivery>,
    /// The message just ended was over the limit: answer 552.
    oversized: bool,
}

/// The per-connection protocol decisions.
struct Session {
    shared: Arc<Mutex<Shared>>,
    from: String,
    to: Vec<Recipient>,
    data: Vec<u8>,
    too_big: bool,
    max_bytes: usize,
}

impl Handler for Session {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let key = to.to_ascii_lowercase();
        let shared = self.shared.lock().unwrap();
        if let Some(recipient) = shared.known.get(&key) {
            self.to.push(recipient.clone());
            return mailin::response::OK;
        }
        let reason = shared
            .refused
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("{to} is not an address of this service"));
        Response::custom(550, format!("5.1.1 {reason}"))
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        self.too_big = false;
        mailin::response::START_DATA
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > self.max_bytes {
            self.too_big = true;
            self.data = Vec::new();
        } else if !self.too_big {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if self.too_big {
            // mailin stays in DATA after an error reply; an OK ends the transaction, and
            // the I/O loop turns it into the 552.
            self.shared.lock().unwrap().oversized = true;
            self.data = Vec::new();
            return mailin::response::OK;
        }
        self.shared.lock().unwrap().done = Some(Delivery {
            from: self.from.clone(),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        // Replaced by the I/O loop once the message is stored.
        mailin::response::OK
    }
}

/// Accepts connections until the process stops, at most `max_connections` conversations at
/// once (a further connection waits in the listen queue until one ends).
pub async fn serve(
    listener: TcpListener,
    email: Arc<EmailIntake>,
    limits: SmtpLimits,
    max_connections: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let email = email.clone();
                tokio::spawn(async move {
                    if let Err(e) = converse(stream, peer.ip(), email, limits).await {
                        tracing::debug!(error = %e, %peer, "SMTP connection ended");
                    }
                    drop(slot);
                });
            }
            Err(e) => tracing::warn!(error = %e, "accepting an SMTP connection"),
        }
    }
}

/// One SMTP conversation with the client at `peer`, over `stream`, until the client quits,
/// goes away or stays silent too long.
pub async fn converse<S>(
    stream: S,
    peer: IpAddr,
    email: Arc<EmailIntake>,
    limits: SmtpLimits,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let max_bytes = limits.max_message_bytes;
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let handler = Session {
        shared: shared.clone(),
        from: String::new(),
        to: Vec::new(),
        data: Vec::new(),
        too_big: false,
        max_bytes,
    };
    let builder = SessionBuilder::new(email.mail_domain.clone());
    let mut session = builder.build(peer, handler);
    write.write_all(&session.greeting().buffer()?).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut bounded = (&mut reader).take(MAX_LINE as u64);
        let read = bounded.read_until(b'\n', &mut line);
        let n = match tokio::time::timeout(limits.idle, read).await {
            Ok(n) => n?,
            Err(_) => {
                let bye = Response::custom(
                    421,
                    format!(
                        "4.4.2 {} no command for {} s: closing the connection",
                        email.mail_domain,
                        limits.idle.as_secs()
                    ),
                );
                write.write_all(&bye.buffer()?).await?;
                return Ok(());
            }
        };
        if n == 0 {
            return Ok(());
        }
        // Check a recipient (async) before the protocol sees it.
        if let Some(address) = rcpt_address(&line) {
            let key = address.to_ascii_lowercase();
            let full = {
                let shared = shared.lock().unwrap();
                let seen = shared.known.contains_key(&key) || shared.refused.contains_key(&key);
                !seen && shared.known.len() + shared.refused.len() >= MAX_RECIPIENTS
            };
            if full {
                let full = Response::custom(
                    452,
                    format!("4.5.3 at most {MAX_RECIPIENTS} recipients a connection"),
                );
                write.write_all(&full.buffer()?).await?;
                continue;
            }
            let verdict = email.accepts(&address).await;
            let mut shared = shared.lock().unwrap();
            match verdict {
                Ok(recipient) => {
                    shared.known.insert(key, recipient);
                }
                Err(reason) => {
                    shared.refused.insert(key, reason);
                }
            }
        }
        let mut response = session.process(&line);
        let (delivery, oversized) = {
            let mut shared = shared.lock().unwrap();
            (shared.done.take(), std::mem::take(&mut shared.oversized))
        };
        if oversized {
            response = Response::custom(
                552,
                format!("5.3.4 the message is larger than {max_bytes} bytes, the limit"),
            );
        } else if let Some(delivery) = delivery {
            response = deliver(&email, delivery).await;
        }
        match response.action {
            Action::Reply => write.write_all(&response.buffer()?).await?,
            Action::Close => {
                write.write_all(&response.buffer()?).await?;
                return Ok(());
            }
            Action::NoReply => {}
            Action::UpgradeTls => {
                write.write_all(&response.buffer()?).await?;
                return Ok(());
            }
        }
    }
}

/// The address of a `RCPT TO:<…>` line.
fn rcpt_address(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let rest = text
        .get(..8)?
        .eq_ignore_ascii_case("rcpt to:")
        .then(|| &text[8..])?;
    let address = rest.trim().trim_start_matches('<');
    let end = address.find('>').unwrap_or(address.len());
    Some(address[..end].to_owned())
}

async fn deliver(email: &EmailIntake, delivery: Delivery) -> Response {
    // Read once, however many consultations it was sent to.
    let message = parse(&delivery.data, Some(delivery.from.as_str()));
    let mut numbers = Vec::new();
    for recipient in &delivery.to {
        let consultation = recipient.consultation();
        match email.deliver(recipient, &delivery.data, &message).await {
            Ok(Outcome::Published(receipt) | Outcome::Repeated(receipt)) => {
                numbers.push(format!("{consultation} response {}", receipt.number));
            }
            Ok(Outcome::Pending(pending)) => numbers.push(format!(
                "{consultation} response {} stored, its number pending",
                pending.id
            )),
            Ok(Outcome::Kept(why)) => numbers.push(format!("{consultation} kept ({why:?})")),
            Ok(Outcome::Subscribed) => {
                numbers.push(format!("{consultation} list: confirmation link sent"))
            }
            Ok(Outcome::Unsubscribed) => numbers.push(format!("{consultation} list: unsubscribed")),
            Err(e) => {
                tracing::error!(error = %e, consultation = %consultation, "storing an email failed");
                return Response::custom(
                    451,
                    "4.3.0 the message could not be taken in full (stored, or its receipt sent); send it again later: it is stored once however often it comes".to_owned(),
                );
            }
        }
    }
    Response::custom(250, format!("2.0.0 accepted: {}", numbers.join(", ")))
}
