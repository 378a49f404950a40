//! Responses by email, end to end: real SMTP to the real `verbatim` binary, then the published
//! files downloaded and compared with what was sent.

#[path = "support/app.rs"]
mod app;

use std::time::{Duration, Instant};

use app::{Server, TOKEN, download, sha256, start};
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
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not published in 5 s"
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
