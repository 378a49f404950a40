//! The PDF reader, as publication runs it: in a child process of this binary, killed after a
//! time limit and capped in memory (`shared::extract::Isolation`). Whatever the bytes, the
//! parent gets text or a reason (`Skipped`) within the limit and never crashes; pdf-extract's
//! own panics and loops stay in the child, where they are expected. Seeds: the browser
//! tests' real PDF and a minimal one (tests/fuzz/run.sh).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

/// A limit far under libFuzzer's `-timeout`, so that a stuck child is the reader's to stop.
const LIMIT: Duration = Duration::from_secs(2);

fuzz_target!(
    init: {
        // Started again as the child (`--verbatim-extract-pdf`): read, answer and exit here,
        // before libFuzzer reads its arguments.
        shared::extract::run_if_child();
    },
    |pdf: &[u8]| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let exe = std::env::current_exe().unwrap();
        let reader = shared::extract::Isolation::program(exe, [shared::extract::CHILD_ARG], LIMIT);
        let started = Instant::now();
        let text = runtime.block_on(reader.pdf_text(pdf));
        assert!(
            started.elapsed() < LIMIT + Duration::from_secs(3),
            "the reader took {:?}",
            started.elapsed()
        );
        if let Ok(text) = text {
            assert!(text.len() <= shared::extract::MAX_TEXT_BYTES + 1);
        }
    }
);
