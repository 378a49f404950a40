//! What the fuzz targets that drive the real service share: one embedded store in a temporary
//! folder, with the consultation `fuzz` open, and the runtime the target's inputs run on.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use shared::Backend;
use shared::domain::ConsultationId;
use shared::http::admin::AdminToken;
use shared::ports::{Clock, PublishQueue, SweptByTimer, SystemClock};
use tower::ServiceExt;

/// The admin token of the fuzzed service.
pub const TOKEN: &str = "fuzz-admin-token-0123456789";

/// Publication is not fuzzed here: requests for it are dropped.
pub struct NoQueue;

impl PublishQueue for NoQueue {
    fn request(&self, _: &ConsultationId) {}
}

/// The service's store and its runtime, with the consultation `fuzz` open until 2099.
pub struct Service {
    pub runtime: tokio::runtime::Runtime,
    pub backend: Backend,
    pub clock: Arc<dyn Clock>,
    pub queue: Arc<dyn PublishQueue>,
    /// The admin routes (the consultation was created through them).
    pub admin: Router,
    /// Where the store keeps its files; removed when the process ends.
    pub dir: tempfile::TempDir,
}

impl Service {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::embedded(dir.path()).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queue: Arc<dyn PublishQueue> = Arc::new(NoQueue);
        let admin = shared::http::admin::router(backend.admin_state(
            clock.clone(),
            queue.clone(),
            Arc::new(SweptByTimer),
            AdminToken::new(TOKEN).unwrap(),
        ));
        let created = runtime.block_on(
            admin.clone().oneshot(
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
        Self {
            runtime,
            backend,
            clock,
            queue,
            admin,
            dir,
        }
    }
}
