//! The adapter contract: every storage backend (embedded files + SQLite, and S3 + DynamoDB
//! against moto) must pass these same tests.

use std::sync::Arc;

use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use shared::Backend;
use shared::domain::*;
use shared::ports::*;
use shared::secretariat::records::modify;
use test_support::{NoQueue, TestClock};

/// A backend and whatever keeps it alive (a temporary folder).
struct Fixture {
    backend: Backend,
    _dir: tempfile::TempDir,
}

async fn embedded() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::embedded(dir.path()).unwrap();
    Fixture { backend, _dir: dir }
}

async fn aws() -> Fixture {
    Fixture {
        backend: test_support::moto().fresh_backend("contract").await,
        _dir: tempfile::tempdir().unwrap(),
    }
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const NOW: &str = "2026-11-28T10:00:00Z";

fn consultation(id: &str) -> Consultation {
    let request: ConsultationRequest = serde_json::from_value(serde_json::json!({
        "id": id,
        "title": {"en": "Internet access", "ar": "النفاذ إلى الإنترنت"},
        "questions": [{"en": "What should be done?"}],
        "meeting_date": "2027-03-31",
        "opens_at": "2026-12-01T00:00:00+01:00"
    }))
    .unwrap();
    request.into_consultation(at(NOW)).unwrap()
}

fn response(c: &Consultation, received_at: Timestamp) -> NewResponse {
    NewResponse {
        id: ResponseId::new(),
        consultation: c.id.clone(),
        received_at,
        channel: Channel::Api,
        submitter: Submitter {
            name: "Ada Lovelace".into(),
            organization: Some("Analytical Society".into()),
            category: Some(Category::Academia),
            country: Some(Country::parse("GB").unwrap()),
            email: Some("ada@example.org".into()),
            language: None,
        },
        files: vec![],
    }
}

/// Stores a new consultation with its audit entry.
async fn create(b: &Backend, c: &Consultation) {
    b.consultations
        .create(c, &AuditEntry::created(c, None))
        .await
        .unwrap();
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::parse(k).unwrap()
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/octet-stream".into(),
        content_disposition: None,
    }
}

fn bytes(b: &'static [u8]) -> Body {
    Body::Bytes(Bytes::from_static(b))
}

async fn read(store: &dyn ObjectStore, k: &str) -> Option<Vec<u8>> {
    match store.get(&key(k)).await.unwrap() {
        Some(object) => Some(object.into_bytes().await.unwrap()),
        None => None,
    }
}

/// Bytes that break careless code: CRLF, NUL, invalid UTF-8, a BOM, every byte value.
fn awkward_bytes() -> Vec<u8> {
    let mut bytes = b"\xEF\xBB\xBFline\r\nnext\0\xff\xfe\xc3\x28 end\r\n".to_vec();
    bytes.extend(0..=255u8);
    bytes
}

async fn consultations_are_created_once(f: Fixture) {
    let b = &f.backend;
    let c = consultation("net-2027");
    create(b, &c).await;
    let mut other = consultation("net-2027");
    other.meeting_date = "2028-01-01".parse().unwrap();
    let again = b
        .consultations
        .create(&other, &AuditEntry::created(&other, None))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let stored = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(stored.consultation, c, "the first one is untouched");
    assert_eq!(stored.response_count, 0);
    let nope = ConsultationId::parse("nope").unwrap();
    assert!(b.consultations.get(&nope).await.unwrap().is_none());
    let first = consultation("abc-first");
    create(b, &first).await;
    let ids: Vec<_> = b
        .consultations
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.consultation.id.to_string())
        .collect();
    assert_eq!(ids, ["abc-first", "net-2027"]);
}

async fn responses_are_numbered_in_order(f: Fixture) {
    let b = &f.backend;
    let c = consultation("numbered");
    create(b, &c).await;
    let mut ids = Vec::new();
    for i in 1..=3 {
        let r = response(&c, at("2026-12-05T10:00:00Z"));
        ids.push(r.id.clone());
        let stored = b.responses.append(r.clone()).await.unwrap();
        assert_eq!(stored.number, i);
        assert_eq!(stored.response, r);
    }
    let listed = b.responses.range(&c.id, 1..=10).await.unwrap();
    let numbers: Vec<_> = listed.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    let listed_ids: Vec<_> = listed.iter().map(|r| r.response.id.clone()).collect();
    assert_eq!(listed_ids, ids);
    let email = listed[0].response.submitter.email.as_deref();
    assert_eq!(email, Some("ada@example.org"), "kept privately");
    assert_eq!(b.responses.range(&c.id, 2..=2).await.unwrap()[0].number, 2);
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 3);
}

async fn an_id_is_stored_once(f: Fixture) {
    let b = &f.backend;
    let c = consultation("once");
    create(b, &c).await;
    let r = response(&c, at("2026-12-05T10:00:00Z"));
    let first = b.responses.append(r.clone()).await.unwrap();
    let again = b.responses.append(r.clone()).await;
    match again {
        Err(AppendError::AlreadyStored(existing)) => assert_eq!(*existing, first),
        other => panic!("a second append of the same id: {other:?}"),
    }
    assert_eq!(b.responses.find(&c.id, &r.id).await.unwrap(), Some(first));
    assert_eq!(
        b.responses.find(&c.id, &ResponseId::new()).await.unwrap(),
        None
    );
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 1);
}

async fn concurrent_appends_get_distinct_consecutive_numbers(f: Fixture) {
    let b = &f.backend;
    let c = consultation("racing");
    create(b, &c).await;
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let responses = b.responses.clone();
            let r = response(&c, at("2026-12-05T10:00:00Z"));
            tokio::spawn(async move { responses.append(r).await.unwrap().number })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=24).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    assert_eq!(b.responses.range(&c.id, 1..=100).await.unwrap().len(), 24);
}

async fn appends_outside_the_window_store_nothing(f: Fixture) {
    let b = &f.backend;
    let c = consultation("window");
    create(b, &c).await;
    let early = b
        .responses
        .append(response(&c, at("2026-11-30T22:59:59.999Z")))
        .await;
    assert!(
        matches!(early, Err(AppendError::Refused(Refusal::NotOpen { .. }))),
        "{early:?}"
    );
    let on_time = b.responses.append(response(&c, c.deadline)).await.unwrap();
    assert_eq!(on_time.number, 1, "the deadline instant itself is on time");
    let one_ms_late = c.deadline + SignedDuration::from_millis(1);
    let late = b.responses.append(response(&c, one_ms_late)).await;
    assert!(
        matches!(late, Err(AppendError::Refused(Refusal::Closed { .. }))),
        "{late:?}"
    );
    let unknown = consultation("unknown");
    let missing = b
        .responses
        .append(response(&unknown, at("2026-12-05T10:00:00Z")))
        .await;
    assert!(
        matches!(missing, Err(AppendError::NoSuchConsultation(_))),
        "{missing:?}"
    );
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 1);
    assert_eq!(b.responses.range(&c.id, 1..=10).await.unwrap().len(), 1);
}

async fn publication_mark_only_moves_forward(f: Fixture) {
    let b = &f.backend;
    let c = consultation("marked");
    create(b, &c).await;
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 0);
    b.publication.set_published(&c.id, 5).await.unwrap();
    b.publication.set_published(&c.id, 3).await.unwrap();
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 5);
    b.publication.set_published(&c.id, 7).await.unwrap();
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 7);
}

/// One publisher at a time works on a consultation, across processes (its publication turn):
/// a publisher that read an older count must never write its pages or checkpoint over a newer
/// one's. A running turn is not taken; one whose holder let it run out is, and that holder can
/// then neither renew nor end it; of racing takers one wins; and a publication that finds the
/// turn held writes nothing until it is let go, then publishes.
async fn one_publisher_at_a_time_holds_a_consultations_turn(f: Fixture) {
    let b = &f.backend;
    let c = consultation("turns");
    create(b, &c).await;
    let minute = SignedDuration::from_secs(60);
    let now = Timestamp::now();
    let mut first = b
        .publication
        .take_turn(&c.id, "first", now, now + minute)
        .await
        .unwrap()
        .expect("a free turn is taken");
    assert!(
        b.publication
            .take_turn(&c.id, "second", now, now + minute)
            .await
            .unwrap()
            .is_none(),
        "a running turn is not taken"
    );
    assert!(
        b.publication
            .renew_turn(&mut first, now + minute * 2)
            .await
            .unwrap()
    );
    assert!(
        b.publication
            .take_turn(&c.id, "second", now + minute + minute / 2, now + minute * 3)
            .await
            .unwrap()
            .is_none(),
        "a renewed turn runs to its new end"
    );

    // Past its end the turn is taken over; its holder can no longer renew nor end it.
    let later = now + minute * 3;
    let taker = b
        .publication
        .take_turn(&c.id, "taker", later, later + minute)
        .await
        .unwrap()
        .expect("a turn run out is taken");
    assert!(taker.token > first.token, "{taker:?} after {first:?}");
    assert!(
        !b.publication
            .renew_turn(&mut first, later + minute)
            .await
            .unwrap()
    );
    b.publication.end_turn(&first).await.unwrap();
    assert!(
        b.publication
            .take_turn(&c.id, "third", later, later + minute)
            .await
            .unwrap()
            .is_none(),
        "ending a turn taken over lets nothing go"
    );
    b.publication.end_turn(&taker).await.unwrap();

    // Racing takers: one wins.
    let now = Timestamp::now();
    let takes = (0..8).map(|i| {
        let (publication, id) = (b.publication.clone(), c.id.clone());
        async move {
            publication
                .take_turn(&id, &format!("racer-{i}"), now, now + minute)
                .await
                .unwrap()
        }
    });
    let won: Vec<Lease> = futures::future::join_all(takes)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(won.len(), 1, "{won:?}");

    // A publication waits for the holder, writing nothing meanwhile, then publishes.
    for i in 0..3 {
        let r = response(
            &c,
            at("2026-12-05T10:00:00Z") + SignedDuration::from_secs(i),
        );
        b.responses.receive(r).await.unwrap();
    }
    b.responses.sequence(&c.id).await.unwrap();
    let publisher = Arc::new(b.publisher(TestClock::at("2026-12-05T10:00:05Z")));
    let run = tokio::spawn({
        let (publisher, id) = (publisher.clone(), c.id.clone());
        async move { publisher.publish(&id).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(!run.is_finished(), "publication waits for the turn");
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 0);
    assert!(
        read(b.site.as_ref(), "consultations/turns/responses.json")
            .await
            .is_none(),
        "nothing is written while another holds the turn"
    );
    b.publication.end_turn(&won[0]).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("publication goes on once the turn is let go")
        .unwrap()
        .unwrap();
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 3);
    assert!(
        read(b.site.as_ref(), "consultations/turns/log/checkpoint")
            .await
            .is_some()
    );

    // Numbered, not published (a run that gave up waiting for the turn): the minute's sweep
    // publishes them, but never waits for a turn held by a rush's publisher.
    b.responses
        .append(response(&c, at("2026-12-05T10:00:04Z")))
        .await
        .unwrap();
    b.responses.sequence(&c.id).await.unwrap();
    let clock = TestClock::at("2026-12-05T10:00:05Z");
    let outbox = Arc::new(Outbox {
        sent: Default::default(),
        fail_once_to: std::sync::Mutex::new(None),
    });
    let pipeline = shared::publish::pipeline::Pipeline {
        publisher,
        list: Arc::new(b.email_list(
            outbox,
            clock.clone(),
            "https://consultations.example.org",
            "consultations.example.org",
        )),
        search: Arc::new(b.search_index(clock)),
    };
    let records = vec![b.consultations.get(&c.id).await.unwrap().unwrap()];
    let now = Timestamp::now();
    let held = b
        .publication
        .take_turn(&c.id, "a rush's publisher", now, now + minute)
        .await
        .unwrap()
        .unwrap();
    let swept = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        pipeline.sweep_backlogs(&records),
    )
    .await
    .expect("the sweep does not wait for a held turn");
    swept.unwrap();
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 3);
    b.publication.end_turn(&held).await.unwrap();
    pipeline.sweep_backlogs(&records).await.unwrap();
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 4);
}

async fn objects_round_trip_byte_for_byte(f: Fixture) {
    for store in [&f.backend.private, &f.backend.site] {
        let awkward = awkward_bytes();
        let body = Body::Bytes(Bytes::from(awkward.clone()));
        store
            .put(&key("a/b/awkward.bin"), body, &meta(), PutMode::CreateNew)
            .await
            .unwrap();
        assert_eq!(
            read(store.as_ref(), "a/b/awkward.bin").await.unwrap(),
            awkward
        );

        // A larger file from disk: multi-chunk reads and uploads.
        let big: Vec<u8> = (0..5 * 1024 * 1024 + 7)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &big).unwrap();
        let body = Body::File(file.path().to_owned());
        store
            .put(&key("a/big.bin"), body, &meta(), PutMode::CreateNew)
            .await
            .unwrap();
        let object = store.get(&key("a/big.bin")).await.unwrap().unwrap();
        assert_eq!(object.size, big.len() as u64);
        assert!(object.into_bytes().await.unwrap() == big);

        let name = "consultations/x/responses/1/Réponse (2) 回应.txt";
        store
            .put(
                &key(name),
                bytes(b"unicode key"),
                &meta(),
                PutMode::CreateNew,
            )
            .await
            .unwrap();
        assert_eq!(read(store.as_ref(), name).await.unwrap(), b"unicode key");
        assert!(read(store.as_ref(), "a/missing").await.is_none());
        assert!(
            read(store.as_ref(), "a").await.is_none(),
            "a folder is no object"
        );
    }
}

async fn create_new_never_overwrites(f: Fixture) {
    let store = &f.backend.private;
    let once = key("k/once");
    store
        .put(&once, bytes(b"first"), &meta(), PutMode::CreateNew)
        .await
        .unwrap();
    let second = store
        .put(&once, bytes(b"second"), &meta(), PutMode::CreateNew)
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    assert_eq!(read(store.as_ref(), "k/once").await.unwrap(), b"first");
    let page = key("k/page");
    for version in [b"v1", b"v2"] {
        store
            .put(&page, bytes(version), &meta(), PutMode::Overwrite)
            .await
            .unwrap();
    }
    assert_eq!(read(store.as_ref(), "k/page").await.unwrap(), b"v2");
}

/// A superseded derived object is removed; the objects beside it stay, and removing what is
/// not there (a second removal, a retry) is not an error.
async fn deleting_removes_that_object_only(f: Fixture) {
    let site = &f.backend.site;
    for name in ["a.pf_fragment", "b.pf_fragment"] {
        site.put(
            &key(&format!("consultations/c/pagefind/{name}")),
            bytes(name.as_bytes()),
            &meta(),
            PutMode::CreateNew,
        )
        .await
        .unwrap();
    }
    let gone = key("consultations/c/pagefind/a.pf_fragment");
    site.delete(&gone).await.unwrap();
    assert!(site.get(&gone).await.unwrap().is_none());
    assert_eq!(
        read(site.as_ref(), "consultations/c/pagefind/b.pf_fragment")
            .await
            .unwrap(),
        b"b.pf_fragment"
    );
    site.delete(&gone).await.unwrap();
    site.delete(&key("consultations/c/pagefind/never.pf_index"))
        .await
        .unwrap();
}

/// A response numbered `n` in `c` whose published extracted text holds `words`, as the search
/// index reads it.
async fn published_with_words(b: &Backend, c: &Consultation, n: u64, words: &str) {
    b.responses
        .receive(response(c, at("2026-12-05T10:00:00Z")))
        .await
        .unwrap();
    b.responses.sequence(&c.id).await.unwrap();
    let text = format!("Derived, not the record.\n\n=== response.txt ===\n{words}\n");
    b.site
        .put(
            &key(&format!("consultations/{}/extracted/{n}.txt", c.id)),
            Body::Bytes(Bytes::from(text)),
            &meta(),
            PutMode::Overwrite,
        )
        .await
        .unwrap();
}

/// The search index on the site: a rebuild replaces parts, and a part no build has used for
/// an hour is deleted (a reader of an older build fetches parts for that long), while every
/// part of the latest build stays.
async fn superseded_search_index_parts_are_deleted_after_an_hour(f: Fixture) {
    let b = &f.backend;
    let c = consultation("search-parts");
    create(b, &c).await;
    let clock = TestClock::at("2026-12-05T10:00:00Z");
    let search = b.search_index(clock.clone());
    // The list of parts written: each with when a build last used it.
    let listed = || async {
        let list = read(b.private.as_ref(), "search/search-parts/written")
            .await
            .expect("the list of parts written");
        String::from_utf8(list)
            .unwrap()
            .lines()
            .map(|line| {
                let (name, at) = line.split_once('\t').unwrap();
                (name.to_owned(), at.parse::<i64>().unwrap())
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let on_site = |name: String| async move {
        let key = format!("consultations/search-parts/pagefind/{name}");
        read(b.site.as_ref(), &key).await.is_some()
    };
    // The parts each build used, and what was listed after the last.
    let mut used = Vec::new();
    let mut after = Default::default();
    for (n, words, minutes) in [
        (1, "spectrum allocation", 0),
        (2, "IPv6 deployment", 30),
        (3, "互联网 治理", 90),
    ] {
        published_with_words(b, &c, n, words).await;
        let now = at("2026-12-05T10:00:00Z") + SignedDuration::from_mins(minutes);
        clock.set(now);
        search.build(&c.id, n).await.unwrap();
        after = listed().await;
        let this_build: std::collections::BTreeSet<String> = after
            .iter()
            .filter(|(_, at)| **at == now.as_millisecond())
            .map(|(name, _)| name.clone())
            .collect();
        assert!(!this_build.is_empty());
        used.push(this_build);
    }
    // Build 3 came 90 minutes after build 1: what only build 1 used is gone from the site and
    // from the list.
    let only_first: Vec<_> = used[0]
        .difference(&used[1])
        .filter(|name| !used[2].contains(*name))
        .cloned()
        .collect();
    assert!(!only_first.is_empty(), "a rebuild replaces some parts");
    for name in &only_first {
        assert!(!after.contains_key(name), "{name} is still listed");
        assert!(!on_site(name.clone()).await, "{name} is still on the site");
    }
    // What build 2 used was used an hour ago: still there, for its readers.
    for name in &used[1] {
        assert!(on_site(name.clone()).await, "{name} went too early");
    }
    // The latest build is whole.
    for name in &used[2] {
        assert!(
            on_site(name.clone()).await,
            "{name} of the latest build is missing"
        );
    }
}

/// The search index in blocks: each block of responses its own index (block 1 at `pagefind/`,
/// block b at `pagefind/{b}/`), named in `covered.json`; a rebuild builds only the blocks that
/// miss responses, never a full one again.
async fn the_search_index_is_built_in_blocks(f: Fixture) {
    let b = &f.backend;
    let c = &consultation("search-blocks");
    create(b, c).await;
    let clock = TestClock::at("2026-12-05T10:00:00Z");
    let search = shared::search::SearchIndex {
        block_size: 2,
        ..b.search_index(clock.clone())
    };
    let add = |n: u64| async move { published_with_words(b, c, n, &format!("word{n}")).await };
    let list = |name: &'static str| async move {
        read(b.private.as_ref(), &format!("search/search-blocks/{name}"))
            .await
            .map(|bytes| String::from_utf8(bytes).unwrap())
    };
    let covered = || async {
        let bytes = read(
            b.site.as_ref(),
            "consultations/search-blocks/pagefind/covered.json",
        )
        .await
        .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    for n in 1..=5 {
        add(n).await;
    }
    search.build(&c.id, 5).await.unwrap();
    let first = covered().await;
    assert_eq!(
        (first["responses"].as_u64(), first["blocks"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(first["block_size"], 2);
    for entry in ["pagefind/", "pagefind/2/", "pagefind/3/"] {
        let key = format!("consultations/search-blocks/{entry}pagefind-entry.json");
        assert!(read(b.site.as_ref(), &key).await.is_some(), "{key}");
    }
    // The script and WebAssembly are the first block's only.
    assert!(
        read(
            b.site.as_ref(),
            "consultations/search-blocks/pagefind/pagefind.js"
        )
        .await
        .is_some()
    );
    assert!(
        read(
            b.site.as_ref(),
            "consultations/search-blocks/pagefind/2/pagefind.js"
        )
        .await
        .is_none()
    );
    let (block1, block2) = (
        list("written").await.unwrap(),
        list("written-2").await.unwrap(),
    );
    // One more response, a minute later: only block 3 is built again.
    add(6).await;
    clock.set(at("2026-12-05T10:01:00Z"));
    search.build(&c.id, 6).await.unwrap();
    assert_eq!(covered().await["blocks"], 3);
    assert_eq!(
        list("written").await.unwrap(),
        block1,
        "block 1 was not rebuilt"
    );
    assert_eq!(
        list("written-2").await.unwrap(),
        block2,
        "block 2 was not rebuilt"
    );
    let block3 = list("written-3").await.unwrap();
    let minute = at("2026-12-05T10:01:00Z").as_millisecond().to_string();
    assert!(block3.contains(&minute), "block 3 was rebuilt: {block3}");
    // And a seventh opens block 4.
    add(7).await;
    clock.set(at("2026-12-05T10:02:00Z"));
    search.build(&c.id, 7).await.unwrap();
    assert_eq!(covered().await["blocks"], 4);
    assert_eq!(list("written-3").await.unwrap(), block3, "block 3 was full");
}

/// Copies from the private store to the site in a batch (a hard link each on disk, a
/// server-side copy each on S3): the exact bytes, each outcome in order, an existing copy left
/// untouched, and the batch safe to run again.
async fn batch_copies_are_create_new_and_in_order(f: Fixture) {
    let (private, site) = (&f.backend.private, &f.backend.site);
    let mut copies = Vec::new();
    for i in 0..20u8 {
        let source = key(&format!("originals/batch/{i:02}"));
        private
            .put(
                &source,
                Body::Bytes(Bytes::from(vec![i; 100 + usize::from(i)])),
                &meta(),
                PutMode::CreateNew,
            )
            .await
            .unwrap();
        let location = private.location(&source).expect("both stores can copy");
        copies.push((location, key(&format!("site/batch/{i}/file")), meta()));
    }
    // One target exists already, with other bytes: left as it is.
    site.put(
        &key("site/batch/7/file"),
        bytes(b"earlier"),
        &meta(),
        PutMode::CreateNew,
    )
    .await
    .unwrap();
    let outcomes = site.copy_all_from(&copies).await.unwrap();
    let expected: Vec<Copied> = (0..20)
        .map(|i| {
            if i == 7 {
                Copied::AlreadyThere
            } else {
                Copied::Done
            }
        })
        .collect();
    assert_eq!(outcomes, expected);
    site.sync().await.unwrap();
    for i in 0..20u8 {
        let got = read(site.as_ref(), &format!("site/batch/{i}/file"))
            .await
            .unwrap();
        if i == 7 {
            assert_eq!(got, b"earlier");
        } else {
            assert_eq!(got, vec![i; 100 + usize::from(i)]);
        }
    }
    // Again (a publication redone after a crash): nothing changes.
    let again = site.copy_all_from(&copies).await.unwrap();
    assert!(
        again.iter().all(|c| *c == Copied::AlreadyThere),
        "{again:?}"
    );
    assert!(site.copy_all_from(&[]).await.unwrap().is_empty());
}

/// Objects of unknown size arrive piece by piece (S3: a multipart upload of 8 MiB parts) and
/// appear whole only when finished; an aborted upload leaves nothing.
async fn uploads_appear_whole_when_finished(f: Fixture) {
    let store = &f.backend.site;
    let piece: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    let k = key("consultations/x/dossier.zip");
    let mut upload = store.upload(&k, &meta()).await.unwrap();
    for _ in 0..19 {
        upload.write(Bytes::from(piece.clone())).await.unwrap();
    }
    upload.write(Bytes::from_static(b"tail")).await.unwrap();
    assert!(
        read(store.as_ref(), "consultations/x/dossier.zip")
            .await
            .is_none(),
        "not before finish"
    );
    upload.finish().await.unwrap();
    let stored = read(store.as_ref(), "consultations/x/dossier.zip")
        .await
        .unwrap();
    assert_eq!(stored.len(), 19 * piece.len() + 4);
    assert!(
        stored
            .chunks(piece.len())
            .take(19)
            .all(|c| c == piece.as_slice())
    );
    assert!(stored.ends_with(b"tail"));

    // A second upload replaces it; an aborted one changes nothing.
    let mut small = store.upload(&k, &meta()).await.unwrap();
    small.write(Bytes::from_static(b"small")).await.unwrap();
    small.finish().await.unwrap();
    assert_eq!(
        read(store.as_ref(), "consultations/x/dossier.zip")
            .await
            .unwrap(),
        b"small"
    );
    let mut aborted = store.upload(&k, &meta()).await.unwrap();
    for _ in 0..9 {
        aborted.write(Bytes::from(piece.clone())).await.unwrap();
    }
    aborted.abort().await;
    assert_eq!(
        read(store.as_ref(), "consultations/x/dossier.zip")
            .await
            .unwrap(),
        b"small"
    );
}

async fn spooled(name: &str, content: &[u8]) -> shared::intake::spool::SpooledFile {
    let mut spool = shared::intake::spool::Spool::create(name).unwrap();
    spool.write(content).await.unwrap();
    spool.finish(name.to_owned()).await.unwrap()
}

/// Intake then publication over the backend: the public copy is the exact bytes.
async fn published_files_are_the_exact_bytes(f: Fixture) {
    let b = &f.backend;
    let c = consultation("published");
    create(b, &c).await;
    let clock: Arc<dyn Clock> = TestClock::at("2026-12-05T10:00:00Z");
    let state = b.intake_state(clock.clone(), Arc::new(NoQueue));
    let text = awkward_bytes();
    let pdf = [b"%PDF-1.7\n".as_slice(), &awkward_bytes()].concat();
    let submission = shared::intake::Submission {
        id: None,
        channel: Channel::Web,
        fields: SubmitterFields {
            name: Some("Ada".into()),
            email: Some("ada@example.org".into()),
            ..Default::default()
        },
        text: Some(spooled("", &text).await),
        answers: Default::default(),
        files: vec![spooled("../../report.pdf", &pdf).await],
        language: None,
    };
    let submitted = state.intake.submit(&c.id, submission).await.unwrap();
    // No queue here: where the store leaves it pending, sequence it as the publisher would.
    b.responses.sequence(&c.id).await.unwrap();
    let Some(shared::intake::Submitted::Numbered(receipt)) =
        state.intake.status(&c.id, submitted.id()).await.unwrap()
    else {
        panic!("numbered once sequenced")
    };
    assert_eq!(receipt.number, 1);
    let names: Vec<_> = receipt.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["response.txt", "report.pdf"]);

    let publisher = b.publisher(clock);
    publisher.publish(&c.id).await.unwrap();
    let site = b.site.as_ref();
    let base = "consultations/published";
    let got = read(site, &format!("{base}/responses/1/response.txt")).await;
    assert_eq!(got.unwrap(), text);
    let got = read(site, &format!("{base}/responses/1/report.pdf")).await;
    assert_eq!(got.unwrap(), pdf);
    let page = read(site, &format!("{base}/index.html")).await.unwrap();
    let manifest = read(site, &format!("{base}/responses.json")).await.unwrap();
    for public in [&page, &manifest] {
        let text = String::from_utf8_lossy(public);
        assert!(
            !text.contains("ada@example.org"),
            "emails are never published"
        );
        assert!(text.contains("report.pdf"));
    }

    // Publishing again writes the same bytes.
    publisher.publish(&c.id).await.unwrap();
    assert_eq!(
        read(site, &format!("{base}/index.html")).await.unwrap(),
        page
    );
    assert_eq!(
        read(site, &format!("{base}/responses.json")).await.unwrap(),
        manifest
    );
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 1);
}

/// Answers per question: each published byte for byte as its own file, listed on its
/// question's page (in every edition) and in `responses.csv`, which never names an email.
async fn answers_are_published_per_question(f: Fixture) {
    let b = &f.backend;
    let request: ConsultationRequest = serde_json::from_value(serde_json::json!({
        "id": "answered",
        "title": {"en": "Internet access"},
        "questions": [{"en": "What should be done?"}, {"en": "By whom?", "fr": "Par qui ?"}],
        "meeting_date": "2027-03-31",
        "opens_at": "2026-12-01T00:00:00+01:00"
    }))
    .unwrap();
    let c = request.into_consultation(at(NOW)).unwrap();
    create(b, &c).await;
    let clock: Arc<dyn Clock> = TestClock::at("2026-12-05T10:00:00Z");
    let state = b.intake_state(clock.clone(), Arc::new(NoQueue));
    let first = "Ça va\r\nbien — 回应 وجيد\r\n".as_bytes().to_vec();
    let formula = b"=cmd|' /C calc'!A0\r\n".to_vec();
    let latin1 = b"caf\xe9, \xabna\xefve\xbb\r\n".to_vec();
    let send = |text, answers| send_answers(b, &state, &c.id, text, answers);
    send(
        Some(b"General view."),
        vec![(1, first.clone()), (2, formula.clone())],
    )
    .await;
    send(None, vec![(2, latin1.clone())]).await;
    send(Some(b"-Only a text."), vec![]).await;

    let publisher = b.publisher(clock);
    publisher.publish(&c.id).await.unwrap();
    let site = b.site.as_ref();
    let base = "consultations/answered";
    let file = |n: u64, name: &str| format!("{base}/responses/{n}/{name}");
    assert_eq!(read(site, &file(1, "answer-1.txt")).await.unwrap(), first);
    assert_eq!(read(site, &file(1, "answer-2.txt")).await.unwrap(), formula);
    assert_eq!(read(site, &file(2, "answer-2.txt")).await.unwrap(), latin1);
    assert_eq!(read(site, &file(2, "answer-1.txt")).await, None);

    let page = |k: String| async move {
        String::from_utf8(read(site, &format!("{k}index.html")).await.unwrap()).unwrap()
    };
    let one = page(format!("{base}/questions/1/")).await;
    assert!(one.contains("What should be done?"), "{one}");
    assert!(one.contains("回应 وجيد"));
    assert!(one.contains(r#"href="/consultations/answered/responses/1/""#));
    assert!(!one.contains(r#"href="/consultations/answered/responses/2/""#));
    let two = page(format!("fr/{base}/questions/2/")).await;
    assert!(two.contains("Par qui ?"), "{two}");
    assert!(two.contains(r#"href="/fr/consultations/answered/responses/1/""#));
    assert!(two.contains(r#"href="/fr/consultations/answered/responses/2/""#));
    assert!(two.contains("café, «naïve»"), "decoded for reading");
    assert!(!two.contains("/responses/3/"));
    for page in [&one, &two] {
        assert!(!page.contains("ada@example.org"));
    }
    let head = page(format!("{base}/")).await;
    assert!(head.contains(r#"href="/consultations/answered/questions/2/""#));

    publisher.publish_csv(&c.id, 3).await.unwrap();
    let table = read(site, &format!("{base}/responses.csv")).await.unwrap();
    let table = table
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a byte-order mark");
    assert!(!String::from_utf8_lossy(table).contains("ada@example.org"));
    let mut reader = csv::Reader::from_reader(table);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "number",
            "received_at",
            "channel",
            "name",
            "organization",
            "category",
            "country",
            "answer_1",
            "answer_2",
            "text",
            "files",
            "file_urls"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][0], "1");
    assert_eq!(&rows[0][2], "web");
    assert_eq!(&rows[0][7], "Ça va\r\nbien — 回应 وجيد\r\n");
    assert_eq!(
        &rows[0][8], "'=cmd|' /C calc'!A0\r\n",
        "a formula is neutralised"
    );
    assert_eq!(&rows[0][9], "General view.");
    assert_eq!(&rows[0][10], "response.txt\nanswer-1.txt\nanswer-2.txt");
    assert!(rows[0][11].starts_with("/consultations/answered/responses/1/response.txt\n"));
    assert_eq!(&rows[1][7], "");
    assert_eq!(&rows[1][8], "café, «naïve»\r\n");
    assert_eq!(&rows[2][9], "'-Only a text.");

    // A round with one more response rewrites its page's part: the table grows by its row.
    send(None, vec![(1, b"Later.".to_vec())]).await;
    publisher.publish(&c.id).await.unwrap();
    publisher.publish_csv(&c.id, 4).await.unwrap();
    let table = read(site, &format!("{base}/responses.csv")).await.unwrap();
    let mut reader = csv::Reader::from_reader(&table[3..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(&rows[3][7], "Later.");
    assert!(
        page(format!("{base}/questions/1/"))
            .await
            .contains("Later.")
    );
}

/// Sends a web response of Ada's with `text` and `answers`, and numbers it.
async fn send_answers(
    b: &Backend,
    state: &shared::http::intake::IntakeState,
    id: &ConsultationId,
    text: Option<&'static [u8]>,
    answers: Vec<(usize, Vec<u8>)>,
) {
    let mut given = std::collections::BTreeMap::new();
    for (k, bytes) in answers {
        given.insert(k, spooled("", &bytes).await);
    }
    let submission = shared::intake::Submission {
        id: None,
        channel: Channel::Web,
        fields: SubmitterFields {
            name: Some("Ada".into()),
            email: Some("ada@example.org".into()),
            ..Default::default()
        },
        text: match text {
            Some(t) => Some(spooled("", t).await),
            None => None,
        },
        answers: given,
        files: vec![],
        language: None,
    };
    state.intake.submit(id, submission).await.unwrap();
    b.responses.sequence(id).await.unwrap();
}

/// Large consultations are paginated: pages of 100 in HTML and in the manifest.
async fn publication_is_paginated(f: Fixture) {
    let b = &f.backend;
    let c = consultation("paginated");
    create(b, &c).await;
    // Received, then numbered in batches (where the store numbers as it commits, already).
    for _ in 0..205 {
        let r = response(&c, at("2026-12-05T10:00:00Z"));
        b.responses.receive(r).await.unwrap();
    }
    b.responses.sequence(&c.id).await.unwrap();
    let clock: Arc<dyn Clock> = TestClock::at("2026-12-05T10:00:00Z");
    let publisher = b.publisher(clock);
    publisher.publish(&c.id).await.unwrap();
    let site = b.site.as_ref();
    let json = |k: &'static str| async move {
        let bytes = read(site, k)
            .await
            .unwrap_or_else(|| panic!("{k} is missing"));
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let head = json("consultations/paginated/responses.json").await;
    assert_eq!(head["total"], 205);
    assert_eq!(head["pages"].as_array().unwrap().len(), 3);
    assert_eq!(head["responses"].as_array().unwrap().len(), 100);
    let numbers = |page: &serde_json::Value| -> Vec<u64> {
        let entries = page["responses"].as_array().unwrap();
        entries
            .iter()
            .map(|r| r["number"].as_u64().unwrap())
            .collect()
    };
    let third = json("consultations/paginated/manifest/3.json").await;
    assert_eq!(numbers(&third), (201..=205).collect::<Vec<_>>());
    let page3 = read(site, "consultations/paginated/page/3/index.html").await;
    assert!(
        String::from_utf8(page3.unwrap())
            .unwrap()
            .contains("Response 205")
    );

    b.responses
        .append(response(&c, at("2026-12-05T10:00:01Z")))
        .await
        .unwrap();
    publisher.publish(&c.id).await.unwrap();
    let third = json("consultations/paginated/manifest/3.json").await;
    assert_eq!(numbers(&third), (201..=206).collect::<Vec<_>>());
    assert_eq!(
        json("consultations/paginated/responses.json").await["total"],
        206
    );
    assert_eq!(b.publication.published(&c.id).await.unwrap(), 206);
}

fn closing_soon(id: &str, deadline: &str) -> Consultation {
    let request: ConsultationRequest = serde_json::from_value(serde_json::json!({
        "id": id,
        "title": {"en": "Closing soon"},
        "questions": [{"en": "Anything?"}],
        "meeting_date": "2027-03-31",
        "opens_at": NOW,
        "deadline": deadline,
    }))
    .unwrap();
    request.into_consultation(at(NOW)).unwrap()
}

async fn submission(
    name: &str,
    text: &[u8],
    files: &[(&str, &[u8])],
) -> shared::intake::Submission {
    let mut spooled_files = Vec::new();
    for (file_name, content) in files {
        spooled_files.push(spooled(file_name, content).await);
    }
    shared::intake::Submission {
        id: None,
        channel: Channel::Api,
        fields: SubmitterFields {
            name: Some(name.into()),
            category: Some("civil-society".into()),
            country: Some("CH".into()),
            ..Default::default()
        },
        text: Some(spooled("", text).await),
        answers: Default::default(),
        files: spooled_files,
        language: None,
    }
}

/// The dossier archive as published, opened.
async fn dossier(site: &dyn ObjectStore, id: &str) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    let bytes = read(site, &format!("consultations/{id}/dossier.zip"))
        .await
        .expect("dossier.zip is published");
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap()
}

fn entry(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} is in the dossier"))
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Closing: recorded after the deadline, then, once final, the dossier with every byte.
async fn closing_builds_the_dossier(f: Fixture) {
    let b = &f.backend;
    let c = closing_soon("closing", "2026-12-10T12:00:00Z");
    create(b, &c).await;
    let clock = TestClock::at("2026-12-05T10:00:00Z");
    let intake = b.intake_state(clock.clone(), Arc::new(NoQueue)).intake;
    let campaign = b"We demand option A.\r\nSigned, a concerned citizen.\r\n".as_slice();
    let pdf = [b"%PDF-1.7\n".as_slice(), &awkward_bytes()].concat();
    let sent = [
        submission("Ada", campaign, &[("position.pdf", &pdf)]).await,
        submission("Grace", &awkward_bytes(), &[]).await,
        submission("Linus", campaign, &[]).await,
    ];
    for s in sent {
        intake.submit(&c.id, s).await.unwrap();
    }
    let closer = b.closer(clock.clone(), Arc::new(NoQueue));
    let publisher = b.publisher(clock.clone());

    assert_eq!(
        closer.run(&c.id).await.unwrap(),
        Some(c.deadline + SignedDuration::from_millis(1))
    );
    assert!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .consultation
            .closing
            .is_none()
    );

    clock.set(c.deadline + SignedDuration::from_secs(1));
    let come_back = closer.run(&c.id).await.unwrap().expect("the dossier waits");
    assert_eq!(come_back, c.deadline + closer.settle);
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    let closing = record
        .consultation
        .closing
        .clone()
        .expect("closing recorded");
    assert_eq!(closing.closed_at, c.deadline + SignedDuration::from_secs(1));
    assert!(closing.dossier.is_none());
    publisher.publish(&c.id).await.unwrap();
    let page = read(b.site.as_ref(), "consultations/closing/index.html")
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&page).contains("Closed"));

    clock.set(come_back);
    assert_eq!(closer.run(&c.id).await.unwrap(), None);
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    let info = record
        .consultation
        .closing
        .unwrap()
        .dossier
        .expect("dossier recorded");
    assert_eq!(info.response_count, 3);

    let site = b.site.as_ref();
    let published = read(site, "consultations/closing/dossier.zip")
        .await
        .unwrap();
    assert_eq!(info.size, published.len() as u64);
    use sha2::Digest;
    assert_eq!(info.sha256, hex::encode(sha2::Sha256::digest(&published)));
    let mut archive = dossier(site, "closing").await;
    assert_eq!(entry(&mut archive, "1/response.txt"), campaign);
    assert_eq!(entry(&mut archive, "1/position.pdf"), pdf);
    assert_eq!(entry(&mut archive, "2/response.txt"), awkward_bytes());
    let index: serde_json::Value =
        serde_json::from_slice(&entry(&mut archive, "index.json")).unwrap();
    assert_eq!(index["responses"].as_array().unwrap().len(), 3);
    let csv = String::from_utf8(entry(&mut archive, "index.csv")).unwrap();
    assert!(csv.contains("Grace") && csv.contains("position.pdf"));
    // The table of every response, derived from the files.
    let table = entry(&mut archive, "responses.csv");
    let table = table
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a byte-order mark");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(table)
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[1][3], "Grace");
    assert_eq!(
        &rows[0][8],
        "We demand option A.\r\nSigned, a concerned citizen.\r\n"
    );
    assert_eq!(&rows[0][9], "response.txt\nposition.pdf");
    // Each response's extracted text, in its own folder, listed as derived.
    let text = String::from_utf8(entry(&mut archive, "extracted/1.txt")).unwrap();
    assert!(text.starts_with("Text extracted automatically"), "{text}");
    assert!(text.contains(&String::from_utf8_lossy(campaign).into_owned()));
    assert_eq!(index["extracted"].as_array().unwrap().len(), 3);
    assert_eq!(index["extracted"][0]["path"], "extracted/1.txt");
    assert_eq!(index["extracted"][0]["derived"], true);
    assert!(csv.contains(",extracted/1.txt,"), "{csv}");
    // The log's final checkpoint: signed, over the 3 responses, the root the page shows, and
    // the same bytes the publisher puts on the site for that size.
    let note = entry(&mut archive, "checkpoint");
    let key = b.log_key.clone().unwrap();
    let origin = shared::transparency::origin(key.name(), "closing");
    let head =
        shared::transparency::checkpoint::open_checkpoint(&note, &key.verifier(), &origin).unwrap();
    assert_eq!(head.size, 3);
    assert_eq!(info.log_root.as_deref(), Some(head.root_hex().as_str()));

    let summary = read(site, "consultations/closing/summary/index.html")
        .await
        .unwrap();
    let summary = String::from_utf8(summary).unwrap();
    assert!(summary.contains("2 identical responses"), "{summary}");
    // Each chart with its table: over time, by category, country and channel.
    assert_eq!(
        summary.matches("<figure class=\"chart\"").count(),
        5,
        "{summary}"
    );
    assert_eq!(summary.matches("role=\"img\"").count(), 5);
    assert!(
        summary.contains("<th scope=\"row\">2026-12-05</th><td>3</td>"),
        "{summary}"
    );
    publisher.publish(&c.id).await.unwrap();
    let page = String::from_utf8(
        read(site, "consultations/closing/index.html")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(page.contains("dossier.zip") && page.contains(&info.sha256));
    assert!(
        page.contains(&head.root_hex()),
        "the page shows the log's root"
    );
    assert_eq!(
        read(site, "consultations/closing/log/checkpoint")
            .await
            .unwrap(),
        note
    );

    // Closing again changes nothing.
    let version = b.consultations.get(&c.id).await.unwrap().unwrap().version;
    assert_eq!(closer.run(&c.id).await.unwrap(), None);
    assert_eq!(
        b.consultations.get(&c.id).await.unwrap().unwrap().version,
        version
    );
    let actions: Vec<_> = b
        .consultations
        .audit_log(&c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            Action::Created,
            Action::Closed,
            Action::Sealed,
            Action::DossierBuilt
        ]
    );

    // A late response is refused and changes nothing.
    let late = intake
        .submit(&c.id, submission("Late", b"too late", &[]).await)
        .await;
    assert!(
        matches!(
            late,
            Err(shared::intake::IntakeError::Refused(Refusal::Closed { .. }))
        ),
        "{late:?}"
    );
    assert_eq!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .response_count,
        3
    );
}

/// A closed consultation reopened by the Secretariat accepts responses again, and its next
/// closing builds a new dossier with them.
async fn reopening_leads_to_a_new_dossier(f: Fixture) {
    let b = &f.backend;
    let c = closing_soon("reopened", "2026-12-10T12:00:00Z");
    create(b, &c).await;
    let clock = TestClock::at("2026-12-05T10:00:00Z");
    let intake = b.intake_state(clock.clone(), Arc::new(NoQueue)).intake;
    intake
        .submit(&c.id, submission("First", b"one", &[]).await)
        .await
        .unwrap();
    let closer = b.closer(clock.clone(), Arc::new(NoQueue));
    clock.set(c.deadline + closer.settle + SignedDuration::from_secs(1));
    closer.run(&c.id).await.unwrap();
    assert_eq!(
        dossier(b.site.as_ref(), "reopened").await.len(),
        6,
        "1 file, its extracted text, 2 indexes, the log's checkpoint and responses.csv"
    );

    let secretariat = b
        .admin_state(
            clock.clone(),
            Arc::new(NoQueue),
            Arc::new(SweptByTimer),
            shared::http::admin::AdminToken::generate(),
        )
        .secretariat;
    let request: DeadlineRequest = serde_json::from_value(
        serde_json::json!({"deadline": "2026-12-20T12:00:00Z", "reason": "reopened"}),
    )
    .unwrap();
    let record = secretariat
        .move_deadline(&c.id, request, None)
        .await
        .unwrap();
    assert!(record.consultation.closing.is_none());
    assert!(record.consultation.deadline_history[0].reopened);
    intake
        .submit(&c.id, submission("Second", b"two", &[]).await)
        .await
        .unwrap();

    clock.set(at("2026-12-20T12:00:00Z") + closer.settle + SignedDuration::from_secs(1));
    closer.run(&c.id).await.unwrap();
    let mut archive = dossier(b.site.as_ref(), "reopened").await;
    assert_eq!(entry(&mut archive, "2/response.txt"), b"two");
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(
        record
            .consultation
            .closing
            .unwrap()
            .dossier
            .unwrap()
            .response_count,
        2
    );
}

/// Submissions race the closing around the deadline: every response received in time is
/// accepted and in the dossier, every one received after is refused, none is lost.
async fn submissions_racing_the_closing(f: Fixture) {
    let b = &f.backend;
    let deadline = Timestamp::now() + SignedDuration::from_millis(1500);
    let c = closing_soon("racing-close", &deadline.to_string());
    create(b, &c).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let intake = Arc::new(shared::intake::Intake {
        consultations: b.consultations.clone(),
        responses: b.responses.clone(),
        private: b.private.clone(),
        clock: clock.clone(),
        queue: Arc::new(NoQueue),
        in_flight_grace: SignedDuration::from_secs(2),
        limits: shared::domain::limits::Limits::default(),
        receipt_wait: shared::intake::DEFAULT_RECEIPT_WAIT,
        log_key: b.log_key.clone(),
        recently_open: Default::default(),
    });
    let mut closer = b.closer(clock.clone(), Arc::new(NoQueue));
    closer.settle = SignedDuration::from_secs(3);
    let closer = Arc::new(closer);

    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let intake = intake.clone();
        let id = c.id.clone();
        // Spread from 600 ms before the deadline to 600 ms after.
        let start = deadline - SignedDuration::from_millis(600)
            + SignedDuration::from_millis(30 * i as i64);
        tasks.push(tokio::spawn(async move {
            let wait = Timestamp::now().duration_until(start);
            if let Ok(wait) = std::time::Duration::try_from(wait) {
                tokio::time::sleep(wait).await;
            }
            let text = format!("response {i}");
            intake
                .submit(&id, submission("Racer", text.as_bytes(), &[]).await)
                .await
        }));
    }
    let closing = {
        let closer = closer.clone();
        let id = c.id.clone();
        tokio::spawn(async move {
            loop {
                match closer.run(&id).await.unwrap() {
                    None => break,
                    Some(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
            }
        })
    };
    let mut accepted = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(receipt) => accepted.push(receipt),
            // Refused as late, or (on a loaded machine) not stored within the grace: either
            // way nothing was kept, which the counts below check.
            Err(
                shared::intake::IntakeError::Refused(Refusal::Closed { .. })
                | shared::intake::IntakeError::TooSlow(_),
            ) => {}
            Err(e) => panic!("unexpected refusal: {e}"),
        }
    }
    closing.await.unwrap();
    assert!(
        !accepted.is_empty(),
        "some responses arrived before the deadline"
    );
    for receipt in &accepted {
        let received: Timestamp = receipt.received_at().parse().unwrap();
        assert!(
            received <= deadline,
            "accepted after the deadline: {}",
            receipt.received_at()
        );
    }
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    let info = record
        .consultation
        .closing
        .unwrap()
        .dossier
        .expect("the dossier was built");
    assert_eq!(
        info.response_count,
        accepted.len() as u64,
        "every accepted response is in it"
    );
    assert_eq!(
        record.response_count,
        accepted.len() as u64,
        "nothing accepted after it"
    );
    let mut archive = dossier(b.site.as_ref(), "racing-close").await;
    let index: serde_json::Value =
        serde_json::from_slice(&entry(&mut archive, "index.json")).unwrap();
    let mut in_dossier: Vec<String> = index["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let mut ids: Vec<String> = accepted.iter().map(|r| r.id().to_string()).collect();
    in_dossier.sort();
    ids.sort();
    assert_eq!(in_dossier, ids);
}

/// A clock whose every reading is `step` later than the one before: each step of intake looks
/// as slow as a store under strain.
struct SteppingClock {
    now: std::sync::Mutex<Timestamp>,
    step: SignedDuration,
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        let mut now = self.now.lock().unwrap();
        let read = *now;
        *now = read + self.step;
        read
    }
}

fn intake_with(
    b: &Backend,
    clock: Arc<dyn Clock>,
    limits: shared::domain::limits::Limits,
) -> shared::intake::Intake {
    shared::intake::Intake {
        consultations: b.consultations.clone(),
        responses: b.responses.clone(),
        private: b.private.clone(),
        clock,
        queue: Arc::new(NoQueue),
        in_flight_grace: SignedDuration::from_secs(2),
        limits,
        receipt_wait: std::time::Duration::ZERO,
        log_key: b.log_key.clone(),
        recently_open: Default::default(),
    }
}

/// The in-flight grace, both ways out: a response whose files took longer than the grace is
/// refused before its record is stored; one whose record was stored after the grace is taken
/// back (never numbered, nothing pending), unless the store numbered it as it committed, when
/// it is acknowledged after all. Acknowledged always means stored.
async fn a_response_stored_after_its_grace_is_never_half_kept(f: Fixture) {
    let b = &f.backend;
    let c = consultation("slow-2027");
    create(b, &c).await;
    let start = at("2026-12-05T10:00:00Z");
    // Each reading 3 s after the last: too slow at the first check, before the record.
    let clock = Arc::new(SteppingClock {
        now: start.into(),
        step: SignedDuration::from_secs(3),
    });
    let intake = intake_with(b, clock, Default::default());
    let refused = intake
        .submit(&c.id, submission("Slow", b"too slow", &[]).await)
        .await;
    assert!(
        matches!(refused, Err(shared::intake::IntakeError::TooSlow(_))),
        "{refused:?}"
    );
    assert_eq!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .response_count,
        0
    );
    assert!(b.responses.pending(&c.id).await.unwrap().is_empty());

    // 1.5 s a reading: in time before the record, too slow after it.
    let clock = Arc::new(SteppingClock {
        now: start.into(),
        step: SignedDuration::from_millis(1500),
    });
    let intake = intake_with(b, clock, Default::default());
    match intake
        .submit(&c.id, submission("Slow", b"stored late", &[]).await)
        .await
    {
        // The embedded store numbers as it commits: stored, so acknowledged.
        Ok(shared::intake::Submitted::Numbered(receipt)) => {
            let stored = b.responses.find(&c.id, &receipt.id).await.unwrap();
            assert_eq!(stored.map(|r| r.number), Some(receipt.number));
        }
        // DynamoDB receives, then numbers: the pending response is taken back.
        Err(shared::intake::IntakeError::TooSlow(_)) => {
            assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
            assert_eq!(b.responses.sequence(&c.id).await.unwrap(), 0);
            assert_eq!(
                b.consultations
                    .get(&c.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .response_count,
                0
            );
        }
        other => panic!("{other:?}"),
    }
}

/// The last guard before anything is stored: a response whose transparency-log entry could not
/// be written (more than an entry bundle holds) would stop its consultation's log for good, so
/// intake refuses it, whatever the channel's own limits let through, and stores nothing.
async fn a_response_too_large_for_its_log_entry_is_refused_unstored(f: Fixture) {
    let b = &f.backend;
    let c = consultation("entry-2027");
    create(b, &c).await;
    let clock: Arc<dyn Clock> = TestClock::at("2026-12-05T10:00:00Z");
    let limits = shared::domain::limits::Limits {
        max_files: 1_000,
        ..Default::default()
    };
    let intake = intake_with(b, clock, limits);
    let names: Vec<String> = (0..300)
        .map(|i| format!("{}-{i}.txt", "annex-with-a-long-descriptive-name".repeat(5)))
        .collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let refused = intake
        .submit(&c.id, submission("Many", b"many files", &files).await)
        .await;
    match refused {
        Err(shared::intake::IntakeError::TooLarge(too_large)) => {
            assert!(
                too_large.0.to_string().contains("to be recorded"),
                "{too_large}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .response_count,
        0
    );
    assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
    let originals = b
        .private
        .list(&format!("originals/{}/", c.id), None, 100)
        .await
        .unwrap();
    assert!(originals.is_empty(), "{} originals kept", originals.len());
    // The same response with a few of the files fits, and is stored.
    let intake = intake_with(b, TestClock::at("2026-12-05T10:00:00Z"), Default::default());
    let taken = intake
        .submit(&c.id, submission("Few", b"a few files", &files[..5]).await)
        .await;
    assert!(taken.is_ok(), "{taken:?}");
}

/// The seal is checked where the append commits: whatever the order of the calls, nothing is
/// stored into a sealed consultation, and a reopening unseals it.
async fn nothing_is_appended_once_sealed(f: Fixture) {
    let b = &f.backend;
    let c = closing_soon("sealed-2027", "2026-12-01T00:00:00Z");
    create(b, &c).await;
    let in_time = c.deadline - SignedDuration::from_secs(1);
    let first = b.responses.append(response(&c, in_time)).await.unwrap();
    assert_eq!(first.number, 1);

    let after = c.deadline + SignedDuration::from_secs(40);
    let sealed = modify::<std::convert::Infallible>(b.consultations.as_ref(), &c.id, |c| {
        assert!(c.record_closing(after) && c.seal(after));
        Ok(Some(AuditEntry {
            at: after,
            consultation: c.id.clone(),
            actor: Actor::System,
            by: None,
            action: Action::Sealed,
            details: serde_json::json!({}),
        }))
    })
    .await
    .unwrap();
    assert!(sealed.consultation.is_sealed());

    // Received in time, committing after the seal: refused, nothing stored.
    let late_commit = b.responses.append(response(&c, in_time)).await;
    assert!(
        matches!(late_commit, Err(AppendError::Sealed { deadline }) if deadline == c.deadline),
        "{late_commit:?}"
    );
    // A repeated delivery of the stored response is still recognised as that response.
    let mut again = response(&c, in_time);
    again.id = first.response.id.clone();
    assert!(matches!(
        b.responses.append(again).await,
        Err(AppendError::AlreadyStored(existing)) if existing.number == 1
    ));
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 1);
    assert_eq!(b.responses.range(&c.id, 1..=5).await.unwrap().len(), 1);

    // Reopening clears the closing and its seal: responses are stored again.
    let reopened_at = after + SignedDuration::from_secs(1);
    let reopened = modify::<std::convert::Infallible>(b.consultations.as_ref(), &c.id, |c| {
        let change = c
            .change_deadline(
                serde_json::from_value(serde_json::json!({"deadline": "2027-01-15T00:00:00Z"}))
                    .unwrap(),
                reopened_at,
            )
            .unwrap();
        Ok(Some(AuditEntry {
            at: reopened_at,
            consultation: c.id.clone(),
            actor: Actor::Secretariat,
            by: None,
            action: Action::Reopened,
            details: serde_json::to_value(&change).unwrap(),
        }))
    })
    .await
    .unwrap();
    assert!(!reopened.consultation.is_sealed());
    let second = b.responses.append(response(&c, reopened_at)).await.unwrap();
    assert_eq!(second.number, 2);
}

fn subscription(c: &Consultation, address: &str, random: u8) -> Subscription {
    Subscription::request(
        c.id.clone(),
        EmailAddress::parse(address).unwrap(),
        [random; 32],
        at(NOW),
    )
}

async fn email_list_subscriptions(f: Fixture) {
    let b = &f.backend;
    let (c, other) = (consultation("list-2027"), consultation("list-other"));
    create(b, &c).await;
    create(b, &other).await;
    let store = b.subscriptions.as_ref();
    let ada = subscription(&c, "ada@example.org", 1);
    assert_eq!(store.request(&ada).await.unwrap(), ada);
    // Asking again (even with another case and secret) keeps the first request and its link.
    let again = subscription(&c, "ADA@example.org", 2);
    assert_eq!(store.request(&again).await.unwrap(), ada);
    // Of requests racing to mail the address, the one that records the mail wins.
    let t0 = at("2026-12-05T10:00:00Z");
    assert!(
        store
            .record_mailed(&c.id, &ada.subscriber, None, t0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_mailed(&c.id, &ada.subscriber, None, t0)
            .await
            .unwrap()
    );
    let t1 = at("2026-12-05T11:00:00Z");
    assert!(
        store
            .record_mailed(&c.id, &ada.subscriber, Some(t0), t1)
            .await
            .unwrap()
    );
    let kept = store
        .subscription(&c.id, &ada.subscriber)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.mailed_at, Some(t1));
    assert_eq!(kept.secret, ada.secret, "the link is unchanged");
    let ada = kept;
    // The language the list writes in is kept with the subscription.
    let bob = subscription(&c, "bob@example.org", 3).in_language(shared::domain::Language::Fr);
    store.request(&bob).await.unwrap();
    store
        .request(&subscription(&other, "eve@example.org", 4))
        .await
        .unwrap();

    assert!(
        store.confirmed(&c.id).await.unwrap().is_empty(),
        "pending ones get nothing"
    );
    let first = at("2026-11-28T11:00:00Z");
    assert!(store.confirm(&c.id, &ada.subscriber, first).await.unwrap());
    assert!(
        store
            .confirm(&c.id, &ada.subscriber, at("2026-11-29T11:00:00Z"))
            .await
            .unwrap()
    );
    let confirmed = store.confirmed(&c.id).await.unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].address.as_str(), "ada@example.org");
    assert_eq!(
        confirmed[0].confirmed_at,
        Some(first),
        "the first confirmation counts"
    );
    assert_eq!(
        store.subscription(&c.id, &ada.subscriber).await.unwrap(),
        Some(confirmed[0].clone())
    );

    assert!(store.remove(&c.id, &ada.subscriber).await.unwrap());
    assert!(!store.remove(&c.id, &ada.subscriber).await.unwrap());
    assert_eq!(
        store.subscription(&c.id, &ada.subscriber).await.unwrap(),
        None
    );
    assert!(
        !store.confirm(&c.id, &ada.subscriber, first).await.unwrap(),
        "removed stays removed"
    );
    assert!(store.confirmed(&c.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .subscription(&c.id, &bob.subscriber)
            .await
            .unwrap()
            .map(|s| s.language),
        Some(shared::domain::Language::Fr)
    );
    assert!(store.confirm(&c.id, &bob.subscriber, first).await.unwrap());
    assert_eq!(
        store.confirmed(&c.id).await.unwrap()[0].language,
        shared::domain::Language::Fr,
        "confirming keeps the language"
    );

    assert_eq!(store.notified(&c.id).await.unwrap(), 0);
    store.set_notified(&c.id, 3).await.unwrap();
    store.set_notified(&c.id, 2).await.unwrap();
    assert_eq!(store.notified(&c.id).await.unwrap(), 3);
    assert_eq!(store.notified(&other.id).await.unwrap(), 0);
}

/// The transparency log: published with the responses, rebuilt byte for byte after a crash,
/// and never forked when the site disagrees with the stored responses.
async fn the_log_is_rebuilt_identically_and_never_forks(f: Fixture) {
    use shared::transparency::{checkpoint, publish::checkpoint_key};
    let b = &f.backend;
    let key = b.log_key.clone().expect("every backend has a signing key");
    let c = consultation("logged");
    create(b, &c).await;
    for _ in 0..3 {
        b.responses
            .append(response(&c, at("2026-12-05T10:00:00Z")))
            .await
            .unwrap();
    }
    let clock: Arc<dyn Clock> = TestClock::at("2026-12-05T10:00:00Z");
    let publisher = b.publisher(clock);
    publisher.publish(&c.id).await.unwrap();
    let site = b.site.as_ref();
    let base = "consultations/logged/log";
    let note = read(site, &checkpoint_key(&c.id)).await.unwrap();
    let origin = checkpoint::origin(key.name(), "logged");
    let head = checkpoint::open_checkpoint(&note, &key.verifier(), &origin).unwrap();
    assert_eq!(head.size, 3);
    let tile = read(site, &format!("{base}/tile/0/000.p/3")).await.unwrap();
    assert_eq!(tile.len(), 3 * 32);
    let bundle = read(site, &format!("{base}/tile/entries/000.p/3"))
        .await
        .unwrap();
    let entries = shared::transparency::tree::split_entry_bundle(&bundle).unwrap();
    assert!(!String::from_utf8_lossy(entries[0]).contains("ada@example.org"));
    assert_eq!(
        read(site, shared::transparency::publish::VERIFIER_KEY_PATH)
            .await
            .unwrap(),
        format!("{}\n", key.verifier_key()).into_bytes()
    );

    // A crash after the tiles but before the checkpoint: the rebuilt log is the same.
    b.responses
        .append(response(&c, at("2026-12-05T10:00:00Z")))
        .await
        .unwrap();
    let log = shared::transparency::publish::LogPublisher {
        responses: b.responses.clone(),
        site: b.site.clone(),
        key: key.clone(),
        cosigning: None,
    };
    let four = log.publish(&c.id, 4).await.unwrap();
    let note4 = read(site, &checkpoint_key(&c.id)).await.unwrap();
    site.put(
        &key_of(&checkpoint_key(&c.id)),
        Body::Bytes(note.clone().into()),
        &meta(),
        PutMode::Overwrite,
    )
    .await
    .unwrap();
    assert_eq!(log.publish(&c.id, 4).await.unwrap(), four);
    assert_eq!(read(site, &checkpoint_key(&c.id)).await.unwrap(), note4);
    // The same after losing the checkpoint altogether: every tile is compared, none replaced.
    site.put(
        &key_of(&checkpoint_key(&c.id)),
        Body::Bytes(Bytes::from_static(b"damaged")),
        &meta(),
        PutMode::Overwrite,
    )
    .await
    .unwrap();
    assert_eq!(log.publish(&c.id, 4).await.unwrap(), four);
    assert_eq!(read(site, &checkpoint_key(&c.id)).await.unwrap(), note4);

    // A tile on the site that the stored responses do not give: publishing stops.
    b.responses
        .append(response(&c, at("2026-12-05T10:00:00Z")))
        .await
        .unwrap();
    let forged = key_of(&format!("{base}/tile/0/000.p/5"));
    site.put(
        &forged,
        Body::Bytes(Bytes::from(vec![7u8; 5 * 32])),
        &meta(),
        PutMode::CreateNew,
    )
    .await
    .unwrap();
    let e = log.publish(&c.id, 5).await.unwrap_err().to_string();
    assert!(e.contains("refusing to fork"), "{e}");
    assert_eq!(read(site, &checkpoint_key(&c.id)).await.unwrap(), note4);
}

fn key_of(k: &str) -> ObjectKey {
    ObjectKey::parse(k).unwrap()
}

/// The S3 presigned PUT, against moto: the URL stores exactly the bytes sent at its key, and
/// signs no checksum of an empty body (which real S3 would hold against every upload).
#[tokio::test]
async fn s3_presigned_puts_store_the_bytes_sent() {
    let backend = aws().await.backend;
    let c = ConsultationId::parse("presign-2027").unwrap();
    let id =
        shared::domain::UploadId::parse("1800000000-0123456789abcdef0123456789abcdef").unwrap();
    let target = shared::intake::uploads::file_key(&c, &id).unwrap();
    let content = awkward_bytes();
    let put = backend
        .presigner
        .presign_put(
            &c,
            &id,
            &target,
            content.len() as u64,
            std::time::Duration::from_secs(600),
        )
        .await
        .unwrap();
    let lowered = put.url.to_ascii_lowercase();
    assert!(lowered.contains("x-amz-signature="), "{}", put.url);
    assert!(!lowered.contains("checksum"), "{}", put.url);
    assert!(lowered.contains("staging/presign-2027/"), "{}", put.url);
    let mut request = reqwest::Client::new().put(&put.url).body(content.clone());
    for (name, value) in &put.headers {
        request = request.header(name, value);
    }
    let reply = request.send().await.unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
    assert_eq!(
        read(backend.staging.as_ref(), target.as_str())
            .await
            .unwrap(),
        content
    );
}

/// Numbers nothing: a sequencer that lags behind intake (fenced out, slow transactions), as
/// the closing's own pass sees it in a large rush on AWS. Everything else is the store's.
struct SequencerAway(Arc<dyn Responses>);

#[async_trait::async_trait]
impl Responses for SequencerAway {
    async fn append(&self, response: NewResponse) -> Result<Response, AppendError> {
        self.0.append(response).await
    }
    async fn receive(&self, response: NewResponse) -> Result<Received, AppendError> {
        self.0.receive(response).await
    }
    async fn sequence(&self, _: &ConsultationId) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn pending(&self, id: &ConsultationId) -> Result<Vec<NewResponse>, StoreError> {
        self.0.pending(id).await
    }
    async fn lookup(
        &self,
        c: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Received>, StoreError> {
        self.0.lookup(c, id).await
    }
    async fn withdraw(
        &self,
        c: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        self.0.withdraw(c, id).await
    }
    async fn find(
        &self,
        c: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        self.0.find(c, id).await
    }
    async fn range(
        &self,
        c: &ConsultationId,
        numbers: std::ops::RangeInclusive<u64>,
    ) -> Result<Vec<Response>, StoreError> {
        self.0.range(c, numbers).await
    }
}

/// The closing never seals while a response received in time is pending (it may have been
/// acknowledged): it says so, comes back, and seals once the sequencer has numbered them all,
/// every one of them in the dossier.
async fn the_seal_waits_for_every_pending_response(f: Fixture) {
    let b = &f.backend;
    let c = closing_soon("seal-waits", "2026-12-10T12:00:00Z");
    create(b, &c).await;
    for _ in 0..3 {
        let r = response(&c, at("2026-12-10T11:59:00Z"));
        b.responses.receive(r).await.unwrap();
    }
    let clock = TestClock::at("2026-12-10T12:00:01Z");
    let mut closer = b.closer(clock.clone(), Arc::new(NoQueue));
    closer.responses = Arc::new(SequencerAway(b.responses.clone()));
    let come_back = closer
        .run(&c.id)
        .await
        .unwrap()
        .expect("the seal waits for the grace");
    clock.set(come_back);
    let pending = b.responses.pending(&c.id).await.unwrap().len();
    let next = closer.run(&c.id).await.unwrap();
    if pending > 0 {
        // The store leaves them pending (DynamoDB): not sealed, shown, tried again soon.
        assert_eq!(pending, 3);
        assert_eq!(next, Some(come_back + shared::closing::SEAL_RETRY));
        let record = b.consultations.get(&c.id).await.unwrap().unwrap();
        assert!(
            !record.consultation.is_sealed(),
            "never sealed over pending responses"
        );
        let waiting = closer.health.waiting();
        assert_eq!(waiting.len(), 1);
        assert_eq!((waiting[0].pending, waiting[0].since), (3, come_back));
        // The sequencer catches up; the next look seals.
        b.responses.sequence(&c.id).await.unwrap();
        clock.set(next.unwrap());
        assert_eq!(closer.run(&c.id).await.unwrap(), None);
        assert!(closer.health.waiting().is_empty());
    } else {
        // The store numbers as it commits (embedded): nothing to wait for.
        assert_eq!(next, None);
    }
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert!(record.consultation.is_sealed());
    let dossier = record.consultation.closing.unwrap().dossier.expect("built");
    assert_eq!(
        dossier.response_count, 3,
        "every acknowledged response is in the dossier"
    );
    assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
}

/// A response stored after the seal was read (its intake past the grace, so never
/// acknowledged) is never numbered and never deleted unkept: the sequencer keeps it privately
/// with the reason, then takes it back.
async fn responses_pending_after_the_seal_are_kept_privately(f: Fixture) {
    let b = &f.backend;
    let c = closing_soon("late-pending", "2026-12-10T12:00:00Z");
    create(b, &c).await;
    let r = response(&c, at("2026-12-10T11:59:59Z"));
    let received = b.responses.receive(r.clone()).await.unwrap();
    let after = at("2026-12-10T12:01:00Z");
    modify::<std::convert::Infallible>(b.consultations.as_ref(), &c.id, |c| {
        assert!(c.record_closing(after) && c.seal(after));
        Ok(Some(AuditEntry {
            at: after,
            consultation: c.id.clone(),
            actor: Actor::System,
            by: None,
            action: Action::Sealed,
            details: serde_json::json!({}),
        }))
    })
    .await
    .unwrap();
    let publisher = b.publisher(TestClock::at("2026-12-10T12:01:01Z"));
    assert_eq!(
        publisher.sequence(&c.id).await.unwrap(),
        0,
        "nothing numbered after the seal"
    );
    let late = shared::sequencing::late_key(&c.id, &r);
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    match received {
        Received::Pending(_) => {
            let kept = read(b.private.as_ref(), &late)
                .await
                .expect("kept privately");
            let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap();
            assert_eq!(kept["response"]["id"], r.id.as_str());
            assert!(kept["reason"].as_str().unwrap().contains("sealed"));
            assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
            assert!(b.responses.lookup(&c.id, &r.id).await.unwrap().is_none());
            assert_eq!(record.response_count, 0);
            // Setting aside again finds nothing, and the kept copy stays.
            assert_eq!(publisher.sequence(&c.id).await.unwrap(), 0);
            assert!(read(b.private.as_ref(), &late).await.is_some());
        }
        Received::Numbered(stored) => {
            // Numbered as it committed (embedded), before the seal: stored, nothing set aside.
            assert_eq!(stored.number, 1);
            assert_eq!(record.response_count, 1);
            assert!(read(b.private.as_ref(), &late).await.is_none());
        }
    }
}

/// A guard pointing at a pending item that is gone (an inconsistent record) is an error the
/// API answers with 503, not an unbounded recursion that overflows the stack.
#[tokio::test]
async fn a_guard_pointing_at_nothing_is_an_error_not_a_crash() {
    let moto = test_support::moto();
    let config = moto.sdk_config().await;
    let table = test_support::unique_name("guard-table");
    let names = shared::AwsNames::new(
        &table,
        &test_support::unique_name("guard-private"),
        &test_support::unique_name("guard-site"),
    );
    let b = Backend::aws(&config, &names, true).await.unwrap();
    let c = consultation("guarded");
    create(&b, &c).await;
    let r = response(&c, at("2026-12-05T10:00:00Z"));
    b.responses.receive(r.clone()).await.unwrap();
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let guard = dynamo
        .get_item()
        .table_name(&table)
        .key("pk", s(&format!("RID#{}", r.id)))
        .key("sk", s("RID"))
        .send()
        .await
        .unwrap()
        .item
        .expect("the guard");
    let field = |name: &str| guard[name].as_s().unwrap().clone();
    dynamo
        .delete_item()
        .table_name(&table)
        .key("pk", s(&field("pending_pk")))
        .key("sk", s(&field("pending_sk")))
        .send()
        .await
        .unwrap();
    let found = b.responses.lookup(&c.id, &r.id).await;
    assert!(
        matches!(found, Err(StoreError::Backend { .. })),
        "{found:?}"
    );
}

/// A table of its own on moto, with a store and a raw client on it.
async fn dynamo_table(
    prefix: &str,
) -> (
    Backend,
    shared::adapters::dynamodb::DynamoStore,
    aws_sdk_dynamodb::Client,
    String,
) {
    let moto = test_support::moto();
    let config = moto.sdk_config().await;
    let table = test_support::unique_name(&format!("{prefix}-table"));
    let names = shared::AwsNames::new(
        &table,
        &test_support::unique_name(&format!("{prefix}-private")),
        &test_support::unique_name(&format!("{prefix}-site")),
    );
    let b = Backend::aws(&config, &names, true).await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let store = shared::adapters::dynamodb::DynamoStore::new(client.clone(), table.clone());
    (b, store, client, table)
}

/// The sequencer's lease on DynamoDB: while another holder's lease runs, a run numbers
/// nothing (it leaves the work to the holder); once it expires, a run takes it with a greater
/// token; and a holder whose lease was taken over cannot commit a batch, even one whose count
/// is right.
#[tokio::test]
async fn the_sequencer_lease_fences_out_a_holder_that_lost_it() {
    let (b, store, dynamo, table) = dynamo_table("lease").await;
    let c = consultation("leased");
    create(&b, &c).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let r = response(
            &c,
            at("2026-12-05T10:00:00Z") + SignedDuration::from_secs(i),
        );
        b.responses.receive(r.clone()).await.unwrap();
        sent.push(r);
    }
    let now = Timestamp::now();
    let held = store
        .take_lease(
            &c.id,
            "someone-else",
            now,
            now + SignedDuration::from_secs(60),
        )
        .await
        .unwrap()
        .expect("a free lease is taken");
    assert!(
        store
            .take_lease(&c.id, "me", now, now + SignedDuration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "a running lease is not taken"
    );
    assert_eq!(b.responses.sequence(&c.id).await.unwrap(), 0);
    assert_eq!(b.responses.pending(&c.id).await.unwrap().len(), 5);

    // The holder stalls past its lease; another run takes it over.
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", s(&format!("C#{}", c.id)))
        .key("sk", s("SEQUENCER"))
        .update_expression("SET expires_ms = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();
    let now = Timestamp::now();
    let taker = store
        .take_lease(&c.id, "taker", now, now + SignedDuration::from_secs(60))
        .await
        .unwrap()
        .expect("an expired lease is taken");
    assert!(taker.token > held.token, "{taker:?} after {held:?}");

    // The stalled holder wakes up: its batch, right in every other way, is refused.
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    let pending = b.responses.pending(&c.id).await.unwrap();
    assert!(!store.number_batch(&record, &held, &pending).await.unwrap());
    let mut stale = held.clone();
    assert!(!store.renew_lease(&mut stale, now).await.unwrap());
    store.release_lease(&held).await.unwrap();
    assert_eq!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .response_count,
        0
    );
    // The holder of the lease commits it.
    assert!(store.number_batch(&record, &taker, &pending).await.unwrap());
    store.release_lease(&taker).await.unwrap();
    let numbered = b.responses.range(&c.id, 1..=5).await.unwrap();
    let ids: Vec<_> = numbered.iter().map(|r| r.response.id.clone()).collect();
    assert_eq!(ids, sent.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    // Let go, the lease is free for the next run.
    assert!(
        store
            .take_lease(&c.id, "next", now, now + SignedDuration::from_secs(60))
            .await
            .unwrap()
            .is_some()
    );
}

/// A sequencer that stops after committing a batch and before writing all of it out (its
/// batched writes fail: before DynamoDB did them, then after, the answers lost) leaves
/// nothing half-visible: readers see the count written out, the responses still look pending,
/// a withdrawal and the seal wait; the next holder finishes the batch from its record, each
/// response once, in order.
#[tokio::test]
async fn a_batch_committed_but_not_written_out_is_finished_by_the_next_holder() {
    let (b, _, dynamo, table) = dynamo_table("finish").await;
    let c = consultation("finished");
    create(&b, &c).await;
    let moto = test_support::moto();
    let proxy = test_support::fault_proxy::FaultProxy::start(&moto.endpoint, 7, 0.0);
    let faulty = shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&proxy.sdk_config(&moto.sdk_config().await)),
        table.clone(),
    );
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let mut sent = Vec::new();
    for (round, kinds) in [
        test_support::fault_proxy::BEFORE.as_slice(),
        test_support::fault_proxy::AFTER.as_slice(),
    ]
    .into_iter()
    .enumerate()
    {
        for i in 0..4 {
            let received =
                at("2026-12-05T10:00:00Z") + SignedDuration::from_secs(round as i64 * 10 + i);
            let r = response(&c, received);
            b.responses.receive(r.clone()).await.unwrap();
            sent.push(r);
        }
        proxy
            .set_faults_on(1.0, kinds, "dynamodb BatchWriteItem")
            .await;
        let now = Timestamp::now();
        let lease = faulty
            .take_lease(&c.id, "stops", now, now + SignedDuration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let record = faulty.get(&c.id).await.unwrap().unwrap();
        let pending = faulty.pending(&c.id).await.unwrap();
        assert_eq!(pending.len(), 4);
        faulty
            .number_batch(&record, &lease, &pending)
            .await
            .expect_err("writing out fails after the commit");
        proxy.set_faults(0.0, &[]).await;

        // Committed, not written out: readers see the earlier count, the four still pending.
        let seen = b.consultations.get(&c.id).await.unwrap().unwrap();
        assert_eq!(seen.response_count, round as u64 * 4);
        assert_eq!(b.responses.pending(&c.id).await.unwrap().len(), 4);
        // Up to the count, every number is there (above it, those of the batch being written
        // out may be or not: their numbers and contents are final either way).
        let written = round as u64 * 4;
        if written > 0 {
            assert_eq!(
                b.responses.range(&c.id, 1..=written).await.unwrap().len() as u64,
                written
            );
        }
        // The seal waits for it.
        let mut sealed = seen.consultation.clone();
        sealed.deadline = at("2026-12-05T09:00:00Z");
        assert!(sealed.record_closing(at("2026-12-05T12:00:00Z")));
        assert!(sealed.seal(at("2026-12-05T12:00:00Z")));
        let audit = AuditEntry {
            at: at("2026-12-05T12:00:00Z"),
            consultation: c.id.clone(),
            actor: Actor::System,
            by: None,
            action: Action::Sealed,
            details: serde_json::json!({}),
        };
        assert!(matches!(
            b.consultations.update(seen.version, &sealed, &audit).await,
            Err(StoreError::Conflict(_))
        ));

        // The holder is gone (its lease lapses); the next run finishes the batch first.
        dynamo
            .update_item()
            .table_name(&table)
            .key("pk", s(&format!("C#{}", c.id)))
            .key("sk", s("SEQUENCER"))
            .update_expression("SET expires_ms = :past")
            .expression_attribute_values(
                ":past",
                aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(b.responses.sequence(&c.id).await.unwrap(), 4);
        assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
        let count = (round as u64 + 1) * 4;
        assert_eq!(
            b.consultations
                .get(&c.id)
                .await
                .unwrap()
                .unwrap()
                .response_count,
            count
        );
    }
    let stored = b.responses.range(&c.id, 1..=8).await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.number).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(
        stored
            .iter()
            .map(|r| r.response.id.clone())
            .collect::<Vec<_>>(),
        sent.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    );
    for (number, r) in (1..).zip(&sent) {
        let found = b.responses.find(&c.id, &r.id).await.unwrap().unwrap();
        assert_eq!(found.number, number);
        assert!(matches!(
            b.responses.lookup(&c.id, &r.id).await.unwrap(),
            Some(Received::Numbered(n)) if n.number == number
        ));
    }
    // Spread: the numbered items are not all in the consultation's partition.
    let own = dynamo
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :r)")
        .expression_attribute_values(":pk", s(&format!("C#{}", c.id)))
        .expression_attribute_values(":r", s("R#"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.count(),
        0,
        "numbered items are spread over their own partitions"
    );
}

/// Intake takes back a response it stored too late only when no sequencer holds the lease:
/// while one does, it numbers the response and the withdrawal finds it numbered; and a
/// sequencer that read a response as pending before it was taken back (its lease lapsed
/// meanwhile) cannot commit it.
#[tokio::test]
async fn a_withdrawal_is_ordered_with_the_sequencers_batches() {
    let (b, store, dynamo, table) = dynamo_table("withdraw").await;
    let c = consultation("withdrawn");
    create(&b, &c).await;
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let first = response(&c, at("2026-12-05T10:00:00Z"));
    b.responses.receive(first.clone()).await.unwrap();
    let now = Timestamp::now();
    let lease = store
        .take_lease(&c.id, "holder", now, now + SignedDuration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let withdrawal = {
        let (responses, c, id) = (b.responses.clone(), c.id.clone(), first.id.clone());
        tokio::spawn(async move { responses.withdraw(&c, &id).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(
        !withdrawal.is_finished(),
        "it waits while the lease is held"
    );
    let record = store.get(&c.id).await.unwrap().unwrap();
    let pending = store.pending(&c.id).await.unwrap();
    assert!(store.number_batch(&record, &lease, &pending).await.unwrap());
    store.release_lease(&lease).await.unwrap();
    let found = withdrawal.await.unwrap().unwrap();
    assert_eq!(found.map(|r| r.number), Some(1), "numbered: kept after all");

    // A holder reads the second as pending, then stalls past its lease; the withdrawal
    // goes ahead and fences it out.
    let second = response(&c, at("2026-12-05T10:00:01Z"));
    b.responses.receive(second.clone()).await.unwrap();
    let now = Timestamp::now();
    let stalled = store
        .take_lease(&c.id, "stalls", now, now + SignedDuration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let record = store.get(&c.id).await.unwrap().unwrap();
    let pending = store.pending(&c.id).await.unwrap();
    assert_eq!(pending.len(), 1);
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", s(&format!("C#{}", c.id)))
        .key("sk", s("SEQUENCER"))
        .update_expression("SET expires_ms = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();
    assert!(
        b.responses
            .withdraw(&c.id, &second.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .number_batch(&record, &stalled, &pending)
            .await
            .unwrap()
    );
    assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
    assert!(
        b.responses
            .lookup(&c.id, &second.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        b.consultations
            .get(&c.id)
            .await
            .unwrap()
            .unwrap()
            .response_count,
        1
    );
}

/// A consultation written by a version from before numbered items were spread (its record
/// names no layout and no count written out; its numbered items and guards in the first
/// layout) keeps its keys: what it has is read, and new responses are numbered after it, in
/// its own partition.
#[tokio::test]
async fn a_consultation_of_the_first_layout_keeps_its_keys() {
    let (b, _, dynamo, table) = dynamo_table("first").await;
    let c = consultation("first-layout");
    create(&b, &c).await;
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let n = |v: u64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
    // As the earlier version wrote it: response 1 numbered in C#{id}, its guard with no
    // partition named, the record with the count only.
    let old = response(&c, at("2026-12-05T09:00:00Z"));
    dynamo
        .put_item()
        .table_name(&table)
        .item("pk", s(&format!("C#{}", c.id)))
        .item("sk", s("R#000000000001"))
        .item("number", n(1))
        .item("id", s(old.id.as_str()))
        .item("data", s(&serde_json::to_string(&old).unwrap()))
        .send()
        .await
        .unwrap();
    dynamo
        .put_item()
        .table_name(&table)
        .item("pk", s(&format!("RID#{}", old.id)))
        .item("sk", s("RID"))
        .item("number", n(1))
        .send()
        .await
        .unwrap();
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", s(&format!("C#{}", c.id)))
        .key("sk", s("META"))
        .update_expression("SET response_count = :one REMOVE settled_count, layout")
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .unwrap();
    // A process started after the upgrade.
    let config = test_support::moto().sdk_config().await;
    let store = shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        table.clone(),
    );
    assert_eq!(store.get(&c.id).await.unwrap().unwrap().response_count, 1);
    assert_eq!(store.find(&c.id, &old.id).await.unwrap().unwrap().number, 1);
    let mut sent = vec![old.id.clone()];
    for i in 0..3 {
        let r = response(
            &c,
            at("2026-12-05T10:00:00Z") + SignedDuration::from_secs(i),
        );
        store.receive(r.clone()).await.unwrap();
        sent.push(r.id);
    }
    // Pending in the first layout's sixteen partitions.
    for r in &sent[1..] {
        let shards = (0..16).map(|k| format!("C#{}#P{k:02}", c.id));
        let mut found = false;
        for shard in shards {
            let out = dynamo
                .query()
                .table_name(&table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(&shard))
                .send()
                .await
                .unwrap();
            found |= out
                .items()
                .iter()
                .any(|item| item["sk"].as_s().unwrap().ends_with(r.as_str()));
        }
        assert!(found, "{r} pending in one of sixteen partitions");
    }
    assert_eq!(store.sequence(&c.id).await.unwrap(), 3);
    let stored = store.range(&c.id, 1..=4).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| r.response.id.clone())
            .collect::<Vec<_>>(),
        sent
    );
    let own = dynamo
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :r)")
        .expression_attribute_values(":pk", s(&format!("C#{}", c.id)))
        .expression_attribute_values(":r", s("R#"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.count(),
        4,
        "all four in the consultation's own partition"
    );
    assert_eq!(store.get(&c.id).await.unwrap().unwrap().response_count, 4);
}

/// Several sequencers, each its own store and client as in separate functions, run while
/// responses keep arriving: every response is numbered once, 1…N without a gap, and nothing
/// is left pending.
#[tokio::test]
async fn racing_sequencers_number_every_response_once() {
    let (b, _, _, table) = dynamo_table("race").await;
    let c = consultation("raced");
    create(&b, &c).await;
    let config = test_support::moto().sdk_config().await;
    let receivers: Vec<_> = (0..4)
        .map(|k| {
            let (responses, c) = (b.responses.clone(), c.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..40 {
                    let at = at("2026-12-05T10:00:00Z") + SignedDuration::from_millis(k * 1000 + i);
                    let r = response(&c, at);
                    responses.receive(r.clone()).await.unwrap();
                    ids.push(r.id);
                }
                ids
            })
        })
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sequencers: Vec<_> = (0..3)
        .map(|_| {
            let store = shared::adapters::dynamodb::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&config),
                table.clone(),
            );
            let (done, id) = (done.clone(), c.id.clone());
            tokio::spawn(async move {
                let mut numbered = 0;
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    numbered += store.sequence(&id).await.unwrap();
                    if finished {
                        return numbered;
                    }
                }
            })
        })
        .collect();
    let mut sent = std::collections::BTreeSet::new();
    for receiver in receivers {
        sent.extend(receiver.await.unwrap().into_iter().map(|id| id.to_string()));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut numbered = 0;
    for sequencer in sequencers {
        numbered += sequencer.await.unwrap();
    }
    // A last run after every sequencer stopped: whatever a refused run left is numbered.
    numbered += b.responses.sequence(&c.id).await.unwrap();
    assert_eq!(numbered, 160);
    assert!(b.responses.pending(&c.id).await.unwrap().is_empty());
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 160);
    let stored = b.responses.range(&c.id, 1..=160).await.unwrap();
    let numbers: Vec<u64> = stored.iter().map(|r| r.number).collect();
    assert_eq!(numbers, (1..=160).collect::<Vec<_>>());
    let ids: std::collections::BTreeSet<_> =
        stored.iter().map(|r| r.response.id.to_string()).collect();
    assert_eq!(ids, sent);
}

/// The Group's outcome and the background documents on every store: files kept privately and
/// published byte-exact, recorded with their audit entries, pages written by publication.
async fn what_the_secretariat_publishes_is_byte_exact(f: Fixture) {
    let b = &f.backend;
    let c = consultation("outcome-2027");
    create(b, &c).await;
    let clock = TestClock::at("2027-04-02T09:00:00Z");
    let secretariat = b
        .admin_state(
            clock.clone(),
            Arc::new(NoQueue),
            Arc::new(SweptByTimer),
            shared::http::admin::AdminToken::generate(),
        )
        .secretariat;
    let pdf = [b"%PDF-1.7\n".as_slice(), &awkward_bytes()].concat();
    let submission = shared::secretariat::outcome::OutcomeSubmission {
        texts: vec![(
            "text.ar".into(),
            "النتائج\r\nالسطر الثاني".as_bytes().to_vec(),
        )],
        documents: vec![spooled("report.pdf", &pdf).await],
    };
    let record = secretariat
        .publish_outcome(&c.id, submission, Some("ana".into()))
        .await
        .unwrap();
    let version = record.consultation.outcome.last().unwrap().clone();
    assert_eq!((version.version, version.by.as_deref()), (1, Some("ana")));
    let stored = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(stored.consultation.outcome, record.consultation.outcome);
    let audit = b.consultations.audit_log(&c.id).await.unwrap();
    assert_eq!(audit.last().unwrap().action, Action::OutcomePublished);
    let site = b.site.as_ref();
    let folder = format!("consultations/outcome-2027/outcome/{}", version.folder);
    assert_eq!(
        read(site, &format!("{folder}/report.pdf")).await.unwrap(),
        pdf
    );
    assert_eq!(
        read(site, &format!("{folder}/text.ar.txt")).await.unwrap(),
        "النتائج\r\nالسطر الثاني".as_bytes()
    );
    let record = secretariat
        .add_documents(&c.id, vec![spooled("../Contexte.pdf", &pdf).await], None)
        .await
        .unwrap();
    let document = &record.consultation.documents[0];
    assert_eq!(document.file.name, "Contexte.pdf");
    let key = format!(
        "consultations/outcome-2027/documents/{}/Contexte.pdf",
        document.folder
    );
    assert_eq!(read(site, &key).await.unwrap(), pdf);
    let stored = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(stored.consultation.documents, record.consultation.documents);
    b.publisher(clock).publish(&c.id).await.unwrap();
    let page = read(site, "consultations/outcome-2027/index.html")
        .await
        .unwrap();
    assert!(String::from_utf8(page).unwrap().contains("Contexte.pdf"));
    let page = read(site, "ar/consultations/outcome-2027/outcome/index.html")
        .await
        .expect("the outcome page");
    assert!(String::from_utf8(page).unwrap().contains("السطر الثاني"));
    assert!(read(site, &format!("{folder}/statement")).await.is_some());
}

/// A second factor's code is good once, on every store: of sign-ins racing with one code only
/// one records its step; an earlier step is refused; and replacing the account (a new
/// password) from a copy read before never takes the recorded step back.
async fn a_second_factor_code_is_used_once(f: Fixture) {
    use shared::domain::account::*;
    let name = |n: &str| AccountName::parse(n).unwrap();
    let b = &f.backend;
    let now = at("2026-12-05T10:00:00Z");
    let password = Password::parse("a long enough password").unwrap();
    let ada = Account::new(name("ada"), &password, true, now);
    b.accounts.create_account(&ada).await.unwrap();
    let racing: Vec<_> = (0..8)
        .map(|_| {
            let accounts = b.accounts.clone();
            tokio::spawn(async move { accounts.use_totp_step(&name("ada"), 100).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for sign_in in racing {
        won += usize::from(sign_in.await.unwrap());
    }
    assert_eq!(won, 1, "one code, one sign-in");
    assert!(!b.accounts.use_totp_step(&name("ada"), 99).await.unwrap());
    assert!(
        !b.accounts
            .use_totp_step(&name("nobody"), 101)
            .await
            .unwrap()
    );
    let read = b.accounts.account(&name("ada")).await.unwrap().unwrap();
    assert_eq!(read.totp_last_step, Some(100));
    // A reset from a copy read before the sign-in: the step stays.
    let reset = ada.with_password(&Password::parse("another long password").unwrap());
    assert!(b.accounts.replace_account(&reset).await.unwrap());
    let read = b.accounts.account(&name("ada")).await.unwrap().unwrap();
    assert_eq!(read.totp_last_step, Some(100));
    assert_eq!(read.password, reset.password);
    assert!(!b.accounts.use_totp_step(&name("ada"), 100).await.unwrap());
    assert!(b.accounts.use_totp_step(&name("ada"), 101).await.unwrap());
}

/// Accounts: created once, read back, replaced, listed by name, removed; sessions stored by
/// their key and ended; failed sign-ins counted without losing one under concurrency, then
/// locking the name.
async fn accounts_sessions_and_the_sign_in_throttle(f: Fixture) {
    use shared::domain::account::*;
    let b = &f.backend;
    let now = at(NOW);
    let name = |n: &str| AccountName::parse(n).unwrap();
    let password = Password::parse("correct horse battery").unwrap();
    let ada = Account::new(name("ada"), &password, true, now);
    b.accounts.create_account(&ada).await.unwrap();
    let other = Account::new(name("ada"), &password, false, now);
    assert!(matches!(
        b.accounts.create_account(&other).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.accounts.account(&name("ada")).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(b.accounts.account(&name("bob")).await.unwrap(), None);
    let zoe = Account::new(name("zoe"), &password, false, now);
    let bob = Account::new(name("bob"), &password, false, now);
    b.accounts.create_account(&zoe).await.unwrap();
    b.accounts.create_account(&bob).await.unwrap();
    let names: Vec<String> = b
        .accounts
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(names, ["ada", "bob", "zoe"]);

    let mut with_totp = ada
        .clone()
        .with_password(&Password::parse("a new long password").unwrap());
    with_totp.totp = Some(TotpSecret::generate());
    assert!(b.accounts.replace_account(&with_totp).await.unwrap());
    assert_eq!(
        b.accounts.account(&name("ada")).await.unwrap(),
        Some(with_totp.clone())
    );
    let ghost = Account::new(name("ghost"), &password, false, now);
    assert!(
        !b.accounts.replace_account(&ghost).await.unwrap(),
        "never created by a replace"
    );
    assert_eq!(b.accounts.account(&name("ghost")).await.unwrap(), None);

    // Sessions, by the hash of their id.
    let id = SessionId::generate();
    let session = Session {
        account: name("ada"),
        epoch: with_totp.session_epoch,
        created_at: now,
        last_seen: now,
    };
    b.accounts.start_session(&id.key(), &session).await.unwrap();
    assert!(matches!(
        b.accounts.start_session(&id.key(), &session).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        b.accounts.session(&id.key()).await.unwrap(),
        Some(session.clone())
    );
    let later = now + SignedDuration::from_mins(10);
    b.accounts.touch_session(&id.key(), later).await.unwrap();
    let touched = b.accounts.session(&id.key()).await.unwrap().unwrap();
    assert_eq!(touched.last_seen, later);
    assert!(touched.is_of(&with_totp));
    assert!(
        !touched.is_of(&ada),
        "a password reset ends the sessions begun before"
    );
    b.accounts.end_session(&id.key()).await.unwrap();
    assert_eq!(b.accounts.session(&id.key()).await.unwrap(), None);
    b.accounts.touch_session(&id.key(), later).await.unwrap();
    assert_eq!(
        b.accounts.session(&id.key()).await.unwrap(),
        None,
        "not revived"
    );
    b.accounts.end_session(&id.key()).await.unwrap();

    assert!(b.accounts.remove_account(&name("zoe")).await.unwrap());
    assert!(!b.accounts.remove_account(&name("zoe")).await.unwrap());
    assert_eq!(b.accounts.account(&name("zoe")).await.unwrap(), None);

    // The throttle: ten concurrent failures are ten, and lock the name.
    assert_eq!(
        b.accounts.throttle(&name("bob")).await.unwrap(),
        SignInThrottle::default()
    );
    let bob_name = name("bob");
    let failures = (0..MAX_FAILURES - 1).map(|_| b.accounts.record_failure(&bob_name, now));
    for result in futures::future::join_all(failures).await {
        result.unwrap();
    }
    let nine = b.accounts.throttle(&name("bob")).await.unwrap();
    assert_eq!(nine.failures, MAX_FAILURES - 1);
    assert!(!nine.is_locked(now));
    let tenth = b.accounts.record_failure(&name("bob"), now).await.unwrap();
    assert!(tenth.is_locked(now));
    assert_eq!(b.accounts.throttle(&name("bob")).await.unwrap(), tenth);
    assert_eq!(
        b.accounts.throttle(&name("ada")).await.unwrap(),
        SignInThrottle::default()
    );
    b.accounts.clear_failures(&name("bob")).await.unwrap();
    assert_eq!(
        b.accounts.throttle(&name("bob")).await.unwrap(),
        SignInThrottle::default()
    );
}

/// A listing gives the objects under a prefix (not under a longer name that shares its
/// start), in key order, page by page, with their sizes; an unknown prefix is empty.
async fn objects_are_listed_by_prefix_page_by_page(f: Fixture) {
    let store = f.backend.private.as_ref();
    for (k, body) in [
        ("kept/late/c1/b.eml", &b"bb"[..]),
        ("kept/late/c1/a.eml", b"a"),
        ("kept/late/c1/deeper/c.eml", b"ccc"),
        ("kept/late/c10/x.eml", b"x"),
        ("kept/early/c1/z.eml", b"z"),
    ] {
        store
            .put(
                &key(k),
                Body::Bytes(Bytes::copy_from_slice(body)),
                &meta(),
                PutMode::CreateNew,
            )
            .await
            .unwrap();
    }
    let names = |listed: Vec<shared::ports::Listed>| {
        listed
            .into_iter()
            .map(|l| (l.key.as_str().to_owned(), l.size))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list("kept/late/c1/", None, 10).await.unwrap()),
        [
            ("kept/late/c1/a.eml".to_owned(), 1),
            ("kept/late/c1/b.eml".to_owned(), 2),
            ("kept/late/c1/deeper/c.eml".to_owned(), 3),
        ]
    );
    let first = store.list("kept/late/c1/", None, 1).await.unwrap();
    assert_eq!(names(first.clone()), [("kept/late/c1/a.eml".to_owned(), 1)]);
    assert!(first[0].modified > jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(
        names(
            store
                .list("kept/late/c1/", Some("kept/late/c1/a.eml"), 1)
                .await
                .unwrap()
        ),
        [("kept/late/c1/b.eml".to_owned(), 2)]
    );
    assert!(store.list("kept/none/", None, 10).await.unwrap().is_empty());
}

/// Records every mail; refuses the first one to `fail_once_to` (a mailer's hiccup).
struct Outbox {
    sent: std::sync::Mutex<Vec<OutgoingMail>>,
    fail_once_to: std::sync::Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), StoreError> {
        let mut fail = self.fail_once_to.lock().unwrap();
        if fail.as_deref() == Some(mail.to.as_str()) {
            *fail = None;
            return Err(StoreError::backend(
                "sending",
                "the relay said 451, try later",
            ));
        }
        self.sent.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// A new outcome version whose only text is in French (kept privately, as the Secretariat's
/// use case keeps it), with one document.
async fn publish_outcome_version(b: &Backend, c: &ConsultationId, text: &str) {
    let folder = uuid::Uuid::now_v7().simple().to_string();
    b.private
        .put(
            &key(&shared::domain::outcome::private_key(
                c,
                &folder,
                "text.fr.txt",
            )),
            Body::Bytes(Bytes::from(text.to_owned())),
            &meta(),
            PutMode::CreateNew,
        )
        .await
        .unwrap();
    let file = |name: &str, size: u64| shared::domain::outcome::PublishedFile {
        name: name.into(),
        media_type: "text/plain".into(),
        size,
        sha256: "ab".repeat(32),
    };
    modify::<std::convert::Infallible>(b.consultations.as_ref(), c, |record| {
        record
            .outcome
            .push(shared::domain::outcome::OutcomeVersion {
                version: record.outcome.len() as u32 + 1,
                published_at: at("2027-03-01T10:00:00Z"),
                by: None,
                folder: folder.clone(),
                texts: vec![file("text.fr.txt", text.len() as u64)],
                documents: vec![file("report.pdf", 1234)],
            });
        Ok(Some(AuditEntry {
            at: at("2027-03-01T10:00:00Z"),
            consultation: c.clone(),
            actor: Actor::Secretariat,
            by: None,
            action: Action::OutcomePublished,
            details: serde_json::json!({}),
        }))
    })
    .await
    .unwrap();
}

/// The Group's outcome reaches the list and the respondents: once each per version (whatever
/// the duplicates, retries and resumed runs), in each one's language, never to an address
/// that bounced or unsubscribed.
async fn the_outcome_is_mailed_once_to_the_list_and_the_respondents(f: Fixture) {
    let b = &f.backend;
    let c = consultation("outcome-mail");
    create(b, &c).await;
    let answered = |name: &str, email: Option<&str>, language: Option<Language>| {
        let mut r = response(&c, at("2026-12-05T10:00:00Z"));
        r.submitter.name = name.into();
        r.submitter.email = email.map(str::to_owned);
        r.submitter.language = language;
        r
    };
    for r in [
        answered("Ada", Some("ada@example.org"), Some(Language::Fr)),
        answered("Bob", Some("bob@example.org"), None),
        answered("Nobody", None, None),
        answered("Frank", Some("FRANK@example.org"), None),
        answered("Carol", Some("carol@example.org"), None),
        answered("Dave", Some("dave@example.org"), Some(Language::Ru)),
        answered("Ada again", Some("ada@example.org"), Some(Language::Fr)),
    ] {
        b.responses.append(r).await.unwrap();
    }
    b.responses.sequence(&c.id).await.unwrap();
    b.publication.set_published(&c.id, 7).await.unwrap();
    let store = b.subscriptions.as_ref();
    for (address, language, confirmed) in [
        ("eve@example.org", Language::Es, true),
        ("frank@example.org", Language::En, true),
        ("gina@example.org", Language::Zh, false),
    ] {
        let s = subscription(&c, address, 9).in_language(language);
        store.request(&s).await.unwrap();
        if confirmed {
            store.confirm(&c.id, &s.subscriber, at(NOW)).await.unwrap();
        }
    }
    let id_of = |a: &str| SubscriberId::of(&EmailAddress::parse(a).unwrap());
    store
        .stop_mail(&id_of("carol@example.org"), &MailStop::Bounced)
        .await
        .unwrap();
    store
        .stop_mail(
            &id_of("dave@example.org"),
            &MailStop::Unsubscribed(c.id.clone()),
        )
        .await
        .unwrap();
    // Unsubscribed from another consultation: still mailed about this one.
    store
        .stop_mail(
            &id_of("bob@example.org"),
            &MailStop::Unsubscribed(ConsultationId::parse("another").unwrap()),
        )
        .await
        .unwrap();

    let outbox = Arc::new(Outbox {
        sent: Default::default(),
        fail_once_to: std::sync::Mutex::new(Some("bob@example.org".into())),
    });
    let list = shared::email::list::EmailList {
        mail_pace: std::time::Duration::ZERO,
        ..b.email_list(
            outbox.clone(),
            TestClock::at("2027-03-01T10:00:00Z"),
            "https://consultations.example.org",
            "consultations.example.org",
        )
    };
    let run = |until: Option<tokio::time::Instant>| list.mail_outcome(&c.id, until);
    assert_eq!(
        run(None).await.unwrap(),
        shared::email::outcome::OutcomeMailed {
            sent: 0,
            finished: true
        },
        "no outcome yet, nothing to mail"
    );
    publish_outcome_version(b, &c.id, "Conclusions du Groupe.\n").await;
    let cut_short = run(Some(tokio::time::Instant::now())).await.unwrap();
    assert!(!cut_short.finished, "out of time at once: resumed later");
    assert!(
        run(None).await.is_err(),
        "the mailer's refusal stops the run"
    );
    let resumed = run(None).await.unwrap();
    assert!(resumed.finished);
    assert_eq!(run(None).await.unwrap().sent, 0, "done: nothing sent again");

    let sent = outbox.sent.lock().unwrap().clone();
    let mut to: Vec<&str> = sent.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "ada@example.org",
            "bob@example.org",
            "eve@example.org",
            "frank@example.org"
        ],
        "once each; none to the bounced, the unsubscribed, the unconfirmed or the address-less"
    );
    let mail_to = |a: &str| sent.iter().find(|m| m.to == a).unwrap().clone();
    let ada = mail_to("ada@example.org");
    assert!(
        ada.subject.contains("Résultats du Groupe"),
        "{}",
        ada.subject
    );
    assert!(
        ada.text.contains("Conclusions du Groupe."),
        "her language's text: {}",
        ada.text
    );
    assert!(
        ada.text.contains("/fr/consultations/outcome-mail/outcome/"),
        "{}",
        ada.text
    );
    assert!(
        ada.text.contains("vous avez répondu"),
        "why she gets it: {}",
        ada.text
    );
    let eve = mail_to("eve@example.org");
    assert!(
        eve.subject.contains("Resultados del Grupo"),
        "{}",
        eve.subject
    );
    assert!(
        !eve.text.contains("Conclusions du Groupe."),
        "no text in Spanish"
    );
    assert!(eve.text.contains("report.pdf"));
    let list_headers = eve.list.as_ref().unwrap();
    assert_eq!(
        list_headers.returns_to,
        "outcome-mail+bounces@consultations.example.org"
    );
    assert!(
        mail_to("bob@example.org")
            .subject
            .contains("The Group's outcome")
    );

    // Ada stops by her link; the next version goes to the others only, saying it replaces one.
    let link = ada.list.as_ref().unwrap().unsubscribe_url.clone();
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    list.unsubscribe(token).await.unwrap();
    publish_outcome_version(b, &c.id, "Conclusions révisées.\n").await;
    assert_eq!(run(None).await.unwrap().sent, 3);
    let sent = outbox.sent.lock().unwrap().clone();
    let second: Vec<&OutgoingMail> = sent[4..].iter().collect();
    assert!(second.iter().all(|m| m.to != "ada@example.org"));
    assert!(
        second.iter().all(|m| m.text.contains(" 2")),
        "{:?}",
        second[0].text
    );
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod embedded_store {
            $(#[tokio::test] async fn $test() { super::$test(super::embedded().await).await })*
        }
        mod aws_store {
            $(#[tokio::test] async fn $test() { super::$test(super::aws().await).await })*
        }
    };
}

contract!(
    consultations_are_created_once,
    responses_are_numbered_in_order,
    an_id_is_stored_once,
    concurrent_appends_get_distinct_consecutive_numbers,
    appends_outside_the_window_store_nothing,
    publication_mark_only_moves_forward,
    one_publisher_at_a_time_holds_a_consultations_turn,
    objects_round_trip_byte_for_byte,
    create_new_never_overwrites,
    batch_copies_are_create_new_and_in_order,
    deleting_removes_that_object_only,
    superseded_search_index_parts_are_deleted_after_an_hour,
    the_search_index_is_built_in_blocks,
    published_files_are_the_exact_bytes,
    answers_are_published_per_question,
    publication_is_paginated,
    uploads_appear_whole_when_finished,
    closing_builds_the_dossier,
    reopening_leads_to_a_new_dossier,
    submissions_racing_the_closing,
    nothing_is_appended_once_sealed,
    the_seal_waits_for_every_pending_response,
    responses_pending_after_the_seal_are_kept_privately,
    what_the_secretariat_publishes_is_byte_exact,
    email_list_subscriptions,
    the_log_is_rebuilt_identically_and_never_forks,
    accounts_sessions_and_the_sign_in_throttle,
    a_second_factor_code_is_used_once,
    objects_are_listed_by_prefix_page_by_page,
    the_outcome_is_mailed_once_to_the_list_and_the_respondents,
    a_response_stored_after_its_grace_is_never_half_kept,
    a_response_too_large_for_its_log_entry_is_refused_unstored,
);

/// The embedded store commits records without a flush of their own; a crash of the machine may
/// then keep a record whose originals, written just before it, were lost. Opening the store
/// again removes each consultation's records from the first such one (none was acknowledged
/// or published: both wait for a flush, which covers every earlier original), and only those.
#[tokio::test]
async fn embedded_store_removes_records_whose_originals_a_machine_crash_lost() {
    let dir = tempfile::tempdir().unwrap();
    let c = consultation("crashed");
    let mut responses = Vec::new();
    {
        let b = Backend::embedded(dir.path()).unwrap();
        create(&b, &c).await;
        for _ in 1..=4 {
            let mut r = response(&c, at("2026-12-05T10:00:00Z"));
            let original = shared::intake::original_key(&c.id, &r.id, 0, None);
            b.private
                .put_deferred(
                    &key(&original),
                    bytes(b"our view"),
                    &meta(),
                    PutMode::CreateNew,
                )
                .await
                .unwrap();
            r.files = vec![StoredFile {
                name: "view.txt".into(),
                media_type: "text/plain".into(),
                size: 8,
                sha256: "0".repeat(64),
                original_key: original,
            }];
            b.responses.append(r.clone()).await.unwrap();
            responses.push(r);
        }
        b.private.sync().await.unwrap();
        b.publication.set_published(&c.id, 1).await.unwrap();
    }
    let lose = |n: usize| {
        let path = dir
            .path()
            .join("private")
            .join(&responses[n - 1].files[0].original_key);
        std::fs::remove_file(path).unwrap();
    };

    // Everything there: nothing removed.
    let b = Backend::embedded(dir.path()).unwrap();
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 4);
    drop(b);

    // #3's original lost (and #1's, which is published: a published response is never removed).
    lose(3);
    lose(1);
    let b = Backend::embedded(dir.path()).unwrap();
    let record = b.consultations.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.response_count, 2, "#3 and #4 after it removed");
    let kept = b.responses.range(&c.id, 1..=4).await.unwrap();
    let kept: Vec<_> = kept
        .iter()
        .map(|r| (r.number, r.response.id.clone()))
        .collect();
    assert_eq!(
        kept,
        [(1, responses[0].id.clone()), (2, responses[1].id.clone())]
    );
    // Their numbers are given again, with no gap; their ids are free again.
    let again = b.responses.append(responses[3].clone()).await.unwrap();
    assert_eq!(again.number, 3);
}
