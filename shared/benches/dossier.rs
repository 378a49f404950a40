//! Memory and speed of building a dossier, end to end on the embedded store: originals on disk,
//! the closer streaming them through the ZIP writer into an upload.
//!
//! `cargo bench -p verbatim-shared --features embedded --bench dossier` (size: `VERBATIM_BENCH_MIB`, default 1024;
//! files of 16 MiB). Prints the archive size, the time, and how much the process's peak
//! resident memory (VmHWM) grew while building it: flat means independent of the total size.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use shared::Backend;
use shared::domain::*;
use shared::ports::{Body, ObjectKey, ObjectMeta, PutMode};
use test_support::{NoQueue, TestClock};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let total_mib: u64 = std::env::var("VERBATIM_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    const FILE_MIB: u64 = 16;
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::embedded(dir.path()).unwrap();
    let start: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    let clock = TestClock::at("2026-12-01T10:00:00Z");
    let request: ConsultationRequest = serde_json::from_value(serde_json::json!({
        "id": "bench", "title": {"en": "Bench"}, "questions": [{"en": "Q?"}],
        "meeting_date": "2027-03-31", "deadline": "2026-12-02T10:00:00Z"
    }))
    .unwrap();
    let consultation = request.into_consultation(start).unwrap();
    backend
        .consultations
        .create(&consultation, &AuditEntry::created(&consultation, None))
        .await
        .unwrap();

    // Originals: generated 1 MiB at a time, so set-up itself stays small.
    let files = total_mib.div_ceil(FILE_MIB);
    let meta = ObjectMeta {
        content_type: "application/octet-stream".into(),
        content_disposition: None,
    };
    for n in 0..files {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut hasher = Sha256::new();
        let mut block = vec![0u8; 1024 * 1024];
        for m in 0..FILE_MIB {
            for (i, b) in block.iter_mut().enumerate() {
                *b = ((i as u64).wrapping_mul(31) ^ (n * 7919 + m)) as u8;
            }
            block[..5].copy_from_slice(b"%PDF-");
            hasher.update(&block);
            file.write_all(&block).unwrap();
        }
        let id = ResponseId::new();
        let original = format!("originals/bench/{id}/0");
        backend
            .private
            .put(
                &ObjectKey::parse(original.clone()).unwrap(),
                Body::File(file.path().to_owned()),
                &meta,
                PutMode::CreateNew,
            )
            .await
            .unwrap();
        backend
            .responses
            .append(NewResponse {
                id,
                consultation: consultation.id.clone(),
                received_at: start + SignedDuration::from_secs(n as i64),
                channel: Channel::Api,
                submitter: Submitter {
                    name: format!("Respondent {n}"),
                    organization: None,
                    category: Some(Category::CivilSociety),
                    country: None,
                    email: None,
                    language: None,
                },
                files: vec![StoredFile {
                    name: "position.pdf".into(),
                    media_type: "application/pdf".into(),
                    size: FILE_MIB * 1024 * 1024,
                    sha256: hex::encode(hasher.finalize()),
                    original_key: original,
                }],
            })
            .await
            .unwrap();
    }

    let closer = backend.closer(clock.clone(), Arc::new(NoQueue));
    clock.set(consultation.deadline + closer.settle + SignedDuration::from_secs(1));
    let before = peak_rss_kib();
    let started = Instant::now();
    closer.run(&consultation.id).await.unwrap();
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    let record = backend
        .consultations
        .get(&consultation.id)
        .await
        .unwrap()
        .unwrap();
    let dossier = record.consultation.closing.unwrap().dossier.unwrap();
    println!(
        "dossier: {} responses, {:.0} MiB of files, archive {:.0} MiB in {:.1} s ({:.0} MiB/s); \
         peak RSS {} MiB before, {} MiB after (+{} MiB)",
        dossier.response_count,
        (files * FILE_MIB) as f64,
        dossier.size as f64 / 1048576.0,
        elapsed.as_secs_f64(),
        dossier.size as f64 / 1048576.0 / elapsed.as_secs_f64(),
        before / 1024,
        after / 1024,
        after.saturating_sub(before) / 1024,
    );
}
