//! kill -9 under load: clients keep sending responses while the real `verbatim` binary is
//! killed and restarted three times, on the embedded store and on S3 + DynamoDB (moto).
//! Every response it acknowledged (201, or 202 while its number comes) must be there
//! afterwards, with its number and its exact bytes, the numbers without a gap (after a restart
//! the sequencer numbers what was left pending), and the transparency log must verify.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{get_json, open_consultation, sha256, start};
use serde_json::Value;

const ID: &str = "kill-nine";
const CLIENTS: usize = 8;
const ROUNDS: usize = 3;

/// What the server acknowledged: response id → (number if it was given, SHA-256 of the text).
type Acknowledged = Arc<Mutex<BTreeMap<String, (Option<u64>, String)>>>;

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
        let status = reply.status().as_u16();
        if status != 201 && status != 202 {
            continue;
        }
        let Ok(receipt) = reply.json::<Value>().await else {
            continue;
        };
        let number = receipt["number"].as_u64();
        assert_eq!(number.is_some(), status == 201, "{receipt}");
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
    kill_9_under_load(data.path(), &[], &[], Duration::from_millis(800)).await;
}

#[tokio::test]
async fn kill_9_under_load_on_s3_and_dynamodb_loses_nothing_acknowledged() {
    let moto = test_support::moto();
    let data = tempfile::tempdir().unwrap();
    let env = moto.serve_env("kill-nine");
    // moto takes tens of milliseconds a request: a longer load before each kill. Receipts do
    // not wait for numbers: each kill leaves responses pending, numbered after the restart.
    let store = [
        "--store",
        "aws",
        "--create-resources",
        "--receipt-wait",
        "0s",
    ];
    kill_9_under_load(data.path(), &store, &env, Duration::from_secs(4)).await;
}

async fn kill_9_under_load(
    data: &Path,
    store: &[&str],
    env: &[(&str, String)],
    load_for: Duration,
) {
    let args = [store, &["--rate-limit", "off"]].concat();
    let acked: Acknowledged = Arc::default();
    let http = reqwest::Client::new();
    let mut server = start(data, &args, env);
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
        tokio::time::sleep(load_for).await;
        drop(server);
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.await.unwrap();
        }
        eprintln!(
            "round {round}: {} acknowledged so far",
            acked.lock().unwrap().len()
        );
        server = start(data, &args, env);
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "the load reached the server");

    // Everything acknowledged is published, once, under its number, with its bytes.
    let started = Instant::now();
    // Every acknowledged response is numbered by now or soon: at least as many as were
    // acknowledged, and at least the highest number given.
    let highest = acked
        .values()
        .filter_map(|(n, _)| *n)
        .max()
        .unwrap_or(0)
        .max(acked.len() as u64);
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
    let by_id: BTreeMap<&String, (u64, &String)> = stored
        .iter()
        .map(|(number, (id, sha))| (id, (*number, sha)))
        .collect();
    let mut pending = 0;
    for (id, (acked_number, sha)) in &acked {
        let (number, stored_sha) = *by_id
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged response {id} is missing"));
        match acked_number {
            Some(acked_number) => assert_eq!(*acked_number, number, "response {id}'s number"),
            None => pending += 1,
        }
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

    eprintln!(
        "{} acknowledged ({pending} with 202, numbered after), {total} stored",
        acked.len()
    );

    // The log covers every response and verifies.
    crate::helpers::log_reaches_and_verifies(
        &http,
        &server.url,
        ID,
        total,
        Duration::from_secs(30),
    )
    .await;
}
