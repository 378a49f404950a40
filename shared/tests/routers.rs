//! The HTTP contract, tested on the routers themselves (`oneshot`, no sockets) over the
//! embedded store, with a clock the tests set.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::Backend;
use shared::domain::ConsultationId;
use shared::domain::limits::Limits;
use shared::http::admin::AdminToken;
use shared::ports::{Clock, SweptByTimer};
use test_support::{Requests, TestClock, zip_of};
use tower::ServiceExt;

const TOKEN: &str = "test-token-0123456789";

struct App {
    router: Router,
    backend: Backend,
    /// Every message the email list sent.
    sent: Arc<Sent>,
    list: Arc<shared::email::list::EmailList>,
    clock: Arc<TestClock>,
    requests: Arc<Requests>,
    _dir: tempfile::TempDir,
}

fn app_with(limits: Limits) -> App {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::embedded(dir.path()).unwrap();
    let clock = TestClock::at("2026-11-28T10:00:00Z");
    let requests = Arc::new(Requests::default());
    let mut intake = backend.intake_state(clock.clone(), requests.clone());
    intake.limits = limits;
    let admin = backend.admin_state(
        clock.clone(),
        requests.clone(),
        Arc::new(SweptByTimer),
        AdminToken::new(TOKEN).unwrap(),
    );
    let sent = Arc::new(Sent::default());
    let list = Arc::new(backend.email_list(
        sent.clone(),
        clock.clone(),
        "https://consultations.example.org",
        "consultations.example.org",
    ));
    let router = shared::http::with_security_headers(shared::http::local_router(
        shared::http::LocalRoutes {
            intake,
            list: list.clone(),
            admin,
            health: Default::default(),
            closing: Default::default(),
            site: backend.site.clone(),
        },
    ));
    App {
        router,
        backend,
        sent,
        list,
        clock,
        requests,
        _dir: dir,
    }
}

fn app() -> App {
    app_with(Limits::default())
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap().to_owned()
    }
}

impl App {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A GET with a console session's cookie.
    async fn get_signed(&self, uri: impl AsRef<str>, cookie: &str) -> Reply {
        let request = Request::get(uri.as_ref())
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn create(&self, body: Value) -> Reply {
        let request = Request::post("/api/admin/consultations")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn open_consultation(&self) {
        let reply = self.create(consultation()).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    async fn post_multipart(&self, id: &str, parts: &[Part<'_>]) -> Reply {
        let (content_type, body) = multipart(parts);
        let request = Request::post(format!("/api/consultations/{id}/responses"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    async fn post_json(&self, uri: &str, body: Value) -> Reply {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn put(&self, uri: &str, body: &[u8]) -> Reply {
        let request = Request::put(uri)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(body.to_vec()))
            .unwrap();
        self.send(request).await
    }

    /// Grants an upload of `bytes` named `name` and sends it; returns the upload id.
    async fn upload(&self, name: &str, bytes: &[u8]) -> String {
        let grant = self
            .post_json(
                "/api/consultations/net-2027/uploads",
                json!({"name": name, "size": bytes.len()}),
            )
            .await;
        assert_eq!(grant.status, StatusCode::CREATED, "{:?}", grant.json());
        let grant = grant.json();
        assert_eq!(grant["method"], "PUT");
        let put = self.put(grant["url"].as_str().unwrap(), bytes).await;
        assert_eq!(
            put.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&put.body)
        );
        grant["upload"].as_str().unwrap().to_owned()
    }

    fn set_time(&self, at: &str) {
        self.clock.set(at.parse().unwrap());
    }
}

fn consultation() -> Value {
    json!({
        "id": "net-2027",
        "title": {"en": "Internet access", "fr": "Accès à l'Internet"},
        "questions": [{"en": "What should be done?"}],
        "meeting_date": "2027-03-31"
    })
}

/// A form part: a field, or a file with its name.
enum Part<'a> {
    Field(&'a str, &'a [u8]),
    File(&'a str, &'a [u8]),
}

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "verbatim-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let (disposition, content) = match part {
            Part::Field(name, value) => (format!("form-data; name=\"{name}\""), value),
            Part::File(filename, value) => (
                format!("form-data; name=\"file\"; filename=\"{filename}\""),
                value,
            ),
        };
        body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        if matches!(part, Part::File(..)) {
            body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

const AWKWARD: &[u8] = b"\xEF\xBB\xBFline\r\nnext\0\xff\xfe\xc3\x28 end\r\n";
const PDF: &[u8] = b"%PDF-1.7\n\0\xff binary \r\n";

#[tokio::test]
async fn admin_requires_the_token() {
    let app = app();
    let no_token = Request::post("/api/admin/consultations")
        .body(Body::from(consultation().to_string()))
        .unwrap();
    let reply = app.send(no_token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error_code(), "unauthorized");
    let wrong = Request::post("/api/admin/consultations")
        .header(header::AUTHORIZATION, "Bearer wrong-token-0123456789")
        .body(Body::from(consultation().to_string()))
        .unwrap();
    assert_eq!(app.send(wrong).await.status, StatusCode::UNAUTHORIZED);
    assert!(app.backend.consultations.list().await.unwrap().is_empty());
}

/// On AWS, `Authorization` carries the SigV4 signature API Gateway checks; the token then
/// travels in its own header.
#[tokio::test]
async fn admin_takes_the_token_beside_a_sigv4_signature() {
    let app = app();
    let signed = |token: &str| {
        Request::post("/api/admin/consultations")
            .header(
                header::AUTHORIZATION,
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123",
            )
            .header(shared::http::admin::ADMIN_TOKEN_HEADER, token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(consultation().to_string()))
            .unwrap()
    };
    let wrong = app.send(signed("wrong-token-0123456789")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(app.backend.consultations.list().await.unwrap().is_empty());
    let reply = app.send(signed(TOKEN)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn admin_creates_a_consultation_with_the_resolution_deadline() {
    let app = app();
    let reply = app.create(consultation()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let c = reply.json();
    assert_eq!(c["deadline"], "2027-02-28T23:59:59.999+01:00");
    assert_eq!(c["deadline_rule"], "resolution-1344");
    assert_eq!(c["status"], "open");
    assert_eq!(app.requests.taken(), ["net-2027"], "publication requested");

    let again = app.create(consultation()).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), "conflict");

    let shown = app.get("/api/consultations/net-2027").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["title"]["fr"], "Accès à l'Internet");
    assert_eq!(
        app.get("/api/consultations")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/consultations/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn admin_explains_invalid_requests() {
    let app = app();
    let mut bad = consultation();
    bad["id"] = json!("Not A Slug");
    let reply = app.create(bad).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["field"], "id");
    let request = Request::post("/api/admin/consultations")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{not json"))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "malformed");
}

/// Office files are recorded as what they are, from their parts: a minimal DOCX once went in
/// as `application/zip`, since its signature alone says only "ZIP".
#[tokio::test]
async fn office_files_are_recorded_by_their_parts() {
    let app = app();
    app.open_consultation().await;
    let types = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;
    let docx = zip_of(&[
        ("[Content_Types].xml", types),
        ("_rels/.rels", b"<Relationships/>"),
        ("word/document.xml", b"<w:document/>"),
    ]);
    let xlsx = zip_of(&[
        ("[Content_Types].xml", types),
        ("xl/workbook.xml", b"<workbook/>"),
    ]);
    let plain = zip_of(&[("notes.txt", b"just a zip")]);
    let reply = app
        .post_multipart(
            "net-2027",
            &[
                Part::Field("name", b"Ada"),
                Part::File("position.docx", &docx),
                Part::File("figures.xlsx", &xlsx),
                Part::File("archive.zip", &plain),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let receipt = reply.json();
    let types: Vec<&str> = receipt["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["media_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/zip",
        ]
    );
}

#[tokio::test]
async fn a_response_gets_a_receipt_with_exact_hashes() {
    let app = app();
    app.open_consultation().await;
    let reply = app
        .post_multipart(
            "net-2027",
            &[
                Part::Field("name", "Ada Lovelace".as_bytes()),
                Part::Field("organization", "Analytical Society".as_bytes()),
                Part::Field("email", b"ada@example.org"),
                Part::Field("category", b"academia"),
                Part::Field("country", b"gb"),
                Part::Field("text", AWKWARD),
                Part::File("../../report.pdf", PDF),
                Part::File("report.pdf", PDF),
            ],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let receipt = reply.json();
    assert_eq!(receipt["number"], 1);
    assert_eq!(receipt["consultation"], "net-2027");
    assert_eq!(receipt["channel"], "api");
    assert_eq!(receipt["country"], "GB");
    assert_eq!(receipt["received_at"], "2026-11-28T10:00:00.000Z");
    let files = receipt["files"].as_array().unwrap();
    let names: Vec<_> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["response.txt", "report.pdf", "report (2).pdf"]);
    assert_eq!(files[0]["size"], AWKWARD.len());
    use sha2::Digest;
    assert_eq!(
        files[0]["sha256"],
        hex::encode(sha2::Sha256::digest(AWKWARD))
    );
    assert_eq!(files[1]["sha256"], hex::encode(sha2::Sha256::digest(PDF)));
    assert_eq!(
        files[2]["url"],
        "/consultations/net-2027/responses/1/report%20%282%29.pdf"
    );
    assert!(!String::from_utf8_lossy(&reply.body).contains("ada@example.org"));
    assert_eq!(app.requests.taken().len(), 2, "creation, then the response");

    let second = app
        .post_multipart(
            "net-2027",
            &[Part::Field("name", b"B"), Part::File("a.pdf", PDF)],
        )
        .await;
    assert_eq!(second.json()["number"], 2);
}

#[tokio::test]
async fn json_responses_are_text_only() {
    let app = app();
    app.open_consultation().await;
    let request = Request::post("/api/consultations/net-2027/responses")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": "Grace", "text": "Réponse\r\n"}).to_string(),
        ))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let receipt = reply.json();
    assert_eq!(receipt["channel"], "api");
    assert_eq!(receipt["files"][0]["size"], "Réponse\r\n".len());

    let request = Request::post("/api/consultations/net-2027/responses")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": "Grace", "files": []}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(request).await.error_code(), "malformed");

    // The site's form script declares itself; email cannot be declared.
    let uri = "/api/consultations/net-2027/responses";
    let web = app
        .post_json(uri, json!({"name": "Ada", "text": "x", "channel": "web"}))
        .await;
    assert_eq!(web.status, StatusCode::CREATED);
    assert_eq!(web.json()["channel"], "web");
    let email = app
        .post_json(uri, json!({"name": "Ada", "text": "x", "channel": "email"}))
        .await;
    assert_eq!(email.error_code(), "malformed");
}

#[tokio::test]
async fn invalid_responses_are_refused_and_nothing_is_stored() {
    let app = app();
    app.open_consultation().await;
    let cases: Vec<(Vec<Part>, StatusCode, &str)> = vec![
        (
            vec![Part::Field("text", b"hi")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![Part::Field("name", b"A")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![
                Part::Field("name", b"A"),
                Part::Field("category", b"alien"),
                Part::Field("text", b"x"),
            ],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![
                Part::Field("name", b"A"),
                Part::File("tool.pdf", b"MZ\x90\0\x03\0\0\0\x04\0"),
            ],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            vec![Part::Field("name", b"A"), Part::File("empty.txt", b"")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
    ];
    for (parts, status, code) in cases {
        let reply = app.post_multipart("net-2027", &parts).await;
        assert_eq!(
            reply.status,
            status,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.error_code(), code);
    }
    let request = Request::post("/api/consultations/net-2027/responses")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let broken = Request::post("/api/consultations/net-2027/responses")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=xyz")
        .body(Body::from(
            "--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nA",
        ))
        .unwrap();
    assert_eq!(app.send(broken).await.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .post_multipart("no-such", &[Part::Field("name", b"A")])
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "not_found");
    let record = app
        .backend
        .consultations
        .get(&ConsultationId::parse("net-2027").unwrap())
        .await;
    assert_eq!(record.unwrap().unwrap().response_count, 0);
}

#[tokio::test]
async fn limits_are_enforced_while_streaming() {
    let app = app_with(Limits {
        max_file_bytes: 64,
        max_files: 2,
        max_total_bytes: 100,
        max_field_bytes: 16,
    });
    app.open_consultation().await;
    let big = [b"%PDF-".as_slice(), &[b'x'; 80]].concat();
    let cases: Vec<Vec<Part>> = vec![
        vec![Part::Field("name", b"A"), Part::File("big.pdf", &big)],
        vec![
            Part::Field("name", b"A"),
            Part::File("a.pdf", PDF),
            Part::File("b.pdf", PDF),
            Part::File("c.pdf", PDF),
        ],
        vec![
            Part::Field("name", b"A"),
            Part::Field("text", &[b'x'; 60]),
            Part::File("a.txt", &[b'y'; 60]),
        ],
        vec![Part::Field("name", &[b'n'; 17]), Part::Field("text", b"x")],
    ];
    for parts in cases {
        let reply = app.post_multipart("net-2027", &parts).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.error_code(), "payload_too_large");
    }
    let ok = app
        .post_multipart(
            "net-2027",
            &[Part::Field("name", b"A"), Part::File("a.pdf", PDF)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.json()["number"], 1, "refused requests took no number");
}

/// A body declared larger than any response may be gets 413 at once: the server does not
/// wait for (or read) a byte of it.
#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_read() {
    let app = app();
    app.open_consultation().await;
    let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let request = Request::post("/api/consultations/net-2027/responses")
        .header("content-type", "multipart/form-data; boundary=x")
        .header("content-length", "10737418240")
        .body(Body::from_stream(never))
        .unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), app.send(request))
        .await
        .expect("answered without waiting for the body");
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error_code(), "payload_too_large");
    // The same for a presigned upload's PUT (one file at most).
    let never = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let request = Request::put("/api/uploads/net-2027/some-upload")
        .header("content-length", "10737418240")
        .body(Body::from_stream(never))
        .unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), app.send(request))
        .await
        .expect("answered without waiting for the body");
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn responses_are_refused_outside_the_window() {
    let app = app();
    let mut c = consultation();
    c["opens_at"] = json!("2026-12-01T00:00:00+01:00");
    app.create(c).await;
    let parts = [Part::Field("name", b"A"), Part::Field("text", b"x")];
    let early = app.post_multipart("net-2027", &parts).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.error_code(), "consultation_not_open");
    app.set_time("2027-02-28T23:00:00Z");
    let late = app.post_multipart("net-2027", &parts).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.error_code(), "consultation_closed");
    let message = late.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("28 February 2027, 23:59 Geneva time (UTC+01:00)"),
        "{message}"
    );
    assert!(message.contains("2027-02-28 22:59:59 UTC"), "{message}");
}

#[tokio::test]
async fn the_openapi_description_covers_every_route() {
    let app = app();
    let reply = app.get("/api/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let spec = reply.json();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/admin/consultations",
        "/api/consultations",
        "/api/consultations/{id}",
        "/api/consultations/{id}/responses",
        "/api/consultations/{id}/responses/{response}",
        "/api/admin/consultations/{id}",
        "/api/admin/consultations/{id}/audit",
        "/api/consultations/{id}/subscriptions",
        "/api/subscriptions/confirm",
        "/api/subscriptions/unsubscribe",
        "/api/consultations/{id}/uploads",
        "/api/uploads/{id}/{upload}",
        "/api/health",
        "/api/openapi.json",
        "/",
        "/consultations/{id}/",
        "/consultations/{id}/responses.json",
        "/consultations/{id}/responses/{number}/{filename}",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not described");
    }
    // A browser posting the form gets pages, errors included: both are described.
    let submit = &spec["paths"]["/api/consultations/{id}/responses"]["post"];
    for status in ["201", "202", "400", "404", "409", "413", "415", "422"] {
        let content = &submit["responses"][status]["content"];
        assert!(content["application/json"].is_object(), "{status}");
        assert!(content["text/html"].is_object(), "{status}");
    }
    let body = &submit["requestBody"]["content"];
    assert!(body["multipart/form-data"].is_object() && body["application/json"].is_object());
}

/// What schemathesis found against the description: a query axum could not read was refused
/// in plain text, which no route describes; a list page showed its button for a token that
/// could never work; a size written `1000.0` (the number 1000, to JSON) was refused.
#[tokio::test]
async fn bad_queries_and_links_are_refused_as_each_route_answers() {
    let app = app();
    app.open_consultation().await;
    let send = |request: Request<Body>| app.send(request);

    let page = send(
        Request::get("/api/subscriptions/confirm?token=a&token=b")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let json = send(
        Request::post("/api/subscriptions/unsubscribe?token=a&token=b")
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(json.status, StatusCode::BAD_REQUEST);
    assert_eq!(json.error_code(), "malformed");
    let twice = app
        .post_json(
            "/api/consultations/net-2027/responses?lang=fr&lang=es",
            json!({"name": "A", "text": "x"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert_eq!(twice.error_code(), "malformed");
    let status = app
        .get("/api/consultations/net-2027/responses/x?lang=fr&lang=es")
        .await;
    assert_eq!(status.status, StatusCode::BAD_REQUEST);

    // A token that cannot be one is refused at once, as the button's POST would refuse it.
    let altered = app
        .get("/api/subscriptions/unsubscribe?token=net-2027.nothex.x")
        .await;
    assert_eq!(altered.status, StatusCode::NOT_FOUND);
    let token = format!("net-2027.{}.{}", "0".repeat(32), "0".repeat(64));
    let plausible = app
        .get(&format!("/api/subscriptions/confirm?token={token}"))
        .await;
    assert_eq!(plausible.status, StatusCode::OK);

    let whole = app
        .post_json(
            "/api/consultations/net-2027/uploads",
            json!({"name": "a.pdf", "size": 1000.0}),
        )
        .await;
    assert_eq!(whole.status, StatusCode::CREATED);
    let fraction = app
        .post_json(
            "/api/consultations/net-2027/uploads",
            json!({"name": "a.pdf", "size": 1000.5}),
        )
        .await;
    assert_eq!(fraction.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_site_serves_downloads_and_never_escapes_its_folder() {
    let app = app();
    app.open_consultation().await;
    let receipt = app
        .post_multipart(
            "net-2027",
            &[
                Part::Field("name", b"A"),
                Part::File("Réponse finale.pdf", PDF),
            ],
        )
        .await
        .json();
    let publisher = app.backend.publisher(app.clock.clone());
    publisher
        .publish(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();

    let url = receipt["files"][0]["url"].as_str().unwrap();
    let file = app.get(url).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, PDF);
    assert_eq!(
        file.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(file.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let disposition = file.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(
        disposition,
        "attachment; filename=\"R_ponse finale.pdf\"; filename*=UTF-8''R%C3%A9ponse%20finale.pdf"
    );

    let page = app.get("/consultations/net-2027/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let redirect = app.get("/consultations/net-2027").await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    for escape in [
        "/../verbatim.sqlite3",
        "/%2e%2e/verbatim.sqlite3",
        "/consultations/..%2f..%2fverbatim.sqlite3",
        "/.tmp-x",
    ] {
        assert_eq!(
            app.get(escape).await.status,
            StatusCode::NOT_FOUND,
            "{escape}"
        );
    }
}

#[tokio::test]
async fn pages_escape_what_submitters_typed() {
    let app = app();
    app.open_consultation().await;
    app.post_multipart(
        "net-2027",
        &[
            Part::Field("name", b"<script>alert(1)</script>"),
            Part::Field("organization", b"\"><img src=x>"),
            Part::Field("text", b"x"),
        ],
    )
    .await;
    let publisher = app.backend.publisher(app.clock.clone());
    publisher
        .publish(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    let page = String::from_utf8(app.get("/consultations/net-2027/").await.body).unwrap();
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>") && !page.contains("<img src=x>"));
}

impl App {
    async fn patch(&self, id: &str, body: Value) -> Reply {
        let request = Request::patch(format!("/api/admin/consultations/{id}"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    async fn audit(&self, id: &str) -> Reply {
        let request = Request::get(format!("/api/admin/consultations/{id}/audit"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }
}

/// The title and questions are reworded or translated through the API and the console, each
/// change audited with who made it; an open consultation keeps its questions' number.
#[tokio::test]
async fn the_wording_is_translated_and_corrected_but_questions_keep_their_number_once_open() {
    let app = app();
    app.open_consultation().await;
    let put = |body: Value| {
        let app = &app;
        async move {
            app.send(
                Request::put("/api/admin/consultations/net-2027/wording")
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
        }
    };
    let translated = put(json!({
        "title": {"en": "Internet access", "fr": "Accès à l'Internet", "es": "Acceso a Internet"},
        "questions": [{"en": "What should be done?", "es": "¿Qué debería hacerse?"}]
    }))
    .await;
    assert_eq!(
        translated.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&translated.body)
    );
    let view = translated.json();
    assert_eq!(view["title"]["es"], "Acceso a Internet");
    assert_eq!(view["questions"][0]["es"], "¿Qué debería hacerse?");
    let added = put(json!({
        "title": {"en": "Internet access"},
        "questions": [{"en": "What should be done?"}, {"en": "And by whom?"}]
    }))
    .await;
    assert_eq!(added.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(added.json()["error"]["field"], "questions");
    let unknown = put(json!({"title": {"en": "T"}, "questions": [{"en": "Q"}], "id": "x"})).await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "unknown members are refused"
    );
    let audit = app.audit("net-2027").await.json();
    let changes: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "wording-changed")
        .collect();
    assert_eq!(changes.len(), 1, "the refused ones changed nothing");
    assert_eq!(
        changes[0]["details"]["changed"],
        json!(["title", "questions[0]"])
    );

    // The console's form: the same use case, naming the person; an error comes back on its box.
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let page = app
        .get_signed("/admin/consultations/net-2027?lang=en", &cookie)
        .await;
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.contains("id=\"wording-title-es\""),
        "the form, filled: {html}"
    );
    assert!(html.contains("value=\"Acceso a Internet\""));
    let origin = format!("https://{HOST}");
    let reworded = app
        .console_post(
            "/admin/consultations/net-2027/wording",
            &cookie,
            &origin,
            &[
                ("title_en", "Internet access for all"),
                ("title_fr", "L'accès à l'Internet pour tous"),
                ("questions_en", "What should be done?"),
                ("questions_fr", "Que faut-il faire ?"),
                ("csrf", &token),
                ("lang", "fr"),
            ],
        )
        .await;
    assert_eq!(reworded.status, StatusCode::SEE_OTHER);
    let view = app.get("/api/consultations/net-2027").await.json();
    assert_eq!(view["title"]["en"], "Internet access for all");
    assert_eq!(view["questions"][0]["fr"], "Que faut-il faire ?");
    assert!(
        view["title"].get("es").is_none(),
        "a box left empty removes that language"
    );
    let audit = app.audit("net-2027").await.json();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "wording-changed");
    assert_eq!(last["by"], "ada");
    let refused = app
        .console_post(
            "/admin/consultations/net-2027/wording",
            &cookie,
            &origin,
            &[
                ("title_en", "Internet access for all"),
                ("questions_en", "What should be done?\nAnd by whom?"),
                ("csrf", &token),
                ("lang", "en"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(refused.body).unwrap();
    assert!(html.contains("href=\"#wording-questions-en\""), "{html}");
    assert!(html.contains("And by whom?"), "what was typed comes back");
}

#[tokio::test]
async fn deadlines_move_and_closed_consultations_reopen_with_an_audit_trail() {
    let app = app();
    app.open_consultation().await;
    let extended = app
        .patch(
            "net-2027",
            json!({"deadline": "2027-03-10T18:00:00+01:00", "reason": "Requested by Member States"}),
        )
        .await;
    assert_eq!(
        extended.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&extended.body)
    );
    let view = extended.json();
    assert_eq!(view["deadline"], "2027-03-10T18:00:00.000+01:00");
    assert_eq!(view["deadline_rule"], "explicit");
    assert_eq!(
        view["deadline_history"][0]["reason"],
        "Requested by Member States"
    );
    assert_eq!(view["deadline_history"][0]["reopened"], false);

    // After the deadline the consultation is closed; a new meeting date reopens it.
    app.set_time("2027-03-11T00:00:00Z");
    let parts = [Part::Field("name", b"A"), Part::Field("text", b"x")];
    assert_eq!(
        app.post_multipart("net-2027", &parts).await.error_code(),
        "consultation_closed"
    );
    let reopened = app
        .patch("net-2027", json!({"meeting_date": "2027-06-30"}))
        .await;
    assert_eq!(reopened.status, StatusCode::OK);
    assert_eq!(reopened.json()["status"], "open");
    assert_eq!(reopened.json()["deadline"], "2027-05-30T23:59:59.999+02:00");
    assert_eq!(
        app.post_multipart("net-2027", &parts).await.status,
        StatusCode::CREATED
    );

    let past = app
        .patch("net-2027", json!({"deadline": "2027-01-01T00:00:00Z"}))
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(past.json()["error"]["field"], "deadline");
    let unknown = app
        .patch("nope-nope", json!({"meeting_date": "2027-06-30"}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let typo = app
        .patch("net-2027", json!({"dedline": "2027-09-01T00:00:00Z"}))
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    let anonymous = Request::patch("/api/admin/consultations/net-2027")
        .body(Body::from(
            json!({"meeting_date": "2027-12-31"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(anonymous).await.status, StatusCode::UNAUTHORIZED);

    let audit = app.audit("net-2027").await.json();
    let actions: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["created", "deadline-changed", "reopened"]);
    assert_eq!(audit[2]["actor"], "secretariat");
    assert_eq!(app.audit("nope-nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_form_gets_a_receipt_page_and_readable_errors() {
    let app = app();
    app.open_consultation().await;
    let (content_type, body) = multipart(&[Part::Field("name", b"Ada"), Part::File("a.pdf", PDF)]);
    let form = |body: Vec<u8>| {
        Request::post("/api/consultations/net-2027/responses")
            .header(header::CONTENT_TYPE, content_type.clone())
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(Body::from(body))
            .unwrap()
    };
    let reply = app.send(form(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = String::from_utf8(reply.body).unwrap();
    use sha2::Digest;
    assert!(page.contains("response 1 received"), "{page}");
    assert!(page.contains(&hex::encode(sha2::Sha256::digest(PDF))));
    let stored = app
        .backend
        .responses
        .range(&ConsultationId::parse("net-2027").unwrap(), 1..=1)
        .await
        .unwrap();
    assert_eq!(stored[0].response.channel, shared::domain::Channel::Web);

    let (_, no_name) = multipart(&[Part::File("a.pdf", PDF)]);
    let reply = app.send(form(no_name)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = String::from_utf8(reply.body).unwrap();
    assert!(page.contains("your name is required"), "{page}");
}

#[tokio::test]
async fn errors_speak_the_language_the_request_asks_for() {
    let app = app();
    app.open_consultation().await;
    // The no-JavaScript form of the French edition: the page, its message and the field.
    let (content_type, no_name) = multipart(&[Part::File("a.pdf", PDF)]);
    let reply = app
        .send(
            Request::post("/api/consultations/net-2027/responses?lang=fr")
                .header(header::CONTENT_TYPE, content_type)
                .header(header::ACCEPT, "text/html,*/*;q=0.8")
                .body(Body::from(no_name))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = String::from_utf8(reply.body).unwrap();
    assert!(page.contains(r#"<html lang="fr" dir="ltr">"#), "{page}");
    assert!(page.contains("Champ concerné : Nom."), "{page}");
    assert!(
        page.contains(r#"<p lang="fr" dir="ltr">votre nom est obligatoire</p>"#),
        "{page}"
    );
    assert!(!page.contains("your name is required"), "{page}");

    // JSON: same code and field, the message in the language asked for.
    let json_to = |uri: &str, accept_language: Option<&str>| {
        let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
        if let Some(value) = accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, value);
        }
        request
            .body(Body::from(
                json!({"name": "Ada", "text": "x", "country": "XX"}).to_string(),
            ))
            .unwrap()
    };
    let english = app
        .send(json_to("/api/consultations/net-2027/responses", None))
        .await;
    assert_eq!(english.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        english.json()["error"]["message"],
        "country: must be an ISO 3166-1 alpha-2 country code, e.g. CH"
    );
    let french = app
        .send(json_to(
            "/api/consultations/net-2027/responses?lang=fr",
            None,
        ))
        .await;
    assert_eq!(french.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(french.headers[header::CONTENT_LANGUAGE], "fr");
    let error = &french.json()["error"];
    assert_eq!(error["code"], "invalid");
    assert_eq!(error["field"], "country");
    assert_eq!(
        error["message"],
        "Pays : doit être un code de pays ISO 3166-1 alpha-2, par exemple CH"
    );
    let russian = app
        .send(json_to(
            "/api/consultations/net-2027/responses",
            Some("ru-RU,ru;q=0.9,en;q=0.5"),
        ))
        .await;
    assert_eq!(
        russian.json()["error"]["message"],
        "Страна: должно быть кодом страны ISO 3166-1 alpha-2, например CH"
    );

    // A refusal with a deadline: Geneva time in the reader's words, the code unchanged.
    app.set_time("2027-02-28T23:00:00Z");
    let late = app
        .send(json_to(
            "/api/consultations/net-2027/responses?lang=zh",
            None,
        ))
        .await;
    assert_eq!(late.error_code(), "consultation_closed");
    let message = late.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("2027年2月28日 23:59（日内瓦时间，UTC+01:00）"),
        "{message}"
    );
    let unknown = app
        .send(json_to(
            "/api/consultations/nothing-here/responses?lang=es",
            None,
        ))
        .await;
    assert_eq!(unknown.error_code(), "not_found");
    assert_eq!(
        unknown.json()["error"]["message"],
        "no existe la consulta nothing-here"
    );
}

/// Keeps every message the list sends.
#[derive(Default)]
struct Sent(Mutex<Vec<shared::ports::OutgoingMail>>);

#[async_trait::async_trait]
impl shared::ports::Mailer for Sent {
    async fn send(
        &self,
        mail: &shared::ports::OutgoingMail,
    ) -> Result<(), shared::ports::StoreError> {
        self.0.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// The app with an open consultation, and its email list mailing into `Sent`.
async fn with_email_list() -> (App, Arc<Sent>, Arc<shared::email::list::EmailList>) {
    let app = app();
    app.open_consultation().await;
    let (sent, list) = (app.sent.clone(), app.list.clone());
    (app, sent, list)
}

/// Anyone can ask to subscribe any address: however many requests, at most one mail goes to
/// an address in an hour (eight concurrent requests once sent eight).
#[tokio::test]
async fn subscription_requests_cannot_flood_an_inbox() {
    let (app, sent, _) = with_email_list().await;
    let router = app.router.clone();
    let subscribe = || {
        router.clone().oneshot(
            Request::post("/api/consultations/net-2027/subscriptions")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"email":"target@example.org"}"#))
                .unwrap(),
        )
    };
    let replies = futures::future::join_all((0..8).map(|_| subscribe())).await;
    for reply in replies {
        // The requester is told the same each time: nothing reveals whether a mail went.
        assert_eq!(reply.unwrap().status(), StatusCode::ACCEPTED);
    }
    let to_target = |sent: &Sent| {
        sent.0
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to == "target@example.org")
            .count()
    };
    assert_eq!(to_target(&sent), 1, "one mail for eight requests");
    app.set_time("2026-11-28T10:59:00Z");
    subscribe().await.unwrap();
    assert_eq!(to_target(&sent), 1, "none again within the hour");
    app.set_time("2026-11-28T11:01:00Z");
    subscribe().await.unwrap();
    assert_eq!(to_target(&sent), 2, "one more once the hour has passed");
}

#[tokio::test]
async fn the_email_list_speaks_the_subscribers_language() {
    let (app, sent, list) = with_email_list().await;
    let router = app.router.clone();
    let send = |request: Request<Body>| {
        let router = router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };

    // The French page's subscribe form.
    let (status, page) = send(
        Request::post("/api/consultations/net-2027/subscriptions?lang=fr")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("email=ada%40example.org"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(page.contains(r#"<html lang="fr" dir="ltr">"#), "{page}");
    assert!(page.contains("Consultez votre messagerie"), "{page}");
    assert!(
        page.contains(r#"<a href="/fr/consultations/net-2027/" lang="fr">Accès à l'Internet</a>"#),
        "{page}"
    );

    // The confirmation mail is French, and its link keeps the language.
    let mail = sent.0.lock().unwrap().pop().expect("a confirmation mail");
    assert_eq!(
        mail.subject,
        "Confirmez votre abonnement : Accès à l'Internet"
    );
    assert!(
        mail.text.contains("appuyez sur « Confirmer »"),
        "{}",
        mail.text
    );
    let start = mail.text.find("https://").unwrap();
    let link = mail.text[start..].lines().next().unwrap();
    assert!(link.ends_with("&lang=fr"), "{link}");
    let path = link.trim_start_matches("https://consultations.example.org");
    let (status, page) = send(Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<html lang="fr" dir="ltr">"#), "{page}");
    assert!(
        page.contains("<button type=\"submit\">Confirmer</button>"),
        "{page}"
    );
    let (status, page) = send(Request::post(path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Abonnement confirmé"), "{page}");
    let id = ConsultationId::parse("net-2027").unwrap();
    let confirmed = app.backend.subscriptions.confirmed(&id).await.unwrap();
    assert_eq!(confirmed[0].language, shared::domain::Language::Fr);

    // A published response reaches her in French, with links to the French pages.
    let ok = app
        .post_json(
            "/api/consultations/net-2027/responses",
            json!({"name": "Grace", "text": "Publish everything."}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    app.backend
        .publisher(app.clock.clone())
        .publish(&id)
        .await
        .unwrap();
    assert_eq!(list.notify(&id).await.unwrap(), 1);
    let news = sent.0.lock().unwrap().pop().expect("the response by mail");
    assert_eq!(news.subject, "[net-2027] Réponse 1 : Grace");
    assert!(
        news.text
            .contains("La réponse 1 à la consultation « Accès à l'Internet »"),
        "{}",
        news.text
    );
    assert!(
        news.text
            .contains("https://consultations.example.org/fr/consultations/net-2027/#response-1"),
        "{}",
        news.text
    );
    assert!(news.text.contains("(19 octets, SHA-256 "), "{}", news.text);
    assert!(
        news.text.contains("Se désabonner en un clic : https://"),
        "{}",
        news.text
    );

    // An error on the list's pages is in the page's language too.
    let (status, page) = send(
        Request::get("/api/subscriptions/confirm?lang=es")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("el enlace no tiene token"), "{page}");
}

#[tokio::test]
async fn presigned_uploads_become_files_of_a_json_response_once() {
    let app = app_with(Limits {
        max_file_bytes: 64,
        max_files: 3,
        max_total_bytes: 100,
        max_field_bytes: 1024,
    });
    app.open_consultation().await;
    let respond =
        |uploads: Value| json!({"name": "Grace", "text": "see attached", "uploads": uploads});
    let responses = "/api/consultations/net-2027/responses";

    let first = app.upload("../Report.pdf", PDF).await;
    let notes: &[u8] = b"\xEF\xBB\xBFcaf\xe9 \xc3\x28\r\nline\r\n";
    let second = app.upload("notes.txt", notes).await;
    let reply = app
        .post_json(responses, respond(json!([first, second])))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    let files = reply.json()["files"].clone();
    let names: Vec<_> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(names, ["response.txt", "Report.pdf", "notes.txt"]);
    use sha2::Digest;
    assert_eq!(files[1]["sha256"], hex::encode(sha2::Sha256::digest(PDF)));
    assert_eq!(files[1]["size"], PDF.len());
    assert_eq!(files[2]["sha256"], hex::encode(sha2::Sha256::digest(notes)));

    // Used once: a second response naming the same upload is refused and stores nothing.
    let again = app.post_json(responses, respond(json!([first]))).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.json());
    assert!(
        again.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("used")
    );

    // Unknown, malformed and foreign ids are unknown.
    let unknown = app
        .post_json(
            responses,
            respond(json!(["1800000000-0123456789abcdef0123456789abcdef"])),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = app.post_json(responses, respond(json!(["../../x"]))).await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
    let mut other = consultation();
    other["id"] = json!("other-2027");
    app.create(other).await;
    let foreign = app.upload("a.pdf", PDF).await;
    let reply = app
        .post_json(
            "/api/consultations/other-2027/responses",
            json!({"name": "Eve", "uploads": [foreign]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Granted but never sent: a clear conflict, and the upload stays usable once sent.
    let grant = app
        .post_json(
            "/api/consultations/net-2027/uploads",
            json!({"name": "late.pdf", "size": PDF.len()}),
        )
        .await
        .json();
    let pending = grant["upload"].as_str().unwrap();
    let early = app.post_json(responses, respond(json!([pending]))).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(
        early.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not been received")
    );

    // The PUT must carry exactly the declared size, once.
    let url = grant["url"].as_str().unwrap();
    let short = app.put(url, &PDF[..5]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = app.put(url, &[PDF, b"more"].concat()).await;
    assert_eq!(long.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.put(url, PDF).await.status, StatusCode::OK);
    assert_eq!(app.put(url, PDF).await.status, StatusCode::CONFLICT);
    // A URL for an upload never granted receives nothing.
    let forged = app
        .put(
            "/api/uploads/net-2027/1800000000-0123456789abcdef0123456789abcdef",
            PDF,
        )
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);

    // Invalid fields leave the upload unused, so the corrected response can take it.
    let nameless = app
        .post_json(
            responses,
            json!({"uploads": [pending], "email": "not an address"}),
        )
        .await;
    assert_eq!(
        nameless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        nameless.json()
    );
    let reply = app.post_json(responses, respond(json!([pending]))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    assert_eq!(reply.json()["number"], 2);

    // Limits: one file over the limit is refused at the grant; the total when taken.
    let big = app
        .post_json(
            "/api/consultations/net-2027/uploads",
            json!({"name": "big.pdf", "size": 65}),
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let forty = [b"%PDF-1.7\n".as_slice(), &[b'x'; 50]].concat();
    let a = app.upload("a.pdf", &forty).await;
    let b = app.upload("b.pdf", &forty).await;
    let total = app.post_json(responses, respond(json!([a, b]))).await;
    assert_eq!(total.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was used: each still goes through alone.
    let reply = app.post_json(responses, respond(json!([a]))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());

    // Content is judged like a multipart file's.
    let exe = app
        .upload(
            "tool.pdf",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff",
        )
        .await;
    let reply = app.post_json(responses, respond(json!([exe]))).await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{:?}",
        reply.json()
    );

    // Expired uploads are gone; closed consultations grant nothing.
    let stale = app.upload("stale.pdf", PDF).await;
    app.set_time("2026-11-28T11:00:01Z");
    let reply = app.post_json(responses, respond(json!([stale]))).await;
    assert_eq!(reply.status, StatusCode::GONE, "{:?}", reply.json());
    assert_eq!(reply.error_code(), "expired");
    app.set_time("2027-03-01T00:00:00Z");
    let closed = app
        .post_json(
            "/api/consultations/net-2027/uploads",
            json!({"name": "a.pdf", "size": 3}),
        )
        .await;
    assert_eq!(closed.error_code(), "consultation_closed");
}

/// `Idempotency-Key`: sent again with the same content, a response gets its first receipt and
/// is stored once; other content under a used key is refused (422) and stores nothing; a
/// malformed key is 400. A JSON response whose uploads were used by its first sending takes
/// them again under its key.
#[tokio::test]
async fn a_retry_under_its_idempotency_key_is_stored_once() {
    let app = app();
    app.open_consultation().await;
    let responses = "/api/consultations/net-2027/responses";
    let form = |key: &str, text: &str| {
        let (content_type, body) = multipart(&[
            Part::Field("name", b"Ada"),
            Part::Field("text", text.as_bytes()),
            Part::File("report.pdf", PDF),
        ]);
        Request::post(responses)
            .header(header::CONTENT_TYPE, content_type)
            .header("idempotency-key", key)
            .body(Body::from(body))
            .unwrap()
    };
    let count =
        || async { app.get("/api/consultations/net-2027").await.json()["response_count"].clone() };

    let first = app.send(form("7c1e-retry", "Our view.")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json());
    let again = app.send(form("7c1e-retry", "Our view.")).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.json());
    assert_eq!(again.json(), first.json(), "the same receipt");
    assert_eq!(count().await, 1);

    let other = app.send(form("7c1e-retry", "Another view.")).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.error_code(), "invalid");
    assert_eq!(other.json()["error"]["field"], "Idempotency-Key");
    assert_eq!(count().await, 1, "nothing stored for the other content");

    for bad in ["has space", "", &"k".repeat(256), "café"] {
        let reply = app.send(form(bad, "Our view.")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(reply.error_code(), "malformed");
    }
    // Without a key, the same content twice is two responses, as before.
    let (content_type, body) =
        multipart(&[Part::Field("name", b"Ada"), Part::Field("text", b"Twice.")]);
    for _ in 0..2 {
        let request = Request::post(responses)
            .header(header::CONTENT_TYPE, content_type.clone())
            .body(Body::from(body.clone()))
            .unwrap();
        assert_eq!(app.send(request).await.status, StatusCode::CREATED);
    }
    assert_eq!(count().await, 3);

    // JSON with a presigned upload: the retry takes the upload its first sending used.
    let upload = app.upload("annex.pdf", PDF).await;
    let json_request = || {
        Request::post(responses)
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", "json-retry-1")
            .body(Body::from(
                json!({"name": "Grace", "text": "See the annex.", "uploads": [upload]}).to_string(),
            ))
            .unwrap()
    };
    let first = app.send(json_request()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.json());
    let again = app.send(json_request()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.json());
    assert_eq!(again.json()["number"], first.json()["number"]);
    assert_eq!(count().await, 4);
    // Another key cannot take the used upload.
    let stolen = app
        .send(
            Request::post(responses)
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", "json-retry-2")
                .body(Body::from(
                    json!({"name": "Eve", "uploads": [upload]}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::CONFLICT);
}

/// Who made a change goes into the audit log when the host names the caller (on AWS, the IAM
/// principal API Gateway checked); Verbatim's own entries and unnamed callers have no `by`.
#[tokio::test]
async fn the_audit_log_names_the_caller_the_host_knows() {
    use shared::http::admin::Caller;
    let app = app();
    let arn = "arn:aws:iam::123456789012:user/secretariat-ada";
    let mut request = Request::post("/api/admin/consultations")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(consultation().to_string()))
        .unwrap();
    request.extensions_mut().insert(Caller(arn.to_owned()));
    assert_eq!(app.send(request).await.status, StatusCode::CREATED);
    let moved = Request::patch("/api/admin/consultations/net-2027")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"deadline": "2027-02-20T12:00:00Z"}).to_string(),
        ))
        .unwrap();
    assert_eq!(app.send(moved).await.status, StatusCode::OK);
    let audit = app
        .send(
            Request::get("/api/admin/consultations/net-2027/audit")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(audit[0]["action"], "created");
    assert_eq!(audit[0]["by"], arn);
    assert_eq!(audit[1]["action"], "deadline-changed");
    assert!(audit[1].get("by").is_none(), "{}", audit[1]);
}

impl App {
    async fn post_outcome(&self, id: &str, parts: &[Part<'_>], token: bool) -> Reply {
        let (content_type, body) = multipart(parts);
        let mut request = Request::post(format!("/api/admin/consultations/{id}/outcome"))
            .header(header::CONTENT_TYPE, content_type);
        if token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }
}

/// The Group's outcome (Res. 1344: its results made known to all): published through the
/// admin API byte-exact with SHA-256, shown by the API, the consultation's page, its own page
/// and the feed; a second version replaces the shown one and keeps the first listed; a
/// request that breaks a rule publishes nothing.
#[tokio::test]
async fn the_groups_outcome_is_published_exactly_and_versioned() {
    use sha2::Digest;
    let app = app();
    app.open_consultation().await;
    let id = ConsultationId::parse("net-2027").unwrap();
    let text_en = b"Conclusions of the meeting.\r\n\r\nSee https://www.itu.int/council <b>now</b>.";
    let text_fr = "Conclusions de la réunion.".as_bytes();

    // Refused whole, each naming its field.
    for (parts, field) in [
        (
            vec![Part::Field("text.en", text_en), Part::Field("answer", b"x")],
            "answer",
        ),
        (vec![Part::Field("text.xx", text_en)], "text.xx"),
        (vec![Part::Field("text.en", b"\xff\xfe")], "text.en"),
        (vec![], "text.en"),
        (
            vec![
                Part::Field("text.en", text_en),
                Part::File("a.exe", b"MZ\x90\0\x03"),
            ],
            "file",
        ),
    ] {
        let reply = app.post_outcome("net-2027", &parts, true).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(reply.json()["error"]["field"], field);
    }
    let parts = [Part::Field("text.en", text_en)];
    assert_eq!(
        app.post_outcome("net-2027", &parts, false).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_outcome("nope-2027", &parts, true).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(app.get("/api/consultations/net-2027").await.json()["outcome"].is_null());

    let reply = app
        .post_outcome(
            "net-2027",
            &[
                Part::Field("text.fr", text_fr),
                Part::Field("text.en", text_en),
                Part::File("../report.pdf", PDF),
            ],
            true,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    let outcome = reply.json()["outcome"].clone();
    assert_eq!(outcome["version"], 1);
    assert_eq!(outcome["languages"], json!(["en", "fr"]));
    let names: Vec<&str> = outcome["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["text.en.txt", "text.fr.txt", "report.pdf"]);
    for (file, sent) in
        outcome["files"]
            .as_array()
            .unwrap()
            .iter()
            .zip([text_en.as_slice(), text_fr, PDF])
    {
        assert_eq!(file["sha256"], hex::encode(sha2::Sha256::digest(sent)));
        assert_eq!(file["size"], sent.len());
        let published = app.get(file["url"].as_str().unwrap()).await;
        assert_eq!(published.status, StatusCode::OK);
        assert_eq!(published.body, sent, "published byte for byte");
    }
    assert_eq!(
        app.get("/api/consultations/net-2027").await.json()["outcome"],
        outcome
    );
    let audit = app
        .send(
            Request::get("/api/admin/consultations/net-2027/audit")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "outcome-published");
    assert_eq!(last["details"]["version"], 1);

    // The pages follow through publication.
    let publisher = app.backend.publisher(app.clock.clone());
    publisher.publish(&id).await.unwrap();
    let page = String::from_utf8(app.get("/consultations/net-2027/").await.body).unwrap();
    assert!(
        page.contains("href=\"/consultations/net-2027/outcome/\""),
        "{page}"
    );
    let own = String::from_utf8(app.get("/fr/consultations/net-2027/outcome/").await.body).unwrap();
    assert!(
        own.contains("Conclusions de la réunion."),
        "the reader's language"
    );
    let own = String::from_utf8(app.get("/consultations/net-2027/outcome/").await.body).unwrap();
    assert!(
        own.contains("<a href=\"https://www.itu.int/council\">"),
        "links, {own}"
    );
    assert!(
        own.contains("&lt;b&gt;now&lt;/b&gt;"),
        "never HTML from the author"
    );
    let feed = String::from_utf8(app.get("/consultations/net-2027/feed.atom").await.body).unwrap();
    assert!(feed.contains("/consultations/net-2027/outcome/"), "{feed}");
    let statement = app.get(outcome["statement"].as_str().unwrap()).await;
    let statement = String::from_utf8(statement.body).unwrap();
    assert!(
        statement.starts_with("verbatim-outcome/v1\n"),
        "{statement}"
    );
    assert!(statement.contains(&format!(
        "{} {} report.pdf\n",
        hex::encode(sha2::Sha256::digest(PDF)),
        PDF.len()
    )));
    assert!(statement.contains("\n— "), "signed: {statement}");

    // A second version replaces the shown one; the first stays listed.
    let reply = app
        .post_outcome("net-2027", &[Part::Field("text.en", b"Corrected.")], true)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["outcome"]["version"], 2);
    assert_eq!(reply.json()["outcome"]["versions"], 2);
    publisher.publish(&id).await.unwrap();
    let own = String::from_utf8(app.get("/consultations/net-2027/outcome/").await.body).unwrap();
    assert!(own.contains("Corrected."));
    assert!(own.contains("report.pdf"), "the first version stays listed");
}

/// What a consultation is about: a description (plain text, paragraphs and links, never HTML)
/// given at creation or replaced, and background documents published byte-exact; each change
/// audited; refusals name their field and publish nothing.
#[tokio::test]
async fn a_consultation_has_a_description_and_background_documents() {
    use sha2::Digest;
    let app = app();
    let mut request = consultation();
    request["description"] =
        json!({"en": "Why we ask.\n\nRead https://www.itu.int/res1344 <i>first</i>."});
    assert_eq!(app.create(request).await.status, StatusCode::CREATED);
    let shown = app.get("/api/consultations/net-2027").await.json();
    assert_eq!(
        shown["description"]["en"],
        "Why we ask.\n\nRead https://www.itu.int/res1344 <i>first</i>."
    );

    let describe = |body: Value| {
        Request::put("/api/admin/consultations/net-2027/description")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let refused = app.send(describe(json!({"xx": "?"}))).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["error"]["field"], "description");
    let replaced = app
        .send(describe(
            json!({"en": "Why we ask.", "fr": "Pourquoi nous demandons."}),
        ))
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(
        replaced.json()["description"]["fr"],
        "Pourquoi nous demandons."
    );

    let post_documents = |parts: &[Part<'_>]| {
        let (content_type, body) = multipart(parts);
        Request::post("/api/admin/consultations/net-2027/documents")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let notes = "Notes\r\nÉté 2027 — 夏\r\n".as_bytes();
    let added = app
        .send(post_documents(&[
            Part::File("Background paper.pdf", PDF),
            Part::File("notes.txt", notes),
        ]))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.json());
    let documents = added.json()["documents"].clone();
    assert_eq!(documents.as_array().unwrap().len(), 2);
    for (document, sent) in documents.as_array().unwrap().iter().zip([PDF, notes]) {
        assert_eq!(document["sha256"], hex::encode(sha2::Sha256::digest(sent)));
        let published = app.get(document["url"].as_str().unwrap()).await;
        assert_eq!(published.body, sent, "published byte for byte");
        assert!(
            published.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
    }
    for (parts, field) in [
        (vec![Part::File("background paper.PDF", PDF)], "file"),
        (vec![Part::Field("text.en", b"no texts here")], "text.en"),
        (vec![], "file"),
    ] {
        let reply = app.send(post_documents(&parts)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(reply.json()["error"]["field"], field);
    }
    let audit = app
        .send(
            Request::get("/api/admin/consultations/net-2027/audit")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "description-changed", "documents-added"]
    );

    app.backend
        .publisher(app.clock.clone())
        .publish(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    let page = String::from_utf8(app.get("/fr/consultations/net-2027/").await.body).unwrap();
    assert!(page.contains("<p>Pourquoi nous demandons.</p>"), "{page}");
    assert!(page.contains("Background paper.pdf"));
    let page = String::from_utf8(app.get("/ru/consultations/net-2027/").await.body).unwrap();
    assert!(
        page.contains("lang=\"en\""),
        "the fallback marked with its language"
    );
}

/// A consultation of two questions, for the answers per question.
async fn open_two_questions(app: &App) {
    let reply = app
        .create(json!({
            "id": "two-2027",
            "title": {"en": "Two questions"},
            "questions": [{"en": "First?", "fr": "Première ?"}, {"en": "Second?"}],
            "meeting_date": "2027-03-31"
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
}

#[tokio::test]
async fn answers_are_published_one_file_per_question() {
    use sha2::Digest;
    let app = app();
    open_two_questions(&app).await;
    let first = "Oui\r\nà « tous »\r\n".as_bytes();
    let reply = app
        .post_multipart(
            "two-2027",
            &[
                Part::Field("name", b"Ada"),
                Part::Field("answer-2", AWKWARD),
                Part::Field("answer-1", first),
                // An attachment may not pass for an answer.
                Part::File("answer-1.txt", b"attached, not an answer"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    let files = reply.json()["files"].as_array().unwrap().clone();
    let names: Vec<_> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["answer-1.txt", "answer-2.txt", "answer-1 (2).txt"]);
    assert_eq!(files[0]["sha256"], hex::encode(sha2::Sha256::digest(first)));
    assert_eq!(files[0]["size"], first.len());
    assert_eq!(files[0]["media_type"], "text/plain");
    assert_eq!(
        files[1]["sha256"],
        hex::encode(sha2::Sha256::digest(AWKWARD))
    );
    assert_eq!(
        files[1]["url"],
        "/consultations/two-2027/responses/1/answer-2.txt"
    );

    // Only answers, in JSON: a response too.
    let reply = app
        .post_json(
            "/api/consultations/two-2027/responses",
            json!({"name": "Grace", "answers": {"2": "Non.\r\n"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    let files = reply.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["name"], "answer-2.txt");
    assert_eq!(
        files[0]["sha256"],
        hex::encode(sha2::Sha256::digest(b"Non.\r\n"))
    );

    // Empty answers are no answers: still an empty response.
    let reply = app
        .post_multipart(
            "two-2027",
            &[Part::Field("name", b"Ada"), Part::Field("answer-1", b"")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["field"], "text");
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("answer at least one question")
    );
}

#[tokio::test]
async fn an_answer_to_no_question_is_refused_naming_it() {
    let app = app();
    open_two_questions(&app).await;
    let reply = app
        .post_multipart(
            "two-2027",
            &[
                Part::Field("name", b"Ada"),
                Part::Field("answer-1", b"yes"),
                Part::Field("answer-3", b"no such question"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_code(), "invalid");
    assert_eq!(reply.json()["error"]["field"], "answer-3");
    // Empty, it still names a question that is not put.
    let reply = app
        .post_multipart(
            "two-2027",
            &[Part::Field("name", b"Ada"), Part::Field("answer-3", b"")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["field"], "answer-3");

    for answers in [json!({"3": "no"}), json!({"0": "no"}), json!({"x": "no"})] {
        let reply = app
            .post_json(
                "/api/consultations/two-2027/responses",
                json!({"name": "Ada", "text": "Hi", "answers": answers}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{answers}");
        assert_eq!(reply.error_code(), "invalid");
        let key = answers.as_object().unwrap().keys().next().unwrap().clone();
        assert_eq!(reply.json()["error"]["field"], format!("answer-{key}"));
    }
    // Nothing was stored: the next response is number 1.
    let reply = app
        .post_multipart(
            "two-2027",
            &[Part::Field("name", b"Ada"), Part::Field("text", b"Hi")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["number"], 1);
}

#[tokio::test]
async fn an_unknown_multipart_field_is_refused_naming_it() {
    let app = app();
    app.open_consultation().await;
    for unknown in ["answers-1", "submit", "Text"] {
        let reply = app
            .post_multipart(
                "net-2027",
                &[
                    Part::Field("name", b"Ada"),
                    Part::Field("text", b"Our view."),
                    Part::Field(unknown, b"x"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{unknown}");
        assert_eq!(reply.error_code(), "invalid");
        assert_eq!(reply.json()["error"]["field"], unknown);
        assert!(
            reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(unknown)
        );
    }
    // Every field the site's form sends is known.
    let reply = app
        .post_multipart(
            "net-2027",
            &[
                Part::Field("name", b"Ada"),
                Part::Field("organization", b""),
                Part::Field("email", b""),
                Part::Field("category", b""),
                Part::Field("country", b""),
                Part::Field("text", b"Our view."),
                Part::Field("answer-1", b"An answer."),
                Part::File("", b""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json());
    let names: Vec<_> = reply.json()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["response.txt", "answer-1.txt"]);
}

// ---- The Secretariat's console ----

const HOST: &str = "console.example.org";
const ADA_PASSWORD: &str = "correct horse battery";

impl App {
    async fn add_person(&self, name: &str) {
        use shared::domain::account::{AccountName, Password};
        self.backend
            .people(self.clock.clone())
            .add(
                AccountName::parse(name).unwrap(),
                Password::parse(ADA_PASSWORD).unwrap(),
                true,
            )
            .await
            .unwrap();
    }

    /// The sign-in form's token, and the cookie that goes with it.
    async fn sign_in_form(&self) -> (String, String) {
        let page = self.get("/admin/sign-in").await;
        assert_eq!(page.status, StatusCode::OK);
        let cookie = set_cookie(&page, "verbatim_sign_in");
        let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        let html = String::from_utf8(page.body).unwrap();
        assert!(html.contains(&format!("name=\"csrf\" value=\"{token}\"")));
        (token.to_owned(), format!("verbatim_sign_in={token}"))
    }

    async fn post_sign_in(&self, name: &str, password: &str, origin: Option<&str>) -> Reply {
        let (token, cookie) = self.sign_in_form().await;
        let body = serde_urlencoded::to_string([
            ("name", name),
            ("password", password),
            ("code", ""),
            ("csrf", &token),
            ("lang", "en"),
        ])
        .unwrap();
        let mut request = Request::post("/admin/sign-in")
            .header(header::HOST, HOST)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Signs in; returns the `Cookie` header of the session, and the session's form token.
    async fn signed_in(&self, name: &str) -> (String, String) {
        let reply = self
            .post_sign_in(name, ADA_PASSWORD, Some(&format!("https://{HOST}")))
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let cookie = set_cookie(&reply, "verbatim_session");
        let pair = cookie.split(';').next().unwrap().to_owned();
        let page = self
            .send(
                Request::get("/admin/")
                    .header(header::COOKIE, &pair)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let html = String::from_utf8(page.body).unwrap();
        let token = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        (pair, token)
    }

    async fn console_post(
        &self,
        path: &str,
        cookie: &str,
        origin: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
            .unwrap();
        self.send(request).await
    }
}

fn set_cookie(reply: &Reply, name: &str) -> String {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.headers))
}

#[tokio::test]
async fn console_sign_in_sets_a_strict_http_only_session_cookie() {
    let app = app();
    app.add_person("ada").await;
    let reply = app
        .post_sign_in("ada", ADA_PASSWORD, Some(&format!("https://{HOST}")))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.headers[header::LOCATION], "/admin/?lang=en");
    let cookie = set_cookie(&reply, "verbatim_session");
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 64, "256 bits in hex");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "served over plain HTTP here: {cookie}"
    );
    let cleared = set_cookie(&reply, "verbatim_sign_in");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Only the hash of the id is stored.
    let key = shared::domain::account::SessionId::parse(id).unwrap().key();
    assert_ne!(key.as_str(), id);
    assert!(app.backend.accounts.session(&key).await.unwrap().is_some());

    // Over HTTPS the cookie is Secure.
    let mut secure = app_with(Limits::default());
    secure.add_person("ada").await;
    secure.router = secure_console(&secure);
    let reply = secure
        .post_sign_in("ada", ADA_PASSWORD, Some(&format!("https://{HOST}")))
        .await;
    assert!(set_cookie(&reply, "verbatim_session").ends_with("; Secure"));
}

/// The same app, its console served over HTTPS.
fn secure_console(app: &App) -> Router {
    let mut admin = app.backend.admin_state(
        app.clock.clone(),
        app.requests.clone(),
        Arc::new(SweptByTimer),
        AdminToken::new(TOKEN).unwrap(),
    );
    admin.console = Arc::new(shared::http::session::ConsoleSettings::new(true, vec![]));
    shared::http::console::router(admin)
}

#[tokio::test]
async fn console_sign_in_refuses_a_wrong_password_with_an_error_summary() {
    let app = app();
    app.add_person("ada").await;
    for (name, password) in [("ada", "not the password"), ("nobody", ADA_PASSWORD)] {
        let reply = app
            .post_sign_in(name, password, Some(&format!("https://{HOST}")))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply
                .headers
                .get_all(header::SET_COOKIE)
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("verbatim_session="))
        );
        let html = String::from_utf8(reply.body).unwrap();
        assert!(html.contains("class=\"error-summary\""), "{html}");
        assert!(html.contains("href=\"#name\""));
        assert!(html.contains("The name, password or code is not right."));
    }
}

#[tokio::test]
async fn console_locks_an_account_after_ten_failures_even_for_the_right_password() {
    let app = app();
    app.add_person("ada").await;
    let origin = format!("https://{HOST}");
    for _ in 0..9 {
        let reply = app
            .post_sign_in("ada", "not the password", Some(&origin))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let tenth = app
        .post_sign_in("ada", "not the password", Some(&origin))
        .await;
    assert_eq!(tenth.status, StatusCode::TOO_MANY_REQUESTS);
    let right = app.post_sign_in("ada", ADA_PASSWORD, Some(&origin)).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "locked: refused"
    );
    assert!(
        String::from_utf8(right.body)
            .unwrap()
            .contains("cannot sign in until")
    );
    app.clock
        .set(app.clock.now() + jiff::SignedDuration::from_mins(15));
    let later = app.post_sign_in("ada", ADA_PASSWORD, Some(&origin)).await;
    assert_eq!(later.status, StatusCode::SEE_OTHER, "the lock is over");
}

#[tokio::test]
async fn console_forms_need_their_token_and_this_origin() {
    let app = app();
    app.add_person("ada").await;
    // Sign-in: a foreign or missing Origin, or no token.
    let foreign = app
        .post_sign_in("ada", ADA_PASSWORD, Some("https://evil.example"))
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    let none = app.post_sign_in("ada", ADA_PASSWORD, None).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    let no_token = Request::post("/admin/sign-in")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("https://{HOST}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("name=ada&password={ADA_PASSWORD}")))
        .unwrap();
    assert_eq!(app.send(no_token).await.status, StatusCode::FORBIDDEN);

    // A signed-in form: without the token, with another's, or from another origin.
    app.open_consultation().await;
    let (cookie, token) = app.signed_in("ada").await;
    let path = "/admin/consultations/net-2027/deadline";
    let origin = format!("https://{HOST}");
    let fields = |csrf: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![("deadline", "2027-02-20T12:00:00Z"), ("csrf", csrf)]
    };
    for (csrf, from) in [("", origin.as_str()), ("0badc0de", origin.as_str())] {
        let reply = app.console_post(path, &cookie, from, &fields(csrf)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    let token: &'static str = Box::leak(token.into_boxed_str());
    let reply = app
        .console_post(path, &cookie, "https://evil.example", &fields(token))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let audit = app
        .backend
        .consultations
        .audit_log(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "nothing moved");
}

#[tokio::test]
async fn console_sessions_end_when_idle_signed_out_or_removed() {
    let app = app();
    app.add_person("ada").await;
    let (cookie, _) = app.signed_in("ada").await;
    let page = |cookie: String| {
        Request::get("/admin/")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    app.clock
        .set(app.clock.now() + jiff::SignedDuration::from_mins(29));
    assert_eq!(app.send(page(cookie.clone())).await.status, StatusCode::OK);
    app.clock
        .set(app.clock.now() + jiff::SignedDuration::from_mins(31));
    let idle = app.send(page(cookie.clone())).await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER, "30 minutes idle");
    assert_eq!(idle.headers[header::LOCATION], "/admin/sign-in?lang=en");

    // Signing out ends the session in the store.
    let (cookie, token) = app.signed_in("ada").await;
    let out = app
        .console_post(
            "/admin/sign-out",
            &cookie,
            &format!("https://{HOST}"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "verbatim_session").contains("Max-Age=0"));
    assert_eq!(app.send(page(cookie)).await.status, StatusCode::SEE_OTHER);

    // Removing the account ends its sessions.
    let (cookie, _) = app.signed_in("ada").await;
    let people = app.backend.people(app.clock.clone());
    people
        .remove(&shared::domain::account::AccountName::parse("ada").unwrap())
        .await
        .unwrap();
    assert_eq!(app.send(page(cookie)).await.status, StatusCode::SEE_OTHER);

    // Eight hours at most, however busy.
    app.add_person("bob").await;
    let (cookie, _) = app.signed_in("bob").await;
    for _ in 0..20 {
        app.clock
            .set(app.clock.now() + jiff::SignedDuration::from_mins(25));
        let reply = app.send(page(cookie.clone())).await;
        if reply.status != StatusCode::OK {
            assert_eq!(reply.status, StatusCode::SEE_OTHER);
            return;
        }
    }
    panic!("the session outlived eight hours");
}

/// While a consultation runs, its console page charts what was published so far, each chart
/// with its table, in the reader's language.
#[tokio::test]
async fn the_console_charts_the_responses_published_so_far() {
    let app = app();
    app.open_consultation().await;
    app.add_person("ada").await;
    let (cookie, _) = app.signed_in("ada").await;
    let page = |lang: &'static str| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let page = app
                .get_signed(
                    format!("/admin/consultations/net-2027?lang={lang}"),
                    &cookie,
                )
                .await;
            String::from_utf8(page.body).unwrap()
        }
    };
    let empty = page("en").await;
    assert!(
        empty.contains("Counted from the 0 responses published so far."),
        "{empty}"
    );
    assert!(
        !empty.contains("id=\"by-day-title\""),
        "no chart of nothing"
    );
    for (name, category) in [("A", "academia"), ("B", "academia"), ("C", "government")] {
        let reply = app
            .post_multipart(
                "net-2027",
                &[
                    Part::Field("name", name.as_bytes()),
                    Part::Field("category", category.as_bytes()),
                    Part::Field("text", b"Yes."),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let publisher = app.backend.publisher(app.clock.clone());
    publisher
        .publish(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    let charted = page("fr").await;
    assert!(
        charted.contains("Compté sur les 3 réponses publiées à ce jour."),
        "{charted}"
    );
    for chart in [
        "by-day",
        "last-hours",
        "by-category",
        "by-country",
        "by-channel",
    ] {
        assert!(
            charted.contains(&format!("id=\"{chart}-title\"")),
            "{chart}"
        );
    }
    assert!(charted.contains("<svg"), "drawn, not scripted");
    assert!(charted.contains("<table"), "the numbers beside each chart");

    // The list says how many were published, and when.
    let list = app.get_signed("/admin/?lang=en", &cookie).await;
    let list = String::from_utf8(list.body).unwrap();
    assert!(
        list.contains("<th scope=\"col\">Last publication</th>"),
        "{list}"
    );
    assert!(
        list.contains("<td>3</td><td>3</td><td>0</td><td>0</td>"),
        "{list}"
    );
    assert!(!list.contains("not yet"), "published: a date, {list}");
}

#[tokio::test]
async fn console_deadline_moves_name_the_person_in_the_audit() {
    let app = app();
    app.open_consultation().await;
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let moved = app
        .console_post(
            "/admin/consultations/net-2027/deadline",
            &cookie,
            &format!("https://{HOST}"),
            &[
                ("deadline", "2027-02-20T12:00:00Z"),
                ("reason", "Council asked for more time"),
                ("csrf", &token),
                ("lang", "fr"),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        moved.headers[header::LOCATION],
        "/admin/consultations/net-2027?lang=fr"
    );
    let audit = app
        .backend
        .consultations
        .audit_log(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    assert_eq!(audit[1].by.as_deref(), Some("ada"));
    let page = app
        .get_signed("/admin/consultations/net-2027?lang=fr", &cookie)
        .await;
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("Council asked for more time"));
    assert!(html.contains("<td>ada</td>"), "who, in the audit trail");
    assert!(html.contains("hreflang=\"ar\""));

    // A rule broken: the form again, with its error linked from the summary.
    let refused = app
        .console_post(
            "/admin/consultations/net-2027/deadline",
            &cookie,
            &format!("https://{HOST}"),
            &[("deadline", "2020-01-01T00:00:00Z"), ("csrf", &token)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(refused.body).unwrap();
    assert!(html.contains("href=\"#deadline\""), "{html}");
}

#[tokio::test]
async fn the_admin_api_takes_a_console_session_with_its_csrf_checks() {
    let app = app();
    app.open_consultation().await;
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let list = app.get_signed("/api/admin/consultations", &cookie).await;
    assert_eq!(list.status, StatusCode::OK);
    let patch = |csrf: Option<&str>, origin: &str| {
        let mut request = Request::patch("/api/admin/consultations/net-2027")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
            .body(Body::from(
                json!({"deadline": "2027-02-20T12:00:00Z"}).to_string(),
            ))
            .unwrap()
    };
    let origin = format!("https://{HOST}");
    assert_eq!(
        app.send(patch(None, &origin)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(patch(Some(&token), "https://evil.example"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(patch(Some(&token), &origin)).await.status,
        StatusCode::OK
    );
    let audit = app
        .backend
        .consultations
        .audit_log(&ConsultationId::parse("net-2027").unwrap())
        .await
        .unwrap();
    assert_eq!(audit[1].by.as_deref(), Some("ada"));
}

#[tokio::test]
async fn console_opens_a_consultation_after_checking_the_computed_deadline() {
    let app = app();
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let form = app
        .get_signed("/admin/consultations/new?lang=fr", &cookie)
        .await;
    assert_eq!(form.status, StatusCode::OK);
    let html = String::from_utf8(form.body).unwrap();
    for field in ["id", "title_ar", "questions_zh", "meeting_date", "opens_at"] {
        assert!(html.contains(&format!("<label for=\"{field}\"")), "{field}");
    }
    let origin = format!("https://{HOST}");
    let fields = |action: &'static str, id: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("id", id.to_owned()),
            ("title_en", "Internet access".to_owned()),
            ("title_fr", "Accès à l'Internet".to_owned()),
            ("questions_en", "What should be done?\nWho pays?".to_owned()),
            ("questions_fr", "Que faut-il faire ?".to_owned()),
            ("meeting_date", "2027-03-31".to_owned()),
            ("opens_at", String::new()),
            ("action", action.to_owned()),
            ("csrf", token.clone()),
            ("lang", "en".to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let body = serde_urlencoded::to_string(&fields).unwrap();
        Request::post("/admin/consultations/new")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, &origin)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    // Check your answers: the deadline computed, nothing stored yet.
    let check = app.send(post(fields("check", "net-2027"))).await;
    assert_eq!(check.status, StatusCode::OK);
    let html = String::from_utf8(check.body).unwrap();
    assert!(
        html.contains("28 February 2027, 23:59 Geneva time"),
        "{html}"
    );
    assert!(html.contains("value=\"create\""));
    let id = ConsultationId::parse("net-2027").unwrap();
    assert!(app.backend.consultations.get(&id).await.unwrap().is_none());
    // A broken rule: the form again, the error linked from the summary.
    let bad = app.send(post(fields("check", "Bad Id"))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        String::from_utf8(bad.body)
            .unwrap()
            .contains("href=\"#id\"")
    );
    // Created, by the person signed in.
    let created = app.send(post(fields("create", "net-2027"))).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let record = app.backend.consultations.get(&id).await.unwrap().unwrap();
    assert_eq!(record.consultation.questions.len(), 2);
    let audit = app.backend.consultations.audit_log(&id).await.unwrap();
    assert_eq!(audit[0].by.as_deref(), Some("ada"));
    // The id is taken now.
    let again = app.send(post(fields("check", "net-2027"))).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn console_administrators_manage_accounts_and_others_may_not() {
    let app = app();
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let origin = format!("https://{HOST}");
    let page = app.get_signed("/admin/users", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let added = app
        .console_post(
            "/admin/users",
            &cookie,
            &origin,
            &[
                ("name", "bob"),
                ("password", ADA_PASSWORD),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let short = app
        .console_post(
            "/admin/users",
            &cookie,
            &origin,
            &[("name", "carol"), ("password", "short"), ("csrf", &token)],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        String::from_utf8(short.body)
            .unwrap()
            .contains("href=\"#password\"")
    );

    // Bob is no administrator: the accounts page is refused.
    let mut bob = shared::domain::account::AccountName::parse("bob").unwrap();
    let people = app.backend.people(app.clock.clone());
    assert!(!people.get(&bob).await.unwrap().admin);
    let (bob_cookie, bob_token) = app.signed_in("bob").await;
    let refused = app
        .send(
            Request::get("/admin/users")
                .header(header::COOKIE, &bob_cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .console_post(
            "/admin/users/ada/remove",
            &bob_cookie,
            &origin,
            &[("csrf", &bob_token)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A new password ends bob's sessions; removing him removes the account.
    let reset = app
        .console_post(
            "/admin/users/bob/password",
            &cookie,
            &origin,
            &[("password", "a brand new password"), ("csrf", &token)],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER);
    let ended = app
        .send(
            Request::get("/admin/")
                .header(header::COOKIE, &bob_cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    let removed = app
        .console_post(
            "/admin/users/bob/remove",
            &cookie,
            &origin,
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    bob = shared::domain::account::AccountName::parse("bob").unwrap();
    assert!(people.get(&bob).await.is_err());
}

#[tokio::test]
async fn console_sets_up_totp_and_sign_in_then_asks_for_the_code() {
    use shared::domain::account::TotpSecret;
    let app = app();
    app.add_person("ada").await;
    let (cookie, token) = app.signed_in("ada").await;
    let page = app.get_signed("/admin/account/totp", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("otpauth://totp/Verbatim:ada?secret="));
    let secret = html
        .split("name=\"secret\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let totp = TotpSecret::parse_base32(&secret).unwrap();
    let code_now = || format!("{:06}", totp.code_at_step(app.clock.now().as_second() / 30));
    let origin = format!("https://{HOST}");
    let wrong = app
        .console_post(
            "/admin/account/totp",
            &cookie,
            &origin,
            &[("secret", &secret), ("code", "000000"), ("csrf", &token)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let code = code_now();
    let set = app
        .console_post(
            "/admin/account/totp",
            &cookie,
            &origin,
            &[("secret", &secret), ("code", &code), ("csrf", &token)],
        )
        .await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    // The password alone no longer signs in; with the code it does.
    let without = app.post_sign_in("ada", ADA_PASSWORD, Some(&origin)).await;
    assert_eq!(without.status, StatusCode::UNAUTHORIZED);
    let app = &app;
    let with_code = |code: String| async move {
        let (form_token, form_cookie) = app.sign_in_form().await;
        let body = serde_urlencoded::to_string([
            ("name", "ada"),
            ("password", ADA_PASSWORD),
            ("code", code.as_str()),
            ("csrf", form_token.as_str()),
        ])
        .unwrap();
        app.send(
            Request::post("/admin/sign-in")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, format!("https://{HOST}"))
                .header(header::COOKIE, form_cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .status
    };
    // The code that confirmed the set-up is used: not again, even within its window.
    assert_eq!(with_code(code_now()).await, StatusCode::UNAUTHORIZED);
    app.clock
        .set(app.clock.now() + jiff::SignedDuration::from_secs(30));
    assert_eq!(with_code(code_now()).await, StatusCode::SEE_OTHER);
    assert_eq!(
        with_code(code_now()).await,
        StatusCode::UNAUTHORIZED,
        "used once"
    );
}

#[tokio::test]
async fn the_admin_api_manages_accounts_too() {
    let app = app();
    let call = |method: &str, uri: &str, body: Option<Value>| {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json");
        request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap()
    };
    let added = app
        .send(call(
            "POST",
            "/api/admin/users",
            Some(json!({"name": "ada", "password": ADA_PASSWORD, "admin": true})),
        ))
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    assert_eq!(added.json()["name"], "ada");
    assert!(added.json().get("password").is_none());
    let again = app
        .send(call(
            "POST",
            "/api/admin/users",
            Some(json!({"name": "ada", "password": ADA_PASSWORD})),
        ))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let short = app
        .send(call(
            "POST",
            "/api/admin/users",
            Some(json!({"name": "bob", "password": "short"})),
        ))
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.json()["error"]["field"], "password");
    let list = app.send(call("GET", "/api/admin/users", None)).await;
    assert_eq!(list.json()[0]["name"], "ada");
    let reset = app
        .send(call(
            "PUT",
            "/api/admin/users/ada/password",
            Some(json!({"password": "another long password"})),
        ))
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    let removed = app.send(call("DELETE", "/api/admin/users/ada", None)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app.send(call("DELETE", "/api/admin/users/ada", None)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let spec = app.get("/api/openapi.json").await.json();
    for path in [
        "/api/admin/users",
        "/api/admin/users/{name}",
        "/api/admin/users/{name}/password",
        "/api/admin/users/{name}/totp",
    ] {
        assert!(spec["paths"][path].is_object(), "{path}");
    }
}

impl App {
    async fn console_multipart(
        &self,
        path: &str,
        cookie: &str,
        origin: &str,
        parts: &[Part<'_>],
    ) -> Reply {
        let (content_type, body) = multipart(parts);
        let request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// From the console's consultation page, a person gives the description, publishes background
/// documents and the Group's outcome, through the API's use cases: the boxes and file inputs
/// left empty are ignored, a refused form comes back with its error on its field and nothing
/// published, a form without its token or from elsewhere changes nothing, and the audit names
/// the person.
#[tokio::test]
async fn the_console_publishes_the_description_documents_and_outcome() {
    let app = app();
    app.open_consultation().await;
    app.add_person("ada").await;
    let (cookie, csrf) = app.signed_in("ada").await;
    let origin = format!("https://{HOST}");
    let page = "/admin/consultations/net-2027";

    // The description: two languages given, four boxes left empty.
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("lang", "fr"),
        (
            "description_en",
            "Why we ask.\r\n\r\nSee https://www.itu.int/.",
        ),
        ("description_fr", "Pourquoi nous demandons."),
    ];
    for l in ["ar", "es", "ru", "zh"] {
        fields.push((["description_", l].concat().leak(), ""));
    }
    let path = format!("{page}/description");
    for (cookie, origin, token) in [
        (cookie.as_str(), "https://elsewhere.example", csrf.as_str()),
        (cookie.as_str(), origin.as_str(), "not-the-token"),
    ] {
        let mut forged = fields.clone();
        forged[0] = ("csrf", token);
        let reply = app.console_post(&path, cookie, origin, &forged).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    assert!(app.get("/api/consultations/net-2027").await.json()["description"].is_null());
    let reply = app.console_post(&path, &cookie, &origin, &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers[header::LOCATION],
        "/admin/consultations/net-2027?lang=fr#description"
    );
    let view = app.get("/api/consultations/net-2027").await.json();
    assert_eq!(view["description"]["fr"], "Pourquoi nous demandons.");
    assert_eq!(
        view["description"]["en"],
        "Why we ask.\r\n\r\nSee https://www.itu.int/."
    );
    assert!(view["description"].get("ar").is_none(), "{view}");

    // Background documents: a file input left empty is skipped; a type not allowed refuses
    // the whole form, on its field.
    let path = format!("{page}/documents");
    let reply = app
        .console_multipart(
            &path,
            &cookie,
            &origin,
            &[
                Part::Field("csrf", csrf.as_bytes()),
                Part::Field("lang", b"en"),
                Part::File("paper.pdf", PDF),
                Part::File("run.exe", b"MZ\x90\0\x03"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(reply.body).unwrap();
    assert!(html.contains("href=\"#document-file\""), "{html}");
    assert!(html.contains("id=\"document-file-error\""), "{html}");
    let view = app.get("/api/consultations/net-2027").await.json();
    assert_eq!(view["documents"].as_array().map_or(0, Vec::len), 0);
    let reply = app
        .console_multipart(
            &path,
            &cookie,
            &origin,
            &[
                Part::Field("csrf", b"not-the-token"),
                Part::File("paper.pdf", PDF),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .console_multipart(
            &path,
            &cookie,
            &origin,
            &[
                Part::Field("csrf", csrf.as_bytes()),
                Part::Field("lang", b"en"),
                Part::File("paper.pdf", PDF),
                Part::File("", b""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    let view = app.get("/api/consultations/net-2027").await.json();
    assert_eq!(view["documents"][0]["name"], "paper.pdf", "{view}");

    // The outcome: a text that is not UTF-8 comes back on its box, with what was typed in
    // the others; then one text and one document, published as version 1.
    let path = format!("{page}/outcome");
    let reply = app
        .console_multipart(
            &path,
            &cookie,
            &origin,
            &[
                Part::Field("csrf", csrf.as_bytes()),
                Part::Field("lang", b"en"),
                Part::Field("text.en", b"\xff\xfe broken"),
                Part::Field("text.fr", "Conclusions à garder.".as_bytes()),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(reply.body).unwrap();
    assert!(html.contains("href=\"#outcome-text-en\""), "{html}");
    assert!(
        html.contains("Conclusions à garder."),
        "typed text kept: {html}"
    );
    assert!(app.get("/api/consultations/net-2027").await.json()["outcome"].is_null());
    let text = b"Conclusions of the meeting.\r\n";
    let reply = app
        .console_multipart(
            &path,
            &cookie,
            &origin,
            &[
                Part::Field("csrf", csrf.as_bytes()),
                Part::Field("lang", b"en"),
                Part::Field("text.ar", b""),
                Part::Field("text.en", text),
                Part::Field("text.fr", b"  \r\n"),
                Part::File("report.pdf", PDF),
                Part::File("", b""),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    let outcome = app.get("/api/consultations/net-2027").await.json()["outcome"].clone();
    assert_eq!(outcome["version"], 1, "{outcome}");
    assert_eq!(outcome["languages"], json!(["en"]), "{outcome}");

    // The console's page lists it all, and the audit names ada for each.
    let reply = app.get_signed(format!("{page}?lang=en"), &cookie).await;
    let html = String::from_utf8(reply.body).unwrap();
    assert!(
        html.contains("paper.pdf") && html.contains("report.pdf"),
        "{html}"
    );
    assert!(html.contains("Version 1"), "{html}");
    let audit = app
        .send(
            Request::get("/api/admin/consultations/net-2027/audit")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let by: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["by"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("description-changed".to_owned(), "ada".to_owned()),
            ("documents-added".to_owned(), "ada".to_owned()),
            ("outcome-published".to_owned(), "ada".to_owned()),
        ]
    );
}

/// What was kept privately (late mail, a response set aside after the seal) is listed for
/// the Secretariat and downloadable byte for byte, through the API (token) and the console
/// (session); nobody else gets it, and a name outside the folder is not found.
#[tokio::test]
async fn what_was_kept_is_listed_and_downloaded_by_the_secretariat_only() {
    use shared::ports::{ObjectKey, ObjectMeta, PutMode};
    let app = app();
    app.open_consultation().await;
    let late = b"From: a@example.org\r\nSubject: late\r\n\r\nToo late\xff\r\n";
    for (key, body) in [
        ("mail/late/net-2027/0a1b.eml", &late[..]),
        ("late/net-2027/0192.json", b"{\"id\":\"0192\"}"),
        ("mail/late/other-2027/ffff.eml", b"another consultation's"),
    ] {
        app.backend
            .private
            .put(
                &ObjectKey::parse(key).unwrap(),
                shared::ports::Body::Bytes(bytes::Bytes::copy_from_slice(body)),
                &ObjectMeta {
                    content_type: "message/rfc822".into(),
                    content_disposition: None,
                },
                PutMode::CreateNew,
            )
            .await
            .unwrap();
    }
    let admin = |uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };
    let listed = app
        .send(admin("/api/admin/consultations/net-2027/kept"))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let items: Vec<(String, String, u64)> = listed.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["reason"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                i["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            ("late".into(), "0a1b.eml".into(), late.len() as u64),
            ("after-seal".into(), "0192.json".into(), 13),
        ]
    );
    let file = app
        .send(admin(
            "/api/admin/consultations/net-2027/kept/late/0a1b.eml",
        ))
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, late);
    assert_eq!(file.headers[header::CONTENT_TYPE], "message/rfc822");
    for uri in [
        "/api/admin/consultations/net-2027/kept/late/ffff.eml",
        "/api/admin/consultations/net-2027/kept/late/..%2F..%2Fother-2027%2Fffff.eml",
        "/api/admin/consultations/net-2027/kept/nonsense/0a1b.eml",
        "/api/admin/consultations/nope-2027/kept",
    ] {
        assert_eq!(
            app.send(admin(uri)).await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
    assert_eq!(
        app.get("/api/admin/consultations/net-2027/kept/late/0a1b.eml")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The console lists them on the consultation's page and downloads them for the signed in.
    app.add_person("ada").await;
    let (cookie, _) = app.signed_in("ada").await;
    let page = app
        .get_signed("/admin/consultations/net-2027?lang=en", &cookie)
        .await;
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("mail sent after the deadline"), "{html}");
    assert!(
        html.contains("href=\"/admin/consultations/net-2027/kept/late/0a1b.eml\""),
        "{html}"
    );
    assert!(
        !html.contains("ffff.eml"),
        "another consultation's mail: {html}"
    );
    let path = "/admin/consultations/net-2027/kept/late/0a1b.eml";
    let file = app.get_signed(path, &cookie).await;
    assert_eq!(file.body, late);
    assert_eq!(app.get(path).await.status, StatusCode::SEE_OTHER);
}
