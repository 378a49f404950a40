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
    #[arg(required_unless_present = "proof")]
    site: Option<String>,
    /// The consultation's id.
    #[arg(required_unless_present = "proof")]
    consultation: Option<String>,
    /// A receipt (its JSON) to prove included in the log, unchanged.
    #[arg(long)]
    receipt: Option<PathBuf>,
    /// With `--receipt`: save the receipt's proof of inclusion there (a C2SP tlog-proof, with
    /// the checkpoint and its witnesses' cosignatures), which `--proof` checks offline.
    #[arg(long, requires = "receipt", value_name = "FILE")]
    write_proof: Option<PathBuf>,
    /// Check a saved proof offline, without the site: the checkpoint's signature (`--key`, or
    /// the logs of `--policy`), the response's entry included in it, the witnesses (`--policy`),
    /// and that each `--file` is one of the response's files.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["site", "receipt", "follow", "since"])]
    proof: Option<PathBuf>,
    /// With `--proof`: a file that must be one of the proven response's files, byte for byte.
    #[arg(long = "file", requires = "proof", value_name = "FILE")]
    files: Vec<PathBuf>,
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
    /// Keep watching, as a monitor: poll the checkpoint every `--every`, check each new one
    /// extends the last one verified (kept in `--state`, so a restart goes on from it), verify
    /// the whole consultation again, and stop with an error on a split view (another history
    /// than the one seen before) or a changed file.
    #[arg(long)]
    follow: bool,
    /// How often `--follow` looks at the checkpoint.
    #[arg(long, default_value = "30s", value_parser = crate::parse_timeout, requires = "follow")]
    every: Duration,
    /// Where `--follow` keeps the last checkpoint it verified (default:
    /// `verbatim-monitor/<consultation>.checkpoint`).
    #[arg(long, requires = "follow")]
    state: Option<PathBuf>,
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

/// Runs every check; returns whether the consultation verified. With `--follow`, runs until a
/// check fails.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<bool> {
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(shared::transparency::policy::Policy::parse(&text)?)
        }
        None => None,
    };
    if let Some(proof) = &args.proof {
        return check_proof(proof, &args, policy.as_ref());
    }
    let (Some(site_arg), Some(consultation)) = (&args.site, &args.consultation) else {
        anyhow::bail!("name the site and the consultation");
    };
    let id = ConsultationId::parse(consultation).map_err(anyhow::Error::msg)?;
    let site: Box<dyn SiteReader> =
        if site_arg.starts_with("http://") || site_arg.starts_with("https://") {
            Box::new(UrlSite {
                base: site_arg.trim_end_matches('/').to_owned(),
                client: reqwest::Client::builder()
                    .connect_timeout(args.timeout)
                    .read_timeout(args.timeout)
                    .build()?,
            })
        } else {
            Box::new(FolderSite(PathBuf::from(site_arg)))
        };
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let checks = Checks {
        key: args.key.as_deref().map(LogVerifier::parse).transpose()?,
        receipt: args.receipt.as_ref().map(read).transpose()?,
        since: args.since.as_ref().map(read).transpose()?,
        policy,
    };
    if args.follow {
        let state = args
            .state
            .clone()
            .unwrap_or_else(|| PathBuf::from("verbatim-monitor").join(format!("{id}.checkpoint")));
        return follow(site.as_ref(), &id, checks, &args, &state).await;
    }
    let report = match check(site.as_ref(), &id, checks, &args).await {
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
    let problems: Vec<&String> = report.problems.iter().chain(&report.unwitnessed).collect();
    for problem in &problems {
        println!("PROBLEM: {problem}");
    }
    if report.ok() {
        println!("verified: every published response matches the signed log");
        if let (Some(path), Some(proof)) = (&args.write_proof, &report.proof) {
            std::fs::write(path, proof.encode())
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "proof of inclusion saved to {} (check it offline: verbatim verify --proof {} --key {})",
                path.display(),
                path.display(),
                report.key
            );
        }
    } else {
        println!("FAILED: {} problem(s)", problems.len());
    }
    Ok(report.ok())
}

/// `--proof`: a saved tlog-proof checked offline against the trusted key (`--key`, else the one
/// log `--policy` lists), the policy's witnesses, and the files given.
fn check_proof(
    path: &std::path::Path,
    args: &VerifyArgs,
    policy: Option<&shared::transparency::policy::Policy>,
) -> anyhow::Result<bool> {
    use shared::transparency::proof::Proof;
    let key = match (&args.key, policy.map(|p| p.logs())) {
        (Some(key), _) => LogVerifier::parse(key)?,
        (None, Some([log])) => log.key.clone(),
        _ => anyhow::bail!(
            "whose signature to trust: give the log's key (--key) or a policy that lists it (--policy with one `log` line)"
        ),
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let proven = match Proof::parse(&bytes).and_then(|proof| proof.check(&key, policy)) {
        Ok(proven) => proven,
        Err(e) => {
            println!("FAILED: {e}");
            return Ok(false);
        }
    };
    let entry = &proven.entry;
    println!(
        "checkpoint: {} entries of {}, root hash {} (signed by {})",
        proven.head.size,
        proven.head.origin,
        proven.head.root_hex(),
        key.as_str()
    );
    println!(
        "ok: response {} of {} (received {}, by {:?}) is entry {} of the log, included in this checkpoint",
        entry.number,
        entry.consultation,
        entry.received_at,
        entry.channel,
        entry.number - 1
    );
    for file in &entry.files {
        println!(
            "  file {} ({} bytes, SHA-256 {})",
            file.name, file.size, file.sha256
        );
    }
    let mut problems = Vec::new();
    if let Some(verdict) = &proven.witnesses {
        let names = |n: &[String]| {
            if n.is_empty() {
                "none".to_owned()
            } else {
                n.join(", ")
            }
        };
        let who = format!(
            "cosigned by {}; missing: {}",
            names(&verdict.signed),
            names(&[verdict.missing.clone(), verdict.invalid.clone()].concat())
        );
        if verdict.quorum_met {
            println!("ok: the witness policy's quorum is met: {who}");
        } else {
            problems.push(format!("the witness policy's quorum is NOT met: {who}"));
        }
    }
    for file in &args.files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        match entry.files.iter().find(|f| f.sha256 == sha) {
            Some(f) => println!(
                "ok: {} is the response's file {}, byte for byte",
                file.display(),
                f.name
            ),
            None => problems.push(format!(
                "{} (SHA-256 {sha}) is none of the response's files",
                file.display()
            )),
        }
    }
    for problem in &problems {
        println!("PROBLEM: {problem}");
    }
    if problems.is_empty() {
        println!("verified: the proof holds offline");
    } else {
        println!("FAILED: {} problem(s)", problems.len());
    }
    Ok(problems.is_empty())
}

/// One whole verification, with a progress bar.
async fn check(
    site: &dyn SiteReader,
    id: &ConsultationId,
    checks: Checks,
    args: &VerifyArgs,
) -> Result<shared::transparency::verify::Report, shared::transparency::verify::VerifyError> {
    let bar = FilesBar::new();
    let fetching = Fetching {
        at_once: usize::from(args.parallel),
        progress: &bar,
    };
    let outcome = verify_consultation(site, id, checks, fetching).await;
    bar.0.finish_and_clear();
    outcome
}

/// The monitor: verifies each new checkpoint against the last one it verified, which it keeps
/// in `state` (written whole, then renamed into place). Returns `false` (after saying why) as
/// soon as the site shows another history or a changed file; a site it cannot reach, or a
/// checkpoint its witnesses have not cosigned yet, is reported and looked at again.
async fn follow(
    site: &dyn SiteReader,
    id: &ConsultationId,
    checks: Checks,
    args: &VerifyArgs,
    state: &std::path::Path,
) -> anyhow::Result<bool> {
    let mut last = match std::fs::read(state) {
        Ok(bytes) => {
            println!("monitor: going on from {}", state.display());
            Some(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", state.display())),
    };
    let checkpoint_path = shared::transparency::publish::checkpoint_key(id);
    loop {
        let current = site.get(&checkpoint_path).await;
        let changed = match &current {
            Ok(Some(bytes)) => last.as_ref() != Some(bytes),
            Ok(None) => {
                println!("monitor: no checkpoint published yet");
                false
            }
            Err(e) => {
                println!("monitor: reading the checkpoint failed ({e}); trying again");
                false
            }
        };
        if changed {
            let round = Checks {
                key: checks.key.clone(),
                receipt: None,
                since: last.clone(),
                policy: checks.policy.clone(),
            };
            match check(site, id, round, args).await {
                Err(e) => println!("monitor: {e}; trying again"),
                Ok(report) if !report.problems.is_empty() => {
                    let what = if report.history_rewritten() {
                        "SPLIT VIEW: this site now shows another history than the checkpoint verified before (kept in the state file): someone is shown a different log"
                    } else {
                        "EDITED: the site no longer matches its signed log"
                    };
                    println!("{what}");
                    for problem in &report.problems {
                        println!("PROBLEM: {problem}");
                    }
                    println!(
                        "monitor: stopped; the last good checkpoint is in {}",
                        state.display()
                    );
                    return Ok(false);
                }
                Ok(report) => match (&report.head, &report.unwitnessed) {
                    (Some(head), None) => {
                        save(state, &report.checkpoint)?;
                        println!(
                            "monitor: checkpoint of {} entries verified (root {}), {} files checked",
                            head.size,
                            head.root_hex(),
                            report.files_checked
                        );
                        last = Some(report.checkpoint);
                    }
                    (_, Some(unwitnessed)) => {
                        println!("monitor: not accepted yet: {unwitnessed}");
                    }
                    (None, None) => println!("monitor: no checkpoint verified; trying again"),
                },
            }
        }
        tokio::time::sleep(args.every).await;
    }
}

/// Writes the monitor's state whole: a crash leaves the old one or the new one.
fn save(state: &std::path::Path, checkpoint: &[u8]) -> anyhow::Result<()> {
    let dir = state.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))?;
    std::io::Write::write_all(&mut file, checkpoint)?;
    file.as_file().sync_all()?;
    file.persist(state)
        .with_context(|| format!("saving {}", state.display()))?;
    Ok(())
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
