//! SES in moto: a verified sending identity, and the messages "sent" (moto keeps them and shows
//! them at `/moto-api/data.json`).

/// Verifies `domain` as a sending identity (moto verifies at once).
pub async fn verify_domain(config: &aws_config::SdkConfig, domain: &str) {
    let client = aws_sdk_sesv2::Client::new(config);
    if let Err(e) = client
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await
    {
        // Verified already by another test of this binary.
        assert!(
            format!("{e:?}").contains("AlreadyExists"),
            "verifying the SES identity in moto: {e:?}"
        );
    }
}

/// A message SES was asked to send: its recipients and its raw bytes (as text).
#[derive(Debug, Clone)]
pub struct SentMail {
    pub to: Vec<String>,
    pub raw: String,
}

/// Every raw message sent through this moto server so far.
pub async fn sent_mail(endpoint: &str) -> Vec<SentMail> {
    let data: serde_json::Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("reading moto's state")
        .json()
        .await
        .expect("moto's state is JSON");
    data["ses"]["RawMessage"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| SentMail {
                    to: m["destinations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.as_str().map(str::to_owned))
                        .collect(),
                    raw: m["raw_data"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The messages sent to `address` so far.
pub async fn sent_to(endpoint: &str, address: &str) -> Vec<SentMail> {
    sent_mail(endpoint)
        .await
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .collect()
}
