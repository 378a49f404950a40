//! The fault-injecting proxy (`tests/support/fault_proxy.py`) between the AWS SDK and moto: a
//! seeded random share of the requests it passes fail (500s, throttling, connections closed
//! before or after moto did the work, delays). The SDK is never mocked: point its endpoint
//! at [`FaultProxy::url`] and it sees what it would see from AWS on a bad day.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The faults the proxy draws from, by name (see `fault_proxy.py`).
pub const BEFORE: [&str; 3] = ["500-before", "503-before", "reset-before"];
pub const AFTER: [&str; 2] = ["500-after", "reset-after"];
pub const DELAY: &str = "delay";

/// A running proxy, stopped when dropped (its stdin closes; it prints its counts on stderr).
pub struct FaultProxy {
    pub url: String,
    child: Child,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// How many requests the proxy passed and how many it failed, by fault.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts(pub BTreeMap<String, u64>);

impl FaultCounts {
    fn of(&self, kinds: &[&str]) -> u64 {
        kinds
            .iter()
            .map(|k| self.0.get(*k).copied().unwrap_or(0))
            .sum()
    }

    /// Requests that got a fault (a delay included).
    pub fn injected(&self) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| k.as_str() != "forwarded")
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests answered with an error or a closed connection: the SDK saw a failure.
    pub fn failed(&self) -> u64 {
        self.of(&BEFORE) + self.of(&AFTER)
    }

    /// Requests that moto did, though the SDK was told they failed.
    pub fn done_but_failed(&self) -> u64 {
        self.of(&AFTER)
    }

    /// Requests that reached moto (whatever the SDK was told).
    pub fn reached_target(&self) -> u64 {
        self.of(&["forwarded", DELAY]) + self.of(&AFTER)
    }
}

impl FaultProxy {
    /// Starts a proxy to `target` (e.g. moto's endpoint) failing a share `rate` (0 to 1) of
    /// the requests, drawn from a generator seeded with `seed`.
    pub fn start(target: &str, seed: u64, rate: f64) -> Self {
        let workspace = crate::workspace();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut child = Command::new(crate::moto::python(&workspace))
            .arg(workspace.join("tests/support/fault_proxy.py"))
            .args([
                port.to_string(),
                target.to_owned(),
                seed.to_string(),
                rate.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the fault proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the fault proxy did not start");
        Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// Fails a share `rate` of the requests from now on (`0.0`: none), with any fault.
    pub async fn set_rate(&self, rate: f64) {
        self.control(&format!("{rate}")).await;
    }

    /// Fails a share `rate` of the requests from now on, with faults drawn from `kinds` only
    /// (names from [`BEFORE`], [`AFTER`], [`DELAY`]).
    pub async fn set_faults(&self, rate: f64, kinds: &[&str]) {
        self.control(&format!("{rate}/{}", kinds.join(","))).await;
    }

    /// Fails a share `rate` of the requests whose operation starts with `operation`
    /// (`dynamodb BatchWriteItem`, `s3 PUT originals`, …; see [`FaultProxy::operations`]),
    /// with faults drawn from `kinds`; the other requests go through.
    pub async fn set_faults_on(&self, rate: f64, kinds: &[&str], operation: &str) {
        let operation: String = operation
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.control(&format!("{rate}/{}/{operation}", kinds.join(",")))
            .await;
    }

    async fn control(&self, path: &str) {
        let reply = reqwest::get(format!("{}/__faults/{path}", self.url))
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "setting the proxy's faults: {path}");
    }

    /// The counts so far.
    pub async fn counts(&self) -> FaultCounts {
        let counts: BTreeMap<String, u64> = reqwest::get(format!("{}/__faults/counts", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        FaultCounts(counts)
    }

    /// Every request seen so far by what it asks for (`dynamodb GetItem META`,
    /// `dynamodb TransactWriteItems`, `s3 PUT originals`, …; see `fault_proxy.py`), then,
    /// with `reset`, counted from zero again.
    pub async fn operations(&self, reset: bool) -> BTreeMap<String, u64> {
        let path = if reset {
            "operations/reset"
        } else {
            "operations"
        };
        reqwest::get(format!("{}/__faults/{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `config` (e.g. moto's) with this proxy as its endpoint: the clients made from it go
    /// through the faults. They retry as `config` says (the SDK's default: three attempts),
    /// only sooner: the first backoff is 10 ms, not a second, so that a test with dozens of
    /// retries takes seconds. The same requests fail, in the same order.
    pub fn sdk_config(&self, config: &aws_config::SdkConfig) -> aws_config::SdkConfig {
        let retry = config
            .retry_config()
            .cloned()
            .unwrap_or_else(aws_config::retry::RetryConfig::standard)
            .with_initial_backoff(std::time::Duration::from_millis(10));
        config
            .to_builder()
            .endpoint_url(&self.url)
            .retry_config(retry)
            .build()
    }
}
