//! A witness on AWS (`functions/witness`, `infra/witness.yaml`): what it follows and what it
//! last cosigned in a DynamoDB table of its own, and its key in an SSM SecureString parameter.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | what was last cosigned for an origin (`size` N, `root` B, 32 bytes) | `HEAD#{origin}` | `HEAD` |
//! | a followed log, exact or a prefix ending in `*` (`origin`, `vkey`) | `LOGS` | `{origin}\n{vkey}` |
//!
//! Each origin's head is an item of its own: origins never contend, and [`WitnessState::advance`]
//! is one conditional PutItem on it (`attribute_not_exists` from nothing, else the size and root
//! it was read with), durable when DynamoDB answers, so before the cosignature is given.
//! Every read is strongly consistent: a second function instance reads the head the first one
//! just moved.
//!
//! The followed logs share one partition. A witness follows a handful of logs (one prefix
//! covers every consultation of a Verbatim site), so [`WitnessState::log_keys`] is one query of
//! a few small items, matched in code exactly as the SQLite adapter matches them.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::runtime::Handle;

use crate::ports::{StoreError, WitnessState, WitnessedHead};
use crate::witness::cosignature::CosignerKey;

type Item = HashMap<String, AttributeValue>;

/// The partition of the followed logs.
const LOGS: &str = "LOGS";
/// The sort key of a head (its partition is `HEAD#{origin}`).
const HEAD: &str = "HEAD";

/// The witness's state in the DynamoDB table `table`.
///
/// [`WitnessState`] is synchronous: the witness's core calls it from `spawn_blocking` (the
/// HTTP router does), as the SQLite adapter needs. The SDK is async, so each call blocks its
/// thread on the SDK's future with [`Handle::block_on`] on `runtime`, the handle of the
/// process's multi-thread runtime, whose worker threads drive the connection's I/O meanwhile.
/// Making the port async for this adapter alone would change the core and the SQLite adapter
/// for no gain: the thread waits either way. Never call it on a runtime's worker thread
/// (`block_on` panics there).
pub struct DynamoWitnessState {
    client: Client,
    table: String,
    runtime: Handle,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn head_key(origin: &str) -> Item {
    key(format!("HEAD#{origin}"), HEAD)
}

fn sdk_error<E, R>(
    context: impl Into<String>,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    StoreError::backend(context, aws_sdk_dynamodb::Error::from(e))
}

/// Whether a followed origin (exact, or a prefix ending in `*`) covers `origin`: as the
/// SQLite adapter decides it (the adapters' shared tests hold both to it).
fn covers(followed: &str, origin: &str) -> bool {
    match followed.strip_suffix('*') {
        Some(prefix) => origin.starts_with(prefix),
        None => followed == origin,
    }
}

fn string<'a>(item: &'a Item, name: &str, context: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::backend(
            context.to_owned(),
            format!("an item without the string {name}"),
        )),
    }
}

impl DynamoWitnessState {
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>, runtime: Handle) -> Self {
        Self {
            client: Client::new(config),
            table: table.into(),
            runtime,
        }
    }

    /// Creates the table if it does not exist, for emulators and tests (the main table's key
    /// schema, `pk`/`sk`); on AWS, `infra/witness.yaml` makes it.
    pub async fn create_table(
        config: &aws_config::SdkConfig,
        table: &str,
    ) -> Result<(), StoreError> {
        super::dynamodb::ensure_table(&Client::new(config), table).await
    }
}

impl WitnessState for DynamoWitnessState {
    fn log_keys(&self, origin: &str) -> Result<Vec<String>, StoreError> {
        let context = "reading the followed logs";
        let items: Vec<Item> = self
            .runtime
            .block_on(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :logs")
                    .expression_attribute_values(":logs", s(LOGS))
                    .consistent_read(true)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<_, _>>(),
            )
            .map_err(|e| sdk_error(context, e))?;
        let mut keys = Vec::new();
        for item in &items {
            let (followed, vkey) = (
                string(item, "origin", context)?,
                string(item, "vkey", context)?,
            );
            // A key added for the origin and for a prefix of it is one key.
            if covers(followed, origin) && !keys.iter().any(|k| k == vkey) {
                keys.push(vkey.to_owned());
            }
        }
        Ok(keys)
    }

    fn add_log(&self, origin: &str, vkey: &str) -> Result<(), StoreError> {
        // One item per pair (an origin is one line, a key has no newline): putting the same
        // pair again writes the same item.
        let mut item = key(LOGS.to_owned(), format!("{origin}\n{vkey}"));
        item.insert("origin".to_owned(), s(origin));
        item.insert("vkey".to_owned(), s(vkey));
        self.runtime
            .block_on(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .send(),
            )
            .map_err(|e| sdk_error("adding a log", e))?;
        Ok(())
    }

    fn cosigned(&self, origin: &str) -> Result<Option<WitnessedHead>, StoreError> {
        let context = "reading what was cosigned";
        let out = self
            .runtime
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(head_key(origin)))
                    .consistent_read(true)
                    .send(),
            )
            .map_err(|e| sdk_error(context, e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let size = match item.get("size") {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::backend(context, format!("a size of {n:?}")))?,
            _ => return Err(StoreError::backend(context, "a head without a size")),
        };
        let root = match item.get("root") {
            Some(AttributeValue::B(b)) => b
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::backend(context, "a root is not 32 bytes"))?,
            _ => return Err(StoreError::backend(context, "a head without a root")),
        };
        Ok(Some(WitnessedHead { size, root }))
    }

    fn advance(
        &self,
        origin: &str,
        from: Option<&WitnessedHead>,
        to: &WitnessedHead,
    ) -> Result<bool, StoreError> {
        let mut item = head_key(origin);
        item.insert("size".to_owned(), AttributeValue::N(to.size.to_string()));
        item.insert("root".to_owned(), AttributeValue::B(Blob::new(to.root)));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = match from {
            None => put.condition_expression("attribute_not_exists(pk)"),
            // `size` is a reserved word of DynamoDB's expressions: both go by placeholder.
            Some(from) => put
                .condition_expression("#size = :size AND #root = :root")
                .expression_attribute_names("#size", "size")
                .expression_attribute_names("#root", "root")
                .expression_attribute_values(":size", AttributeValue::N(from.size.to_string()))
                .expression_attribute_values(":root", AttributeValue::B(Blob::new(from.root))),
        };
        match self.runtime.block_on(put.send()) {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("recording what was cosigned", e)),
        }
    }
}

/// The witness's key, kept in the SSM SecureString parameter `parameter` as
/// [`CosignerKey::private_key`] writes it (`verbatim witness key` makes one). A missing
/// parameter is an error that says what to put there; the key itself is never in an error.
pub async fn key_from_ssm(
    config: &aws_config::SdkConfig,
    parameter: &str,
) -> Result<CosignerKey, StoreError> {
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;
    let context = format!("reading the witness key from SSM parameter {parameter}");
    let out = aws_sdk_ssm::Client::new(config)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await;
    let value = match out {
        Ok(out) => out.parameter.and_then(|p| p.value).unwrap_or_default(),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetParameterError::ParameterNotFound(_))
            ) =>
        {
            return Err(StoreError::backend(
                context,
                "the parameter does not exist: put the private key made by \
                 `verbatim witness key` in it, as a SecureString (docs/witness-aws.md)",
            ));
        }
        Err(e) => {
            return Err(StoreError::backend(
                context,
                aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
            ));
        }
    };
    CosignerKey::parse(&value).map_err(|e| StoreError::backend(context, e))
}
