//! `verbatim witness`: runs a C2SP tlog-witness with nothing but this binary and a data folder
//! (its key in `witness-key`, its state in `witness.db`). See docs/witness.md.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use shared::adapters::witness_sqlite::SqliteWitnessState;
use shared::ports::{SystemClock, WitnessState};
use shared::transparency::cosignature::CosignerKey;
use shared::witness::Witness;

/// The key's name when none is given: name it for who runs it (`--name witness.example.org`).
const DEFAULT_NAME: &str = "witness.localhost";

#[derive(clap::Subcommand)]
pub enum WitnessCommand {
    /// Serve `POST /add-checkpoint` (C2SP tlog-witness) for the logs added with `add-log`.
    Serve(ServeArgs),
    /// Follow a log: ORIGIN exactly, or every origin starting with ORIGIN's text before a final
    /// `*` (e.g. `consultations.example.org/consultations/*`: every consultation of one Verbatim
    /// site), signed by VKEY (the log's verifier key, as its `/log/verifier-key` gives it).
    AddLog {
        #[arg(long, default_value = "./witness-data")]
        data: PathBuf,
        origin: String,
        vkey: String,
    },
    /// Print the witness's verifier key (type 0x04, for logs and readers), creating the key
    /// on first use.
    Key {
        #[arg(long, default_value = "./witness-data")]
        data: PathBuf,
        /// The key's name when it is created (a URL without a scheme, e.g. witness.example.org).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    #[arg(long, default_value = "./witness-data")]
    data: PathBuf,
    /// The key's name when it is created (a URL without a scheme, e.g. witness.example.org).
    #[arg(long)]
    name: Option<String>,
    /// Requests one client address may make a minute (`off`: no limit). A log asks once per
    /// checkpoint: Verbatim, a few times a second in a rush.
    #[arg(long, default_value = "1200")]
    requests_per_minute: String,
}

pub async fn run(command: WitnessCommand) -> anyhow::Result<()> {
    match command {
        WitnessCommand::Key { data, name } => {
            println!("{}", key(&data, name.as_deref())?.verifier_key());
            Ok(())
        }
        WitnessCommand::AddLog { data, origin, vkey } => {
            let origin = origin.trim();
            if origin.is_empty()
                || origin.contains('\n')
                || origin.strip_suffix('*').unwrap_or(origin).contains('*')
            {
                anyhow::bail!("{origin:?} is not an origin (one line; `*` only at its end)");
            }
            shared::transparency::LogVerifier::parse(&vkey)
                .with_context(|| format!("{vkey:?} is not a log's verifier key"))?;
            state(&data)?.add_log(origin, vkey.trim())?;
            println!("Following {origin} signed by {}", vkey.trim());
            Ok(())
        }
        WitnessCommand::Serve(args) => serve(args).await,
    }
}

/// The witness's key, made on first use (kept readable by its owner only).
fn key(data: &Path, name: Option<&str>) -> anyhow::Result<CosignerKey> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("creating the data folder {}", data.display()))?;
    let path = data.join("witness-key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = CosignerKey::parse(&text)
                .with_context(|| format!("reading the key in {}", path.display()))?;
            if let Some(name) = name
                && name != key.name()
            {
                anyhow::bail!(
                    "the key in {} is named {:?}, not {name:?}: a witness keeps its name",
                    path.display(),
                    key.name()
                );
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = CosignerKey::generate(name.unwrap_or(DEFAULT_NAME))?;
            crate::write_private(&path, "the witness key", &key.private_key())?;
            eprintln!("Created the witness key {}", key.verifier_key());
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn state(data: &Path) -> anyhow::Result<SqliteWitnessState> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("creating the data folder {}", data.display()))?;
    Ok(SqliteWitnessState::open(&data.join("witness.db"))?)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let per_minute =
        match args.requests_per_minute.trim() {
            "off" => None,
            n => Some(n.parse::<NonZeroU32>().with_context(|| {
                format!("--requests-per-minute {n:?}: a number above 0, or off")
            })?),
        };
    let witness = Arc::new(Witness {
        key: key(&args.data, args.name.as_deref())?,
        state: Arc::new(state(&args.data)?),
        clock: Arc::new(SystemClock),
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    let addr = listener.local_addr()?;
    println!("Witness key: {}", witness.key.verifier_key());
    println!("Witness is serving at http://{addr}/");
    let app = shared::http::with_request_log(shared::http::witness::router(witness, per_minute));
    let limits = crate::http_server::ConnectionLimits {
        header_read: std::time::Duration::from_secs(10),
        body_idle: std::time::Duration::from_secs(10),
        max_connections: 1024,
        max_per_client: 64,
        trusted_proxies: Vec::new(),
    };
    crate::http_server::serve(listener, app, limits, crate::shutdown()).await?;
    Ok(())
}
