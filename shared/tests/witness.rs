//! The witness's state, against every adapter: SQLite (the local `verbatim witness`) and
//! DynamoDB on moto (the witness on AWS, `functions/witness`). The same tests hold both to the
//! port's contract (followed logs matched exactly or by prefix, heads moved only by
//! compare-and-set, durably enough for a second instance to see them), then drive a witness
//! over each through its HTTP router. A second instance opened on the same database or table
//! stands for a restarted `verbatim witness serve` or a second Lambda instance.
#![cfg(all(feature = "embedded", feature = "aws"))]

use std::sync::{Arc, Barrier};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use shared::adapters::witness_dynamodb::{DynamoWitnessState, key_from_ssm};
use shared::adapters::witness_sqlite::SqliteWitnessState;
use shared::ports::{SystemClock, WitnessState, WitnessedHead};
use shared::transparency::checkpoint::sign_checkpoint;
use shared::transparency::{LogKey, MemoryTree, TreeHead};
use shared::witness::Witness;
use shared::witness::cosignature::{CosignatureVerifier, CosignerKey};
use tower::ServiceExt;

/// Opens the adapter's state: every call a new instance on the same storage.
struct Adapter {
    open: Box<dyn Fn() -> Arc<dyn WitnessState> + Send + Sync>,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Adapter {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("witness.db");
    Adapter {
        open: Box::new(move || Arc::new(SqliteWitnessState::open(&path).unwrap())),
        _dir: Some(dir),
    }
}

async fn dynamodb() -> Adapter {
    let moto = test_support::moto();
    let config = moto.sdk_config().await;
    let table = moto.fresh_witness_table("witness").await;
    let runtime = tokio::runtime::Handle::current();
    Adapter {
        open: Box::new(move || Arc::new(DynamoWitnessState::new(&config, &table, runtime.clone()))),
        _dir: None,
    }
}

/// Runs `f` off the runtime's worker threads, where the port may be called.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn head(size: u64, root: u8) -> WitnessedHead {
    WitnessedHead {
        size,
        root: [root; 32],
    }
}

async fn followed_logs_match_exactly_or_by_prefix(a: Adapter) {
    blocking(move || {
        let state = (a.open)();
        state
            .add_log("log.example/consultations/*", "log.example+1+AA")
            .unwrap();
        state
            .add_log("log.example/consultations/a", "log.example+1+AA")
            .unwrap();
        state
            .add_log("log.example/consultations/a", "other+2+BB")
            .unwrap();
        state
            .add_log("other.example", "other.example+3+CC")
            .unwrap();
        state
            .add_log("other.example", "other.example+3+CC")
            .unwrap();
        // Origins may hold spaces (Go's checksum database: `go.sum database tree`).
        state.add_log("go.sum database tree", "sum+4+DD").unwrap();

        // A second instance reads what the first added.
        let state = (a.open)();
        let mut keys = state.log_keys("log.example/consultations/a").unwrap();
        keys.sort();
        assert_eq!(
            keys,
            ["log.example+1+AA", "other+2+BB"],
            "the prefix's key and the origin's, each once"
        );
        assert_eq!(
            state.log_keys("log.example/consultations/b").unwrap(),
            ["log.example+1+AA"]
        );
        assert_eq!(
            state.log_keys("other.example").unwrap(),
            ["other.example+3+CC"],
            "added twice, one key"
        );
        assert_eq!(
            state.log_keys("go.sum database tree").unwrap(),
            ["sum+4+DD"]
        );
        for unknown in [
            "other.example/x",
            "other.exampl",
            "log.example/consultations",
            "log.example/other/a",
            "",
        ] {
            assert!(state.log_keys(unknown).unwrap().is_empty(), "{unknown:?}");
        }
    })
    .await
}

async fn heads_move_only_from_what_they_were(a: Adapter) {
    blocking(move || {
        let state = (a.open)();
        let (first, second, third) = (head(3, 1), head(5, 2), head(8, 3));
        assert_eq!(state.cosigned("o").unwrap(), None);
        assert!(state.advance("o", None, &first).unwrap());
        assert!(
            !state.advance("o", None, &second).unwrap(),
            "not from nothing any more"
        );
        assert!(
            !state.advance("o", Some(&second), &second).unwrap(),
            "not from a head it never had"
        );
        assert!(
            !state.advance("o", Some(&head(3, 9)), &second).unwrap(),
            "not from its size with another root"
        );
        assert!(state.advance("o", Some(&first), &second).unwrap());
        assert_eq!(state.cosigned("o").unwrap(), Some(second));

        // Another instance (a restart, another Lambda instance) reads the head and moves it.
        let other = (a.open)();
        assert_eq!(other.cosigned("o").unwrap(), Some(second));
        assert!(!other.advance("o", Some(&first), &third).unwrap());
        assert!(other.advance("o", Some(&second), &third).unwrap());
        assert_eq!(state.cosigned("o").unwrap(), Some(third));

        // Each origin has its own head.
        assert_eq!(state.cosigned("p").unwrap(), None);
        assert!(state.advance("p", None, &first).unwrap());
        assert_eq!(state.cosigned("o").unwrap(), Some(third));
        assert_eq!(state.cosigned("p").unwrap(), Some(first));
    })
    .await
}

/// Two instances read the same head, then both try to move it to heads of their own: exactly
/// one wins, and the head is the winner's. Several rounds, from nothing and from a head.
async fn racing_advances_from_one_head_make_one_winner(a: Adapter) {
    let a = Arc::new(a);
    for round in 0..6u64 {
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2u8)
            .map(|racer| {
                let (a, barrier) = (a.clone(), barrier.clone());
                tokio::task::spawn_blocking(move || {
                    let state = (a.open)();
                    let from = state.cosigned("raced").unwrap();
                    assert_eq!(from.map_or(0, |h| h.size), round * 10);
                    // Both have read before either writes.
                    barrier.wait();
                    let to = head((round + 1) * 10, racer + 1);
                    (state.advance("raced", from.as_ref(), &to).unwrap(), to)
                })
            })
            .collect();
        let mut won = Vec::new();
        for racer in racers {
            let (advanced, to) = racer.await.unwrap();
            if advanced {
                won.push(to);
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one advance wins");
        let state = (a.open)();
        let held = blocking(move || state.cosigned("raced").unwrap()).await;
        assert_eq!(held, Some(won[0]), "round {round}");
    }
}

/// A log of the project's own making: its key, and checkpoints of its first entries.
struct Log {
    key: LogKey,
    origin: String,
    tree: MemoryTree,
}

impl Log {
    fn new(origin: &str) -> Self {
        Self {
            key: LogKey::generate("log.example").unwrap(),
            origin: origin.to_owned(),
            tree: MemoryTree::new(),
        }
    }

    /// The checkpoint once the log holds `size` entries (it only grows).
    fn checkpoint(&mut self, size: u64) -> Vec<u8> {
        while self.tree.size() < size {
            let n = self.tree.size();
            self.tree.push(format!("entry {n}").into_bytes()).unwrap();
        }
        let head = TreeHead {
            origin: self.origin.clone(),
            size,
            root: self.tree.root(),
        };
        sign_checkpoint(&self.key, &head).unwrap()
    }

    /// The `add-checkpoint` body from `old` to the log's current size.
    fn body(&mut self, old: u64, size: u64) -> Vec<u8> {
        use base64::Engine;
        let checkpoint = self.checkpoint(size);
        let proof = if old == 0 {
            Vec::new()
        } else {
            self.tree.consistency_proof(old).unwrap()
        };
        let mut body = format!("old {old}\n").into_bytes();
        for hash in proof {
            body.extend_from_slice(base64::prelude::BASE64_STANDARD.encode(hash.0).as_bytes());
            body.push(b'\n');
        }
        body.push(b'\n');
        body.extend_from_slice(&checkpoint);
        body
    }
}

fn witness(state: Arc<dyn WitnessState>, key: &CosignerKey) -> axum::Router {
    let witness = Witness {
        key: CosignerKey::parse(&key.private_key()).unwrap(),
        state,
        clock: Arc::new(SystemClock),
    };
    shared::http::witness::router(Arc::new(witness), None)
}

/// POSTs `body` to `/add-checkpoint`: the status, content type and body.
async fn add(router: &axum::Router, body: Vec<u8>) -> (StatusCode, String, String) {
    let request = Request::post("/add-checkpoint")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

/// Whether `cosignature` (the witness's answer) is its valid cosignature of `checkpoint`.
fn cosigns(key: &CosignerKey, checkpoint: &[u8], cosignature: &str) -> bool {
    let verifier = CosignatureVerifier::parse(&key.verifier_key()).unwrap();
    let mut note = checkpoint.to_vec();
    note.extend_from_slice(cosignature.as_bytes());
    let Ok(note) = signed_note::Note::from_bytes(&note) else {
        return false;
    };
    let verifiers = signed_note::VerifierList::new(vec![Box::new(verifier)]);
    note.verify(&verifiers).is_ok()
}

/// The witness over each adapter, through its router: the first checkpoint is cosigned, a
/// stale old size answers 409 with the size it holds, another instance starts from the head
/// the first moved, and what is not the followed log's is refused.
async fn a_witness_cosigns_from_the_head_every_instance_reads(a: Adapter) {
    let key = CosignerKey::generate("witness.example").unwrap();
    let mut log = Log::new("log.example/consultations/net-2027");
    let state = (a.open)();
    let vkey = log.key.verifier_key().to_owned();
    blocking(move || state.add_log("log.example/consultations/*", &vkey).unwrap()).await;
    let first = witness((a.open)(), &key);

    let (status, content_type, cosignature) = add(&first, log.body(0, 3)).await;
    assert_eq!(status, StatusCode::OK, "{cosignature}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        cosigns(&key, &log.checkpoint(3), &cosignature),
        "{cosignature}"
    );

    // Again from 0: the witness holds 3.
    let (status, content_type, body) = add(&first, log.body(0, 5)).await;
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (StatusCode::CONFLICT, "text/x.tlog.size", "3\n")
    );

    // A second instance (another Lambda instance) moves on from 3...
    let second = witness((a.open)(), &key);
    let (status, _, body) = add(&second, log.body(0, 5)).await;
    assert_eq!((status, body.as_str()), (StatusCode::CONFLICT, "3\n"));
    let (status, _, cosignature) = add(&second, log.body(3, 5)).await;
    assert_eq!(status, StatusCode::OK, "{cosignature}");
    assert!(cosigns(&key, &log.checkpoint(5), &cosignature));
    // ...and the first sees it.
    let (status, _, body) = add(&first, log.body(3, 8)).await;
    assert_eq!((status, body.as_str()), (StatusCode::CONFLICT, "5\n"));
    let (status, _, _) = add(&first, log.body(5, 8)).await;
    assert_eq!(status, StatusCode::OK);
    // The same checkpoint again is cosigned again (nothing moves).
    let (status, _, _) = add(&second, log.body(8, 8)).await;
    assert_eq!(status, StatusCode::OK);

    // Size 8 with another root: a fork, refused and never cosigned.
    let mut fork = Log {
        key: LogKey::parse(log.key.private_key()).unwrap(),
        origin: log.origin.clone(),
        tree: MemoryTree::new(),
    };
    fork.tree.push(b"another history".to_vec()).unwrap();
    let (status, _, body) = add(&second, fork.body(8, 8)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // An origin outside the prefix, and a key not trusted for it.
    let mut stranger = Log::new("log.example/other/net-2027");
    let (status, _, _) = add(&first, stranger.body(0, 1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut impostor = Log::new("log.example/consultations/net-2027");
    let (status, _, _) = add(&first, impostor.body(8, 9)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // What both instances hold in the end.
    let state = (a.open)();
    let held = blocking(move || {
        state
            .cosigned("log.example/consultations/net-2027")
            .unwrap()
    })
    .await;
    assert_eq!(held.map(|h| h.size), Some(8));
}

/// Two instances asked at once to cosign from the same size, each a different extension of
/// the log: one cosigns, the other answers 409 with the size the first moved to.
async fn racing_requests_cosign_once(a: Adapter) {
    let key = CosignerKey::generate("witness.example").unwrap();
    let mut log = Log::new("log.example/raced");
    let state = (a.open)();
    let vkey = log.key.verifier_key().to_owned();
    blocking(move || state.add_log("log.example/raced", &vkey).unwrap()).await;
    let (first, second) = (witness((a.open)(), &key), witness((a.open)(), &key));
    assert_eq!(add(&first, log.body(0, 2)).await.0, StatusCode::OK);
    let (to_4, to_6) = (log.body(2, 4), log.body(2, 6));
    let (one, other) = tokio::join!(add(&first, to_4), add(&second, to_6));
    let mut statuses = [one.0, other.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let (won, lost) = if one.0 == StatusCode::OK {
        (4, other)
    } else {
        (6, one)
    };
    assert_eq!(lost.2, format!("{won}\n"));
}

macro_rules! adapters {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::sqlite()).await })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(super::dynamodb().await).await })*
        }
    };
}

adapters!(
    followed_logs_match_exactly_or_by_prefix,
    heads_move_only_from_what_they_were,
    racing_advances_from_one_head_make_one_winner,
    a_witness_cosigns_from_the_head_every_instance_reads,
    racing_requests_cosign_once,
);

/// The witness's key on AWS: read from its SecureString parameter; a missing parameter or a
/// value that is not a witness key is an error naming the parameter, never showing the value.
#[tokio::test]
async fn the_witness_key_is_read_from_ssm() {
    let config = test_support::moto().sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let key = CosignerKey::generate("witness.example").unwrap();
    let name = format!("/{}", test_support::unique_name("witness-key"));
    ssm.put_parameter()
        .name(&name)
        .value(key.private_key())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let read = key_from_ssm(&config, &name).await.unwrap();
    assert_eq!(read.verifier_key(), key.verifier_key());

    let missing = format!("{name}-missing");
    let error = key_from_ssm(&config, &missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&missing), "{error}");
    assert!(error.contains("does not exist"), "{error}");

    let wrong = format!("{name}-wrong");
    let secret = "PRIVATE+KEY+not-quite+0000+c2VjcmV0";
    ssm.put_parameter()
        .name(&wrong)
        .value(secret)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let error = key_from_ssm(&config, &wrong).await.unwrap_err().to_string();
    assert!(
        error.contains(&wrong) && !error.contains("c2VjcmV0"),
        "{error}"
    );
}
