//! Records in one DynamoDB table. Every item of a consultation shares its partition key, so the
//! table's stream delivers a consultation's changes in order to the publish function.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | consultation (+ `response_count`) | `C#{id}` | `META` |
//! | response number n | `C#{id}` | `R#{n:012}` |
//! | publication mark | `C#{id}` | `PUBLISHED` |
//! | directory entry (for listing) | `DIRECTORY` | `{id}` |
//! | audit entry (append-only) | `AUDIT#{id}` | `{at in ms, 20 digits}#{uuid}` |
//! | response id guard (+ `number`) | `RID#{response id}` | `RID` |
//! | email list subscription (+ `confirmed`) | `LIST#{id}` | `S#{subscriber}` |
//! | email list mark (`notified`) | `LIST#{id}` | `NOTIFIED` |
//!
//! The list's items live outside `C#…` so that the publish function's stream filter ignores
//! them: subscribing publishes nothing.
//!
//! An append is one transaction: bump `response_count` from the value read (with the deadline
//! check in the same condition) and put the response item if absent. Conflicts retry, so
//! numbers stay consecutive under any concurrency.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem, Update,
};
use rand::Rng;

use crate::domain::{
    AuditEntry, Consultation, ConsultationId, NewResponse, Response, ResponseId, SubscriberId,
    Subscription,
};
use crate::ports::{
    AppendError, ConsultationRecord, Consultations, PublicationState, Responses, StoreError,
    Subscriptions,
};

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The stream filter of the publish function matches these: see `infra/template.yaml`.
pub const PUBLICATION_SORT_KEY: &str = "PUBLISHED";
const META: &str = "META";
const DIRECTORY: &str = "DIRECTORY";
/// Optimistic appends retried this many times before giving up (each retry means another
/// response got the number first, so progress is always being made).
const APPEND_ATTEMPTS: u32 = 100;

pub fn partition_key(id: &ConsultationId) -> String {
    format!("C#{id}")
}

/// The consultation an item of the table belongs to, from its keys (for stream records).
pub fn consultation_of(pk: &str, sk: &str) -> Option<ConsultationId> {
    if sk == PUBLICATION_SORT_KEY {
        return None;
    }
    let id = match pk {
        DIRECTORY => sk,
        _ => pk.strip_prefix("C#")?,
    };
    ConsultationId::parse(id).ok()
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
        Ok(out.item)
    }

    fn record(item: &Item) -> Result<ConsultationRecord, StoreError> {
        Ok(ConsultationRecord {
            consultation: from_json(get_s(item, "data")?)?,
            response_count: get_n(item, "response_count")?,
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

    /// One attempt at an append: `Ok(None)` if another writer took the number first.
    async fn try_append(
        &self,
        response: &NewResponse,
        data: &str,
    ) -> Result<Option<Response>, AppendError> {
        let id = &response.consultation;
        let Some(item) = self.meta(id).await? else {
            return Err(AppendError::NoSuchConsultation(id.clone()));
        };
        let record = Self::record(&item)?;
        if let Some(refused) = AppendError::refusal(&record.consultation, response.received_at) {
            // A repeated delivery of a stored response is that response, not a refusal.
            return Err(match self.find(id, &response.id).await? {
                Some(existing) => AppendError::AlreadyStored(Box::new(existing)),
                None => refused,
            });
        }
        let number = record.response_count + 1;
        // The seal is checked in the condition too: a seal written after the read above
        // cancels this transaction, so nothing commits into a final set of responses.
        let bump = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(partition_key(id), META)))
            .update_expression("SET response_count = :next")
            .condition_expression(
                "response_count = :count AND opens_ms <= :at AND deadline_ms >= :at \
                 AND attribute_not_exists(sealed_ms)",
            )
            .expression_attribute_values(":next", n(number))
            .expression_attribute_values(":count", n(record.response_count))
            .expression_attribute_values(":at", n(millis(response.received_at)))
            .build()
            .map_err(|e| StoreError::backend("building an update", e))?;
        let mut item = key(partition_key(id), response_sort_key(number));
        item.insert("number".into(), n(number));
        item.insert("id".into(), s(response.id.as_str()));
        item.insert("data".into(), s(data));
        // The id's guard: a second append of the same id fails its condition.
        let mut guard = key(id_partition(&response.id), ID_SORT_KEY);
        guard.insert("number".into(), n(number));
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(bump).build())
            .transact_items(self.put_new(item)?)
            .transact_items(self.put_new(guard)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Response {
                number,
                response: response.clone(),
            })),
            // A condition failed (someone else took the number, or the id is stored already)
            // or a concurrent transaction touched the same items: look, then retry.
            Err(e)
                if matches!(
                    e.code(),
                    Some("TransactionCanceledException" | "TransactionConflictException")
                ) =>
            {
                match self.find(id, &response.id).await? {
                    Some(existing) => Err(AppendError::AlreadyStored(Box::new(existing))),
                    None => Ok(None),
                }
            }
            Err(e) => Err(sdk_error(format!("appending a response to {id}"), e).into()),
        }
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
            .condition_expression("version = :version")
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
    async fn append(&self, response: NewResponse) -> Result<Response, AppendError> {
        let data = to_json(&response)?;
        for attempt in 0..APPEND_ATTEMPTS {
            if let Some(stored) = self.try_append(&response, &data).await? {
                return Ok(stored);
            }
            // Jittered back-off so racing writers spread out.
            let ceiling = 5 + 5 * u64::from(attempt.min(20));
            let pause = rand::rng().random_range(1..=ceiling);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Err(StoreError::backend(
            "appending a response",
            format!("still contended after {APPEND_ATTEMPTS} attempts"),
        )
        .into())
    }

    async fn find(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        let guard = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id_partition(id), ID_SORT_KEY)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("finding response {id}"), e))?;
        let Some(guard) = guard.item else {
            return Ok(None);
        };
        let number = get_n(&guard, "number")?;
        let found = self.range(consultation, number..=number).await?;
        Ok(found.into_iter().find(|r| &r.response.id == id))
    }

    async fn range(
        &self,
        consultation: &ConsultationId,
        numbers: RangeInclusive<u64>,
    ) -> Result<Vec<Response>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(partition_key(consultation)))
            .expression_attribute_values(":first", s(response_sort_key(*numbers.start())))
            .expression_attribute_values(":last", s(response_sort_key(*numbers.end())))
            .consistent_read(true);
        let items = all_items(query, || format!("listing responses of {consultation}")).await?;
        items
            .iter()
            .map(|item| {
                Ok(Response {
                    number: get_n(item, "number")?,
                    response: from_json(get_s(item, "data")?)?,
                })
            })
            .collect()
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
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(subscription_key(consultation, subscriber)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("finding a subscription", e))?;
        out.item
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
