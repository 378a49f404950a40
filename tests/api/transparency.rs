//! The transparency log end to end: the real binary publishes a consultation's log, and
//! `verbatim verify` (the real binary again) checks it over a folder and over HTTP, proves a
//! receipt's inclusion and the log's growth, and catches each kind of tampering with a clear
//! message.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{TOKEN, start, verify};
use serde_json::{Value, json};
use shared::transparency::checkpoint::{TreeHead, origin, sign_checkpoint};
use shared::transparency::{LogKey, LogVerifier};

const ID: &str = "log-2027";

async fn create_consultation(client: &reqwest::Client, url: &str) {
    let reply = client
        .post(format!("{url}/api/admin/consultations"))
        .bearer_auth(TOKEN)
        .json(&json!({
            "id": ID,
            "title": {"en": "Logged"},
            "questions": [{"en": "Why?"}],
            "meeting_date": "2099-03-31"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
}

async fn submit(client: &reqwest::Client, url: &str, text: &str) -> Value {
    let reply = client
        .post(format!("{url}/api/consultations/{ID}/responses"))
        .json(&json!({"name": "Ada", "email": "ada@example.org", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    reply.json().await.unwrap()
}

/// Waits until the published checkpoint covers `size` responses.
fn wait_for_log(site: &Path, size: u64) -> Vec<u8> {
    let path = site.join(format!("consultations/{ID}/log/checkpoint"));
    let started = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(&path)
            && String::from_utf8_lossy(&bytes).lines().nth(1) == Some(&size.to_string())
        {
            return bytes;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "log never reached {size}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copies a site while its server may still be writing it: the store's temporary files
/// (`.tmp-…`, renamed into place when whole) are not part of the site and may be gone by the
/// time they would be copied.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A tampered copy of the site: `change` edits it, then verify must fail saying `expected`.
fn caught(site: &Path, scratch: &Path, name: &str, change: impl FnOnce(&Path), expected: &str) {
    let copy = scratch.join(name);
    copy_dir(site, &copy);
    change(&copy);
    let (ok, out) = verify(&[copy.to_str().unwrap(), ID]);
    assert!(!ok, "{name}: tampering went unnoticed:\n{out}");
    assert!(
        out.contains(expected),
        "{name}: expected {expected:?} in:\n{out}"
    );
    eprintln!("{name}: caught:\n{out}");
}

#[tokio::test]
async fn the_log_proves_every_response_and_catches_tampering() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &[], &[]);
    let client = reqwest::Client::new();
    let site = data.path().join("site");
    create_consultation(&client, &server.url).await;

    let first = submit(&client, &server.url, "first response\r\n").await;
    // The receipt carries the signed log position at once.
    let log = &first["log"];
    assert_eq!(log["leaf_index"], 0, "{first}");
    assert_eq!(
        log["origin"],
        format!("verbatim.localhost/consultations/{ID}")
    );
    assert_eq!(log["leaf_hash"].as_str().unwrap().len(), 64);
    let key = std::fs::read_to_string(site.join("log/verifier-key")).ok();
    submit(&client, &server.url, "second").await;
    let old_checkpoint = wait_for_log(&site, 2);
    assert_eq!(
        log["key"].as_str().unwrap(),
        key.unwrap_or_else(|| std::fs::read_to_string(site.join("log/verifier-key")).unwrap())
            .trim()
    );
    let third = submit(&client, &server.url, "third, with \u{e9}").await;
    submit(&client, &server.url, "fourth").await;
    wait_for_log(&site, 4);

    let scratch = tempfile::tempdir().unwrap();
    let receipt = scratch.path().join("receipt.json");
    std::fs::write(&receipt, serde_json::to_vec(&third).unwrap()).unwrap();
    let old = scratch.path().join("old-checkpoint");
    std::fs::write(&old, &old_checkpoint).unwrap();

    // An honest site verifies, over a folder and over HTTP, with the receipt and the growth.
    let (ok, out) = verify(&[site.to_str().unwrap(), ID]);
    assert!(ok, "{out}");
    assert!(out.contains("checkpoint: 4 entries"), "{out}");
    assert!(out.contains("published files checked: 4"), "{out}");
    let (ok, out) = verify(&[
        &server.url,
        ID,
        "--receipt",
        receipt.to_str().unwrap(),
        "--since",
        old.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("receipt of response 3 (leaf 2"), "{out}");
    assert!(out.contains("only grew from 2 to 4"), "{out}");

    // The HTML page of the verify tool and the key are on the site.
    let page = client
        .get(format!("{}/verify/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/verify/verify.js"), "{page}");
    let script = client
        .get(format!("{}/verify/verify.js", server.url))
        .send()
        .await
        .unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("crypto.subtle.digest")
    );

    // A receipt altered by its holder does not verify.
    let mut altered = third.clone();
    altered["files"][0]["size"] = json!(999);
    let bad_receipt = scratch.path().join("altered.json");
    std::fs::write(&bad_receipt, serde_json::to_vec(&altered).unwrap()).unwrap();
    let (ok, out) = verify(&[
        site.to_str().unwrap(),
        ID,
        "--receipt",
        bad_receipt.to_str().unwrap(),
    ]);
    assert!(
        !ok && out.contains("not the hash of its own contents"),
        "{out}"
    );

    let responses = |root: &Path| root.join(format!("consultations/{ID}/responses"));
    let log_dir = |root: &Path| root.join(format!("consultations/{ID}/log"));
    let s = scratch.path();

    caught(
        &site,
        s,
        "one-byte",
        |root| {
            let path = responses(root).join("2/response.txt");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[0] ^= 1;
            std::fs::write(path, bytes).unwrap();
        },
        "response 2: response.txt was changed after it was received",
    );

    caught(
        &site,
        s,
        "dropped",
        |root| {
            std::fs::remove_dir_all(responses(root).join("3")).unwrap();
            let page = root.join(format!("consultations/{ID}/manifest/1.json"));
            let mut manifest: Value =
                serde_json::from_slice(&std::fs::read(&page).unwrap()).unwrap();
            manifest["responses"]
                .as_array_mut()
                .unwrap()
                .retain(|r| r["number"] != 3);
            std::fs::write(page, serde_json::to_vec(&manifest).unwrap()).unwrap();
        },
        "response 3 is in the log but missing from the manifest: it was dropped",
    );

    caught(
        &site,
        s,
        "reordered",
        |root| {
            let dir = responses(root);
            std::fs::rename(dir.join("1"), dir.join("tmp")).unwrap();
            std::fs::rename(dir.join("2"), dir.join("1")).unwrap();
            std::fs::rename(dir.join("tmp"), dir.join("2")).unwrap();
        },
        "response 1: response.txt was changed after it was received",
    );

    caught(
        &site,
        s,
        "reordered-log",
        |root| {
            let path = log_dir(root).join("tile/entries/000.p/4");
            let bundle = std::fs::read(&path).unwrap();
            let entries = shared::transparency::tree::split_entry_bundle(&bundle).unwrap();
            let mut swapped = Vec::new();
            for entry in [entries[1], entries[0], entries[2], entries[3]] {
                swapped.extend_from_slice(&(entry.len() as u16).to_be_bytes());
                swapped.extend_from_slice(entry);
            }
            std::fs::write(path, swapped).unwrap();
        },
        "log entry 0 (response 1) in the entry bundles is not the entry the checkpoint signed",
    );

    caught(
        &site,
        s,
        "tile",
        |root| {
            let path = log_dir(root).join("tile/0/000.p/4");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[40] ^= 0xff;
            std::fs::write(path, bytes).unwrap();
        },
        "the tile consultations/log-2027/log/tile/0/000.p/4 was replaced",
    );

    caught(
        &site,
        s,
        "forged",
        |root| {
            let forger = LogKey::generate("verbatim.localhost").unwrap();
            let head = TreeHead {
                origin: origin("verbatim.localhost", ID),
                size: 3,
                root: shared::transparency::MemoryTree::new().root(),
            };
            std::fs::write(
                log_dir(root).join("checkpoint"),
                sign_checkpoint(&forger, &head).unwrap(),
            )
            .unwrap();
        },
        "the checkpoint is not signed by",
    );

    // An older checkpoint, signed with the site's own key, that the current log does not
    // extend: the log shrank (it had more entries), or its history was rewritten (the same
    // entries counted, another root). What an operator who rewrote the log would show.
    let own = std::fs::read_to_string(data.path().join("log-signing-key")).unwrap();
    let own = LogKey::parse(own.trim()).unwrap();
    let older = |size: u64, root| {
        let path = scratch.path().join(format!("older-{size}"));
        let head = TreeHead {
            origin: origin("verbatim.localhost", ID),
            size,
            root,
        };
        std::fs::write(&path, sign_checkpoint(&own, &head).unwrap()).unwrap();
        path
    };
    let longer = older(5, shared::transparency::MemoryTree::new().root());
    let (ok, out) = verify(&[
        site.to_str().unwrap(),
        ID,
        "--since",
        longer.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("the log shrank"), "{out}");
    let rewritten = older(3, shared::transparency::MemoryTree::new().root());
    let (ok, out) = verify(&[
        site.to_str().unwrap(),
        ID,
        "--since",
        rewritten.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("history was rewritten"), "{out}");

    // Trusting an explicit key: a site that swapped in its own key fails too.
    let other = LogKey::generate("verbatim.localhost").unwrap();
    let (ok, out) = verify(&[site.to_str().unwrap(), ID, "--key", other.verifier_key()]);
    assert!(!ok && out.contains("not signed by"), "{out}");
    assert!(LogVerifier::parse(other.verifier_key()).is_ok());
}

/// A site that accepts the connection and then says nothing: `verbatim verify` gives up after
/// its `--timeout` with a message naming what it waited for, instead of hanging.
#[tokio::test]
async fn verify_gives_up_on_a_silent_site() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        // Keeps the connections open, never answering.
        let open: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(open);
    });
    let started = Instant::now();
    let (ok, out) =
        tokio::task::spawn_blocking(move || verify(&[&url, "silent", "--timeout", "1s"]))
            .await
            .unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "verify waited {:?} for a silent site",
        started.elapsed()
    );
    drop(held);
}

/// `verbatim verify --follow` running as a monitor over a copy of the site, until it stops.
struct Monitor {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Monitor {
    fn start(site: &Path, state: &Path) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verbatim"))
            .args([
                "verify",
                site.to_str().unwrap(),
                ID,
                "--follow",
                "--every",
                "100ms",
            ])
            .arg("--state")
            .arg(state)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`.
    fn says(&mut self, text: &str) {
        let until = Instant::now() + Duration::from_secs(30);
        while let Ok(line) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            if line.contains(text) {
                return;
            }
        }
        panic!("the monitor never said {text:?}:\n{}", self.seen.join("\n"));
    }

    /// Waits for it to stop; it must fail.
    fn stops_failing(mut self) -> String {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    !status.success(),
                    "the monitor passed: {}",
                    self.seen.join("\n")
                );
                break;
            }
            assert!(
                Instant::now() < until,
                "the monitor never stopped: {}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The monitor follows a growing log and stops, saying so plainly, at a split view (another
/// checkpoint of the same size, signed by the log's own key) and at an edited published file;
/// its state survives a restart, so a fork shown after it is caught as well.
#[tokio::test]
async fn a_monitor_catches_a_split_view_and_an_edited_file() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &[], &[]);
    let client = reqwest::Client::new();
    let site = data.path().join("site");
    create_consultation(&client, &server.url).await;
    for text in ["one", "two", "three"] {
        submit(&client, &server.url, text).await;
    }
    let three = wait_for_log(&site, 3);
    let scratch = tempfile::tempdir().unwrap();
    let (watched, state) = (
        scratch.path().join("site"),
        scratch.path().join("state/checkpoint"),
    );
    copy_dir(&site, &watched);
    let checkpoint = watched.join(format!("consultations/{ID}/log/checkpoint"));

    let mut monitor = Monitor::start(&watched, &state);
    monitor.says("checkpoint of 3 entries verified");
    assert_eq!(
        std::fs::read(&state).unwrap(),
        three,
        "the state is what it verified"
    );
    // The log grows honestly: followed.
    submit(&client, &server.url, "four").await;
    wait_for_log(&site, 4);
    copy_dir(&site, &watched);
    monitor.says("checkpoint of 4 entries verified");

    // A split view: another checkpoint of 4 entries, signed with the log's own key.
    let own = std::fs::read_to_string(data.path().join("log-signing-key")).unwrap();
    let own = LogKey::parse(own.trim()).unwrap();
    let mut other = shared::transparency::MemoryTree::new();
    for entry in ["a", "b", "c", "d"] {
        other.push(entry.as_bytes().to_vec()).unwrap();
    }
    let fork = sign_checkpoint(
        &own,
        &TreeHead {
            origin: origin("verbatim.localhost", ID),
            size: 4,
            root: other.root(),
        },
    )
    .unwrap();
    let honest = std::fs::read(&checkpoint).unwrap();
    std::fs::write(&checkpoint, &fork).unwrap();
    let out = monitor.stops_failing();
    assert!(out.contains("SPLIT VIEW"), "{out}");
    assert!(out.contains("4 entries with root"), "{out}");

    // Restarted, it goes on from its state: the fork is still caught; the honest log is not.
    let out = Monitor::start(&watched, &state).stops_failing();
    assert!(
        out.contains("going on from") && out.contains("SPLIT VIEW"),
        "{out}"
    );
    std::fs::write(&checkpoint, &honest).unwrap();
    let mut monitor = Monitor::start(&watched, &state);
    monitor.says("going on from");

    // An edited file: the log grows and a published response's file no longer matches it.
    submit(&client, &server.url, "five").await;
    wait_for_log(&site, 5);
    copy_dir(&site, &watched);
    let folder = watched.join(format!("consultations/{ID}/responses/2"));
    let file = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file())
        .expect("response 2 has a file");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b" (edited)");
    std::fs::write(&file, bytes).unwrap();
    let out = monitor.stops_failing();
    assert!(
        out.contains("EDITED") && out.contains("response 2"),
        "{out}"
    );
    assert!(!out.contains("SPLIT VIEW"), "{out}");
}
