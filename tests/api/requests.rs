//! The capacity model's request counts, measured: a rush on `verbatim serve --store aws` whose
//! every AWS request goes through the test proxy, which counts them by what they ask for
//! (`fault_proxy.py`). Prints the requests per response (the table of `docs/write-path.md`),
//! and fails if intake reads the consultation's record per response or if a response costs
//! more requests than the model says. `bench/requests.sh` runs it with more responses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{get_json, open_consultation, start};

const ID: &str = "counted";

/// A knob of `bench/requests.sh`, else the suite's value.
fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
async fn requests_per_response_during_a_rush() {
    let total: usize = knob("VERBATIM_REQUESTS_RESPONSES", 200);
    let clients: usize = knob("VERBATIM_REQUESTS_CLIENTS", 16);
    // 0s: every answer a `202`, so intake outruns the sequencer and batches grow.
    let receipt_wait: String = knob("VERBATIM_REQUESTS_RECEIPT_WAIT", "2s".to_owned());
    let moto = test_support::moto();
    let proxy = test_support::fault_proxy::FaultProxy::start(&moto.endpoint, 1, 0.0);
    let mut env = moto.serve_env("requests");
    for (name, value) in &mut env {
        if *name == "AWS_ENDPOINT_URL" {
            *value = proxy.url.clone();
        }
    }
    let data = tempfile::tempdir().unwrap();
    let server = start(
        data.path(),
        &[
            "--store",
            "aws",
            "--create-resources",
            "--rate-limit",
            "off",
            "--receipt-wait",
            &receipt_wait,
        ],
        &env,
    );
    let http = reqwest::Client::new();
    open_consultation(&http, &server.url, ID).await;
    // What the host does with nobody sending (the closing's sweep, twice a second), measured
    // over a quiet while, so that it can be told from what the responses cost.
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.operations(true).await;
    let quiet = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = proxy.operations(true).await;
    let idle_seconds = quiet.elapsed().as_secs_f64();

    let started = Instant::now();
    let senders: Vec<_> = (0..clients)
        .map(|client| {
            let (http, url) = (http.clone(), server.url.clone());
            tokio::spawn(async move {
                for i in (client..total).step_by(clients) {
                    let form = reqwest::multipart::Form::new()
                        .text("name", format!("Person {i}"))
                        .text("text", format!("Response {i}."))
                        .part(
                            "file",
                            reqwest::multipart::Part::bytes(format!("Annex {i}.").into_bytes())
                                .file_name("annex.txt")
                                .mime_str("text/plain")
                                .unwrap(),
                        );
                    let reply = http
                        .post(format!("{url}/api/consultations/{ID}/responses"))
                        .multipart(form)
                        .send()
                        .await
                        .unwrap();
                    let status = reply.status().as_u16();
                    assert!(status == 201 || status == 202, "answered {status}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    // Until every response is published (the manifest counts them all).
    loop {
        let manifest: Value = get_json(
            &http,
            &server.url,
            &format!("/consultations/{ID}/responses.json"),
        )
        .await;
        if manifest["total"].as_u64() == Some(total as u64) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not all published"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let counted = proxy.operations(false).await;

    // Less what the host does anyway in that time.
    let per_second = |name: &str| idle.get(name).copied().unwrap_or(0) as f64 / idle_seconds;
    let mut rows: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for (name, count) in &counted {
        let background = per_second(name) * seconds;
        rows.insert(
            name.clone(),
            (*count, (*count as f64 - background).max(0.0)),
        );
    }
    eprintln!(
        "{total} responses (a text and a file each) in {seconds:.1} s, every AWS request counted; \
         the host's background (measured idle: {:.1} requests/s) taken out",
        idle.values().sum::<u64>() as f64 / idle_seconds
    );
    let commits = counted
        .get("dynamodb (in a transaction) Update META")
        .copied()
        .unwrap_or(0);
    eprintln!(
        "{clients} clients, receipt wait {receipt_wait}: {commits} batches, {:.1} responses a batch",
        total as f64 / commits.max(1) as f64
    );
    eprintln!("| request | counted | per response |");
    eprintln!("|---|---:|---:|");
    for (name, (count, net)) in &rows {
        eprintln!("| {name} | {count} | {:.3} |", net / total as f64);
    }
    let per_response = |name: &str| rows.get(name).map_or(0.0, |(_, net)| net / total as f64);

    // Intake reads no shared item per response: the consultation's record is read once per
    // instance and half second (it read it once or twice a response before). What is left is
    // read per sequencing run and the publication run each one asks for: at most
    // `READS_PER_RUN` (about 7 measured; about 9 since each sequencing pass first looks for
    // a committed batch left unwritten, 11 on a loaded machine), and how many runs a rush
    // makes depends on the machine's speed, so they are counted (each run takes and lets go
    // the lease) and taken out before what remains is compared with the responses (with
    // intake's cache off it is 0.4 and more beyond them).
    const READS_PER_RUN: f64 = 11.0;
    let runs = counted
        .get("dynamodb UpdateItem SEQUENCER")
        .copied()
        .unwrap_or(0) as f64
        / 2.0;
    let reads = per_response("dynamodb GetItem META") * total as f64;
    let per_response_reads = (reads - READS_PER_RUN * runs).max(0.0) / total as f64;
    assert!(
        per_response_reads < 0.25,
        "the consultation's record is read {:.2} times a response beyond its {runs} runs' reads \
         ({reads:.0} reads in all)",
        per_response_reads
    );
    // Each response is stored once and numbered once: received in a transaction, written
    // out in batched writes after its batch's commit.
    for name in [
        "dynamodb (in a transaction) Put pending",
        "dynamodb (in a batch) PutRequest numbered",
        "dynamodb (in a batch) PutRequest guard",
        "dynamodb (in a batch) DeleteRequest pending",
    ] {
        assert_eq!(
            counted.get(name).copied(),
            Some(total as u64),
            "{name}: one a response"
        );
    }
    // The receipt wait asks only whether its response is numbered (its guard), not for the
    // pending item as well (2.1 reads a response more when it did).
    let pending_reads = per_response("dynamodb GetItem pending");
    assert!(
        pending_reads < 0.1,
        "{pending_reads:.2} reads of pending items a response: the receipt wait reads more than the guard"
    );
    // Batches, not one commit per response, and no response in a transaction of its batch.
    let batches = per_response("dynamodb (in a transaction) Update META");
    assert!(
        batches <= 0.5,
        "{batches:.2} count updates a response: numbering is not batched"
    );
    assert_eq!(
        counted
            .get("dynamodb (in a transaction) Put batch")
            .copied(),
        counted
            .get("dynamodb (in a transaction) Update META")
            .copied(),
        "a batch record with each commit"
    );
}
