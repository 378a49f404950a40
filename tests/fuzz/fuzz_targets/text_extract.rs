//! The text extractors that run in-process (HTML, RTF, DOCX, XLSX, PPTX, ODT and the other
//! OpenDocument kinds, plain text): any bytes, as any of these types, give text or a reason
//! (`Skipped`), never a panic, and never more text than the bound. The first byte picks the
//! type; the rest is the file. Seeds: the browser tests' real DOCX and ODT, and a few small
//! HTML and RTF documents (tests/fuzz/run.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Every type read in-process (`shared::extract::extract`); PDF is the `pdf_text` target's.
const TYPES: [&str; 9] = [
    "text/plain",
    "text/html",
    "application/rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let media_type = TYPES[usize::from(pick) % TYPES.len()];
    assert!(shared::extract::reads(media_type));
    if let Ok(extracted) = shared::extract::extract(media_type, file) {
        assert!(
            extracted.text.len() <= shared::extract::MAX_TEXT_BYTES,
            "{} bytes of text",
            extracted.text.len()
        );
    }
});
