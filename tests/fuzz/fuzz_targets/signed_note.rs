//! What `verbatim verify` reads from a site it does not trust: checkpoints (signed notes),
//! verifier keys, receipts' signatures, entry bundles and entries, witness policies (also what
//! publication reads from the operator) and tlog proofs; and what `verbatim witness`
//! reads from anyone: `add-checkpoint` bodies (old size, proof lines, a cosigned checkpoint)
//! and witness verifier keys. Any bytes must be refused or read, never panic; a note can only
//! open with the key that signed it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ports::{StoreError, WitnessState, WitnessedHead};
use shared::transparency::checkpoint::{open_checkpoint, verify_receipt};
use shared::transparency::cosignature::{CosignatureVerifier, CosignerKey};
use shared::transparency::tree::split_entry_bundle;
use shared::transparency::{LogEntry, LogKey, LogVerifier};
use shared::witness::Witness;

/// A witness's state in memory: one followed prefix, what it cosigned per origin.
#[derive(Default)]
struct Memory(std::sync::Mutex<std::collections::HashMap<String, WitnessedHead>>);

impl WitnessState for Memory {
    fn log_keys(&self, origin: &str) -> Result<Vec<String>, StoreError> {
        Ok(if origin.starts_with("verbatim.fuzz/") {
            vec![verifier().as_str().to_owned()]
        } else {
            Vec::new()
        })
    }
    fn add_log(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn cosigned(&self, origin: &str) -> Result<Option<WitnessedHead>, StoreError> {
        Ok(self.0.lock().unwrap().get(origin).copied())
    }
    fn advance(
        &self,
        origin: &str,
        from: Option<&WitnessedHead>,
        to: &WitnessedHead,
    ) -> Result<bool, StoreError> {
        let mut state = self.0.lock().unwrap();
        if state.get(origin) != from {
            return Ok(false);
        }
        state.insert(origin.to_owned(), *to);
        Ok(true)
    }
}

fn witness() -> &'static Witness {
    static WITNESS: std::sync::OnceLock<Witness> = std::sync::OnceLock::new();
    WITNESS.get_or_init(|| Witness {
        key: CosignerKey::from_seed("witness.fuzz", [9; 32]).expect("a key from a seed"),
        state: std::sync::Arc::new(Memory::default()),
        clock: std::sync::Arc::new(shared::ports::SystemClock),
    })
}

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
    let _ = witness().add_checkpoint(data);
    if let Ok(proof) = shared::transparency::proof::Proof::parse(data) {
        let _ = proof.check(verifier, None);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = shared::transparency::policy::Policy::parse(text) {
            let _ = policy.verdict(data);
        }
        let _ = LogVerifier::parse(text);
        let _ = CosignatureVerifier::parse(text);
        let _ = CosignerKey::parse(text);
        if let Some((statement, signature)) = text.split_once('\n') {
            let _ = verify_receipt(verifier, statement, signature);
        }
    }
});
