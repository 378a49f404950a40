//! The local host's SMTP dialogue: any bytes a client may send (commands, `DATA`, lines too long,
//! a connection that ends anywhere), through the real listener's conversation over the embedded
//! store. Whatever arrives, the server answers only well-formed SMTP replies (three digits, then
//! a space or a hyphen) and never panics; a message it answers 250 to is stored.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use shared::Backend;
use shared::adapters::outbox::OutboxMailer;
use shared::domain::ConsultationId;
use shared::email::smtp::{SmtpLimits, converse};
use shared::http::admin::AdminToken;
use shared::ports::{Clock, PublishQueue, SweptByTimer, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const TOKEN: &str = "fuzz-admin-token-0123456789";

struct NoQueue;

impl PublishQueue for NoQueue {
    fn request(&self, _: &ConsultationId) {}
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    email: Arc<shared::email::receive::EmailIntake>,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::embedded(dir.path()).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queue: Arc<dyn PublishQueue> = Arc::new(NoQueue);
        let admin = backend.admin_state(
            clock.clone(),
            queue.clone(),
            Arc::new(SweptByTimer),
            AdminToken::new(TOKEN).unwrap(),
        );
        let created = runtime.block_on(
            shared::http::admin::router(admin).oneshot(
                Request::post("/api/admin/consultations")
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        r#"{"id":"fuzz","title":{"en":"Fuzz"},"questions":[{"en":"Q?"}],"meeting_date":"2099-03-31"}"#,
                    ))
                    .unwrap(),
            ),
        );
        assert_eq!(created.unwrap().status(), StatusCode::CREATED);
        let intake = backend.intake_state(clock.clone(), queue);
        let mailer = OutboxMailer::open(dir.path().join("outbox"), "verbatim@fuzz.example").unwrap();
        let list = Arc::new(backend.email_list(
            Arc::new(mailer),
            clock,
            "http://fuzz.example",
            "fuzz.example",
        ));
        let email = Arc::new(backend.email_intake(intake.intake.clone(), list));
        Harness {
            runtime,
            email,
            _dir: dir,
        }
    })
}

/// Whether every line the server wrote is an SMTP reply: `NNN` then a space, a hyphen or the
/// line's end, with a first digit of 2 to 5.
fn all_replies(written: &[u8]) -> bool {
    written
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .all(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.len() >= 3
                && (b'2'..=b'5').contains(&line[0])
                && line[1..3].iter().all(u8::is_ascii_digit)
                && matches!(line.get(3), None | Some(b' ' | b'-'))
        })
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let limits = SmtpLimits {
        max_message_bytes: 64 * 1024,
        idle: std::time::Duration::from_secs(5),
    };
    let written = harness.runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let conversation = tokio::spawn(converse(
            server,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            harness.email.clone(),
            limits,
        ));
        client.write_all(data).await.unwrap();
        // The client is done: its end of the stream closes, as a connection that drops.
        client.shutdown().await.unwrap();
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.unwrap();
        conversation
            .await
            .expect("the conversation does not panic")
            .ok();
        written
    });
    assert!(
        all_replies(&written),
        "not an SMTP reply: {:?}",
        String::from_utf8_lossy(&written)
    );
});
