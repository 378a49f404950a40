//! PDF text, read in a child process. pdf-extract (on lopdf) is the well-kept pure-Rust choice,
//! but a PDF is a program as much as a document: a hostile or merely broken one can make a
//! parser loop, recurse deeply, allocate without bound or panic. A thread cannot be stopped
//! from outside, so the parsing runs in a child process of the same binary, which the parent
//! kills after [`TIME_LIMIT`] and which cannot map more than [`MEMORY_LIMIT`]: whatever the
//! file does, publication pays at most that and goes on (the file is skipped with a note).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{MAX_TEXT_BYTES, Skipped};

/// The argument that makes a Verbatim binary read a PDF on stdin and write its text on stdout.
pub const CHILD_ARG: &str = "--verbatim-extract-pdf";
/// A PDF whose text takes longer than this is skipped.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);
/// The child's address space: enough for the largest accepted file several times over.
pub const MEMORY_LIMIT: u64 = 1024 * 1024 * 1024;

/// How to start the child that reads a PDF.
#[derive(Debug, Clone)]
pub struct Isolation {
    program: PathBuf,
    args: Vec<OsString>,
    time_limit: Duration,
}

impl Isolation {
    /// The running binary, started with [`CHILD_ARG`]: every binary that publishes calls
    /// [`run_if_child`] first thing in `main`.
    pub fn current_exe() -> Self {
        Self {
            // Where the running binary cannot be found (it was deleted), Linux still has it.
            program: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
            args: vec![CHILD_ARG.into()],
            time_limit: TIME_LIMIT,
        }
    }

    /// Any program that reads a PDF on stdin and writes its text on stdout (tests use this to
    /// check the limits with programs that misbehave on purpose).
    pub fn program(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        time_limit: Duration,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            time_limit,
        }
    }

    /// The text of `pdf`, or why there is none. Never waits longer than the time limit, never
    /// keeps more than [`MAX_TEXT_BYTES`] (+1, to tell that there was more) of what the child
    /// writes.
    pub async fn pdf_text(&self, pdf: &[u8]) -> Result<String, Skipped> {
        let unreadable = |why: String| Skipped::Unreadable(why);
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| unreadable(format!("the PDF reader did not start: {e}")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(unreadable("the PDF reader has no pipes".into()));
        };
        let input = pdf.to_vec();
        // Fed while the output is read, so neither side can fill a pipe and stall the other.
        let feed = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        let run = async {
            let mut text = Vec::new();
            stdout
                .take(MAX_TEXT_BYTES as u64 + 1)
                .read_to_end(&mut text)
                .await?;
            if text.len() > MAX_TEXT_BYTES {
                // More than is kept: what is there is enough, the rest is not waited for.
                let _ = child.kill().await;
                return Ok((None, text, String::new()));
            }
            let mut why = String::new();
            stderr.take(4096).read_to_string(&mut why).await?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((Some(status), text, why))
        };
        let outcome = tokio::time::timeout(self.time_limit, run).await;
        feed.abort();
        match outcome {
            Err(_) => {
                let _ = child.kill().await;
                Err(unreadable(format!(
                    "reading its text took more than {} s",
                    self.time_limit.as_secs()
                )))
            }
            Ok(Err(e)) => Err(unreadable(format!("the PDF reader failed: {e}"))),
            Ok(Ok((status, text, _))) if status.is_none_or(|s| s.success()) => {
                Ok(String::from_utf8_lossy(&text).into_owned())
            }
            Ok(Ok((_, _, why))) => Err(unreadable(match why.trim() {
                "" => "the PDF reader stopped (out of memory or crashed)".to_owned(),
                why => why.to_owned(),
            })),
        }
    }
}

/// Call first thing in `main` of a binary that publishes: when started as the PDF reader
/// ([`CHILD_ARG`]), reads the PDF, writes its text and exits; otherwise returns at once.
pub fn run_if_child() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == CHILD_ARG)
    {
        std::process::exit(child_main());
    }
}

/// The child: caps its own memory, reads stdin, writes the text. A panic in the parser is
/// caught and reported like any other failure (exit status 2, the reason on stderr).
fn child_main() -> i32 {
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::AS, MEMORY_LIMIT, MEMORY_LIMIT) {
        eprintln!("could not limit the reader's memory: {e}");
        return 2;
    }
    let mut pdf = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut pdf) {
        eprintln!("reading the PDF: {e}");
        return 2;
    }
    // The parser's own panic message would go to stderr before ours; keep only ours.
    std::panic::set_hook(Box::new(|_| {}));
    match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&pdf)) {
        Ok(Ok(text)) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => 0,
                // The parent stops reading past the text limit: that is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
                Err(e) => {
                    eprintln!("writing the text: {e}");
                    2
                }
            }
        }
        Ok(Err(e)) => {
            eprintln!("not a readable PDF ({e})");
            2
        }
        Err(_) => {
            eprintln!("the PDF reader failed on this file");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str, limit: Duration) -> Isolation {
        Isolation::program("sh", ["-c", script], limit)
    }

    #[tokio::test]
    async fn a_reader_that_never_finishes_is_stopped_at_the_time_limit() {
        let started = std::time::Instant::now();
        let result = shell("sleep 30", Duration::from_millis(300))
            .pdf_text(b"%PDF-1.4")
            .await;
        assert!(matches!(result, Err(Skipped::Unreadable(ref why)) if why.contains("took more")));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn endless_output_is_cut_at_the_text_limit() {
        let text = shell("cat >/dev/null; yes word", Duration::from_secs(20))
            .pdf_text(&vec![b'x'; 1 << 20])
            .await
            .unwrap();
        assert_eq!(text.len(), MAX_TEXT_BYTES + 1);
    }

    #[tokio::test]
    async fn a_failing_reader_gives_its_reason() {
        let result = shell("echo 'not a readable PDF' >&2; exit 2", TIME_LIMIT)
            .pdf_text(b"")
            .await;
        assert_eq!(
            result,
            Err(Skipped::Unreadable("not a readable PDF".to_owned()))
        );
        let crashed = shell("kill -9 $$", TIME_LIMIT).pdf_text(b"").await;
        assert!(matches!(crashed, Err(Skipped::Unreadable(ref why)) if why.contains("stopped")));
    }
}
