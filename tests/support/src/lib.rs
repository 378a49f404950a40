//! What the tests share, instead of files included by path into each test crate: moto (the
//! AWS emulator, one per test binary), SES in moto, the fault-injecting proxy in front of it, a
//! clock the test sets, publish queues.

pub mod events;
pub mod fault_proxy;
pub mod moto;
pub mod ses;

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use shared::domain::ConsultationId;
use shared::ports::{Clock, PublishQueue};

pub use moto::{Moto, moto, unique_name, workspace};

/// A ZIP archive holding `parts` (name, content), each deflated: Office files and archives
/// for the tests of intake and extraction.
pub fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in parts {
        archive
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        archive.write_all(content).unwrap();
    }
    archive.finish().unwrap().into_inner()
}

/// A clock that stands still until the test moves it.
pub struct TestClock(Mutex<Timestamp>);

impl TestClock {
    /// Stands at `now` (RFC 3339).
    pub fn at(now: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(now.parse().expect("a timestamp"))))
    }

    pub fn set(&self, now: Timestamp) {
        *self.0.lock().unwrap() = now;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Publication that never happens: for tests of what comes before it.
pub struct NoQueue;

impl PublishQueue for NoQueue {
    fn request(&self, _: &ConsultationId) {}
}

/// Keeps every publication request, in order.
#[derive(Default)]
pub struct Requests(Mutex<Vec<String>>);

impl Requests {
    pub fn taken(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl PublishQueue for Requests {
    fn request(&self, c: &ConsultationId) {
        self.0.lock().unwrap().push(c.to_string());
    }
}
