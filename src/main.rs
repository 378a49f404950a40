//! `verbatim`: the local host. Runs every Verbatim function in one process (intake, admin,
//! publication, the public site) over the embedded store, or over S3 + DynamoDB with
//! `--store aws`, so a user needs nothing but cargo.

mod accounts;
mod http_server;
mod verify;
mod witness;
mod worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use shared::adapters::outbox::OutboxMailer;
use shared::adapters::relay::SmtpRelay;
use shared::email::receive::MAX_MESSAGE_BYTES;
use shared::http::LocalRoutes;
use shared::http::admin::AdminToken;
use shared::http::rate_limit::{ClientLimits, RateLimit};
use shared::http::session::ConsoleSettings;
use shared::ports::{Clock, Mailer, SweptByTimer, SystemClock};
use shared::{Backend, Timing, Vars};

#[derive(Parser)]
#[command(
    name = "verbatim",
    version,
    about = "Open public consultations, published verbatim"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // Boxed: its many options make it far larger than the other commands.
    /// Serve the API and the public site, and publish responses as they arrive.
    Serve(Box<ServeArgs>),
    /// Check a published consultation against its signed transparency log.
    Verify(verify::VerifyArgs),
    /// Print a new log signing key (for the SSM parameter named by VERBATIM_SIGNING_KEY_PARAMETER).
    Keygen(verify::KeygenArgs),
    /// Manage the Secretariat's accounts (the console's people), whether `serve` runs or not.
    #[command(subcommand)]
    Admin(accounts::AdminCommand),
    /// Run a witness (C2SP tlog-witness): cosign logs' checkpoints that are consistent with
    /// what it cosigned before, so no log can show different histories to different readers.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum StoreKind {
    /// Files and SQLite in the data folder: nothing else to run.
    Embedded,
    /// S3 and DynamoDB, named by VERBATIM_TABLE, VERBATIM_PRIVATE_BUCKET, VERBATIM_SITE_BUCKET
    /// and configured by the standard AWS_* variables (AWS_ENDPOINT_URL for an emulator).
    Aws,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Data folder: the embedded store, and the admin token if generated.
    #[arg(long, default_value = "./verbatim-data")]
    data: PathBuf,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// With --store aws: create the table and buckets if they are missing.
    #[arg(long)]
    create_resources: bool,
    /// Also accept responses by email over SMTP on this address (e.g. 127.0.0.1:2525).
    #[arg(long)]
    smtp: Option<SocketAddr>,
    /// The mail domain: responses go to <consultation>@<domain>.
    #[arg(long, default_value = "consultations.localhost")]
    mail_domain: String,
    /// The largest message accepted over SMTP, in bytes (SES's limit is 40 MB).
    #[arg(long, default_value_t = MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// How long an SMTP client may stay silent before it is told so (421) and dropped (`60s`).
    #[arg(long, default_value = "60s", value_parser = parse_timeout)]
    smtp_timeout: std::time::Duration,
    /// The most SMTP conversations at once; further connections wait to be accepted.
    #[arg(long, default_value_t = 256)]
    smtp_max_connections: usize,
    /// The public site's address, for links in mail (receipts, the email lists) and the name of
    /// a new signing key on AWS; default: the served URL.
    #[arg(long, env = "VERBATIM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Also send every outgoing message through this SMTP relay: `smtp://host:25`,
    /// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtps://user:password@host:465`.
    #[arg(long, env = "VERBATIM_SMTP_RELAY", hide_env_values = true)]
    smtp_relay: Option<String>,
    /// How long a response waits for its number before the answer is `202 Accepted` with a
    /// pending receipt (`2s`, `500ms`); the embedded store numbers as it commits.
    #[arg(long, env = "VERBATIM_RECEIPT_WAIT", default_value = "2s", value_parser = shared::intake::parse_wait)]
    receipt_wait: std::time::Duration,
    /// The longest a consultation's search index may wait for new responses: it is rebuilt at
    /// most this often while they arrive (`60s`, `1s`), and at once when the consultation closes.
    #[arg(long, env = "VERBATIM_SEARCH_EVERY", default_value = "60s", value_parser = shared::intake::parse_wait)]
    search_every: std::time::Duration,
    /// How many responses each block of a consultation's search index holds: a rebuild indexes
    /// only the blocks that miss responses, so its time and memory are bounded by this.
    #[arg(long, env = "VERBATIM_SEARCH_BLOCK_SIZE", default_value_t = shared::search::BLOCK_SIZE, value_parser = clap::value_parser!(u64).range(1..))]
    search_block_size: u64,
    /// How long a response received in time may take to be stored, in whole seconds (1 to
    /// 3600); the dossier follows the deadline by this plus 5 s.
    #[arg(long, env = "VERBATIM_IN_FLIGHT_GRACE_SECONDS", default_value = "30", value_parser = shared::intake::parse_in_flight_grace)]
    in_flight_grace: jiff::SignedDuration,
    /// The Secretariat's bearer token; generated into the data folder if unset.
    #[arg(long, env = "VERBATIM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// How many responses one client address may send a minute (`60/min`), or `off`. Uploads
    /// may be 40 times as many (a ticket and a PUT for each of 20 files); subscription
    /// requests as many as responses. Beyond: `429 rate_limited` with `Retry-After`.
    #[arg(long, default_value = "60/min", value_parser = RateLimit::parse)]
    rate_limit: RateLimit,
    /// A proxy in front of this server (a CIDR, e.g. 10.0.0.0/8; repeatable): only requests
    /// from it are counted by the client address it gives in `X-Forwarded-For`.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a client may take to send a request's headers (`10s`); also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    header_timeout: std::time::Duration,
    /// How long a request's body may pause between two pieces before the request is dropped.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    body_timeout: std::time::Duration,
    /// The most connections served at once; further ones wait to be accepted.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// The most connections one client address may hold (a trusted proxy excepted).
    #[arg(long, default_value_t = 64)]
    max_connections_per_client: usize,
    /// The witnesses asked to cosign each checkpoint, as a C2SP tlog-policy file: `witness
    /// NAME VKEY URL` lines (the URL is the witness's tlog-witness prefix), `group` lines and
    /// a `quorum`. Published at `/log/policy`. See docs/witness.md.
    #[arg(long, env = "VERBATIM_WITNESS_POLICY_FILE")]
    witness_policy: Option<std::path::PathBuf>,
}

/// The witnesses of the policy file at `path`, asked over HTTP; the policy must name this log's
/// key if it names logs at all (readers who use it would otherwise refuse every checkpoint).
fn witnessing(
    path: &std::path::Path,
    log_key: Option<&shared::transparency::LogKey>,
) -> anyhow::Result<shared::transparency::cosigning::Cosigning> {
    use shared::transparency::policy::Policy;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the witness policy {}", path.display()))?;
    let policy = Policy::parse(&text)?;
    if let Some(key) = log_key
        && !policy.logs().is_empty()
        && !policy.lists_log(key.verifier_key())
    {
        anyhow::bail!(
            "the witness policy {} lists logs, but not this one: add `log {}`",
            path.display(),
            key.verifier_key()
        );
    }
    let asked = policy
        .witnesses()
        .iter()
        .filter(|w| w.url.is_some())
        .count();
    println!(
        "Checkpoints are sent to {asked} witness(es) of {} ({} in the policy)",
        path.display(),
        policy.witnesses().len()
    );
    Ok(shared::transparency::cosigning::Cosigning::new(
        policy,
        Arc::new(shared::adapters::witness_http::HttpWitnesses::new(
            shared::transparency::cosigning::WITNESS_TIMEOUT,
        )),
    ))
}

/// A timeout flag: a wait (see `parse_wait`) that is not zero.
pub(crate) fn parse_timeout(raw: &str) -> Result<std::time::Duration, String> {
    let timeout = shared::intake::parse_wait(raw)?;
    if timeout.is_zero() {
        return Err(format!("{raw:?}: a timeout must be more than 0"));
    }
    Ok(timeout)
}

/// Clients unseen for this long are forgotten by the rate limiter (their allowance is full
/// again anyway).
const FORGET_IDLE_CLIENTS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The blocking pool is capped well below tokio's default of 512 threads: the local host's
/// blocking work is short file and database calls, and under a rush the default grew past 100
/// threads, each hand-off waking a cold one (16 took intake from about 2,600 to 3,300 responses
/// a second in `bench/intake.sh` on a 2-core machine). Nothing blocking waits for another
/// blocking task, so a full pool only queues.
fn main() -> anyhow::Result<()> {
    // Started again by itself to read a PDF's text in a bounded child process.
    shared::extract::run_if_child();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::Verify(args) => {
            if !verify::verify(args).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Keygen(args) => verify::keygen(args),
        Command::Admin(command) => accounts::run(command).await,
        Command::Witness(command) => witness::run(command).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating the data folder {}", args.data.display()))?;
    let backend = match args.store {
        StoreKind::Embedded => {
            // Uploads are spooled beside the store, on its file system, so that storing one is
            // a hard link, not a copy (a /tmp on tmpfs would need both a copy and a flush).
            let spool = args.data.join("tmp");
            std::fs::create_dir_all(&spool)
                .with_context(|| format!("creating {}", spool.display()))?;
            // What a killed process left half-received: never acknowledged, never referred to
            // (a stored original is a link of its own).
            for leftover in std::fs::read_dir(&spool)?.flatten() {
                let _ = std::fs::remove_file(leftover.path());
            }
            let _ = tempfile::env::override_temp_dir(&spool);
            Backend::embedded(&args.data)?
        }
        StoreKind::Aws => {
            let mut names = shared::AwsNames::from_vars(&Vars::from_iter(std::env::vars()))?;
            names.key_name = shared::settings::key_name(args.public_url.as_deref());
            let config = aws_config::load_from_env().await;
            Backend::aws(&config, &names, args.create_resources).await?
        }
    };
    let backend = backend.with_timing(Timing {
        receipt_wait: args.receipt_wait,
        in_flight_grace: args.in_flight_grace,
    });
    let token = admin_token(args.admin_token, &args.data)?;
    if let Some(key) = &backend.log_key {
        println!("Transparency log verifier key: {}", key.verifier_key());
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let sender = format!("verbatim@{}", args.mail_domain);
    let mut outbox = OutboxMailer::open(args.data.join("outbox"), sender.clone())?;
    if let Some(url) = &args.smtp_relay {
        outbox = outbox.with_relay(SmtpRelay::new(url, &sender).map_err(anyhow::Error::msg)?);
    }
    let mailer: Arc<dyn Mailer> = Arc::new(outbox);
    let list = Arc::new(backend.email_list(
        mailer.clone(),
        clock.clone(),
        public_url.clone(),
        args.mail_domain.clone(),
    ));

    let health = Arc::new(shared::publish::health::PublicationHealth::default());
    let cosigning = match &args.witness_policy {
        Some(path) => Some(Arc::new(witnessing(path, backend.log_key.as_deref())?)),
        None => None,
    };
    let pipeline = shared::publish::pipeline::Pipeline {
        publisher: Arc::new(shared::publish::Publisher {
            cosigning,
            ..backend.publisher(clock.clone())
        }),
        search: Arc::new(shared::search::SearchIndex {
            rebuild_every: args.search_every,
            block_size: args.search_block_size,
            ..backend.search_index(clock.clone())
        }),
        list: list.clone(),
    };
    let queue = worker::start(Arc::new(pipeline), health.clone());
    let closer = backend.closer(clock.clone(), queue.clone());
    let closing = closer.health.clone();
    worker::start_closing(closer);
    let mut admin =
        backend.admin_state(clock.clone(), queue.clone(), Arc::new(SweptByTimer), token);
    // The console's cookies are `Secure` when it is reached over HTTPS, which the public URL
    // says (behind a TLS-terminating proxy the socket itself is plain HTTP).
    admin.console = Arc::new(
        ConsoleSettings::new(
            public_url.starts_with("https://"),
            args.trusted_proxies.clone(),
        )
        .with_public_url(&public_url),
    );
    let intake = backend.intake_state(clock, queue);
    let mut routes = shared::http::local_router(LocalRoutes {
        intake: intake.clone(),
        list: list.clone(),
        admin,
        health,
        closing,
        site: backend.site.clone(),
    });
    if let Some(limits) = ClientLimits::new(args.rate_limit, args.trusted_proxies.clone()) {
        routes = shared::http::rate_limit::limit(routes, limits.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FORGET_IDLE_CLIENTS_EVERY);
            loop {
                ticks.tick().await;
                limits.forget_idle();
            }
        });
    }

    if let Some(smtp_addr) = args.smtp {
        let email = Arc::new(backend.email_intake(intake.intake.clone(), list));
        let smtp_listener = tokio::net::TcpListener::bind(smtp_addr)
            .await
            .with_context(|| format!("listening for SMTP on {smtp_addr}"))?;
        println!(
            "Verbatim accepts email at smtp://{}/ for <consultation>@{}",
            smtp_listener.local_addr()?,
            args.mail_domain
        );
        let limits = shared::email::smtp::SmtpLimits {
            max_message_bytes: args.max_message_bytes,
            idle: args.smtp_timeout,
        };
        tokio::spawn(shared::email::smtp::serve(
            smtp_listener,
            email,
            limits,
            args.smtp_max_connections,
        ));
    }
    println!("Verbatim is serving at http://{addr}/");
    let app = shared::http::with_request_log(shared::http::with_security_headers(routes));
    let limits = http_server::ConnectionLimits {
        header_read: args.header_timeout,
        body_idle: args.body_timeout,
        max_connections: args.max_connections.max(1),
        max_per_client: args.max_connections_per_client.max(1),
        trusted_proxies: args.trusted_proxies,
    };
    http_server::serve(listener, app, limits, shutdown()).await?;
    Ok(())
}

/// The token from the environment, else the one kept in the data folder, else a new one.
fn admin_token(given: Option<String>, data: &Path) -> anyhow::Result<AdminToken> {
    if let Some(token) = given {
        return AdminToken::new(token).map_err(anyhow::Error::msg);
    }
    let path = data.join("admin-token");
    if let Ok(saved) = std::fs::read_to_string(&path) {
        let token = AdminToken::new(saved.trim()).map_err(anyhow::Error::msg)?;
        println!("Admin token (from {}): {}", path.display(), token.reveal());
        return Ok(token);
    }
    let token = AdminToken::generate();
    write_private(&path, "the admin token", token.reveal())?;
    println!(
        "Admin token (new, saved in {}): {}",
        path.display(),
        token.reveal()
    );
    Ok(token)
}

/// Saves a secret (the admin token, a witness's key) in a new file only its owner can read,
/// refusing to replace one, flushed to disk.
pub(crate) fn write_private(path: &Path, what: &str, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("saving {what} to {}", path.display()))?;
    writeln!(file, "{secret}")?;
    file.sync_all()?;
    Ok(())
}

pub(crate) async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
