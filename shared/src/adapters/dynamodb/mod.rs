//! Records in one DynamoDB table.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | consultation (+ `response_count`, `settled_count`, `layout`) | `C#{id}` | `META` |
//! | response number n | `C#{id}#R{n mod 64:02}` (`C#{id}` in the first layout) | `R#{n:012}` |
//! | a numbered batch (its pending items in order, from number `first`) | as response number `first` | `B#{first:012}` |
//! | pending response (not yet numbered) | `C#{id}#P{shard:02}` | `{received ms:015}#{response id}` |
//! | publication mark | `C#{id}` | `PUBLISHED` |
//! | change signal (+ `version`): the Secretariat or the closing changed the consultation | `C#{id}` | `CHANGED` |
//! | the sequencer's lease (`holder`, `token`, `expires_ms`) | `C#{id}` | `SEQUENCER` |
//! | directory entry (for listing) | `DIRECTORY` | `{id}` |
//! | audit entry (append-only) | `AUDIT#{id}` | `{at in ms, 20 digits}#{uuid}` |
//! | response id guard (+ `number` once numbered) | `RID#{response id}` | `RID` |
//! | email list subscription (+ `confirmed`) | `LIST#{id}` | `S#{subscriber}` |
//! | email list mark (`notified`) | `LIST#{id}` | `NOTIFIED` |
//! | the outcome's mailing progress | `LIST#{id}` | `OUTCOME_MAILING` |
//! | an address mailed version v of the outcome (claimed before sending) | `OUTCOME#{id}#{v}` | `{subscriber}` |
//! | no more mail to an address: it bounced / unsubscribed from a consultation | `STOP#{subscriber}` | `BOUNCED` / `UNSUBSCRIBED#{id}` |
//! | a person's account (the Secretariat's console) | `ACCOUNTS` | `{name}` |
//! | console session (+ `expires`, epoch seconds, for a TTL) | `SESSION#{SHA-256 of its id}` | `SESSION` |
//! | failed sign-ins of a name (+ `version`) | `SIGNIN#{name}` | `THROTTLE` |
//!
//! The list's and the accounts' items live outside `C#…` so that the publish function's stream
//! filter ignores them: subscribing, signing in or managing accounts publishes nothing. The
//! accounts share one partition (a Secretariat has tens of people, not thousands), so listing
//! them is one query.
//!
//! **The write path takes a rush without a hot item or a hot partition.** Receiving a response
//! writes only its own items: the pending item, in one of the pending partitions of its
//! consultation chosen by its id ([`layout`]), and its id guard (one transaction of two puts).
//! Nothing a single response does touches the consultation's counter. The sequencer (one
//! writer per consultation, held to it by a lease on the table, see
//! [`crate::sequencing::numbering`]: the publish function, woken by the stream's `C#…#P…`
//! inserts; locally the host's worker) reads every pending item, oldest first, and numbers
//! them in batches of up to 2,000: one small transaction commits a batch (the count, the
//! lease's token, a record of the batch; the seal is in its condition, so nothing is numbered
//! after it), then batched writes spread over many partitions write it out ([`numbering`]).

mod layout;
mod lease;
pub mod numbering;

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, KeySchemaElement,
    KeyType, Put, ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem,
    Update,
};

use self::layout::Layout;
use crate::domain::account::{Account, AccountName, Session, SessionKey, SignInThrottle};
use crate::domain::{
    AuditEntry, Consultation, ConsultationId, MailStop, NewResponse, OutcomeMailing, Response,
    ResponseId, SubscriberId, Subscription,
};
use crate::ports::{
    Accounts, AppendError, ConsultationRecord, Consultations, Lease, PublicationState, Received,
    Responses, StoreError, Subscriptions,
};

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// The consultations this instance read a moment ago, for intake (see `accepting`).
    recent: std::sync::Mutex<HashMap<ConsultationId, (std::time::Instant, ConsultationRecord)>>,
    /// Held while intake reads a record for `recent`.
    reading_record: tokio::sync::Mutex<()>,
    /// Each consultation's layout, once read (it never changes).
    layouts: std::sync::Mutex<HashMap<ConsultationId, Layout>>,
}

/// How long intake decides on a consultation record it read (per function instance): a rush
/// reads the record once per instance and half-second, not once per response, so no single
/// item is read at the rate responses arrive. Shorter than the notice a deadline change needs
/// ([`crate::domain::consultation::DEADLINE_NOTICE`]), with half a second left for the clocks
/// of the functions to differ: a response accepted on this record is in time under any
/// deadline set since.
const RECORD_FRESH_FOR: Duration = Duration::from_millis(500);
const _: () = assert!(
    RECORD_FRESH_FOR.as_millis() * 2
        <= crate::domain::consultation::DEADLINE_NOTICE.as_millis() as u128
);

/// The stream filter of the publish function matches these: see `infra/template.yaml`.
pub const PUBLICATION_SORT_KEY: &str = "PUBLISHED";
/// The sort key of a consultation's change signal (see `DynamoStore::changed`).
pub const CHANGED_SORT_KEY: &str = "CHANGED";
const META: &str = "META";
const DIRECTORY: &str = "DIRECTORY";
/// Reads of a response's guard and pending item before a lookup gives up (see `lookup`).
const LOOKUP_READS: usize = 5;
/// How long a withdrawal keeps trying while a sequencer holds the lease (which then numbers
/// the response, and the withdrawal finds it numbered): 50 × 200 ms.
const WITHDRAW_ATTEMPTS: usize = 50;
const WITHDRAW_PAUSE: Duration = Duration::from_millis(200);
/// Further tries of a transaction that failed without an answer (beyond the SDK's own retries).
const TRANSACTION_ATTEMPTS: u32 = 4;

pub fn partition_key(id: &ConsultationId) -> String {
    format!("C#{id}")
}

/// The consultation an item of the table belongs to, from its keys (for stream records):
/// its own items and its pending responses (`C#{id}#P{shard}`).
pub fn consultation_of(pk: &str, sk: &str) -> Option<ConsultationId> {
    if sk == PUBLICATION_SORT_KEY {
        return None;
    }
    let id = match pk {
        DIRECTORY => sk,
        _ => pk.strip_prefix("C#")?.split('#').next()?,
    };
    ConsultationId::parse(id).ok()
}

/// Oldest first within a shard: the time of receipt in ms, zero-padded, then the id.
fn pending_sort_key(response: &NewResponse) -> String {
    format!(
        "{:015}#{}",
        millis(response.received_at).max(0),
        response.id
    )
}

/// The distinct consultations named by a batch of stream records' keys, in order.
pub fn consultations_in(
    keys: impl IntoIterator<Item = (String, String)>,
) -> std::collections::BTreeSet<ConsultationId> {
    keys.into_iter()
        .filter_map(|(pk, sk)| consultation_of(&pk, &sk))
        .collect()
}

/// Guards that a response id is stored once (its item names the response's number).
fn id_partition(id: &ResponseId) -> String {
    format!("RID#{id}")
}

const ID_SORT_KEY: &str = "RID";

fn audit_partition(id: &ConsultationId) -> String {
    format!("AUDIT#{id}")
}

fn response_sort_key(number: u64) -> String {
    format!("R#{number:012}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::backend(
            "decoding an item",
            format!("missing string {name}"),
        )),
    }
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::backend("decoding an item", format!("bad number {name}"))),
        None => Ok(0),
        _ => Err(StoreError::backend(
            "decoding an item",
            format!("bad number {name}"),
        )),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding a record", e))
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::backend("decoding a stored record", e))
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

/// Every item a query matches, through all its pages.
async fn all_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    context: impl FnOnce() -> String,
) -> Result<Vec<Item>, StoreError> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .map_err(|e| sdk_error(context(), e))
}

fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            recent: Default::default(),
            reading_record: Default::default(),
            layouts: Default::default(),
        }
    }

    async fn meta(&self, id: &ConsultationId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(partition_key(id), META)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading consultation {id}"), e))?;
        if let Some(item) = &out.item {
            let layout = Layout::of(item)?;
            self.layouts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), layout);
        }
        Ok(out.item)
    }

    /// The consultation's layout: read once per instance (it never changes). A consultation
    /// that does not exist has no items in any layout: the first is as good as any, and is
    /// not remembered.
    async fn layout(&self, id: &ConsultationId) -> Result<Layout, StoreError> {
        let known = self
            .layouts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied();
        match known {
            Some(layout) => Ok(layout),
            None => match self.meta(id).await? {
                Some(item) => Layout::of(&item),
                None => Ok(Layout::FIRST),
            },
        }
    }

    /// The record as every reader sees it: its count is of the numbers written out
    /// (`settled_count`), never one whose items are still being written ([`numbering`]).
    fn record(item: &Item) -> Result<ConsultationRecord, StoreError> {
        Ok(ConsultationRecord {
            consultation: from_json(get_s(item, "data")?)?,
            response_count: numbering::settled_count(item)?,
            version: get_n(item, "version")?,
        })
    }

    /// A progress mark: the count in attribute `name` of the item at `item_key` (0 if unset).
    async fn read_mark(
        &self,
        item_key: Item,
        name: &str,
        context: &str,
    ) -> Result<u64, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(context, e))?;
        out.item.map_or(Ok(0), |item| get_n(&item, name))
    }

    /// Raises a progress mark to `count`; a mark at or past `count` stays (never backwards).
    async fn raise_mark(
        &self,
        item_key: Item,
        name: &str,
        count: u64,
        context: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression("SET #mark = :count")
            .condition_expression("attribute_not_exists(#mark) OR #mark < :count")
            .expression_attribute_names("#mark", name)
            .expression_attribute_values(":count", n(count))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(sdk_error(context, e)),
        }
    }

    /// A put of a new item, refused by DynamoDB if the key exists.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::backend("building a put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The consultation's change signal, written with every change of the Secretariat or the
    /// closing (never by the sequencer): the stream's filter wakes publication on it and on new
    /// pending responses only, so numbering a batch does not invoke publication again.
    fn changed(&self, id: &ConsultationId, version: u64) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(partition_key(id), CHANGED_SORT_KEY);
        item.insert("version".into(), n(version));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::backend("building a put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn audit_item(audit: &AuditEntry) -> Result<Item, StoreError> {
        let sort = format!(
            "{:020}#{}",
            audit.at.as_millisecond().max(0),
            uuid::Uuid::now_v7()
        );
        let mut item = key(audit_partition(&audit.consultation), sort);
        item.insert("data".into(), s(to_json(audit)?));
        Ok(item)
    }

    fn delete(&self, item_key: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::backend("building a delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Writes `items` in one transaction: `Ok(false)` if a condition failed or a concurrent
    /// transaction touched the same items. A failure with no answer is tried again (a few
    /// times, after a pause): every transaction here is conditional, so one that did commit
    /// before its answer was lost fails its condition the second time, and callers read again.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(e)
                    if matches!(
                        e.code(),
                        Some("TransactionCanceledException" | "TransactionConflictException")
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) if attempt < TRANSACTION_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(error = %aws_sdk_dynamodb::Error::from(e), attempt, "a transaction failed; trying again");
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
                Err(e) => return Err(sdk_error("writing a transaction", e)),
            }
        }
    }

    /// The consultation's record as intake decides on it: the one read less than
    /// [`RECORD_FRESH_FOR`] ago if it accepts a response received at `received_at` and its
    /// deadline is still ahead now, else read now. A refusal is always decided on a fresh read
    /// (a deadline moved later, a consultation just created, are seen at once). Before the
    /// deadline the record cannot be sealed (the seal comes after the deadline and the grace,
    /// and a deadline moved closer is at least `DEADLINE_NOTICE` ahead of its change), so the
    /// seal is never missed; after it, every response is decided on a fresh read.
    async fn accepting(
        &self,
        id: &ConsultationId,
        received_at: jiff::Timestamp,
    ) -> Result<ConsultationRecord, AppendError> {
        let recent = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let arrived = std::time::Instant::now();
        if let Some((read_at, record)) = recent().get(id)
            && read_at.elapsed() < RECORD_FRESH_FOR
            && jiff::Timestamp::now() < record.consultation.deadline
            && AppendError::refusal(&record.consultation, received_at).is_none()
        {
            return Ok(record.clone());
        }
        // One read at a time: the requests that found the record stale together (every
        // concurrent request, when the half second runs out) take the one read made after
        // they arrived, which is as fresh as their own would be.
        let _one_read = self.reading_record.lock().await;
        if let Some((read_at, record)) = recent().get(id)
            && *read_at >= arrived
        {
            return Ok(record.clone());
        }
        let read_at = std::time::Instant::now();
        let Some(item) = self.meta(id).await? else {
            return Err(AppendError::NoSuchConsultation(id.clone()));
        };
        let record = Self::record(&item)?;
        recent().insert(id.clone(), (read_at, record.clone()));
        Ok(record)
    }

    /// The guard of a response id: its number once numbered, else where it is pending.
    async fn guard(&self, id: &ResponseId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id_partition(id), ID_SORT_KEY)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("finding response {id}"), e))?;
        Ok(out.item)
    }

    /// A strongly consistent query of one of the consultation's pending partitions.
    fn pending_query(
        &self,
        partition: String,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(partition))
            .consistent_read(true)
    }

    /// Every pending response of the consultation, oldest first (strongly consistent). Each
    /// one's item key follows from it (`Layout::pending_partition`, `pending_sort_key`).
    async fn pending_items(
        &self,
        consultation: &ConsultationId,
    ) -> Result<Vec<NewResponse>, StoreError> {
        let layout = self.layout(consultation).await?;
        let queries = layout
            .pending_partitions(consultation)
            .into_iter()
            .map(|partition| {
                all_items(self.pending_query(partition), move || {
                    format!("reading pending responses of {consultation}")
                })
            });
        let mut pending = Vec::new();
        for items in futures::future::try_join_all(queries).await? {
            for item in items {
                pending.push(from_json::<NewResponse>(get_s(&item, "data")?)?);
            }
        }
        pending.sort_by(|a, b| (a.received_at, a.id.as_str()).cmp(&(b.received_at, b.id.as_str())));
        Ok(pending)
    }
}

/// Names `#number` in a transaction item whose expression uses it.
fn name_number(item: TransactWriteItem) -> TransactWriteItem {
    let uses = |e: Option<&str>| e.is_some_and(|e| e.contains("#number"));
    match item {
        TransactWriteItem {
            update: Some(mut u),
            ..
        } if uses(u.condition_expression()) => {
            u.expression_attribute_names
                .get_or_insert_with(HashMap::new)
                .insert("#number".into(), "number".into());
            TransactWriteItem::builder().update(u).build()
        }
        TransactWriteItem {
            delete: Some(mut d),
            ..
        } if uses(d.condition_expression()) => {
            d.expression_attribute_names
                .get_or_insert_with(HashMap::new)
                .insert("#number".into(), "number".into());
            TransactWriteItem::builder().delete(d).build()
        }
        other => other,
    }
}

#[async_trait]
impl Consultations for DynamoStore {
    async fn create(
        &self,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let id = &consultation.id;
        let mut meta = key(partition_key(id), META);
        meta.insert("data".into(), s(to_json(consultation)?));
        meta.insert("response_count".into(), n(0));
        meta.insert("settled_count".into(), n(0));
        meta.insert("layout".into(), n(Layout::CURRENT));
        meta.insert("version".into(), n(0));
        meta.insert("opens_ms".into(), n(millis(consultation.opens_at)));
        meta.insert("deadline_ms".into(), n(millis(consultation.deadline)));
        let entry = key(DIRECTORY.to_owned(), id.as_str());
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.put_new(meta)?)
            .transact_items(self.put_new(entry)?)
            .transact_items(self.put_new(Self::audit_item(audit)?)?)
            .transact_items(self.changed(id, 0)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("TransactionCanceledException") => {
                Err(StoreError::Conflict(format!("consultation {id}")))
            }
            Err(e) => Err(sdk_error(format!("storing consultation {id}"), e)),
        }
    }

    async fn update(
        &self,
        version: u64,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let id = &consultation.id;
        // Mirrored as an attribute so the append's condition can see it.
        let sealed_at = consultation.closing.as_ref().and_then(|c| c.sealed_at);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(partition_key(id), META)))
            .update_expression(format!(
                "SET #data = :data, opens_ms = :opens, deadline_ms = :deadline, version = :next{}",
                match sealed_at {
                    Some(_) => ", sealed_ms = :sealed",
                    None => " REMOVE sealed_ms",
                }
            ))
            .set_expression_attribute_values(
                sealed_at.map(|at| [(":sealed".to_owned(), n(millis(at)))].into()),
            )
            // A seal waits for the last committed batch to be written out, so the count read
            // after it is every number given (see `numbering`).
            .condition_expression(match sealed_at {
                Some(_) => {
                    "version = :version \
                     AND (attribute_not_exists(settled_count) OR settled_count = response_count)"
                }
                None => "version = :version",
            })
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(to_json(consultation)?))
            .expression_attribute_values(":opens", n(millis(consultation.opens_at)))
            .expression_attribute_values(":deadline", n(millis(consultation.deadline)))
            .expression_attribute_values(":version", n(version))
            .expression_attribute_values(":next", n(version + 1))
            .build()
            .map_err(|e| StoreError::backend("building an update", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(self.put_new(Self::audit_item(audit)?)?)
            .transact_items(self.changed(id, version + 1)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("TransactionCanceledException") => Err(
                StoreError::Conflict(format!("consultation {id} at version {version}")),
            ),
            Err(e) => Err(sdk_error(format!("updating consultation {id}"), e)),
        }
    }

    async fn audit_log(&self, id: &ConsultationId) -> Result<Vec<AuditEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(audit_partition(id)))
            .consistent_read(true);
        let items = all_items(query, || format!("reading the audit log of {id}")).await?;
        items
            .iter()
            .map(|item| from_json(get_s(item, "data")?))
            .collect()
    }

    async fn get(&self, id: &ConsultationId) -> Result<Option<ConsultationRecord>, StoreError> {
        self.meta(id).await?.as_ref().map(Self::record).transpose()
    }

    async fn list(&self) -> Result<Vec<ConsultationRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(DIRECTORY));
        let items = all_items(query, || "listing consultations".to_owned()).await?;
        let mut records = Vec::with_capacity(items.len());
        for item in &items {
            let id = ConsultationId::parse(get_s(item, "sk")?)
                .map_err(|e| StoreError::backend("decoding the directory", e))?;
            if let Some(record) = self.get(&id).await? {
                records.push(record);
            }
        }
        Ok(records)
    }
}

#[async_trait]
impl Responses for DynamoStore {
    /// Receives, then sequences at once (for callers that need the number now: the closing's
    /// tests, tools). Intake receives and lets the sequencer number.
    async fn append(&self, response: NewResponse) -> Result<Response, AppendError> {
        let (consultation, id) = (response.consultation.clone(), response.id.clone());
        if let Received::Numbered(stored) = self.receive(response).await? {
            return Ok(stored);
        }
        for _ in 0..100 {
            self.sequence(&consultation).await?;
            match self.lookup(&consultation, &id).await? {
                Some(Received::Numbered(stored)) => return Ok(stored),
                Some(Received::Pending(_)) => {
                    // Another process's sequencer holds the count: it numbers this one too.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => {
                    let record = self.get(&consultation).await?;
                    return Err(match record {
                        Some(r) if r.consultation.is_sealed() => AppendError::Sealed {
                            deadline: r.consultation.deadline,
                        },
                        _ => StoreError::backend(
                            "appending a response",
                            "it was removed before it was numbered",
                        )
                        .into(),
                    });
                }
            }
        }
        Err(StoreError::backend("appending a response", "still pending").into())
    }

    async fn receive(&self, response: NewResponse) -> Result<Received, AppendError> {
        let id = &response.consultation;
        let record = self.accepting(id, response.received_at).await?;
        if let Some(refused) = AppendError::refusal(&record.consultation, response.received_at) {
            // A repeated delivery of a stored response is that response, not a refusal.
            return Err(match self.lookup(id, &response.id).await? {
                Some(Received::Numbered(existing)) => {
                    AppendError::AlreadyStored(Box::new(existing))
                }
                _ => refused,
            });
        }
        let (pk, sk) = (
            self.layout(id).await?.pending_partition(id, &response.id),
            pending_sort_key(&response),
        );
        let mut pending = key(pk.clone(), sk.clone());
        pending.insert("data".into(), s(to_json(&response)?));
        // The id's guard: a second receive of the same id fails its condition.
        let mut guard = key(id_partition(&response.id), ID_SORT_KEY);
        guard.insert("pending_pk".into(), s(pk));
        guard.insert("pending_sk".into(), s(sk));
        if self
            .transact(vec![self.put_new(pending)?, self.put_new(guard)?])
            .await?
        {
            return Ok(Received::Pending(response));
        }
        match self.lookup(id, &response.id).await? {
            Some(Received::Numbered(existing)) => {
                Err(AppendError::AlreadyStored(Box::new(existing)))
            }
            Some(pending @ Received::Pending(_)) => Ok(pending),
            None => Err(StoreError::backend(
                format!("storing response {} of {id}", response.id),
                "contended: try again",
            )
            .into()),
        }
    }

    async fn sequence(&self, consultation: &ConsultationId) -> Result<u64, StoreError> {
        crate::sequencing::numbering::number_pending(self, consultation).await
    }

    async fn pending(&self, consultation: &ConsultationId) -> Result<Vec<NewResponse>, StoreError> {
        self.pending_items(consultation).await
    }

    /// Reads the guard, then the item it points at. Bounded: a guard that keeps pointing at a
    /// pending item that is gone (numbered or withdrawn between the two reads, or an
    /// inconsistent record) is an error after a few reads, never an unbounded recursion.
    async fn lookup(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Received>, StoreError> {
        for _ in 0..LOOKUP_READS {
            let Some(guard) = self.guard(id).await? else {
                return Ok(None);
            };
            if guard.contains_key("number") {
                return Ok(self
                    .numbered(consultation, id, &guard)
                    .await?
                    .map(Received::Numbered));
            }
            let pending_key = key(
                get_s(&guard, "pending_pk")?.to_owned(),
                get_s(&guard, "pending_sk")?,
            );
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(pending_key))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_error(format!("finding response {id}"), e))?;
            if let Some(item) = out.item {
                let response: NewResponse = from_json(get_s(&item, "data")?)?;
                return Ok(
                    (&response.consultation == consultation).then_some(Received::Pending(response))
                );
            }
            // Numbered or withdrawn between the two reads: read the guard again.
        }
        Err(StoreError::backend(
            format!("finding response {id}"),
            "its guard points at a pending item that is gone",
        ))
    }

    /// Takes back a pending response (see `numbering` on withdrawals): only while no
    /// sequencer holds the lease, whose token it raises, and no committed batch is still being
    /// written out. While a sequencer holds the lease it numbers this response too: the
    /// withdrawal then finds it numbered.
    async fn withdraw(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        for _ in 0..WITHDRAW_ATTEMPTS {
            let Some(guard) = self.guard(id).await? else {
                return Ok(None);
            };
            if guard.contains_key("number") {
                return self.numbered(consultation, id, &guard).await;
            }
            let pending_key = key(
                get_s(&guard, "pending_pk")?.to_owned(),
                get_s(&guard, "pending_sk")?,
            );
            let fence = Update::builder()
                .table_name(&self.table)
                .set_key(Some(lease::SEQUENCER.key(consultation)))
                .update_expression("SET #token = if_not_exists(#token, :zero) + :one")
                .condition_expression("attribute_not_exists(holder) OR expires_ms < :now")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(millis(jiff::Timestamp::now())))
                .build()
                .map_err(|e| StoreError::backend("building an update", e))?;
            let written_out = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(partition_key(consultation), META)))
                .condition_expression(
                    "attribute_not_exists(settled_count) OR settled_count = response_count",
                )
                .build()
                .map_err(|e| StoreError::backend("building a condition check", e))?;
            let items = vec![
                self.delete(pending_key, "attribute_exists(pk)")?,
                name_number(self.delete(
                    key(id_partition(id), ID_SORT_KEY),
                    "attribute_not_exists(#number)",
                )?),
                TransactWriteItem::builder().update(fence).build(),
                TransactWriteItem::builder()
                    .condition_check(written_out)
                    .build(),
            ];
            if self.transact(items).await? {
                return Ok(None);
            }
            tokio::time::sleep(WITHDRAW_PAUSE).await;
        }
        Err(StoreError::backend(
            format!("withdrawing response {id}"),
            "contended: try again",
        ))
    }

    async fn find(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        let Some(guard) = self.guard(id).await? else {
            return Ok(None);
        };
        if !guard.contains_key("number") {
            return Ok(None);
        }
        self.numbered(consultation, id, &guard).await
    }

    /// Callers read up to a record's count, which is of the numbers written out (see
    /// `numbering`): every one of those is there. Above it, a number of a batch being written
    /// out may be there or not yet (its number and content are final either way).
    async fn range(
        &self,
        consultation: &ConsultationId,
        numbers: RangeInclusive<u64>,
    ) -> Result<Vec<Response>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let layout = self.layout(consultation).await?;
        let items = if layout.numbered_in_one_partition() {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                .expression_attribute_values(":pk", s(partition_key(consultation)))
                .expression_attribute_values(":first", s(response_sort_key(*numbers.start())))
                .expression_attribute_values(":last", s(response_sort_key(*numbers.end())))
                .consistent_read(true);
            all_items(query, || format!("listing responses of {consultation}")).await?
        } else {
            let keys = numbers
                .map(|number| {
                    key(
                        layout.numbered_partition(consultation, number),
                        response_sort_key(number),
                    )
                })
                .collect();
            self.batch_get(keys).await?
        };
        let mut responses = items
            .iter()
            .map(numbered_response)
            .collect::<Result<Vec<_>, _>>()?;
        responses.sort_by_key(|r| r.number);
        Ok(responses)
    }
}

fn numbered_response(item: &Item) -> Result<Response, StoreError> {
    Ok(Response {
        number: get_n(item, "number")?,
        response: from_json(get_s(item, "data")?)?,
    })
}

impl DynamoStore {
    /// The numbered response a guard names (in the partition it names; a guard from before
    /// numbered items were spread names none: the consultation's own), if it is response `id`
    /// of `consultation`. A guard's number is written after its item, so the item is there.
    async fn numbered(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
        guard: &Item,
    ) -> Result<Option<Response>, StoreError> {
        let number = get_n(guard, "number")?;
        let partition = match guard.get("numbered_pk") {
            Some(_) => get_s(guard, "numbered_pk")?.to_owned(),
            None => partition_key(consultation),
        };
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(partition, response_sort_key(number))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("finding response {id}"), e))?;
        let Some(item) = out.item else {
            return Err(StoreError::backend(
                format!("finding response {id}"),
                format!("its guard names number {number}, which has no item"),
            ));
        };
        let stored = numbered_response(&item)?;
        Ok(
            (&stored.response.id == id && &stored.response.consultation == consultation)
                .then_some(stored),
        )
    }
}

#[async_trait]
impl PublicationState for DynamoStore {
    async fn published(&self, consultation: &ConsultationId) -> Result<u64, StoreError> {
        self.read_mark(
            key(partition_key(consultation), PUBLICATION_SORT_KEY),
            "published",
            "reading publication state",
        )
        .await
    }

    async fn set_published(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError> {
        self.raise_mark(
            key(partition_key(consultation), PUBLICATION_SORT_KEY),
            "published",
            count,
            "recording publication",
        )
        .await
    }

    async fn take_turn(
        &self,
        consultation: &ConsultationId,
        holder: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        self.take_job(lease::PUBLISHER, consultation, holder, now, until)
            .await
    }

    async fn renew_turn(
        &self,
        turn: &mut Lease,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        self.renew_job(lease::PUBLISHER, turn, until).await
    }

    async fn end_turn(&self, turn: &Lease) -> Result<(), StoreError> {
        self.release_job(lease::PUBLISHER, turn).await
    }
}

fn list_partition(id: &ConsultationId) -> String {
    format!("LIST#{id}")
}

fn subscription_key(consultation: &ConsultationId, subscriber: &SubscriberId) -> Item {
    key(
        list_partition(consultation),
        format!("S#{}", subscriber.as_str()),
    )
}

const NOTIFIED: &str = "NOTIFIED";
const OUTCOME_MAILING: &str = "OUTCOME_MAILING";
const BOUNCED: &str = "BOUNCED";

fn stop_partition(subscriber: &SubscriberId) -> String {
    format!("STOP#{}", subscriber.as_str())
}

fn unsubscribed_sort_key(consultation: &ConsultationId) -> String {
    format!("UNSUBSCRIBED#{consultation}")
}

fn outcome_mail_key(
    consultation: &ConsultationId,
    version: u32,
    subscriber: &SubscriberId,
) -> Item {
    key(
        format!("OUTCOME#{consultation}#{version}"),
        subscriber.as_str(),
    )
}

impl DynamoStore {
    fn subscription_item(subscription: &Subscription) -> Result<Item, StoreError> {
        let mut item = subscription_key(&subscription.consultation, &subscription.subscriber);
        item.insert("data".into(), s(to_json(subscription)?));
        item.insert(
            "confirmed".into(),
            AttributeValue::Bool(subscription.is_confirmed()),
        );
        Ok(item)
    }
}

#[async_trait]
impl Subscriptions for DynamoStore {
    async fn request(&self, subscription: &Subscription) -> Result<Subscription, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::subscription_item(subscription)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(subscription.clone()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => self
                .subscription(&subscription.consultation, &subscription.subscriber)
                .await?
                // Removed between the put and the read: the caller may simply ask again.
                .ok_or_else(|| {
                    StoreError::backend("storing a subscription", "changed concurrently")
                }),
            Err(e) => Err(sdk_error("storing a subscription", e)),
        }
    }

    async fn subscription(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<Option<Subscription>, StoreError> {
        self.read_item(
            subscription_key(consultation, subscriber),
            "finding a subscription",
        )
        .await?
        .map(|item| from_json(get_s(&item, "data")?))
        .transpose()
    }

    async fn confirm(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        at: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let Some(mut subscription) = self.subscription(consultation, subscriber).await? else {
            return Ok(false);
        };
        if subscription.is_confirmed() {
            return Ok(true);
        }
        subscription.confirmed_at = Some(at);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::subscription_item(&subscription)?))
            // Only over the pending subscription that was read: never resurrects a removed one,
            // never moves an earlier confirmation.
            .condition_expression("attribute_exists(pk) AND confirmed = :pending")
            .expression_attribute_values(":pending", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(self.subscription(consultation, subscriber).await?.is_some())
            }
            Err(e) => Err(sdk_error("confirming a subscription", e)),
        }
    }

    async fn record_mailed(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        previous: Option<jiff::Timestamp>,
        at: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let Some(subscription) = self.subscription(consultation, subscriber).await? else {
            return Ok(false);
        };
        if subscription.mailed_at != previous {
            return Ok(false);
        }
        let old = Self::subscription_item(&subscription)?;
        let mut mailed = subscription;
        mailed.mailed_at = Some(at);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::subscription_item(&mailed)?))
            // Only over the record that was read: of racing requests, one wins.
            .condition_expression("#data = :old")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(
                ":old",
                old.get("data")
                    .cloned()
                    .unwrap_or(AttributeValue::Null(true)),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("recording a mail to a subscriber", e)),
        }
    }

    async fn remove(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(subscription_key(consultation, subscriber)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("removing a subscription", e))?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn confirmed(
        &self,
        consultation: &ConsultationId,
    ) -> Result<Vec<Subscription>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("confirmed = :yes")
            .expression_attribute_values(":pk", s(list_partition(consultation)))
            .expression_attribute_values(":prefix", s("S#"))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .consistent_read(true);
        all_items(query, || {
            format!("listing the subscribers of {consultation}")
        })
        .await?
        .iter()
        .map(|item| from_json(get_s(item, "data")?))
        .collect()
    }

    async fn notified(&self, consultation: &ConsultationId) -> Result<u64, StoreError> {
        self.read_mark(
            key(list_partition(consultation), NOTIFIED),
            "notified",
            "reading the list's progress",
        )
        .await
    }

    async fn set_notified(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError> {
        self.raise_mark(
            key(list_partition(consultation), NOTIFIED),
            "notified",
            count,
            "recording the list's progress",
        )
        .await
    }

    async fn stop_mail(
        &self,
        subscriber: &SubscriberId,
        stop: &MailStop,
    ) -> Result<(), StoreError> {
        let sort_key = match stop {
            MailStop::Bounced => BOUNCED.to_owned(),
            MailStop::Unsubscribed(consultation) => unsubscribed_sort_key(consultation),
        };
        self.put_item(
            key(stop_partition(subscriber), sort_key),
            "stopping mail to an address",
        )
        .await
    }

    async fn mail_stopped(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        // The address's few stops in one strongly consistent query.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(stop_partition(subscriber)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("reading whether mail is stopped", e))?;
        let unsubscribed = unsubscribed_sort_key(consultation);
        Ok(out
            .items()
            .iter()
            .any(|item| get_s(item, "sk").is_ok_and(|sk| sk == BOUNCED || sk == unsubscribed)))
    }

    async fn outcome_mailing(
        &self,
        consultation: &ConsultationId,
    ) -> Result<OutcomeMailing, StoreError> {
        let item = self
            .read_item(
                key(list_partition(consultation), OUTCOME_MAILING),
                "reading the outcome's mailing",
            )
            .await?;
        match item {
            Some(item) => from_json(get_s(&item, "data")?),
            None => Ok(OutcomeMailing::default()),
        }
    }

    async fn save_outcome_mailing(
        &self,
        consultation: &ConsultationId,
        mailing: &OutcomeMailing,
    ) -> Result<(), StoreError> {
        let mut item = key(list_partition(consultation), OUTCOME_MAILING);
        item.insert("data".into(), s(to_json(mailing)?));
        self.put_item(item, "recording the outcome's mailing").await
    }

    async fn claim_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(outcome_mail_key(consultation, version, subscriber)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("claiming an outcome mail", e)),
        }
    }

    async fn release_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<(), StoreError> {
        self.delete_item(
            outcome_mail_key(consultation, version, subscriber),
            "releasing an outcome mail",
        )
        .await
        .map(|_| ())
    }
}

const ACCOUNTS: &str = "ACCOUNTS";
const SESSION: &str = "SESSION";
const THROTTLE: &str = "THROTTLE";
/// Attempts of a conditional read-modify-write of the sign-in throttle before giving up.
const THROTTLE_ATTEMPTS: usize = 20;

/// An account as stored: its data, with the later of its own last TOTP step and the one a
/// sign-in recorded beside it (`totp_step`, see `use_totp_step`).
fn account_of(item: &Item) -> Result<Account, StoreError> {
    let mut account: Account = from_json(get_s(item, "data")?)?;
    if let Some(AttributeValue::N(raw)) = item.get("totp_step") {
        let used: i64 = raw
            .parse()
            .map_err(|_| StoreError::backend("decoding an account", "bad totp_step"))?;
        account.totp_last_step = account.totp_last_step.max(Some(used));
    }
    Ok(account)
}

fn account_key(name: &AccountName) -> Item {
    key(ACCOUNTS.to_owned(), name.as_str())
}

fn session_key(session: &SessionKey) -> Item {
    key(format!("SESSION#{}", session.as_str()), SESSION)
}

fn throttle_key(name: &AccountName) -> Item {
    key(format!("SIGNIN#{name}"), THROTTLE)
}

impl DynamoStore {
    async fn read_item(&self, item_key: Item, context: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(context, e))?;
        Ok(out.item)
    }

    /// Puts `item`, whatever is there (for items only their own writer changes).
    async fn put_item(&self, item: Item, context: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error(context, e))?;
        Ok(())
    }

    async fn delete_item(&self, item_key: Item, context: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error(context, e))?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    fn session_item(key: &SessionKey, session: &Session) -> Result<Item, StoreError> {
        let mut item = session_key(key);
        item.insert("data".into(), s(to_json(session)?));
        item.insert("expires".into(), n(session.expires_at().as_second()));
        Ok(item)
    }
}

#[async_trait]
impl Accounts for DynamoStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut item = account_key(&account.name);
        item.insert("data".into(), s(to_json(account)?));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::Conflict(format!("account {}", account.name)))
            }
            Err(e) => Err(sdk_error("storing an account", e)),
        }
    }

    async fn account(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        self.read_item(account_key(name), "reading an account")
            .await?
            .as_ref()
            .map(account_of)
            .transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(ACCOUNTS))
            .consistent_read(true);
        all_items(query, || "listing accounts".to_owned())
            .await?
            .iter()
            .map(account_of)
            .collect()
    }

    /// Only the account's data: its last TOTP step, kept beside it (`totp_step`), stays.
    async fn replace_account(&self, account: &Account) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(account_key(&account.name)))
            .update_expression("SET #data = :data")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(to_json(account)?))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("updating an account", e)),
        }
    }

    /// A conditional update of the attribute `totp_step` beside the account's data (a
    /// condition cannot look inside the data); reads take the later of the two.
    async fn use_totp_step(&self, name: &AccountName, step: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(account_key(name)))
            .update_expression("SET totp_step = :step")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(totp_step) OR totp_step < :step)",
            )
            .expression_attribute_values(":step", n(step))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("recording a second factor's use", e)),
        }
    }

    async fn remove_account(&self, name: &AccountName) -> Result<bool, StoreError> {
        self.delete_item(account_key(name), "removing an account")
            .await
    }

    async fn start_session(&self, key: &SessionKey, session: &Session) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::session_item(key, session)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::Conflict("session".into()))
            }
            Err(e) => Err(sdk_error("storing a session", e)),
        }
    }

    async fn session(&self, key: &SessionKey) -> Result<Option<Session>, StoreError> {
        self.read_item(session_key(key), "reading a session")
            .await?
            .map(|item| from_json(get_s(&item, "data")?))
            .transpose()
    }

    async fn touch_session(&self, key: &SessionKey, at: jiff::Timestamp) -> Result<(), StoreError> {
        let Some(mut session) = self.session(key).await? else {
            return Ok(());
        };
        session.last_seen = session.last_seen.max(at);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::session_item(key, &session)?))
            // Never brings back a session ended meanwhile.
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(sdk_error("recording a session's use", e)),
        }
    }

    async fn end_session(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.delete_item(session_key(key), "ending a session")
            .await
            .map(|_| ())
    }

    async fn throttle(&self, name: &AccountName) -> Result<SignInThrottle, StoreError> {
        Ok(self
            .read_item(throttle_key(name), "reading failed sign-ins")
            .await?
            .map(|item| from_json(get_s(&item, "data")?))
            .transpose()?
            .unwrap_or_default())
    }

    async fn record_failure(
        &self,
        name: &AccountName,
        at: jiff::Timestamp,
    ) -> Result<SignInThrottle, StoreError> {
        // Read, apply, and write back only over the version read: a concurrent failure from
        // another instance makes the write fail, and it is read and applied again.
        for _ in 0..THROTTLE_ATTEMPTS {
            let stored = self
                .read_item(throttle_key(name), "reading failed sign-ins")
                .await?;
            let (current, version) = match &stored {
                Some(item) => (
                    from_json::<SignInThrottle>(get_s(item, "data")?)?,
                    Some(get_n(item, "version")?),
                ),
                None => (SignInThrottle::default(), None),
            };
            let next = current.after_failure(at);
            let mut item = throttle_key(name);
            item.insert("data".into(), s(to_json(&next)?));
            item.insert("version".into(), n(version.map_or(0, |v| v + 1)));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item));
            let put = match version {
                Some(v) => put
                    .condition_expression("version = :read")
                    .expression_attribute_values(":read", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(next),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => continue,
                Err(e) => return Err(sdk_error("recording a failed sign-in", e)),
            }
        }
        Err(StoreError::backend(
            "recording a failed sign-in",
            format!("still contended after {THROTTLE_ATTEMPTS} attempts"),
        ))
    }

    async fn clear_failures(&self, name: &AccountName) -> Result<(), StoreError> {
        self.delete_item(throttle_key(name), "forgetting failed sign-ins")
            .await
            .map(|_| ())
    }
}

/// Creates the table if it does not exist (for emulators and first runs); AWS deployments
/// get it from `infra/template.yaml` with the same key schema and stream.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    if client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key_element = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key_element("pk", KeyType::Hash))
        .key_schema(key_element("sk", KeyType::Range))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .expect("stream_enabled is set"),
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(sdk_error(format!("creating table {table}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keys_name_their_consultation() {
        let keys = [
            ("C#net-2027", "META"),
            ("C#net-2027", "R#000000000001"),
            ("C#other-one", "R#000000000002"),
            ("C#skipped", PUBLICATION_SORT_KEY),
            ("DIRECTORY", "third"),
            ("C#NOT VALID", "META"),
        ]
        .map(|(pk, sk)| (pk.to_owned(), sk.to_owned()));
        let ids: Vec<_> = consultations_in(keys)
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(ids, ["net-2027", "other-one", "third"]);
    }
}
