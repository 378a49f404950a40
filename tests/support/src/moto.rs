//! A moto server (the local AWS emulator) for tests, one per test binary, started on a free
//! loopback port from the project's venv (`tests/run` installs it). It stops when the test
//! process ends, because it exits when its stdin pipe closes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct Moto {
    pub endpoint: String,
    _child: Mutex<Child>,
}

/// The venv's Python (with moto), or `VERBATIM_PYTHON`.
pub(crate) fn python(workspace: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("VERBATIM_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace.join(".venv/bin/python");
    assert!(
        venv.exists(),
        "moto is not installed: run ./tests/run once (it creates .venv with moto), or set VERBATIM_PYTHON"
    );
    venv
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The repository's root, where `.venv` and the Python helpers are.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared moto server of this test binary, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(0))
}

impl Moto {
    /// A moto server of its own whose transactions each stay in progress `transaction_item_ms`
    /// per item (see `moto_server.py`): slow transactions, and the conflicts they bring. It
    /// stops when dropped.
    pub fn with_slow_transactions(transaction_item_ms: u32) -> Moto {
        Moto::start(transaction_item_ms)
    }

    fn start(transaction_item_ms: u32) -> Moto {
        let workspace = workspace();
        let script = workspace.join("tests/support/moto_server.py");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(python(&workspace))
                .arg(&script)
                .arg(port.to_string())
                .arg(transaction_item_ms.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting moto");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("piped stdout");
            BufReader::new(stdout).read_line(&mut line).ok();
            if line.trim() == "ready" {
                return Moto {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    _child: Mutex::new(child),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto did not start");
    }
}

/// A name no other test uses, for tables and buckets (lowercase, DNS-safe).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Moto {
    /// SDK settings that point at this emulator, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await
    }

    /// The environment that points `verbatim serve --store aws` at this emulator, with a
    /// table and buckets of its own (named after `prefix`; `--create-resources` makes them).
    pub fn serve_env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("VERBATIM_TABLE", unique_name(&format!("{prefix}-table"))),
            (
                "VERBATIM_PRIVATE_BUCKET",
                unique_name(&format!("{prefix}-private")),
            ),
            (
                "VERBATIM_SITE_BUCKET",
                unique_name(&format!("{prefix}-site")),
            ),
        ]
    }

    /// The AWS backend on a table and buckets of its own, created for the test.
    pub async fn fresh_backend(&self, prefix: &str) -> shared::Backend {
        let names = shared::AwsNames::new(
            &unique_name(&format!("{prefix}-table")),
            &unique_name(&format!("{prefix}-private")),
            &unique_name(&format!("{prefix}-site")),
        );
        shared::Backend::aws(&self.sdk_config().await, &names, true)
            .await
            .expect("creating the table and buckets in moto")
    }

    /// A table of its own for a witness's state (`DynamoWitnessState`), created in this
    /// emulator; its name.
    pub async fn fresh_witness_table(&self, prefix: &str) -> String {
        let table = unique_name(&format!("{prefix}-witness"));
        shared::adapters::witness_dynamodb::DynamoWitnessState::create_table(
            &self.sdk_config().await,
            &table,
        )
        .await
        .expect("creating the witness's table in moto");
        table
    }
}
