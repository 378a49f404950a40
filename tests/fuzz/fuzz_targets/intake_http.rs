//! The intake's HTTP entry: any body, as multipart (the form) or JSON (programs), to
//! `POST /api/consultations/{id}/responses` of a real router over the embedded store. Whatever
//! arrives, the answer is a receipt or a clear refusal (4xx), never a 500 and never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use shared::Backend;
use shared::domain::ConsultationId;
use shared::http::admin::AdminToken;
use shared::ports::{Clock, PublishQueue, SweptByTimer, SystemClock};
use tower::ServiceExt;

const TOKEN: &str = "fuzz-admin-token-0123456789";
const BOUNDARY: &str = "fuzz-boundary";

struct NoQueue;

impl PublishQueue for NoQueue {
    fn request(&self, _: &ConsultationId) {}
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::embedded(dir.path()).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let intake = backend.intake_state(clock.clone(), Arc::new(NoQueue));
        let admin = backend.admin_state(
            clock,
            Arc::new(NoQueue),
            Arc::new(SweptByTimer),
            AdminToken::new(TOKEN).unwrap(),
        );
        let router = shared::http::intake::router(intake).merge(shared::http::admin::router(admin));
        let created = runtime.block_on(
            router.clone().oneshot(
                Request::post("/api/admin/consultations")
                    .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        r#"{"id":"fuzz","title":{"en":"Fuzz"},"questions":[{"en":"Q?"}],"meeting_date":"2099-03-31"}"#,
                    ))
                    .unwrap(),
            ),
        );
        assert_eq!(created.unwrap().status(), StatusCode::CREATED);
        Harness {
            runtime,
            router,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let content_type = if kind % 2 == 0 {
        format!("multipart/form-data; boundary={BOUNDARY}")
    } else {
        "application/json".to_owned()
    };
    let harness = harness();
    let request = Request::post("/api/consultations/fuzz/responses")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .unwrap();
    let response = harness
        .runtime
        .block_on(harness.router.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    assert!(
        status == StatusCode::CREATED || status.is_client_error(),
        "answered {status}"
    );
});
