//! Responses by email, end to end: real SMTP to the real `verbatim` binary, then the published
//! files downloaded and compared with what was sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::{Server, TOKEN, download, sha256, start};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A minimal SMTP client that says exactly what it is told, so replies can be checked.
struct Smtp {
    stream: BufReader<TcpStream>,
}

impl Smtp {
    async fn connect(address: &str) -> Self {
        let mut smtp = Self {
            stream: BufReader::new(TcpStream::connect(address).await.unwrap()),
        };
        assert_eq!(smtp.reply().await.0, 220);
        assert_eq!(smtp.command("EHLO tests.example").await.0, 250);
        smtp
    }

    /// The reply code and its last line.
    async fn reply(&mut self) -> (u16, String) {
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.unwrap();
            assert!(line.len() >= 4, "short reply {line:?}");
            if line.as_bytes()[3] != b'-' {
                return (line[..3].parse().unwrap(), line.trim_end().to_owned());
            }
        }
    }

    async fn command(&mut self, line: &str) -> (u16, String) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    /// Sends one message; returns the reply to `RCPT TO` if refused, else to the data.
    async fn send(&mut self, from: &str, to: &str, message: &[u8]) -> (u16, String) {
        assert_eq!(self.command(&format!("MAIL FROM:<{from}>")).await.0, 250);
        let rcpt = self.command(&format!("RCPT TO:<{to}>")).await;
        if rcpt.0 != 250 {
            self.command("RSET").await;
            return rcpt;
        }
        assert_eq!(self.command("DATA").await.0, 354);
        let mut data = Vec::with_capacity(message.len() + 1024);
        for line in message.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        self.stream.get_mut().write_all(&data).await.unwrap();
        self.reply().await
    }
}

async fn open_consultation(server: &Server, id: &str, deadline: Option<String>) {
    let mut body = json!({
        "id": id,
        "title": {"en": "By email"},
        "questions": [{"en": "Anything to add?"}],
        "meeting_date": "2099-03-31",
    });
    if let Some(deadline) = deadline {
        body["deadline"] = json!(deadline);
    }
    let reply = reqwest::Client::new()
        .post(format!("{}/api/admin/consultations", server.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
}

async fn manifest(server: &Server, id: &str, total: u64) -> Value {
    let started = Instant::now();
    loop {
        let reply = reqwest::get(format!("{}/consultations/{id}/responses.json", server.url))
            .await
            .unwrap();
        if reply.status() == 200 {
            let manifest: Value = reply.json().await.unwrap();
            if manifest["total"].as_u64() >= Some(total) {
                return manifest;
            }
        }
        // Within a second on an idle machine; room here for a loaded runner.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not published in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn real_world_mail_is_published_byte_for_byte() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--smtp", "127.0.0.1:0"], &[]);
    let id = "by-email";
    open_consultation(&server, id, None).await;
    let mut smtp = Smtp::connect(server.smtp.as_deref().unwrap()).await;
    let to = format!("{id}@consultations.localhost");

    let refused = smtp
        .send("a@example.org", "nobody@consultations.localhost", b"x")
        .await;
    assert_eq!(refused.0, 550, "{refused:?}");
    assert!(refused.1.contains("no consultation nobody"), "{refused:?}");

    let mut published = Vec::new();
    for (name, raw) in corpus() {
        let reply = smtp.send("sender@example.org", &to, &raw).await;
        assert_eq!(reply.0, 250, "{name}: {reply:?}");
        if reply.1.contains("response") {
            published.push((name, raw));
        } else {
            assert!(reply.1.contains("kept"), "{name}: {reply:?}");
        }
    }
    let kept = corpus().len() - published.len();
    assert!(
        kept >= 2,
        "the auto-reply and the bounce are kept, not published"
    );

    // A second delivery of the same message is the same response.
    let (_, again) = &published[0];
    let reply = smtp.send("sender@example.org", &to, again).await;
    assert!(reply.1.contains("response 1"), "{reply:?}");

    let manifest = manifest(&server, id, published.len() as u64).await;
    assert_eq!(manifest["total"], published.len());
    let client = reqwest::Client::new();
    for (response, (name, raw)) in manifest["responses"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&published)
    {
        assert_eq!(response["channel"], "email", "{name}");
        let files = response["files"].as_array().unwrap();
        let eml = files
            .iter()
            .find(|f| f["name"] == "message.eml")
            .unwrap_or_else(|| panic!("{name}: no message.eml"));
        // SMTP ends every message with CRLF: that is what was received.
        let mut received = raw.clone();
        if !received.ends_with(b"\r\n") {
            received.extend_from_slice(b"\r\n");
        }
        assert_eq!(eml["sha256"], sha256(&received), "{name}");
        let (_, body) = download(&client, &server.url, eml["url"].as_str().unwrap()).await;
        assert!(
            body == received,
            "{name}: message.eml differs from what was sent"
        );
        for file in files {
            let (_, body) = download(&client, &server.url, file["url"].as_str().unwrap()).await;
            assert_eq!(sha256(&body), file["sha256"], "{name}: {}", file["name"]);
        }
        assert!(
            !response.to_string().contains("sender@example.org"),
            "addresses are private"
        );
    }

    // One receipt per published message, none for kept ones or repeats.
    let outbox: Vec<_> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    let receipts = outbox
        .iter()
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .contains("Subject: Response")
        })
        .count();
    assert_eq!(
        receipts,
        published.iter().filter(|(_, raw)| has_from(raw)).count()
    );
}

/// Whether a message names a sender to answer.
fn has_from(raw: &[u8]) -> bool {
    String::from_utf8_lossy(raw)
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("from:") && l.contains('@'))
}

#[tokio::test]
async fn oversized_and_late_mail() {
    let data = tempfile::tempdir().unwrap();
    // A 1 MB limit keeps the test quick; the default is 40 MB.
    let args = ["--smtp", "127.0.0.1:0", "--max-message-bytes", "1000000"];
    let server = start(data.path(), &args, &[]);
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let deadline = jiff::Timestamp::from_millisecond(now_ms + 1500).unwrap();
    open_consultation(&server, "closing-mail", Some(deadline.to_string())).await;
    let mut smtp = Smtp::connect(server.smtp.as_deref().unwrap()).await;
    let to = "closing-mail@consultations.localhost";

    let mut huge = b"From: Big <big@example.org>\r\nSubject: big\r\n\r\n".to_vec();
    while huge.len() < 1_100_000 {
        huge.extend_from_slice(&[b'x'; 998]);
        huge.extend_from_slice(b"\r\n");
    }
    let reply = smtp.send("big@example.org", to, &huge).await;
    assert_eq!(reply.0, 552, "{reply:?}");

    tokio::time::sleep(Duration::from_millis(1600)).await;
    let late = b"From: Late <late@example.org>\r\nSubject: late\r\nMessage-ID: <late-1@example.org>\r\n\r\nToo late.\r\n";
    let reply = smtp.send("late@example.org", to, late).await;
    assert_eq!(reply.0, 250, "kept, so accepted: {reply:?}");
    assert!(reply.1.contains("kept"), "{reply:?}");
    let kept = std::fs::read_dir(data.path().join("private/mail/late/closing-mail"))
        .unwrap()
        .count();
    assert_eq!(kept, 1, "the late message is kept");
    let outbox = std::fs::read_dir(data.path().join("outbox")).unwrap();
    let replies: Vec<String> = outbox
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        replies
            .iter()
            .any(|r| r.contains("is closed") && r.contains("late@example.org"))
    );
}

/// Sends a text response through the web API.
async fn respond(server: &Server, id: &str, name: &str, text: &str) {
    let form = reqwest::multipart::Form::new()
        .text("name", name.to_owned())
        .text("text", text.to_owned());
    let reply = reqwest::Client::new()
        .post(format!("{}/api/consultations/{id}/responses", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
}

/// Every message in the outbox so far, oldest first: its header section as sent, then its
/// decoded text body (the transfer encoding may wrap long links).
fn outbox(data: &std::path::Path) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(data.join("outbox"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let end = message.root_part().raw_body_offset() as usize;
            format!(
                "{}{}",
                String::from_utf8_lossy(&raw[..end]),
                message.body_text(0).unwrap()
            )
        })
        .collect()
}

/// Waits for a message to `to` whose text contains `needle`, and returns it.
async fn mail_to(data: &std::path::Path, to: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        if let Some(m) = outbox(data)
            .into_iter()
            .find(|m| m.contains(&format!("To: <{to}>")) && m.contains(needle))
        {
            return m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no mail to {to} with {needle:?} within 30 s; outbox: {:#?}",
            outbox(data)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `{server}{path}…` link in a message, up to the end of its line.
fn link(mail: &str, path: &str) -> String {
    let start = mail
        .find(path)
        .unwrap_or_else(|| panic!("no {path} in {mail}"));
    let rest = &mail[start..];
    let end = rest.find(['\r', '\n', '>']).unwrap_or(rest.len());
    let begin = mail[..start].rfind("http").unwrap();
    mail[begin..start + end].to_owned()
}

#[tokio::test]
async fn the_email_list_double_opt_in_fan_out_and_one_click_unsubscribe() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--smtp", "127.0.0.1:0"], &[]);
    open_consultation(&server, "list-e2e", None).await;
    let client = reqwest::Client::new();

    // The web form: a page that says to check the inbox, and a confirmation link by mail.
    let reply = client
        .post(format!(
            "{}/api/consultations/list-e2e/subscriptions",
            server.url
        ))
        .form(&[("email", "ada@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    assert!(reply.text().await.unwrap().contains("Check your inbox"));
    // By mail too, with the same double opt-in.
    let smtp_address = server.smtp.clone().unwrap();
    let mut smtp = Smtp::connect(&smtp_address).await;
    let request = b"From: Bob <bob@example.org>\r\nTo: list-e2e+subscribe@consultations.localhost\r\nSubject: subscribe\r\n\r\nsubscribe\r\n";
    let (code, text) = smtp
        .send(
            "bob@example.org",
            "list-e2e+subscribe@consultations.localhost",
            request,
        )
        .await;
    assert_eq!(code, 250, "{text}");
    // A bad address and an unknown consultation are refused with a reason.
    let bad = client
        .post(format!(
            "{}/api/consultations/list-e2e/subscriptions",
            server.url
        ))
        .json(&json!({"email": "not an address"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let unknown = client
        .post(format!(
            "{}/api/consultations/no-such/subscriptions",
            server.url
        ))
        .json(&json!({"email": "ada@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let confirmation = mail_to(data.path(), "ada@example.org", "/api/subscriptions/confirm").await;
    let confirm = link(&confirmation, "/api/subscriptions/confirm?token=");
    // Opening the link (as a mail scanner would) changes nothing; the button does.
    let page = client.get(&confirm).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<button"));
    let forged = confirm.replace("token=list-e2e.", "token=list-e2e.0");
    assert_eq!(client.post(&forged).send().await.unwrap().status(), 404);
    let confirmed = client.post(&confirm).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(
        confirmed
            .text()
            .await
            .unwrap()
            .contains("Subscription confirmed")
    );

    // A published response goes to Ada (confirmed), not to Bob (pending).
    respond(&server, "list-e2e", "Grace Hopper", "Publish everything.").await;
    let news = mail_to(
        data.path(),
        "ada@example.org",
        "Response 1 to the consultation",
    )
    .await;
    assert!(
        news.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{news}"
    );
    assert!(
        news.contains("List-Id: <list-e2e.consultations.localhost>"),
        "{news}"
    );
    assert!(news.contains("Auto-Submitted: auto-generated"), "{news}");
    assert!(
        news.contains("/consultations/list-e2e/responses/1/response.txt"),
        "{news}"
    );
    assert!(!news.contains("Publish everything."), "links, not contents");
    let to_bob = |needle: &str| {
        outbox(data.path())
            .iter()
            .filter(|m| m.contains("To: <bob@example.org>") && m.contains(needle))
            .count()
    };
    assert_eq!(to_bob("Confirm your subscription"), 1);
    assert_eq!(to_bob("Response 1"), 0, "pending subscribers get nothing");
    // Bob leaves by mail; the notice goes to his address.
    let leave = b"From: Bob <bob@example.org>\r\nTo: list-e2e+unsubscribe@consultations.localhost\r\nSubject: unsubscribe\r\n\r\n\r\n";
    let (code, text) = smtp
        .send(
            "bob@example.org",
            "list-e2e+unsubscribe@consultations.localhost",
            leave,
        )
        .await;
    assert_eq!(code, 250, "{text}");
    mail_to(data.path(), "bob@example.org", "no longer subscribed").await;
    let bob_confirm = link(
        &mail_to(data.path(), "bob@example.org", "Confirm your subscription").await,
        "/api/subscriptions/confirm?token=",
    );
    let reply = client.post(&bob_confirm).send().await.unwrap();
    assert_eq!(
        reply.status(),
        404,
        "a removed subscription cannot be confirmed"
    );

    // One click, as a mail client does it (RFC 8058); doing it again is harmless.
    let unsubscribe = link(&news, "/api/subscriptions/unsubscribe?token=");
    for _ in 0..2 {
        let reply = client
            .post(&unsubscribe)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    respond(&server, "list-e2e", "Alan Turing", "Second.").await;
    manifest(&server, "list-e2e", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_ada_about_2 = outbox(data.path())
        .iter()
        .filter(|m| m.contains("To: <ada@example.org>") && m.contains("Response 2"))
        .count();
    assert_eq!(to_ada_about_2, 0, "unsubscribed: nothing more");
}

/// A relay that takes every message and keeps it: (recipients, bytes as sent).
/// A relay that keeps what it is sent; it refuses the first `refuse_first` messages with a
/// temporary failure (451), as a relay or SES in trouble would.
async fn smtp_sink(
    refuse_first: usize,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(Vec<String>, Vec<u8>)>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(refuse_first));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let sender = sender.clone();
            let refusals = refusals.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let mut to = Vec::new();
                stream.get_mut().write_all(b"220 sink\r\n").await.unwrap();
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") {
                        b"250 sink\r\n"
                    } else if command.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                        b"250 ok\r\n"
                    } else if command.starts_with("DATA") {
                        stream.get_mut().write_all(b"354 go\r\n").await.unwrap();
                        let mut data = Vec::new();
                        loop {
                            let mut raw = Vec::new();
                            stream.read_until(b'\n', &mut raw).await.unwrap();
                            if raw == b".\r\n" {
                                // The CRLF before the dot belongs to the terminator.
                                data.truncate(data.len().saturating_sub(2));
                                break;
                            }
                            data.extend_from_slice(raw.strip_prefix(b".").unwrap_or(&raw));
                        }
                        let refuse = refusals
                            .fetch_update(
                                std::sync::atomic::Ordering::SeqCst,
                                std::sync::atomic::Ordering::SeqCst,
                                |left| left.checked_sub(1),
                            )
                            .is_ok();
                        if refuse {
                            to.clear();
                            b"451 4.3.0 try again later\r\n"
                        } else {
                            sender.send((std::mem::take(&mut to), data)).unwrap();
                            b"250 kept\r\n"
                        }
                    } else if command.starts_with("QUIT") {
                        stream.get_mut().write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    stream.get_mut().write_all(reply).await.unwrap();
                }
            });
        }
    });
    (address, receiver)
}

#[tokio::test]
async fn the_outbox_is_sent_on_through_a_relay_byte_for_byte() {
    let (relay, mut relayed) = smtp_sink(0).await;
    let data = tempfile::tempdir().unwrap();
    let server = start(
        data.path(),
        &["--smtp-relay", &format!("smtp://{relay}")],
        &[],
    );
    open_consultation(&server, "relayed", None).await;
    let reply = reqwest::Client::new()
        .post(format!(
            "{}/api/consultations/relayed/subscriptions",
            server.url
        ))
        .json(&json!({"email": "ada@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    let (to, bytes) = tokio::time::timeout(Duration::from_secs(10), relayed.recv())
        .await
        .expect("relayed within 10 s")
        .unwrap();
    assert_eq!(to, ["ada@example.org"]);
    let kept: Vec<_> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(kept, [bytes], "the relay gets the outbox's exact bytes");
}

/// A message with 300 attachments (long names) once produced a log entry larger than an entry
/// bundle can hold, and stopped its consultation's log for good. Now a response carries at most
/// as many files as the web form allows, the rest staying inside `message.eml`, and the log
/// goes on.
#[tokio::test]
async fn hundreds_of_attachments_cannot_stop_the_log() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--smtp", "127.0.0.1:0"], &[]);
    let id = "many-annexes";
    open_consultation(&server, id, None).await;
    let mut message = String::from(
        "From: Many Annexes <annexes@example.org>\r\nSubject: annexes\r\n\
         Message-ID: <annexes-1@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOur annexes.\r\n",
    );
    for i in 1..=300 {
        message.push_str(&format!(
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
             filename=\"Annex {i:03} - a rather long and descriptive title of this document.pdf\"\r\n\r\n\
             %PDF-1.4\r\n% annex {i}\r\n%%EOF\r\n"
        ));
    }
    message.push_str("--b--\r\n");
    let mut smtp = Smtp::connect(server.smtp.as_deref().unwrap()).await;
    let reply = smtp
        .send(
            "annexes@example.org",
            &format!("{id}@consultations.localhost"),
            message.as_bytes(),
        )
        .await;
    assert_eq!(reply.0, 250, "{reply:?}");

    let published = manifest(&server, id, 1).await;
    let files = published["responses"][0]["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    // message.eml and 19 annexes: 20 files, as many as the web form takes; plus the text.
    assert_eq!(names.len(), 21, "{names:?}");
    assert_eq!(names.iter().filter(|n| n.starts_with("Annex")).count(), 19);
    assert!(names.contains(&"message.eml") && names.contains(&"response.txt"));
    let receipt = mail_to(data.path(), "annexes@example.org", "Response 1").await;
    assert!(
        receipt.contains("these 281 attachments"),
        "the receipt says which annexes stay inside message.eml: {receipt}"
    );

    // The words of the annexes left inside message.eml are read from there, as many as a
    // response's files (the rest noted), not the ones published on their own.
    let started = Instant::now();
    let extracted = loop {
        let reply = reqwest::get(format!("{}/consultations/{id}/extracted/1.txt", server.url))
            .await
            .unwrap();
        if reply.status() == 200 {
            break reply.text().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no extracted text"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let inside = extracted.split("=== message.eml ===").nth(1).unwrap();
    let inside = inside.split("\n=== ").next().unwrap();
    assert!(!inside.contains("--- Annex 019"), "{inside}");
    assert!(inside.contains("--- Annex 020"), "{inside}");
    assert!(inside.contains("--- Annex 039"), "{inside}");
    assert!(!inside.contains("--- Annex 040"), "{inside}");
    assert!(
        inside.contains("[Not read: 261 more attachments.]"),
        "{inside}"
    );

    // The log took it, and goes on with the next response.
    checkpoint_size(&server, id, 1).await;
    respond(&server, id, "After", "Still published.").await;
    manifest(&server, id, 2).await;
    checkpoint_size(&server, id, 2).await;
    let health: Value = reqwest::get(format!("{}/api/health", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
}

/// Mailing-list software marks what people write `Precedence: bulk`: it is published, and
/// never answered.
#[tokio::test]
async fn precedence_bulk_is_published_without_a_reply() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--smtp", "127.0.0.1:0"], &[]);
    let id = "bulk-mail";
    open_consultation(&server, id, None).await;
    let message = b"From: A Campaign <campaign@example.org>\r\nSubject: our view\r\n\
        Precedence: bulk\r\nMessage-ID: <bulk-1@example.org>\r\n\r\nWe support option B.\r\n";
    let mut smtp = Smtp::connect(server.smtp.as_deref().unwrap()).await;
    let reply = smtp
        .send(
            "campaign@example.org",
            &format!("{id}@consultations.localhost"),
            message,
        )
        .await;
    assert_eq!(reply.0, 250, "{reply:?}");
    let manifest = manifest(&server, id, 1).await;
    assert_eq!(manifest["responses"][0]["name"], "A Campaign");
    // Publication comes before any receipt would be written: give one a moment to appear.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !outbox(data.path())
            .iter()
            .any(|m| m.contains("campaign@example.org")),
        "no automatic reply to a Precedence: bulk message"
    );
}

/// Waits until the consultation's signed checkpoint covers `size` responses.
async fn checkpoint_size(server: &Server, id: &str, size: u64) {
    let started = Instant::now();
    loop {
        let reply = reqwest::get(format!("{}/consultations/{id}/log/checkpoint", server.url))
            .await
            .unwrap();
        if reply.status() == 200 {
            let text = reply.text().await.unwrap();
            if text.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size) {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the log did not reach size {size} in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The receipt of an emailed response cannot be lost to a failing mail service: when it cannot
/// be sent, the message is answered 451 (the response is stored), the sender's server sends it
/// again, nothing new is stored, and the receipt goes out then; once sent, a further repeat
/// sends nothing.
#[tokio::test]
async fn a_receipt_that_could_not_be_sent_goes_out_when_the_message_comes_again() {
    let (relay, mut relayed) = smtp_sink(1).await;
    let data = tempfile::tempdir().unwrap();
    let server = start(
        data.path(),
        &[
            "--smtp",
            "127.0.0.1:0",
            "--smtp-relay",
            &format!("smtp://{relay}"),
        ],
        &[],
    );
    open_consultation(&server, "receipts", None).await;
    let message = b"From: Ada <ada@example.org>\r\nTo: receipts@consultations.localhost\r\n\
Subject: Our view\r\nMessage-ID: <receipt-retry@example.org>\r\n\r\nOur view, by mail.\r\n";
    let mut smtp = Smtp::connect(server.smtp.as_deref().unwrap()).await;
    let to = "receipts@consultations.localhost";
    let first = smtp.send("ada@example.org", to, message).await;
    assert_eq!(first.0, 451, "the receipt could not be sent: {first:?}");
    assert_eq!(
        manifest(&server, "receipts", 1).await["total"],
        1,
        "stored all the same"
    );

    let second = smtp.send("ada@example.org", to, message).await;
    assert_eq!(second.0, 250, "{second:?}");
    let (recipients, receipt) = tokio::time::timeout(Duration::from_secs(10), relayed.recv())
        .await
        .expect("the receipt is relayed")
        .unwrap();
    assert_eq!(recipients, ["ada@example.org"]);
    assert!(String::from_utf8_lossy(&receipt).contains("receipt-retry@example.org"));

    let third = smtp.send("ada@example.org", to, message).await;
    assert_eq!(third.0, 250, "{third:?}");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), relayed.recv())
            .await
            .is_err(),
        "a receipt sent once is not sent again"
    );
    assert_eq!(
        manifest(&server, "receipts", 1).await["total"],
        1,
        "stored once"
    );
}

/// A hostile SMTP client is bounded: naming recipients without end gets 452 after
/// `MAX_RECIPIENTS` (each is looked up and remembered), and one that stays silent is told so
/// (421) and dropped after `--smtp-timeout`, while a normal client is still served.
#[tokio::test]
async fn smtp_bounds_recipients_and_silence() {
    let data = tempfile::tempdir().unwrap();
    let args = ["--smtp", "127.0.0.1:0", "--smtp-timeout", "1s"];
    let server = start(data.path(), &args, &[]);
    let id = "bounded";
    open_consultation(&server, id, None).await;
    let address = server.smtp.as_deref().unwrap();

    let mut greedy = Smtp::connect(address).await;
    assert_eq!(greedy.command("MAIL FROM:<a@example.org>").await.0, 250);
    let max = shared::email::smtp::MAX_RECIPIENTS;
    for n in 0..max {
        let reply = greedy
            .command(&format!("RCPT TO:<nobody{n}@consultations.localhost>"))
            .await;
        assert_eq!(reply.0, 550, "{reply:?}");
    }
    let reply = greedy
        .command(&format!("RCPT TO:<{id}@consultations.localhost>"))
        .await;
    assert_eq!(reply.0, 452, "{reply:?}");
    assert!(reply.1.contains("recipients"), "{reply:?}");

    // Silent past the timeout: 421, then the connection ends.
    let mut silent = Smtp::connect(address).await;
    let started = std::time::Instant::now();
    let reply = silent.reply().await;
    assert_eq!(reply.0, 421, "{reply:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    let mut rest = String::new();
    let n = silent.stream.read_line(&mut rest).await.unwrap();
    assert_eq!(n, 0, "the connection is closed after 421: {rest:?}");

    // Meanwhile a normal client is served.
    let mut normal = Smtp::connect(address).await;
    let reply = normal
        .send(
            "b@example.org",
            &format!("{id}@consultations.localhost"),
            b"From: b@example.org\r\nSubject: View\r\n\r\nOur view.\r\n",
        )
        .await;
    assert_eq!(reply.0, 250, "{reply:?}");
}
