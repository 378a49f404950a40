//! The durable-write floor for `bench/intake.sh`: the least an intake server that keeps what it
//! acknowledges must do per request. It reads the whole request body, hashes it (SHA-256), writes
//! it to a new file, fsyncs the file and its folder, and only then answers 201 with the hash.
//! No parsing, no validation, no database, no publication. Verbatim's intake throughput is
//! reported as a ratio of this server's, measured on the same machine in the same run.
//!
//! With `--no-sync` it does the same minus the two fsyncs: not a server anyone should run, but
//! the measure of what the syncs cost on this machine, and so of the most that saving syncs
//! (group commit) can win here.
//!
//! Usage: verbatim-bench-floor ADDR DATA_DIR [--no-sync]   (e.g. 127.0.0.1:0 /tmp/floor-data)

use std::{fs::File, io::Write, net::SocketAddr, path::PathBuf, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::post,
};
use sha2::{Digest, Sha256};

/// Where the files go, and whether each is synced before the answer.
struct Floor {
    dir: PathBuf,
    sync: bool,
}

async fn receive(
    State(floor): State<Arc<Floor>>,
    Path(_consultation): Path<String>,
    body: Bytes,
) -> impl IntoResponse {
    let sha256 = hex::encode(Sha256::digest(&body));
    let path = floor.dir.join(uuid::Uuid::new_v4().to_string());
    let sync = floor.sync;
    // One durable write (unless --no-sync): the file's bytes, then the folder entry that names it.
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut file = File::create_new(&path)?;
        file.write_all(&body)?;
        if !sync {
            return Ok(());
        }
        file.sync_all()?;
        File::open(path.parent().expect("a file in a folder"))?.sync_all()
    })
    .await
    .expect("the write task does not panic");
    match written {
        Ok(()) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"sha256\":\"{sha256}\"}}"),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        ),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:0".into())
        .parse()
        .expect("ADDR");
    let usage = "usage: verbatim-bench-floor ADDR DATA_DIR [--no-sync]";
    let dir = PathBuf::from(args.next().expect(usage));
    let sync = match args.next().as_deref() {
        None => true,
        Some("--no-sync") => false,
        Some(_) => panic!("{usage}"),
    };
    std::fs::create_dir_all(&dir)?;
    let app = Router::new()
        .route("/api/consultations/{id}/responses", post(receive))
        .with_state(Arc::new(Floor { dir, sync }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let unsynced = if sync { "" } else { " (no sync)" };
    println!(
        "floor{unsynced} serving at http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}
