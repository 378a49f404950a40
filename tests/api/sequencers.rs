//! Racing sequencers across the deadline: three `verbatim serve --store aws` processes on one
//! DynamoDB whose transactions are slow and conflict as DynamoDB's do under contention (moto,
//! each item of a transaction in progress for a few milliseconds, see `moto_server.py`), one
//! of them reaching it through a proxy that delays requests. Each runs its own sequencer and
//! its own closing. Clients rush all three across the deadline, so the numbering lags intake
//! and the closing comes while responses received in time are still pending. Every response
//! acknowledged (201, or 202 while its number comes) must be numbered, 1…N without a gap, and
//! be in the dossier; and the seal waited for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{Server, TOKEN, download, get_json, start};

const ID: &str = "raced";
const CLIENTS: usize = 24;
/// How long each item of a transaction stays in progress on this moto, and each item of a
/// batched write takes (one request at a time): storing a response (2 items) takes 40 ms,
/// writing out a numbered one (3 items) 60 ms, so numbering lags the rush by tens of seconds.
const TRANSACTION_ITEM_MS: u32 = 20;

/// What was acknowledged: response id → its number, if the receipt had one.
type Acknowledged = Arc<Mutex<BTreeMap<String, Option<u64>>>>;

async fn keep_sending(url: String, client: usize, until: Instant, acked: Acknowledged) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut sent = 0;
    while Instant::now() < until {
        sent += 1;
        let reply = http
            .post(format!("{url}/api/consultations/{ID}/responses"))
            .json(&json!({"name": format!("Client {client}"), "text": format!("Response {sent} of client {client}.")}))
            .send()
            .await;
        let Ok(reply) = reply else { continue };
        let status = reply.status().as_u16();
        match status {
            201 | 202 => {
                let receipt: Value = reply.json().await.unwrap();
                let id = receipt["id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().insert(id, receipt["number"].as_u64());
            }
            // After the deadline.
            409 => tokio::time::sleep(Duration::from_millis(50)).await,
            // Received in time but stored too slowly (the delaying proxy): taken back, not
            // acknowledged.
            503 => {}
            other => panic!("answered {other}: {}", reply.text().await.unwrap()),
        }
    }
}

#[tokio::test]
async fn racing_sequencers_across_the_deadline_lose_nothing() {
    let moto = test_support::Moto::with_slow_transactions(TRANSACTION_ITEM_MS);
    let proxy = test_support::fault_proxy::FaultProxy::start(&moto.endpoint, 1344, 0.0);
    let mut env = moto.serve_env("sequencers");
    env.push(("VERBATIM_IN_FLIGHT_GRACE_SECONDS", "1".to_owned()));
    // Answer at once (202 while the number comes): the rush is not held back by numbering.
    env.push(("VERBATIM_RECEIPT_WAIT", "0s".to_owned()));
    let args = [
        "--store",
        "aws",
        "--create-resources",
        "--rate-limit",
        "off",
    ];
    let data: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // The first makes the table, the buckets and the signing key; the others share them, the
    // third through the delaying proxy.
    let mut servers: Vec<Server> = vec![start(data[0].path(), &args, &env)];
    servers.push(start(data[1].path(), &args, &env));
    let mut slow_env = env.clone();
    for (name, value) in &mut slow_env {
        if *name == "AWS_ENDPOINT_URL" {
            *value = proxy.url.clone();
        }
    }
    servers.push(start(data[2].path(), &args, &slow_env));
    proxy.set_faults(0.2, &["delay"]).await;

    let http = reqwest::Client::new();
    let deadline = Timestamp::now() + SignedDuration::from_secs(6);
    let deadline = Timestamp::from_millisecond(deadline.as_millisecond()).unwrap();
    let reply = http
        .post(format!("{}/api/admin/consultations", servers[0].url))
        .bearer_auth(TOKEN)
        .json(&json!({
            "id": ID, "title": {"en": "Raced"}, "questions": [{"en": "Q?"}],
            "meeting_date": "2099-03-31", "deadline": deadline.to_string()
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());

    // The rush: from now until 2 s past the deadline, on all three.
    let acked: Acknowledged = Arc::default();
    let until = Instant::now() + Duration::from_secs(8);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let url = servers[client % servers.len()].url.clone();
            tokio::spawn(keep_sending(url, client, until, acked.clone()))
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let waited = acked.values().filter(|n| n.is_none()).count();
    eprintln!(
        "{} acknowledged, {waited} of them with 202 (numbered later)",
        acked.len()
    );
    assert!(acked.len() > 50, "the rush reached the servers");

    // The dossier comes once every acknowledged response is numbered. The closing is due at
    // the deadline plus the grace and the clock margin (1 + 5 s); the numbering still lags
    // then, so the seal has to wait for it.
    let started = Instant::now();
    let due = deadline + SignedDuration::from_secs(6);
    let mut numbered_when_due = None;
    let view = loop {
        let view = get_json(&http, &servers[1].url, &format!("/api/consultations/{ID}")).await;
        if view["dossier"].is_object() {
            break view;
        }
        if Timestamp::now() > due && numbered_when_due.is_none() {
            numbered_when_due = view["response_count"].as_u64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no dossier: {view}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let total = view["response_count"].as_u64().unwrap();
    eprintln!(
        "sealed and built {:.0?} after the rush: {total} responses",
        started.elapsed()
    );
    assert!(total >= acked.len() as u64);
    let numbered_when_due = numbered_when_due.expect("the closing was due before the dossier");
    eprintln!("numbered when the closing was due: {numbered_when_due}");
    assert!(
        numbered_when_due < acked.len() as u64,
        "the closing came while acknowledged responses were pending"
    );

    let (_, zip_bytes) = download(
        &http,
        &servers[2].url,
        view["dossier"]["url"].as_str().unwrap(),
    )
    .await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut index = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("index.json").unwrap(), &mut index).unwrap();
    let index: Value = serde_json::from_str(&index).unwrap();
    let in_dossier: BTreeMap<String, u64> = index["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["number"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut numbers: Vec<u64> = in_dossier.values().copied().collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=total).collect::<Vec<_>>(),
        "numbers without a gap"
    );
    for (id, number) in &acked {
        let in_it = in_dossier
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged response {id} is not in the dossier"));
        if let Some(number) = number {
            assert_eq!(in_it, number, "response {id} kept its number");
        }
    }
    // Every server answers for every acknowledged response (none was deleted).
    for (k, (id, _)) in acked.iter().enumerate().step_by(17) {
        let server = &servers[k % servers.len()];
        let reply = http
            .get(format!(
                "{}/api/consultations/{ID}/responses/{id}",
                server.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "response {id}");
    }
    let counts = proxy.counts().await;
    eprintln!("delayed through the proxy: {counts:?}");
}
