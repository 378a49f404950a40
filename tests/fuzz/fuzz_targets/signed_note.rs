//! What `verbatim verify` reads from a site it does not trust: checkpoints (signed notes),
//! verifier keys, receipts' signatures, entry bundles and entries. Any bytes must be refused
//! or read, never panic; a note can only open with the key that signed it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::transparency::checkpoint::{open_checkpoint, verify_receipt};
use shared::transparency::tree::split_entry_bundle;
use shared::transparency::{LogEntry, LogKey, LogVerifier};

/// The verifier of a fixed key, made once (deriving it per input would cost most of the run).
fn verifier() -> &'static LogVerifier {
    static VERIFIER: std::sync::OnceLock<LogVerifier> = std::sync::OnceLock::new();
    VERIFIER.get_or_init(|| {
        LogKey::from_seed("verbatim.fuzz", [7; 32])
            .expect("a key from a seed")
            .verifier()
    })
}

fuzz_target!(|data: &[u8]| {
    let verifier = verifier();
    let _ = open_checkpoint(data, verifier, "verbatim.fuzz/consultation");
    if let Some(entries) = split_entry_bundle(data) {
        for entry in entries {
            let _ = LogEntry::decode(entry);
        }
    }
    let _ = LogEntry::decode(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LogVerifier::parse(text);
        if let Some((statement, signature)) = text.split_once('\n') {
            let _ = verify_receipt(verifier, statement, signature);
        }
    }
});
