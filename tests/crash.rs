//! kill -9 under load: clients keep sending responses while the real `verbatim` binary is
//! killed and restarted three times. Every response it acknowledged must be there afterwards,
//! with its number and its exact bytes, the numbers without a gap, and the transparency log
//! must verify.

#[path = "support/app.rs"]
mod app;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::{get_json, open_consultation, sha256, start};
use serde_json::Value;

const ID: &str = "kill-nine";
const CLIENTS: usize = 8;
const ROUNDS: usize = 3;

/// What the server acknowledged: response id → (number, SHA-256 of the text sent).
type Acknowledged = Arc<Mutex<BTreeMap<String, (u64, String)>>>;

/// Sends responses as fast as the server takes them until `stop`, recording each receipt.
async fn keep_sending(url: String, client: usize, stop: Arc<AtomicBool>, acked: Acknowledged) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let text = format!("client {client}, response {sequence}, {}", uuid_like());
        let form = reqwest::multipart::Form::new()
            .text("name", format!("Client {client}"))
            .text("text", text.clone());
        let Ok(reply) = http
            .post(format!("{url}/api/consultations/{ID}/responses"))
            .multipart(form)
            .send()
            .await
        else {
            // Killed mid-request: not acknowledged, so nothing is owed.
            continue;
        };
        if reply.status() != 201 {
            continue;
        }
        let Ok(receipt) = reply.json::<Value>().await else {
            continue;
        };
        let number = receipt["number"].as_u64().expect("a numbered receipt");
        let id = receipt["id"].as_str().unwrap().to_owned();
        assert_eq!(receipt["files"][0]["sha256"], sha256(text.as_bytes()));
        acked
            .lock()
            .unwrap()
            .insert(id, (number, sha256(text.as_bytes())));
    }
}

fn uuid_like() -> String {
    format!("{:x}", rand_nanos())
}

fn rand_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let acked: Acknowledged = Arc::default();
    let http = reqwest::Client::new();
    let mut server = start(data.path(), &["--rate-limit", "off"], &[]);
    open_consultation(&http, &server.url, ID).await;

    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(keep_sending(
                    server.url.clone(),
                    c,
                    stop.clone(),
                    acked.clone(),
                ))
            })
            .collect();
        // Let the load build, then kill -9 in the middle of it.
        tokio::time::sleep(Duration::from_millis(800)).await;
        drop(server);
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.await.unwrap();
        }
        eprintln!(
            "round {round}: {} acknowledged so far",
            acked.lock().unwrap().len()
        );
        server = start(data.path(), &["--rate-limit", "off"], &[]);
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "the load reached the server");

    // Everything acknowledged is published, once, under its number, with its bytes.
    let started = Instant::now();
    let highest = acked.values().map(|(n, _)| *n).max().unwrap();
    let manifest = loop {
        let reply = http
            .get(format!("{}/consultations/{ID}/responses.json", server.url))
            .send()
            .await
            .unwrap();
        if reply.status() == 200 {
            let manifest: Value = reply.json().await.unwrap();
            if manifest["total"].as_u64() >= Some(highest) {
                break manifest;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not all published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let total = manifest["total"].as_u64().unwrap();
    let mut stored: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for page in manifest["pages"].as_array().unwrap() {
        let url = page.as_str().unwrap();
        let page = get_json(&http, &server.url, url).await;
        for response in page["responses"].as_array().unwrap() {
            stored.insert(
                response["number"].as_u64().unwrap(),
                (
                    response["id"].as_str().unwrap().to_owned(),
                    response["files"][0]["sha256"].as_str().unwrap().to_owned(),
                ),
            );
        }
    }
    assert_eq!(
        stored.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>(),
        "numbers without a gap"
    );
    for (id, (number, sha)) in &acked {
        let (stored_id, stored_sha) = stored
            .get(number)
            .unwrap_or_else(|| panic!("acknowledged response {number} is missing"));
        assert_eq!(stored_id, id, "response {number} is the one acknowledged");
        assert_eq!(stored_sha, sha, "response {number} has its bytes");
        let file: Vec<u8> = http
            .get(format!(
                "{}/consultations/{ID}/responses/{number}/response.txt",
                server.url
            ))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        assert_eq!(&sha256(&file), sha, "response {number}'s file is exact");
    }

    // The log covers every response and verifies.
    let checkpoint = data
        .path()
        .join(format!("site/consultations/{ID}/log/checkpoint"));
    let started = Instant::now();
    while std::fs::read_to_string(&checkpoint)
        .ok()
        .and_then(|c| c.lines().nth(1).map(str::to_owned))
        != Some(total.to_string())
    {
        assert!(started.elapsed() < Duration::from_secs(30), "log behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("verify")
        .arg(data.path().join("site"))
        .arg(ID)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
