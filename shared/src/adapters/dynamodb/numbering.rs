//! The sequencer's writes on DynamoDB: the lease, then each batch committed by a small
//! transaction and written out after it.
//!
//! **Commit.** A batch of up to [`Numbering::MAX_BATCH`] pending responses is numbered by one
//! transaction of three items, whatever its size: the count on the record (`response_count`
//! from the value read to the value after the batch; `settled_count` must equal the value
//! read, so an earlier batch is written out first; not sealed), the lease's token, and a
//! **batch record** naming the pending item of each number in order (`B#{first number}`, in
//! the numbered partition of that number). That transaction is the commit point: from it on,
//! the numbers are given.
//!
//! **Writing out** (settling), after the commit, in parallel batched writes spread over many
//! partitions (`BatchWriteItem`, 25 items a request): each numbered item
//! (`R#{n}` in partition [`Layout::numbered_partition`]), then each id guard with its number
//! (so a guard naming a number always finds its item), then the pending items' removal, then
//! `settled_count` raised to the batch's end. Every step can be repeated with the same
//! result, so a holder that stops midway (a crash, a timeout) leaves a batch the next holder
//! finishes from its record before it reads anything pending ([`Numbering::finish_committed`]):
//! a pending item the batch names that is still there is written out again; one that is gone
//! was written out whole (its removal is its last step).
//!
//! **Readers** see only what is written out: a record's count is `settled_count`, so
//! publication, the dossier and the closing never meet a number whose item is not there yet.
//! The closing's seal requires `settled_count = response_count` in its condition.
//!
//! **Withdrawals.** Intake takes back a response it stored too late (past the in-flight
//! grace) only when no sequencer holds the lease, and raises the lease's token as it does
//! (`DynamoStore::withdraw`): a sequencer that read the response as pending and commits
//! afterwards is fenced out by the token; one that committed first has given it a number,
//! and the withdrawal then finds it numbered (stored and acknowledged after all).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    ConditionCheck, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, Update,
    WriteRequest,
};
use futures::{StreamExt, TryStreamExt};

use super::layout::Layout;
use super::lease::SEQUENCER;
use super::{
    DynamoStore, ID_SORT_KEY, Item, META, from_json, get_n, get_s, id_partition, key, n,
    partition_key, pending_sort_key, response_sort_key, s, sdk_error, to_json,
};
use crate::domain::{ConsultationId, NewResponse};
use crate::ports::{ConsultationRecord, Lease, Numbering, StoreError};

/// The sort key of the batch record whose first number is `first`.
fn batch_sort_key(first: u64) -> String {
    format!("B#{first:012}")
}

/// `BatchWriteItem` takes at most 25 items a request, `BatchGetItem` 100 keys.
const WRITE_CHUNK: usize = 25;
pub(super) const READ_CHUNK: usize = 100;
/// Requests of one batch's writing out in flight at once: 2,000 responses are 80 requests a
/// step, so a step is about two round trips.
const IN_FLIGHT: usize = 48;
/// Tries of a batched request whose items DynamoDB left unprocessed (throttled) or that met a
/// transaction on one of its items: 20 ms, 40 ms, … up to about 5 s in all.
const UNPROCESSED_ATTEMPTS: u32 = 8;

#[async_trait]
impl Numbering for DynamoStore {
    /// Bounded by the batch record (a line of about 53 bytes a response, under DynamoDB's
    /// 400 KB an item) and by the time a batch takes to be written out, which its lease must
    /// cover: 2,000 responses are about 240 batched requests.
    const MAX_BATCH: usize = 2_000;

    async fn take_lease(
        &self,
        consultation: &ConsultationId,
        holder: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        self.take_job(SEQUENCER, consultation, holder, now, until)
            .await
    }

    async fn renew_lease(
        &self,
        lease: &mut Lease,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        self.renew_job(SEQUENCER, lease, until).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.release_job(SEQUENCER, lease).await
    }

    async fn any_pending(&self, consultation: &ConsultationId) -> Result<bool, StoreError> {
        let layout = self.layout(consultation).await?;
        let queries = layout
            .pending_partitions(consultation)
            .into_iter()
            .map(|partition| self.pending_query(partition).limit(1).send());
        for out in futures::future::join_all(queries).await {
            let out = out.map_err(|e| {
                sdk_error(format!("reading pending responses of {consultation}"), e)
            })?;
            if out.count() > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn finish_committed(&self, lease: &Lease) -> Result<u64, StoreError> {
        let id = &lease.consultation;
        let Some(meta) = self.meta(id).await? else {
            return Ok(0);
        };
        let (count, settled) = (get_n(&meta, "response_count")?, settled_count(&meta)?);
        if settled >= count {
            return Ok(0);
        }
        let layout = Layout::of(&meta)?;
        let first = settled + 1;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                layout.numbered_partition(id, first),
                batch_sort_key(first),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading batch {first} of {id}"), e))?;
        let record = out.item.ok_or_else(|| {
            StoreError::backend(
                format!("finishing batch {first} of {id}"),
                "numbers were given without their batch record",
            )
        })?;
        let entries: Vec<&str> = get_s(&record, "entries")?.lines().collect();
        if entries.len() as u64 != count - settled {
            return Err(StoreError::backend(
                format!("finishing batch {first} of {id}"),
                format!(
                    "its record names {} responses, the count gave {}",
                    entries.len(),
                    count - settled
                ),
            ));
        }
        // Each entry is a pending item's sort key, `{received ms}#{response id}`; its partition
        // follows from the id.
        let mut keys = Vec::with_capacity(entries.len());
        for entry in &entries {
            let response = entry
                .split_once('#')
                .and_then(|(_, id)| crate::domain::ResponseId::parse(id))
                .ok_or_else(|| {
                    StoreError::backend(
                        format!("finishing batch {first} of {id}"),
                        format!("a bad entry {entry:?}"),
                    )
                })?;
            keys.push(key(layout.pending_partition(id, &response), *entry));
        }
        let still_pending = self.batch_get(keys).await?;
        let mut numbered = Vec::new();
        for (number, entry) in (first..).zip(&entries) {
            // Gone: written out whole (its removal is the last step).
            if let Some(item) = still_pending.iter().find(|item| {
                item.get("sk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk == entry)
            }) {
                numbered.push((number, from_json::<NewResponse>(get_s(item, "data")?)?));
            }
        }
        tracing::warn!(consultation = %id, first, last = count, rewritten = numbered.len(), "finishing a batch whose sequencer stopped before writing it out");
        self.write_out(id, layout, &numbered, settled, count)
            .await?;
        Ok(count - settled)
    }

    /// Every one is numbered: its window was checked when it was received, and it may have
    /// been acknowledged since (a deadline moved earlier meanwhile does not take back a
    /// receipt).
    async fn number_batch(
        &self,
        record: &ConsultationRecord,
        lease: &Lease,
        batch: &[NewResponse],
    ) -> Result<bool, StoreError> {
        let id = &record.consultation.id;
        let layout = self.layout(id).await?;
        let (count, next) = (
            record.response_count,
            record.response_count + batch.len() as u64,
        );
        let first = count + 1;
        let entries = batch
            .iter()
            .map(pending_sort_key)
            .collect::<Vec<_>>()
            .join("\n");
        let mut batch_record = key(layout.numbered_partition(id, first), batch_sort_key(first));
        batch_record.insert("entries".into(), s(entries));
        batch_record.insert("last".into(), n(next));
        let commit = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(partition_key(id), META)))
            .update_expression("SET response_count = :next, settled_count = :count")
            .condition_expression(
                "response_count = :count \
                 AND (attribute_not_exists(settled_count) OR settled_count = :count) \
                 AND attribute_not_exists(sealed_ms)",
            )
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":count", n(count))
            .build()
            .map_err(|e| StoreError::backend("building an update", e))?;
        let fence = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(SEQUENCER.key(id)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", n(lease.token))
            .build()
            .map_err(|e| StoreError::backend("building a condition check", e))?;
        let batch_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(batch_record))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::backend("building a put", e))?;
        let committed = self
            .transact(vec![
                TransactWriteItem::builder().update(commit).build(),
                TransactWriteItem::builder().condition_check(fence).build(),
                TransactWriteItem::builder().put(batch_put).build(),
            ])
            .await?;
        if !committed {
            return Ok(false);
        }
        let numbered: Vec<(u64, NewResponse)> = (first..).zip(batch.iter().cloned()).collect();
        self.write_out(id, layout, &numbered, count, next).await?;
        Ok(true)
    }
}

/// The count of numbers whose items are all written: `settled_count`, or on a record from
/// before batches were written out after their commit, `response_count`.
pub(super) fn settled_count(meta: &Item) -> Result<u64, StoreError> {
    if meta.contains_key("settled_count") {
        get_n(meta, "settled_count")
    } else {
        get_n(meta, "response_count")
    }
}

impl DynamoStore {
    /// Writes out committed numbers (see the module's doc): the numbered items, then the
    /// guards, then the pending items' removal, then `settled_count` from `settled` to `last`.
    async fn write_out(
        &self,
        id: &ConsultationId,
        layout: Layout,
        numbered: &[(u64, NewResponse)],
        settled: u64,
        last: u64,
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(numbered.len());
        let mut guards = Vec::with_capacity(numbered.len());
        let mut removals = Vec::with_capacity(numbered.len());
        for (number, response) in numbered {
            let partition = layout.numbered_partition(id, *number);
            let mut item = key(partition.clone(), response_sort_key(*number));
            item.insert("number".into(), n(number));
            item.insert("id".into(), s(response.id.as_str()));
            item.insert("data".into(), s(to_json(response)?));
            items.push(put_request(item)?);
            let mut guard = key(id_partition(&response.id), ID_SORT_KEY);
            guard.insert("number".into(), n(number));
            guard.insert("numbered_pk".into(), s(partition));
            guards.push(put_request(guard)?);
            let pending = key(
                layout.pending_partition(id, &response.id),
                pending_sort_key(response),
            );
            removals.push(
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(pending))
                            .build()
                            .map_err(|e| StoreError::backend("building a delete", e))?,
                    )
                    .build(),
            );
        }
        self.batch_write(items).await?;
        self.batch_write(guards).await?;
        self.batch_write(removals).await?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(partition_key(id), META)))
            .update_expression("SET settled_count = :last")
            .condition_expression("settled_count = :settled AND response_count >= :last")
            .expression_attribute_values(":last", n(last))
            .expression_attribute_values(":settled", n(settled))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Written out by another holder meanwhile (a repeat of the same steps).
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(sdk_error(format!("recording batch {last} of {id}"), e)),
        }
    }

    /// Writes `requests` in requests of 25, [`IN_FLIGHT`] at a time, trying again what
    /// DynamoDB leaves unprocessed.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let chunks: Vec<Vec<WriteRequest>> = requests
            .chunks(WRITE_CHUNK)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        futures::stream::iter(chunks)
            .map(|chunk| self.write_chunk(chunk))
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<()>()
            .await
    }

    async fn write_chunk(&self, mut chunk: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..UNPROCESSED_ATTEMPTS {
            let result = self
                .client
                .batch_write_item()
                .request_items(&self.table, chunk.clone())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                // One of its items is in a transaction right now (a withdrawal that will be
                // refused, see `DynamoStore::withdraw`): these writes are repeatable.
                Err(e) if e.code() == Some("TransactionConflictException") => {
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(7))).await;
                    continue;
                }
                Err(e) => return Err(sdk_error("writing out a numbered batch", e)),
            };
            chunk = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
            if chunk.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt.min(7))).await;
        }
        Err(StoreError::backend(
            "writing out a numbered batch",
            "DynamoDB kept leaving items unprocessed",
        ))
    }

    /// Reads the items at `keys` (strongly consistent), in requests of 100, a few at a time;
    /// keys with no item are left out. In no particular order.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let chunks: Vec<Vec<Item>> = keys.chunks(READ_CHUNK).map(<[Item]>::to_vec).collect();
        let found: Vec<Vec<Item>> = futures::stream::iter(chunks)
            .map(|chunk| self.read_chunk(chunk))
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn read_chunk(&self, mut chunk: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(chunk.len());
        for attempt in 0..UNPROCESSED_ATTEMPTS {
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(chunk))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::backend("building a read", e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| sdk_error("reading items by key", e))?;
            if let Some(mut responses) = out.responses
                && let Some(items) = responses.remove(&self.table)
            {
                found.extend(items);
            }
            chunk = out
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if chunk.is_empty() {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt.min(7))).await;
        }
        Err(StoreError::backend(
            "reading items by key",
            "DynamoDB kept leaving keys unprocessed",
        ))
    }
}

fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    Ok(WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::backend("building a put", e))?,
        )
        .build())
}
