//! The MIME reader: any bytes as a message (what SES or an SMTP client delivers) must parse
//! into something, without a panic, and keep every byte of the original for `message.eml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let message = shared::email::message::parse(raw, Some("sender@example.org"));
    let _ = message.submitter_name();
    let _ = shared::email::message::delivered_to(raw);
});
