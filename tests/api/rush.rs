//! A last-minute rush, end to end: 256 responses from 64 concurrent clients to the real
//! `verbatim` binary, on the embedded store and on S3 + DynamoDB (moto, which serves requests
//! concurrently, as AWS does). Every one is accepted (201, or 202 while its number comes),
//! never a 5xx; they are numbered 1…256 without a gap, each receipt keeps its number, and all
//! are published within 60 s. `bench/surge.sh` runs the same with more responses
//! (`VERBATIM_RUSH_RESPONSES`, `VERBATIM_RUSH_SECONDS`) and prints what it measured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helpers::{Server, get_json, open_consultation, start};
use serde_json::{Value, json};

const CLIENTS: usize = 64;

/// How many responses (256 in the test suite) and how long they may take to be published.
fn settings() -> (usize, u64) {
    let read = |name: &str, default| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (
        read("VERBATIM_RUSH_RESPONSES", 256) as usize,
        read("VERBATIM_RUSH_SECONDS", 60),
    )
}
const ID: &str = "rush";
/// The clients reach the server through a proxy on this machine that names them.
const BEHIND_A_PROXY: &[&str] = &["--trusted-proxy", "127.0.0.1/32"];

/// Where the clients come from: each its own address named by the proxy the server trusts, or
/// all from this machine's one address (a ministry's network, a carrier's NAT).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clients {
    BehindAProxy,
    OneAddress,
}

async fn rush(server: &Server, store: &str, from: Clients) {
    let (responses, seconds) = settings();
    let limit = Duration::from_secs(seconds);
    let http = reqwest::Client::new();
    open_consultation(&http, &server.url, ID).await;

    let started = Instant::now();
    // Each client its own address, given by the proxy the server trusts (127.0.0.1), and its
    // share of the responses: under the default rate limit (60 a minute) for up to 3,840.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, url) = (http.clone(), server.url.clone());
            tokio::spawn(async move {
                let mut receipts = Vec::new();
                for i in (client..responses).step_by(CLIENTS) {
                    let mut request = http
                        .post(format!("{url}/api/consultations/{ID}/responses"))
                        .json(&json!({"name": format!("Person {i}"), "text": format!("Response {i}.")}));
                    request = match from {
                        Clients::BehindAProxy => {
                            request.header("x-forwarded-for", format!("198.51.100.{client}"))
                        }
                        // A new connection for each response, as many clients make: the one
                        // closing still counts for a moment when the next one opens.
                        Clients::OneAddress => request.header("connection", "close"),
                    };
                    let reply = request.send().await.unwrap();
                    let status = reply.status().as_u16();
                    let location = reply
                        .headers()
                        .get("location")
                        .map(|l| l.to_str().unwrap().to_owned());
                    let body: Value = reply.json().await.unwrap();
                    receipts.push((status, location, body));
                }
                receipts
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for client in clients {
        receipts.extend(client.await.unwrap());
    }
    let answered = started.elapsed();
    let mut statuses = BTreeMap::new();
    for (status, _, _) in &receipts {
        *statuses.entry(*status).or_insert(0) += 1;
    }
    assert!(
        statuses.keys().all(|s| *s == 201 || *s == 202),
        "every response accepted: {statuses:?}"
    );

    // A pending receipt's Location gives the full receipt once numbered.
    let mut numbers: BTreeMap<u64, String> = BTreeMap::new();
    for (status, location, body) in &receipts {
        let id = body["id"].as_str().unwrap().to_owned();
        let number = if *status == 201 {
            body["number"].as_u64().unwrap()
        } else {
            assert_eq!(body["status"], "pending");
            let location = location.as_deref().expect("a 202 names its Location");
            loop {
                let now = get_json(&http, &server.url, location).await;
                if let Some(n) = now["number"].as_u64() {
                    assert_eq!(now["id"], id.as_str());
                    break n;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "never numbered"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        assert!(
            numbers.insert(number, id).is_none(),
            "number {number} twice"
        );
    }
    assert_eq!(
        numbers.keys().copied().collect::<Vec<_>>(),
        (1..=responses as u64).collect::<Vec<_>>(),
        "numbered 1…{responses} without a gap"
    );

    // All published, each under the number its receipt gave.
    loop {
        let reply = http
            .get(format!("{}/consultations/{ID}/responses.json", server.url))
            .send()
            .await
            .unwrap();
        if reply.status() == 200 {
            let head: Value = reply.json().await.unwrap();
            if head["total"].as_u64() == Some(responses as u64) {
                break;
            }
        }
        assert!(
            started.elapsed() < limit,
            "not all published within {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = get_json(
        &http,
        &server.url,
        &format!("/consultations/{ID}/manifest/3.json"),
    )
    .await;
    for entry in page["responses"].as_array().unwrap() {
        let n = entry["number"].as_u64().unwrap();
        assert_eq!(entry["id"].as_str(), Some(numbers[&n].as_str()));
    }
    eprintln!(
        "RUSH {store}: {responses} responses from {CLIENTS} clients: {statuses:?}, answered in {:.1} s, all numbered (gap-free) and published in {:.1} s",
        answered.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn a_rush_on_the_embedded_store() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), BEHIND_A_PROXY, &[]);
    rush(&server, "embedded", Clients::BehindAProxy).await;
}

/// The same rush from one address, with the default connection limits (64 a client): a
/// connection that is closing still counted for a moment, and the next one was reset. Now
/// it waits for its client's share, or gets an HTTP answer: every response is accepted.
#[tokio::test]
async fn a_rush_from_one_address_with_the_default_limits() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &["--rate-limit", "off"], &[]);
    rush(&server, "embedded, one address", Clients::OneAddress).await;
}

#[tokio::test]
async fn a_rush_on_s3_and_dynamodb() {
    let moto = test_support::moto();
    let data = tempfile::tempdir().unwrap();
    let env = moto.serve_env("rush");
    let args = [BEHIND_A_PROXY, &["--store", "aws", "--create-resources"]].concat();
    let server = start(data.path(), &args, &env);
    rush(&server, "S3 + DynamoDB on moto", Clients::BehindAProxy).await;
}
