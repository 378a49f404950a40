//! How much one response may carry, and the running count that enforces it while the upload is
//! still streaming, so an oversized request is refused without being buffered.

use thiserror::Error;

use super::{Arg, Text};

/// A response's size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_files: usize,
    pub max_total_bytes: u64,
    /// A form field other than a file or the text (name, country…).
    pub max_field_bytes: usize,
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 25 * MIB,
            max_files: 20,
            max_total_bytes: 100 * MIB,
            max_field_bytes: 10 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct TooLarge(pub Text);

/// `{file} is larger than {mb} MB, the limit for one file`.
pub fn file_too_large(file_name: &str, max_file_bytes: u64) -> TooLarge {
    TooLarge(Text::with(
        "err_file_too_large",
        [
            ("file", Arg::plain(file_name)),
            ("mb", Arg::plain(max_file_bytes / MIB)),
        ],
    ))
}

/// Counts what a response has carried so far against its [`Limits`].
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    files: usize,
    total: u64,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            files: 0,
            total: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Called when an attached file starts.
    pub fn start_file(&mut self) -> Result<(), TooLarge> {
        self.files += 1;
        if self.files > self.limits.max_files {
            return Err(TooLarge(Text::with(
                "err_too_many_files",
                [("count", Arg::count(self.limits.max_files))],
            )));
        }
        Ok(())
    }

    /// Called for every chunk of a file (or of the text) as it arrives; `file_so_far` includes it.
    pub fn add_chunk(
        &mut self,
        file_name: &str,
        len: usize,
        file_so_far: u64,
    ) -> Result<(), TooLarge> {
        self.total += len as u64;
        if file_so_far > self.limits.max_file_bytes {
            return Err(file_too_large(file_name, self.limits.max_file_bytes));
        }
        if self.total > self.limits.max_total_bytes {
            return Err(TooLarge(Text::with(
                "err_total_too_large",
                [("mb", Arg::plain(self.limits.max_total_bytes / MIB))],
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_and_bytes() {
        let limits = Limits {
            max_file_bytes: 10,
            max_files: 2,
            max_total_bytes: 15,
            max_field_bytes: 4,
        };
        let mut b = Budget::new(limits);
        b.start_file().unwrap();
        b.add_chunk("a", 10, 10).unwrap();
        assert!(
            b.add_chunk("a", 1, 11)
                .unwrap_err()
                .to_string()
                .contains("a is larger than")
        );

        let mut b = Budget::new(limits);
        b.start_file().unwrap();
        b.add_chunk("a", 8, 8).unwrap();
        b.start_file().unwrap();
        b.add_chunk("b", 7, 7).unwrap();
        assert!(
            b.add_chunk("b", 1, 8)
                .unwrap_err()
                .to_string()
                .contains("in all")
        );
        assert!(
            b.start_file()
                .unwrap_err()
                .to_string()
                .contains("at most 2 files")
        );
    }
}
