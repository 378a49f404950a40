//! The intake's HTTP entry: any body, as multipart (the form) or JSON (programs), to
//! `POST /api/consultations/{id}/responses` of a real router over the embedded store. Whatever
//! arrives, the answer is a receipt or a clear refusal (4xx), never a 500 and never a panic.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use verbatim_fuzz::Service;

const BOUNDARY: &str = "fuzz-boundary";

struct Harness {
    service: Service,
    router: Router,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let service = Service::start();
        let intake = service
            .backend
            .intake_state(service.clock.clone(), service.queue.clone());
        let router = shared::http::intake::router(intake);
        Harness { service, router }
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
        .service
        .runtime
        .block_on(harness.router.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    assert!(
        status == StatusCode::CREATED || status.is_client_error(),
        "answered {status}"
    );
});
