//! The search index's rebuild at 1,000 and 10,000 responses on the embedded store, against a
//! floor measured in the same run: reading every response's extracted text, which any rebuild
//! must do (Pagefind cannot add to an index). Also the rebuild after one more response (what
//! the once-a-minute rebuild costs in a rush), the index's size and the peak memory.
//!
//! `cargo bench -p verbatim-shared --features embedded --bench search_index` (sizes: `VERBATIM_BENCH_SIZES`,
//! default "1000 10000"). Each response has about 6 KB of text: words drawn from a vocabulary of
//! 20,000, one sentence in Chinese.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use shared::Backend;
use shared::domain::site_paths;
use shared::domain::*;
use shared::extract::{Extracted, FileText, ResponseText};
use shared::ports::{Body, ObjectKey, PutMode};
use shared::search::Refresh;
use test_support::TestClock;

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

/// A made-up word from a number: syllables, so that the vocabulary looks like a language.
fn word(mut n: u64) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "pri", "stel", "qua", "dor", "fen", "gri",
        "bal", "zu",
    ];
    let mut out = String::new();
    for _ in 0..3 {
        out.push_str(SYLLABLES[(n % 16) as usize]);
        n /= 16;
    }
    if n > 0 {
        out.push_str(SYLLABLES[(n % 16) as usize]);
    }
    out
}

/// About 6 KB of words for response `number` (a cheap, deterministic generator).
fn text(number: u64) -> String {
    let mut state = number.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::from("互联网治理需要多方参与，频谱政策应当公开透明。\n");
    while out.len() < 6_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(&word(state % 20_000));
        out.push(if state.is_multiple_of(11) { '\n' } else { ' ' });
    }
    out
}

fn dir_size(path: &std::path::Path) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                let (f, b) = dir_size(&entry.path());
                files += f;
                bytes += b;
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (files, bytes)
}

async fn add_responses(
    backend: &Backend,
    consultation: &ConsultationId,
    start: Timestamp,
    numbers: std::ops::RangeInclusive<u64>,
) {
    for n in numbers.clone() {
        backend
            .responses
            .append(NewResponse {
                id: ResponseId::new(),
                consultation: consultation.clone(),
                received_at: start + SignedDuration::from_millis(n as i64),
                channel: Channel::Api,
                submitter: Submitter {
                    name: format!("Respondent {n}"),
                    organization: Some(format!("Organization {}", n % 97)),
                    category: Some(Category::CivilSociety),
                    country: None,
                    email: None,
                    language: None,
                },
                files: vec![],
            })
            .await
            .unwrap();
        let derived = ResponseText {
            files: vec![FileText {
                name: "response.txt".into(),
                words: Ok(Extracted {
                    text: text(n),
                    truncated: false,
                }),
            }],
        }
        .derived_file(
            consultation.as_str(),
            n,
            &site_paths::response_url(consultation, n),
        );
        let key = ObjectKey::parse(site_paths::extracted_key(consultation, n)).unwrap();
        let meta = shared::site::site_meta(key.as_str());
        backend
            .site
            .put_deferred(
                &key,
                Body::Bytes(derived.into_bytes().into()),
                &meta,
                PutMode::Overwrite,
            )
            .await
            .unwrap();
    }
    backend.site.sync().await.unwrap();
    backend
        .publication
        .set_published(consultation, *numbers.end())
        .await
        .unwrap();
}

async fn bench(size: u64) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::embedded(dir.path()).unwrap();
    let start: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    let clock = TestClock::at("2026-12-01T10:00:00Z");
    let request: ConsultationRequest = serde_json::from_value(serde_json::json!({
        "id": "bench", "title": {"en": "Bench"}, "questions": [{"en": "Q?"}],
        "meeting_date": "2027-03-31", "deadline": "2026-12-20T10:00:00Z"
    }))
    .unwrap();
    let consultation = request.into_consultation(start).unwrap();
    backend
        .consultations
        .create(&consultation, &AuditEntry::created(&consultation, None))
        .await
        .unwrap();
    let id = consultation.id.clone();
    add_responses(&backend, &id, start, 1..=size).await;
    let search = backend.search_index(clock.clone());

    // The floor: every extracted text read once, as a rebuild reads them.
    let started = Instant::now();
    let mut read = 0usize;
    for n in 1..=size {
        let key = ObjectKey::parse(site_paths::extracted_key(&id, n)).unwrap();
        let object = backend.site.get(&key).await.unwrap().unwrap();
        read += object.into_bytes().await.unwrap().len();
    }
    let floor = started.elapsed();

    let before = peak_rss_mib();
    let Refresh::Built {
        files_written,
        took,
        ..
    } = search.build(&id, size).await.unwrap()
    else {
        unreachable!("build always builds")
    };
    let after = peak_rss_mib();
    let (files, bytes) = dir_size(
        &dir.path()
            .join("site")
            .join(site_paths::search_index_prefix(&id)),
    );

    // One more response, a minute later: what each rebuild costs during a rush.
    add_responses(&backend, &id, start, size + 1..=size + 1).await;
    clock.set(start + SignedDuration::from_secs(120));
    let Refresh::Built {
        files_written: again_written,
        took: again,
        ..
    } = search.refresh(&id).await.unwrap()
    else {
        unreachable!("a minute later it is due")
    };
    let secs = |d: Duration| d.as_secs_f64();
    println!(
        "search index, {size} responses ({:.1} MiB of text): floor (read every text) {:.2} s; \
         build {:.2} s ({:.1}× the floor), {files_written} files written, index {files} files, \
         {:.1} MiB; +1 response: rebuild {:.2} s, {again_written} files written; peak RSS \
         {before} → {after} MiB",
        read as f64 / 1048576.0,
        secs(floor),
        secs(took),
        secs(took) / secs(floor),
        bytes as f64 / 1048576.0,
        secs(again),
    );
}

#[tokio::main]
async fn main() {
    let sizes = std::env::var("VERBATIM_BENCH_SIZES").unwrap_or_else(|_| "1000 10000".into());
    for size in sizes.split_whitespace() {
        bench(size.parse().expect("a number of responses")).await;
    }
}
