//! Lambda: a C2SP tlog-witness (`POST /add-checkpoint`) for whoever runs one on AWS, in its own
//! stack (`infra/witness.yaml`, docs/witness-aws.md): its state in a DynamoDB table of its
//! own, its key in an SSM SecureString parameter, the logs it follows from the template.

use std::sync::Arc;

use anyhow::Context;
use shared::adapters::witness_dynamodb::{DynamoWitnessState, key_from_ssm};
use shared::ports::{SystemClock, WitnessState};
use shared::witness::Witness;

/// The table of what the witness follows and cosigned.
const TABLE: &str = "VERBATIM_WITNESS_TABLE";
/// The SSM SecureString parameter holding the witness's private key.
const KEY_PARAMETER: &str = "VERBATIM_WITNESS_KEY_PARAMETER";
/// Optional: `ORIGIN VKEY` lines, the logs to follow (added at every start).
const LOGS: &str = "VERBATIM_WITNESS_LOGS";

/// What the function reads from its environment, once.
#[derive(Debug)]
struct Settings {
    table: String,
    key_parameter: String,
    logs: Vec<(String, String)>,
}

impl Settings {
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |name: &str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("{name} is not set"))
        };
        Ok(Self {
            table: required(TABLE)?,
            key_parameter: required(KEY_PARAMETER)?,
            logs: parse_logs(&var(LOGS).unwrap_or_default()).context(LOGS)?,
        })
    }
}

/// The logs to follow: one `ORIGIN VKEY` a line, as `verbatim witness add-log` takes them.
/// ORIGIN is exact, or a prefix ending in `*`; VKEY is the log's verifier key, the line's last
/// word (an origin may hold spaces). Blank lines and lines starting with `#` are skipped.
fn parse_logs(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut logs = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (origin, vkey) = line
            .rsplit_once(char::is_whitespace)
            .map(|(origin, vkey)| (origin.trim(), vkey))
            .with_context(|| format!("line {n}: expected ORIGIN VKEY, got {line:?}"))?;
        if origin.strip_suffix('*').unwrap_or(origin).contains('*') {
            anyhow::bail!("line {n}: {origin:?} is not an origin (`*` only at its end)");
        }
        shared::transparency::LogVerifier::parse(vkey)
            .with_context(|| format!("line {n}: {vkey:?} is not a log's verifier key"))?;
        logs.push((origin.to_owned(), vkey.to_owned()));
    }
    Ok(logs)
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_vars(|name| std::env::var(name).ok())?;
    let config = aws_config::load_from_env().await;
    let router = witness(&config, &settings).await?;
    lambda_http::run(shared::http::with_request_log(router)).await
}

/// The witness's routes: its key from SSM, its state on the table, the configured logs
/// followed before the first request is answered.
async fn witness(
    config: &aws_config::SdkConfig,
    settings: &Settings,
) -> anyhow::Result<axum::Router> {
    let key = key_from_ssm(config, &settings.key_parameter).await?;
    let state = Arc::new(DynamoWitnessState::new(
        config,
        &settings.table,
        tokio::runtime::Handle::current(),
    ));
    // The port blocks (see DynamoWitnessState): off the async threads, as the router calls it.
    let (adding, logs) = (state.clone(), settings.logs.clone());
    tokio::task::spawn_blocking(move || {
        logs.iter()
            .try_for_each(|(origin, vkey)| adding.add_log(origin, vkey))
    })
    .await??;
    tracing::info!(
        witness = key.verifier_key(),
        logs = settings.logs.len(),
        "serving add-checkpoint"
    );
    let witness = Witness {
        key,
        state,
        clock: Arc::new(SystemClock),
    };
    // No allowance per client address: the function sees none (no socket), and each instance
    // would count apart. The HTTP API's throttle bounds the requests (infra/witness.yaml).
    Ok(shared::http::witness::router(Arc::new(witness), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use shared::transparency::checkpoint::sign_checkpoint;
    use shared::transparency::{LogKey, MemoryTree, TreeHead};
    use shared::witness::cosignature::CosignerKey;
    use tower::ServiceExt;

    #[test]
    fn the_logs_are_lines_of_an_origin_and_its_key() {
        let a = LogKey::generate("a.example").unwrap();
        let b = LogKey::generate("b.example").unwrap();
        let text = format!(
            "# every consultation of a.example\n\
             a.example/consultations/* {}\n\n  \
             go.sum database tree\t{}  \n",
            a.verifier_key(),
            b.verifier_key()
        );
        assert_eq!(
            parse_logs(&text).unwrap(),
            [
                (
                    "a.example/consultations/*".to_owned(),
                    a.verifier_key().to_owned()
                ),
                (
                    "go.sum database tree".to_owned(),
                    b.verifier_key().to_owned()
                ),
            ]
        );
        assert!(parse_logs("").unwrap().is_empty());

        for (bad, why) in [
            (format!("{}\n", a.verifier_key()), "line 1: expected"),
            ("a.example/log a.example+1+AA".to_owned(), "verifier key"),
            (
                format!(
                    "ok {}\na.example/*/x {}",
                    a.verifier_key(),
                    a.verifier_key()
                ),
                "line 2",
            ),
        ] {
            let error = format!("{:#}", parse_logs(&bad).unwrap_err());
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }

    #[test]
    fn settings_name_what_is_missing() {
        let vars = |set: &'static [(&str, &str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let error = Settings::from_vars(vars(&[(KEY_PARAMETER, "/w/key")])).unwrap_err();
        assert!(error.to_string().contains(TABLE), "{error}");
        let error = Settings::from_vars(vars(&[(TABLE, "t"), (KEY_PARAMETER, " ")])).unwrap_err();
        assert!(error.to_string().contains(KEY_PARAMETER), "{error}");
        let settings =
            Settings::from_vars(vars(&[(TABLE, "t"), (KEY_PARAMETER, "/w/key")])).unwrap();
        assert!(settings.logs.is_empty());
        let error = Settings::from_vars(vars(&[
            (TABLE, "t"),
            (KEY_PARAMETER, "/w/key"),
            (LOGS, "nonsense"),
        ]))
        .unwrap_err();
        assert!(format!("{error:#}").contains(LOGS), "{error:#}");
    }

    async fn put_key(config: &aws_config::SdkConfig, name: &str, key: &CosignerKey) {
        aws_sdk_ssm::Client::new(config)
            .put_parameter()
            .name(name)
            .value(key.private_key())
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }

    /// The function as Lambda starts it, against moto: the key from its parameter, the logs
    /// from its settings (a second start adds them again, changing nothing), a consultation's
    /// checkpoint cosigned through the router, and a missing key parameter refused by name.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_started_function_cosigns_the_logs_it_was_configured_with() {
        let moto = test_support::moto();
        let config = moto.sdk_config().await;
        let witness_key = CosignerKey::generate("witness.example").unwrap();
        let parameter = format!("/{}", test_support::unique_name("witness-key"));
        put_key(&config, &parameter, &witness_key).await;
        let log = LogKey::generate("log.example").unwrap();
        let settings = Settings {
            table: moto.fresh_witness_table("function").await,
            key_parameter: parameter.clone(),
            logs: parse_logs(&format!(
                "log.example/consultations/* {}",
                log.verifier_key()
            ))
            .unwrap(),
        };

        let mut tree = MemoryTree::new();
        tree.push(b"a response".to_vec()).unwrap();
        let head = TreeHead {
            origin: "log.example/consultations/net-2027".to_owned(),
            size: 1,
            root: tree.root(),
        };
        let mut body = b"old 0\n\n".to_vec();
        body.extend_from_slice(&sign_checkpoint(&log, &head).unwrap());
        let add = async |router: axum::Router, body: Vec<u8>| {
            let request = axum::http::Request::post("/add-checkpoint")
                .body(axum::body::Body::from(body))
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };

        let first = witness(&config, &settings).await.unwrap();
        let (status, cosignature) = add(first, body.clone()).await;
        assert_eq!(status, 200, "{cosignature}");
        assert!(
            cosignature.starts_with("— witness.example "),
            "{cosignature}"
        );
        // Another instance starts: the logs are added again, the head is the first's.
        let second = witness(&config, &settings).await.unwrap();
        let (status, size) = add(second, body).await;
        assert_eq!((status.as_u16(), size.as_str()), (409, "1\n"));

        let missing = Settings {
            key_parameter: format!("{parameter}-missing"),
            ..settings
        };
        let error = witness(&config, &missing).await.unwrap_err().to_string();
        assert!(error.contains(&missing.key_parameter), "{error}");
    }
}
