//! `verbatim witness`, driven as an independent client written from the C2SP texts alone
//! would drive it (tlog-witness, tlog-cosignature): request bodies built by hand, every
//! specified answer checked, cosignatures verified with nothing but Ed25519 and SHA-256. The
//! log side (checkpoints, proofs) is a log of the project's own making.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::Verifier;
use sha2::{Digest, Sha256};
use shared::transparency::checkpoint::sign_checkpoint;
use shared::transparency::{LogKey, MemoryTree, TreeHead};

const WITNESS: &str = "witness.example/w1";

struct WitnessServer {
    child: Child,
    url: String,
}

impl Drop for WitnessServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verbatim(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verbatim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn serve(data: &Path) -> WitnessServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .args(["witness", "serve", "--addr", "127.0.0.1:0", "--data"])
        .env("RUST_LOG", "warn")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the witness started").unwrap();
        if let Some(url) = line.strip_prefix("Witness is serving at ") {
            break url.trim_end_matches('/').to_owned();
        }
    };
    WitnessServer { child, url }
}

/// A log of `size` entries and its signed checkpoint.
fn log(key: &LogKey, origin: &str, entries: &[&str]) -> (MemoryTree, Vec<u8>) {
    let mut tree = MemoryTree::new();
    for entry in entries {
        tree.push(entry.as_bytes().to_vec()).unwrap();
    }
    let head = TreeHead {
        origin: origin.to_owned(),
        size: tree.size(),
        root: tree.root(),
    };
    (tree, sign_checkpoint(key, &head).unwrap())
}

fn body(old: u64, proof: &[tlog_tiles::Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut body = format!("old {old}\n").into_bytes();
    for hash in proof {
        body.extend_from_slice(BASE64_STANDARD.encode(hash.0).as_bytes());
        body.push(b'\n');
    }
    body.push(b'\n');
    body.extend_from_slice(checkpoint);
    body
}

async fn add(url: &str, body: Vec<u8>) -> (u16, String, String) {
    let reply = reqwest::Client::new()
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let content_type = reply
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, reply.text().await.unwrap())
}

/// The witness's verifier key, read as tlog-cosignature says: `<name>+<key ID>+base64(0x04 ||
/// public key)`, the key ID `SHA-256(<name> || "\n" || 0x04 || public key)[:4]`.
fn witness_key(vkey: &str) -> ([u8; 4], ed25519_dalek::VerifyingKey) {
    let parts: Vec<&str> = vkey.trim().splitn(3, '+').collect();
    assert_eq!(parts[0], WITNESS);
    let bytes = BASE64_STANDARD.decode(parts[2]).unwrap();
    assert_eq!(bytes[0], 0x04, "key type 0x04");
    let public: [u8; 32] = bytes[1..].try_into().unwrap();
    let mut id = Sha256::new();
    id.update(format!("{WITNESS}\n").as_bytes());
    id.update(&bytes);
    let id: [u8; 4] = id.finalize()[..4].try_into().unwrap();
    assert_eq!(parts[1], hex::encode(id), "the key ID");
    (
        id,
        ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap(),
    )
}

/// Checks a cosignature line of `checkpoint` (the note: body, blank line, signatures): its
/// key ID, a timestamp that is not zero, and the Ed25519 signature of `cosignature/v1`, the
/// time line and the checkpoint's body.
fn check_cosignature(line: &str, checkpoint: &[u8], key: &([u8; 4], ed25519_dalek::VerifyingKey)) {
    let encoded = line
        .strip_prefix(&format!("— {WITNESS} "))
        .unwrap_or_else(|| panic!("a signature line of {WITNESS}: {line:?}"));
    let bytes = BASE64_STANDARD.decode(encoded).unwrap();
    assert_eq!(bytes.len(), 4 + 8 + 64);
    assert_eq!(bytes[..4], key.0, "the key ID");
    let timestamp = u64::from_be_bytes(bytes[4..12].try_into().unwrap());
    assert!(
        timestamp > 1_700_000_000,
        "a timestamp, not zero: {timestamp}"
    );
    let text = std::str::from_utf8(checkpoint).unwrap();
    let note_body = &text[..text.find("\n\n").unwrap() + 1];
    let message = format!("cosignature/v1\ntime {timestamp}\n{note_body}");
    let signature = ed25519_dalek::Signature::from_slice(&bytes[12..]).unwrap();
    key.1
        .verify(message.as_bytes(), &signature)
        .expect("the cosignature verifies");
}

#[tokio::test]
async fn a_witness_answers_as_tlog_witness_specifies() {
    let data = tempfile::tempdir().unwrap();
    let data_path = data.path().to_str().unwrap();
    let vkey = verbatim(&["witness", "key", "--data", data_path, "--name", WITNESS]);
    let key = witness_key(&vkey);
    assert_eq!(
        verbatim(&["witness", "key", "--data", data_path]),
        vkey,
        "one key"
    );

    let log_key = LogKey::generate("log.example").unwrap();
    let origin = "log.example/consultations/first";
    verbatim(&[
        "witness",
        "add-log",
        "--data",
        data_path,
        origin,
        log_key.verifier_key(),
    ]);
    let server = serve(data.path());
    let entries: Vec<String> = (0..12).map(|i| format!("entry {i}")).collect();
    let entries: Vec<&str> = entries.iter().map(String::as_str).collect();

    // An origin it does not follow: 404.
    let (_, stranger) = log(&log_key, "log.example/elsewhere", &entries[..3]);
    assert_eq!(add(&server.url, body(0, &[], &stranger)).await.0, 404);

    // The first checkpoint, from size 0 with no proof: 200 and a cosignature.
    let (_, five) = log(&log_key, origin, &entries[..5]);
    let (status, _, answer) = add(&server.url, body(0, &[], &five)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.ends_with('\n'));
    check_cosignature(answer.trim_end_matches('\n'), &five, &key);
    // The answer appended to the checkpoint is a note with both signatures.
    let cosigned = [five.clone(), answer.into_bytes()].concat();
    assert_eq!(
        String::from_utf8_lossy(&cosigned).matches("\n— ").count(),
        2
    );

    // A client that thinks the witness is at 0: 409, with the size it holds.
    let (tree7, seven) = log(&log_key, origin, &entries[..7]);
    let (status, content_type, answer) = add(&server.url, body(0, &[], &seven)).await;
    assert_eq!(
        (status, content_type.as_str(), answer.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );

    // From 5 to 7 with the consistency proof: 200.
    let proof = tree7.consistency_proof(5).unwrap();
    let (status, _, answer) = add(&server.url, body(5, &proof, &seven)).await;
    assert_eq!(status, 200, "{answer}");
    check_cosignature(answer.trim_end(), &seven, &key);

    // A proof that does not hold: 422 (and nothing moves).
    let (tree9, nine) = log(&log_key, origin, &entries[..9]);
    let wrong = tree9.consistency_proof(6).unwrap();
    assert_eq!(add(&server.url, body(7, &wrong, &nine)).await.0, 422);
    // An old size beyond the checkpoint's: 400.
    assert_eq!(add(&server.url, body(8, &[], &seven)).await.0, 400);
    // Another root at the size it cosigned (a fork): 422.
    let forked: Vec<&str> = ["forked"; 7].to_vec();
    let (_, fork) = log(&log_key, origin, &forked);
    assert_eq!(add(&server.url, body(7, &[], &fork)).await.0, 422);
    // The same checkpoint again: cosigned again.
    assert_eq!(add(&server.url, body(7, &[], &seven)).await.0, 200);

    // Signed by a key it does not trust for the origin: 403; a trusted key's signature
    // altered: 403.
    let impostor = LogKey::generate("log.example").unwrap();
    let (_, forged) = log(&impostor, origin, &entries[..9]);
    assert_eq!(
        add(
            &server.url,
            body(7, &tree9.consistency_proof(7).unwrap(), &forged)
        )
        .await
        .0,
        403
    );
    let mut altered = nine.clone();
    let last = altered.len() - 20;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        add(
            &server.url,
            body(7, &tree9.consistency_proof(7).unwrap(), &altered)
        )
        .await
        .0,
        403
    );

    // Malformed: 400; too large: 413.
    assert_eq!(
        add(&server.url, b"old 7\nno blank line".to_vec()).await.0,
        400
    );
    assert_eq!(add(&server.url, vec![b'x'; 100_000]).await.0, 413);

    // Every consultation of one site, by a prefix: a new one is followed with no step of its own.
    verbatim(&[
        "witness",
        "add-log",
        "--data",
        data_path,
        "log.example/consultations/*",
        log_key.verifier_key(),
    ]);
    let (_, other) = log(&log_key, "log.example/consultations/second", &entries[..2]);
    let (status, _, answer) = add(&server.url, body(0, &[], &other)).await;
    assert_eq!(status, 200, "{answer}");

    // The state outlives the process.
    drop(server);
    let server = serve(data.path());
    let (status, _, answer) = add(&server.url, body(0, &[], &nine)).await;
    assert_eq!((status, answer.as_str()), (409, "7\n"));
    let (status, _, answer) = add(
        &server.url,
        body(7, &tree9.consistency_proof(7).unwrap(), &nine),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    check_cosignature(answer.trim_end(), &nine, &key);
}

/// A witness following every consultation of the log signed by `log_vkey`, and its verifier key.
fn follower(data: &Path, name: &str, log_vkey: &str) -> (WitnessServer, String) {
    let dir = data.to_str().unwrap();
    let vkey = verbatim(&["witness", "key", "--data", dir, "--name", name]);
    verbatim(&[
        "witness",
        "add-log",
        "--data",
        dir,
        "verbatim.localhost/consultations/*",
        log_vkey,
    ]);
    (serve(data), vkey.trim().to_owned())
}

/// Waits until the served checkpoint of `id` covers `size` responses and `policy` counts the
/// witnesses `signed` on it; returns it.
async fn checkpoint_with(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    size: u64,
    policy: &shared::transparency::policy::Policy,
    signed: &[&str],
) -> Vec<u8> {
    let started = std::time::Instant::now();
    loop {
        let note = http
            .get(format!("{url}/consultations/{id}/log/checkpoint"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        let text = String::from_utf8_lossy(&note).into_owned();
        if text.lines().nth(1) == Some(size.to_string().as_str())
            && policy.verdict(&note).signed == signed
        {
            return note;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no checkpoint of {size} cosigned by {signed:?}: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The "done when": a consultation with two witnesses (policy: both) publishes
/// checkpoints with both cosignatures during a rush; with one witness down publication goes on
/// and the checkpoint carries one, and `verify --policy` says the quorum is not met, naming it.
#[tokio::test]
async fn a_consultation_publishes_checkpoints_its_witnesses_cosign() {
    const ID: &str = "witnessed";
    let data = tempfile::tempdir().unwrap();
    // The log's key, made beforehand so that the witnesses know it when publication asks.
    let private = verbatim(&["keygen", "--name", "verbatim.localhost"]);
    std::fs::write(data.path().join("log-signing-key"), &private).unwrap();
    let log_vkey = LogKey::parse(private.trim())
        .unwrap()
        .verifier_key()
        .to_owned();
    let (w1, w2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, one_vkey) = follower(w1.path(), "witness.example/one", &log_vkey);
    let (two, two_vkey) = follower(w2.path(), "witness.example/two", &log_vkey);
    let policy_text = format!(
        "# Both must cosign.\nwitness one {one_vkey} {}\nwitness two {two_vkey} {}\n\
         group both all one two\nquorum both\n",
        one.url, two.url
    );
    let policy_file = data.path().join("witnesses.policy");
    std::fs::write(&policy_file, &policy_text).unwrap();
    let policy = shared::transparency::policy::Policy::parse(&policy_text).unwrap();
    let server = crate::helpers::start(
        data.path(),
        &[
            "--witness-policy",
            policy_file.to_str().unwrap(),
            "--rate-limit",
            "off",
        ],
        &[],
    );
    let http = reqwest::Client::new();
    crate::helpers::open_consultation(&http, &server.url, ID).await;

    // The policy in force is on the site, with the log's key.
    let started = std::time::Instant::now();
    let published = loop {
        let reply = http
            .get(format!("{}/log/policy", server.url))
            .send()
            .await
            .unwrap();
        if reply.status() == 200 {
            break reply.text().await.unwrap();
        }
        assert!(started.elapsed().as_secs() < 10, "no /log/policy");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        published.starts_with(&format!("log {log_vkey}\n")),
        "{published}"
    );
    assert!(published.ends_with(&policy_text), "{published}");

    // A rush: 40 responses at once; every checkpoint on the way is cosigned by both.
    let rush = (0..40).map(|i| {
        let (http, url) = (http.clone(), server.url.clone());
        tokio::spawn(async move {
            let reply = http
                .post(format!("{url}/api/consultations/{ID}/responses"))
                .json(&serde_json::json!({"name": format!("Person {i}"), "text": "Our view."}))
                .send()
                .await
                .unwrap();
            assert!(reply.status().is_success(), "{}", reply.status());
        })
    });
    for sent in rush.collect::<Vec<_>>() {
        sent.await.unwrap();
    }
    checkpoint_with(&http, &server.url, ID, 40, &policy, &["one", "two"]).await;
    let policy_path = policy_file.to_str().unwrap();
    let (ok, out) = crate::helpers::verify(&[&server.url, ID, "--policy", policy_path]);
    assert!(ok, "{out}");
    assert!(
        out.contains("quorum is met: cosigned by one, two; missing: none"),
        "{out}"
    );

    // A receipt becomes a proof (C2SP tlog-proof) that holds offline, with the published policy
    // (the log's key and both witnesses) as the only trust root.
    let reply = http
        .post(format!("{}/api/consultations/{ID}/responses", server.url))
        .json(&serde_json::json!({"name": "Proven", "text": "Keep this."}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let receipt: serde_json::Value = reply.json().await.unwrap();
    checkpoint_with(&http, &server.url, ID, 41, &policy, &["one", "two"]).await;
    let receipt_file = data.path().join("receipt.json");
    std::fs::write(&receipt_file, receipt.to_string()).unwrap();
    let proof = data.path().join("41.tlog-proof");
    let (ok, out) = crate::helpers::verify(&[
        &server.url,
        ID,
        "--receipt",
        receipt_file.to_str().unwrap(),
        "--write-proof",
        proof.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("proof of inclusion saved"), "{out}");
    let trusted = data.path().join("trusted.policy");
    std::fs::write(&trusted, &published).unwrap();
    let text_file = data.path().join("response.txt");
    let file = &receipt["files"][0];
    let (_, bytes) = crate::helpers::download(
        &http,
        &server.url,
        &format!(
            "/consultations/{ID}/responses/41/{}",
            file["name"].as_str().unwrap()
        ),
    )
    .await;
    std::fs::write(&text_file, &bytes).unwrap();
    let offline = |proof: &Path, file: &Path| {
        crate::helpers::verify(&[
            "--proof",
            proof.to_str().unwrap(),
            "--policy",
            trusted.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ])
    };
    let (ok, out) = offline(&proof, &text_file);
    assert!(ok, "{out}");
    assert!(
        out.contains("response 41 of witnessed")
            && out.contains("quorum is met: cosigned by one, two")
            && out.contains("byte for byte"),
        "{out}"
    );
    // Another file, or a proof with a byte changed, fails.
    let other = data.path().join("other.txt");
    std::fs::write(&other, b"Keep this!").unwrap();
    let (ok, out) = offline(&proof, &other);
    assert!(!ok && out.contains("none of the response's files"), "{out}");
    let mut bent = std::fs::read_to_string(&proof).unwrap();
    let line = bent.lines().nth(3).unwrap().to_owned();
    let mut hash = BASE64_STANDARD.decode(&line).unwrap();
    hash[0] ^= 1;
    bent = bent.replacen(&line, &BASE64_STANDARD.encode(&hash), 1);
    let bent_file = data.path().join("bent.tlog-proof");
    std::fs::write(&bent_file, bent).unwrap();
    let (ok, out) = offline(&bent_file, &text_file);
    assert!(!ok && out.contains("FAILED"), "{out}");

    // Witness two goes down: publication goes on, and the checkpoint carries one's only.
    drop(two);
    let started = std::time::Instant::now();
    for i in 0..5 {
        let reply = http
            .post(format!("{}/api/consultations/{ID}/responses", server.url))
            .json(&serde_json::json!({"name": format!("Late {i}"), "text": "More."}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
    }
    let note = checkpoint_with(&http, &server.url, ID, 46, &policy, &["one"]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a witness that is down does not hold publication up ({:?})",
        started.elapsed()
    );
    assert_eq!(policy.verdict(&note).missing, ["two"]);
    let (ok, out) = crate::helpers::verify(&[&server.url, ID, "--policy", policy_path]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("quorum is NOT met: cosigned by one; missing: two"),
        "{out}"
    );
    // The files themselves still verify: only the quorum is missing.
    assert_eq!(out.matches("PROBLEM").count(), 1, "{out}");
    // A policy that needs only one of them accepts it.
    let either = data.path().join("either.policy");
    std::fs::write(
        &either,
        policy_text.replace("group both all", "group both any"),
    )
    .unwrap();
    let (ok, out) =
        crate::helpers::verify(&[&server.url, ID, "--policy", either.to_str().unwrap()]);
    assert!(ok, "{out}");
    drop(one);
}
