//! Leases on DynamoDB: one item per one-writer job of a consultation, beside its record and
//! outside the stream's filter — the sequencer's (`C#{id}/SEQUENCER`) and the publication's
//! turn (`C#{id}/PUBLISHER`). Taken by a conditional `UpdateItem` (nobody holds it, or its
//! holder let it expire), which raises the item's token; renewed and let go only by the token
//! that took it.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::{
    DynamoStore, TRANSACTION_ATTEMPTS, get_n, key, millis, n, partition_key, s, sdk_error,
};
use crate::domain::ConsultationId;
use crate::ports::{Lease, StoreError};

/// A one-writer job of a consultation: the sort key of its lease item, and its name in errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct Job {
    pub sort_key: &'static str,
    pub name: &'static str,
}

pub(super) const SEQUENCER: Job = Job {
    sort_key: "SEQUENCER",
    name: "the sequencer's lease",
};

pub(super) const PUBLISHER: Job = Job {
    sort_key: "PUBLISHER",
    name: "the publication's turn",
};

impl Job {
    pub fn key(self, consultation: &ConsultationId) -> super::Item {
        key(partition_key(consultation), self.sort_key)
    }
}

impl DynamoStore {
    pub(super) async fn take_job(
        &self,
        job: Job,
        consultation: &ConsultationId,
        holder: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(job.key(consultation)))
            .update_expression(
                "SET holder = :me, expires_ms = :until, #token = if_not_exists(#token, :zero) + :one",
            )
            .condition_expression("attribute_not_exists(holder) OR expires_ms < :now")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":me", s(holder))
            .expression_attribute_values(":until", n(millis(until)))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let token = out
                    .attributes
                    .as_ref()
                    .map(|a| get_n(a, "token"))
                    .transpose()?
                    .ok_or_else(|| StoreError::backend(job.name, "no token returned"))?;
                Ok(Some(Lease {
                    consultation: consultation.clone(),
                    holder: holder.to_owned(),
                    token,
                    expires_at: until,
                }))
            }
            // Held by another; or a transaction is checking the lease right now: held all the
            // same.
            Err(e)
                if matches!(
                    e.code(),
                    Some("ConditionalCheckFailedException" | "TransactionConflictException")
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(
                format!("taking {} of {consultation}", job.name),
                e,
            )),
        }
    }

    pub(super) async fn renew_job(
        &self,
        job: Job,
        lease: &mut Lease,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        // A renewal can meet only the holder's own transactions, which are not running
        // meanwhile; a conflict (another taker's write in flight) is tried again.
        for _ in 0..TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(job.key(&lease.consultation)))
                .update_expression("SET expires_ms = :until")
                .condition_expression("#token = :token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":until", n(millis(until)))
                .expression_attribute_values(":token", n(lease.token))
                .send()
                .await;
            match result {
                Ok(_) => {
                    lease.expires_at = until;
                    return Ok(true);
                }
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => return Ok(false),
                Err(e) if e.code() == Some("TransactionConflictException") => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    return Err(sdk_error(
                        format!("renewing {} of {}", job.name, lease.consultation),
                        e,
                    ));
                }
            }
        }
        Ok(false)
    }

    pub(super) async fn release_job(&self, job: Job, lease: &Lease) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(job.key(&lease.consultation)))
            .update_expression("REMOVE holder SET expires_ms = :zero")
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":token", n(lease.token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Taken over meanwhile, or a taker's write in flight: it is not ours to let go.
            Err(e)
                if matches!(
                    e.code(),
                    Some("ConditionalCheckFailedException" | "TransactionConflictException")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(
                format!("letting go of {} of {}", job.name, lease.consultation),
                e,
            )),
        }
    }
}
