//! The MIME reader: any bytes as a message (what SES or an SMTP client delivers) must parse
//! into something, without a panic, and keep every byte of the original for `message.eml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The reader catches a panic of the MIME parser by design (the message is then kept whole,
/// as `message.eml`): libfuzzer-sys's panic hook would abort on those caught panics too, so it
/// is replaced by a silent one. A panic that escapes the reader still aborts: libfuzzer-sys
/// checks whether the target unwound (rerun its input with `FUZZ_SHOW_PANICS=1` to keep the
/// aborting hook and see the first panic). (mail-parser 0.11.9 panics on some nested
/// `message/rfc822` parts: "Invalid part ID, could not find multipart".)
fn allow_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("FUZZ_SHOW_PANICS").is_none() {
            std::panic::set_hook(Box::new(|_| {}));
        }
    });
}

fuzz_target!(|raw: &[u8]| {
    allow_caught_panics();
    let message = shared::email::message::parse(raw, Some("sender@example.org"));
    let _ = message.submitter_name();
    let _ = shared::email::message::delivered_to(raw);
});
