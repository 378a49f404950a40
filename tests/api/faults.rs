//! Failing dependencies: the real `verbatim` binary on S3 and DynamoDB (moto) behind a proxy
//! that makes a seeded random share of the SDK's requests fail (500s, throttling, connections
//! closed before or after moto did the work, delays; `test_support::fault_proxy`). The SDK
//! is not mocked: it sees what it would see from AWS on a bad day.
//!
//! Clients send responses with an `Idempotency-Key` and retry what was not acknowledged, as a
//! careful client would. Every answer is a receipt (201, 202) or a clean 503 with
//! `Retry-After`, never a 500; afterwards every response is stored exactly once (no duplicate
//! from a retry), the numbers have no gap, everything is published and the log verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{get_json, open_consultation, sha256, start};
use serde_json::{Value, json};
use test_support::fault_proxy::FaultProxy;

const ID: &str = "faults";
const CLIENTS: usize = 8;
const RESPONSES: usize = 64;
/// The share of the SDK's requests that fail.
const FAULT_RATE: f64 = 0.15;
const SEED: u64 = 1344;

/// Sends response `i` under its key until it is acknowledged; every answer on the way must
/// be a receipt or a clean 503 (a connection that fails is a network fault: try again).
async fn send_until_acknowledged(
    http: &reqwest::Client,
    url: &str,
    i: usize,
    statuses: &Mutex<BTreeMap<u16, usize>>,
) -> (String, String) {
    let text = format!("Response {i}, sent under faults.");
    for _ in 0..60 {
        let sent = http
            .post(format!("{url}/api/consultations/{ID}/responses"))
            .header("idempotency-key", format!("faults-response-{i}"))
            .json(&json!({"name": format!("Person {i}"), "text": text}))
            .send()
            .await;
        let Ok(reply) = sent else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let status = reply.status().as_u16();
        *statuses.lock().unwrap().entry(status).or_default() += 1;
        match status {
            201 | 202 => {
                let receipt: Value = reply.json().await.unwrap();
                return (
                    receipt["id"].as_str().unwrap().to_owned(),
                    sha256(text.as_bytes()),
                );
            }
            503 => {
                assert!(
                    reply.headers().contains_key("retry-after"),
                    "503 without Retry-After"
                );
                let body: Value = reply.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            other => panic!(
                "response {i}: {other} {}",
                reply.text().await.unwrap_or_default()
            ),
        }
    }
    panic!("response {i} was never acknowledged");
}

#[tokio::test]
async fn failing_s3_and_dynamodb_lose_nothing_and_store_nothing_twice() {
    let moto = test_support::moto();
    let env = moto.serve_env("faults");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let plain: Vec<_> = env.iter().map(|(k, v)| (*k, v.clone())).collect();
    {
        // The table and buckets, and the consultation, made without faults.
        let server = start(
            data.path(),
            &["--store", "aws", "--create-resources"],
            &plain,
        );
        open_consultation(&http, &server.url, ID).await;
    }

    let proxy = FaultProxy::start(&moto.endpoint, SEED, FAULT_RATE);
    let through_proxy: Vec<_> = env
        .iter()
        .map(|(k, v)| match *k {
            "AWS_ENDPOINT_URL" => (*k, proxy.url.clone()),
            _ => (*k, v.clone()),
        })
        // The signing key made by the first start (its default parameter).
        .chain([(
            "VERBATIM_SIGNING_KEY_PARAMETER",
            shared::backend::DEFAULT_SIGNING_KEY_PARAMETER.to_owned(),
        )])
        .collect();
    let server = start(
        data.path(),
        &["--store", "aws", "--rate-limit", "off"],
        &through_proxy,
    );
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, url, statuses) = (http.clone(), server.url.clone(), statuses.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in (client..RESPONSES).step_by(CLIENTS) {
                    acknowledged.push(send_until_acknowledged(&http, &url, i, &statuses).await);
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = BTreeMap::new();
    for client in clients {
        for (id, sha) in client.await.unwrap() {
            acknowledged.insert(id, sha);
        }
    }
    eprintln!("answers under faults: {:?}", statuses.lock().unwrap());
    assert_eq!(acknowledged.len(), RESPONSES, "one id per response");

    // Faults off: read back what was stored and published (publication retries what failed).
    proxy.set_rate(0.0).await;
    let started = Instant::now();
    let manifest = loop {
        let reply = http
            .get(format!("{}/consultations/{ID}/responses.json", server.url))
            .send()
            .await;
        if let Ok(reply) = reply
            && reply.status() == 200
        {
            let manifest: Value = reply.json().await.unwrap();
            if manifest["total"].as_u64() >= Some(RESPONSES as u64) {
                break manifest;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all published"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        manifest["total"], RESPONSES,
        "every response stored once: no duplicate from a retry"
    );
    let mut numbers = BTreeSet::new();
    let mut seen = BTreeMap::new();
    for page in manifest["pages"].as_array().unwrap() {
        let page = get_json(&http, &server.url, page.as_str().unwrap()).await;
        for response in page["responses"].as_array().unwrap() {
            numbers.insert(response["number"].as_u64().unwrap());
            seen.insert(
                response["id"].as_str().unwrap().to_owned(),
                response["files"][0]["sha256"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(
        numbers.into_iter().collect::<Vec<_>>(),
        (1..=RESPONSES as u64).collect::<Vec<_>>(),
        "numbers without a gap"
    );
    assert_eq!(
        seen, acknowledged,
        "each acknowledged response, with its bytes"
    );

    // The log covers them all and verifies.
    crate::helpers::log_reaches_and_verifies(
        &http,
        &server.url,
        ID,
        RESPONSES as u64,
        Duration::from_secs(60),
    )
    .await;
}
