//! The real `verbatim` binary, started for a test on free ports with its own data folder.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const TOKEN: &str = "e2e-admin-token-0123456789";

pub struct Server {
    child: Child,
    pub url: String,
    /// `host:port` of the SMTP listener, when started with `--smtp`.
    pub smtp: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path, args: &[&str], env: &[(&str, String)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_verbatim"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("VERBATIM_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("starting verbatim");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut smtp = None;
    let url = loop {
        let line = lines
            .next()
            .expect("verbatim exited before it was ready")
            .unwrap();
        if let Some(rest) = line.strip_prefix("Verbatim accepts email at smtp://") {
            smtp = rest.split('/').next().map(str::to_owned);
        }
        if let Some(url) = line.strip_prefix("Verbatim is serving at ") {
            break url.trim_end_matches('/').to_owned();
        }
    };
    Server { child, url, smtp }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub async fn download(
    client: &reqwest::Client,
    url: &str,
    path: &str,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let reply = client.get(format!("{url}{path}")).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{path}");
    let headers = reply.headers().clone();
    (headers, reply.bytes().await.unwrap().to_vec())
}

/// Opens a consultation `id` through the admin API, its deadline far ahead.
pub async fn open_consultation(http: &reqwest::Client, url: &str, id: &str) {
    let reply = http
        .post(format!("{url}/api/admin/consultations"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "id": id, "title": {"en": "A consultation"}, "questions": [{"en": "Q?"}],
            "meeting_date": "2099-03-31"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
}

/// `GET {url}{path}`, read as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, path: &str) -> serde_json::Value {
    http.get(format!("{url}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits, up to `within`, until the served log of consultation `id` has `size` entries, then
/// checks the served site with `verbatim verify` (signature, tiles, files, manifests).
pub async fn log_reaches_and_verifies(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    size: u64,
    within: std::time::Duration,
) {
    let started = std::time::Instant::now();
    loop {
        let checkpoint = http
            .get(format!("{url}/consultations/{id}/log/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if checkpoint.lines().nth(1) == Some(size.to_string().as_str()) {
            break;
        }
        assert!(
            started.elapsed() < within,
            "the log is behind: {checkpoint}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (ok, out) = verify(&[url, id]);
    assert!(ok, "{out}");
}

/// Runs `verbatim verify ARGS`; returns whether it passed and what it printed.
pub fn verify(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
