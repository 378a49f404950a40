//! The local host's SMTP dialogue: any bytes a client may send (commands, `DATA`, lines too long,
//! a connection that ends anywhere), through the real listener's conversation over the embedded
//! store. Whatever arrives, the server answers only well-formed SMTP replies (three digits, then
//! a space or a hyphen) and never panics; a message it answers 250 to is stored.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use shared::adapters::outbox::OutboxMailer;
use shared::email::receive::EmailIntake;
use shared::email::smtp::{SmtpLimits, converse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verbatim_fuzz::Service;

struct Harness {
    service: Service,
    email: Arc<EmailIntake>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let service = Service::start();
        let (backend, clock) = (&service.backend, service.clock.clone());
        let intake = backend.intake_state(clock.clone(), service.queue.clone());
        let outbox = service.dir.path().join("outbox");
        let mailer = OutboxMailer::open(outbox, "verbatim@fuzz.example").unwrap();
        let list = Arc::new(backend.email_list(
            Arc::new(mailer),
            clock,
            "http://fuzz.example",
            "fuzz.example",
        ));
        let email = Arc::new(backend.email_intake(intake.intake.clone(), list));
        Harness { service, email }
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
    let written = harness.service.runtime.block_on(async {
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
