//! `verbatim verify` and `verbatim keygen`: the transparency log from the outside. Verify
//! reads a published site (a URL, or a folder such as `verbatim-data/site`) exactly as any
//! reader could, and reports every way it departs from its signed log.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shared::domain::ConsultationId;
use shared::transparency::verify::{Checks, Fetching, Progress, SiteReader, verify_consultation};
use shared::transparency::{LogKey, LogVerifier};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The public site: its URL (https://…) or a folder holding it.
    site: String,
    /// The consultation's id.
    consultation: String,
    /// A receipt (its JSON) to prove included in the log, unchanged.
    #[arg(long)]
    receipt: Option<PathBuf>,
    /// An earlier checkpoint the current one must extend (the log only grows).
    #[arg(long)]
    since: Option<PathBuf>,
    /// A witness policy (C2SP tlog-policy: `witness`, `group`, `quorum` lines) the checkpoint
    /// must meet; the site publishes the operator's at `/log/policy`, but yours says whom you
    /// trust. Names which witnesses cosigned and which are missing.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The verifier key to trust (`<name>+<id>+<key>`); default: the one the site publishes,
    /// which you should compare with the one the operator announces.
    #[arg(long)]
    key: Option<String>,
    /// How many published files are downloaded at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// How long a download may stall (connecting, or between two pieces of its body) before
    /// it fails (`30s`, `500ms`; at most 60 s). A large file on a slow link still arrives.
    #[arg(long, default_value = "30s", value_parser = crate::parse_timeout)]
    timeout: Duration,
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The key's name: the public site's host, e.g. consultations.example.org.
    #[arg(long)]
    name: String,
}

/// Prints a new private key on stdout (to store in the SSM SecureString parameter named by
/// VERBATIM_SIGNING_KEY_PARAMETER), and its verifier key on stderr.
pub fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let key = LogKey::generate(&args.name)?;
    println!("{}", key.private_key());
    eprintln!("verifier key (publish it): {}", key.verifier_key());
    Ok(())
}

/// Runs every check; returns whether the consultation verified.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<bool> {
    let id = ConsultationId::parse(&args.consultation).map_err(anyhow::Error::msg)?;
    let site: Box<dyn SiteReader> =
        if args.site.starts_with("http://") || args.site.starts_with("https://") {
            Box::new(UrlSite {
                base: args.site.trim_end_matches('/').to_owned(),
                client: reqwest::Client::builder()
                    .connect_timeout(args.timeout)
                    .read_timeout(args.timeout)
                    .build()?,
            })
        } else {
            Box::new(FolderSite(PathBuf::from(&args.site)))
        };
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let checks = Checks {
        key: args.key.as_deref().map(LogVerifier::parse).transpose()?,
        receipt: args.receipt.as_ref().map(read).transpose()?,
        since: args.since.as_ref().map(read).transpose()?,
        policy: match &args.policy {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Some(shared::witness::policy::Policy::parse(&text)?)
            }
            None => None,
        },
    };
    let bar = FilesBar::new();
    let fetching = Fetching {
        at_once: usize::from(args.parallel),
        progress: &bar,
    };
    let outcome = verify_consultation(site.as_ref(), &id, checks, fetching).await;
    bar.0.finish_and_clear();
    let report = match outcome {
        Ok(report) => report,
        Err(e) => {
            println!("FAILED: {e}");
            return Ok(false);
        }
    };
    println!("verifier key: {}", report.key);
    if let Some(head) = &report.head {
        println!(
            "checkpoint: {} entries, root hash {} (signature valid)",
            head.size,
            head.root_hex()
        );
    }
    println!("published files checked: {}", report.files_checked);
    for note in &report.notes {
        println!("ok: {note}");
    }
    for problem in &report.problems {
        println!("PROBLEM: {problem}");
    }
    if report.ok() {
        println!("verified: every published response matches the signed log");
    } else {
        println!("FAILED: {} problem(s)", report.problems.len());
    }
    Ok(report.ok())
}

/// The published files fetched and hashed so far, on stderr (hidden when it is not a terminal,
/// so logs and pipes get the report alone).
struct FilesBar(ProgressBar);

impl FilesBar {
    fn new() -> Self {
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} files, {eta} left")
                .expect("a valid template"),
        );
        bar.set_message("checking the published files");
        Self(bar)
    }
}

impl Progress for FilesBar {
    fn files_to_check(&self, total: u64) {
        self.0.set_length(total);
        self.0.set_draw_target(ProgressDrawTarget::stderr());
    }

    fn file_checked(&self) {
        self.0.inc(1);
    }
}

/// A site copied to (or served from) a folder.
struct FolderSite(PathBuf);

#[async_trait]
impl SiteReader for FolderSite {
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        if path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(format!("refusing the path {path:?}"));
        }
        match tokio::fs::read(self.0.join(path)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A site on the web (paths percent-encoded segment by segment: file names may hold spaces).
struct UrlSite {
    base: String,
    client: reqwest::Client,
}

#[async_trait]
impl SiteReader for UrlSite {
    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let encoded: Vec<String> = path
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        let url = format!("{}/{}", self.base, encoded.join("/"));
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => response
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| e.to_string()),
            s => Err(format!("{url}: HTTP {s}")),
        }
    }
}
