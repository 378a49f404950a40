//! Witnesses reached over HTTP(S), as C2SP tlog-witness says: `POST <prefix>/add-checkpoint`.

use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{WitnessAnswer, WitnessClient};

/// The longest answer read from a witness: cosignature lines are about 120 bytes each.
const MAX_ANSWER: usize = 64 * 1024;

pub struct HttpWitnesses {
    client: reqwest::Client,
}

impl HttpWitnesses {
    /// Each request gives up after `timeout` (connecting included): a witness that is down or
    /// slow costs publication at most that.
    pub fn new(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("verbatim/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with timeouts only");
        Self { client }
    }
}

#[async_trait]
impl WitnessClient for HttpWitnesses {
    async fn add_checkpoint(&self, prefix: &str, body: Vec<u8>) -> Result<WitnessAnswer, String> {
        let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
        let response = self
            .client
            .post(&url)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        // Read up to the bound, never more: a witness is another party's server.
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{url}: reading the answer: {e}"))?
        {
            bytes.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - bytes.len())]);
            if bytes.len() == MAX_ANSWER {
                break;
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(match status {
            200 => WitnessAnswer::Cosigned(text),
            409 => match text.trim().parse() {
                Ok(size) => WitnessAnswer::Conflict(size),
                Err(_) => WitnessAnswer::Refused {
                    status,
                    why: format!("409 without a size: {:.200}", text.trim()),
                },
            },
            _ => WitnessAnswer::Refused {
                status,
                why: text.trim().chars().take(200).collect(),
            },
        })
    }
}
