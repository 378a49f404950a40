//! File-name sanitizing: whatever name a sender gives, the published name is one plain,
//! visible file name (never a path, never hidden, never empty, bounded), and names made
//! unique stay distinct.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::domain::{sanitize_file_name, unique_file_name};

fuzz_target!(|raw: &str| {
    let name = sanitize_file_name(raw);
    assert!(!name.is_empty());
    assert!(name.len() <= 151, "{} bytes", name.len());
    assert!(!name.contains(['/', '\\']), "{name:?}");
    assert!(!name.starts_with('.') && !name.ends_with('.'), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(name != "." && name != "..");
    let taken = vec![name.clone(), format!("{name} (2)")];
    let unique = unique_file_name(&name, &taken);
    assert!(!taken.contains(&unique), "{unique:?}");
});
