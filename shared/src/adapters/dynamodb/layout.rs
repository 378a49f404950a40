//! Where a consultation's responses live in the table: how many partitions take its pending
//! responses and how many its numbered ones.
//!
//! DynamoDB gives each partition about 1,000 write units a second. A rush on one consultation
//! must therefore spread its writes: the pending responses over [`Layout::pending_shards`]
//! partitions chosen by the response id, the numbered responses over
//! [`Layout::numbered_spread`] partitions chosen by the number (so that a range of numbers is
//! read back by key, `BatchGetItem`, without a query per partition). The layout is fixed when
//! the consultation is created and named on its record (`layout`), so every process computes
//! the same keys without asking, and a consultation created by an older version keeps the
//! layout it was written with.

use crate::domain::{ConsultationId, ResponseId};
use crate::ports::StoreError;

use super::{Item, get_n, partition_key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Partitions `C#{id}#P{shard:02}` taking the pending responses.
    pending_shards: u8,
    /// Partitions taking the numbered responses and the batch records: 1 is the
    /// consultation's own partition `C#{id}`; more are `C#{id}#R{number mod spread:02}`.
    numbered_spread: u8,
}

impl Layout {
    /// Consultations created before the layout was named (no `layout` on the record): 16
    /// pending partitions, every numbered response in `C#{id}` (about 250 a second numbered).
    pub const FIRST: Layout = Layout {
        pending_shards: 16,
        numbered_spread: 1,
    };
    /// Consultations created since (`layout` 2): 64 and 64. At 10,000 responses a second a
    /// pending partition then takes about 470 write units a second (a put of about 1 KB in a
    /// transaction, 2 units, and its removal, 1) and a numbered one about 160: under half of
    /// DynamoDB's 1,000 each (see docs/write-path.md).
    pub const SPREAD: Layout = Layout {
        pending_shards: 64,
        numbered_spread: 64,
    };
    /// The value of `layout` on the record of a consultation created now.
    pub const CURRENT: u64 = 2;

    /// The layout named on a consultation's record.
    pub fn of(meta: &Item) -> Result<Layout, StoreError> {
        match get_n(meta, "layout")? {
            0 | 1 => Ok(Self::FIRST),
            2 => Ok(Self::SPREAD),
            other => Err(StoreError::backend(
                "reading a consultation's layout",
                format!("layout {other} is newer than this version knows"),
            )),
        }
    }

    /// The partition of a pending response: one of the pending shards, by its id.
    pub fn pending_partition(&self, consultation: &ConsultationId, id: &ResponseId) -> String {
        let hash = id
            .as_str()
            .bytes()
            .fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
        pending_shard(consultation, hash % self.pending_shards)
    }

    /// Every pending partition of the consultation.
    pub fn pending_partitions(&self, consultation: &ConsultationId) -> Vec<String> {
        (0..self.pending_shards)
            .map(|shard| pending_shard(consultation, shard))
            .collect()
    }

    /// The partition of numbered response `number` (and of the batch record whose first
    /// number it is).
    pub fn numbered_partition(&self, consultation: &ConsultationId, number: u64) -> String {
        match self.numbered_spread {
            0 | 1 => partition_key(consultation),
            spread => format!("C#{consultation}#R{:02}", number % u64::from(spread)),
        }
    }

    /// Whether every numbered response is in the consultation's own partition (a range is
    /// then one query).
    pub fn numbered_in_one_partition(&self) -> bool {
        self.numbered_spread <= 1
    }
}

fn pending_shard(consultation: &ConsultationId, shard: u8) -> String {
    format!("C#{consultation}#P{shard:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_layout_keeps_the_keys_it_was_written_with() {
        let c = ConsultationId::parse("net-2027").unwrap();
        let id = ResponseId::parse("0190f6c2-5f4e-7d3a-9b1c-2d3e4f5a6b7c").unwrap();
        let shard = Layout::FIRST.pending_partition(&c, &id);
        assert!(Layout::FIRST.pending_partitions(&c).contains(&shard));
        assert_eq!(Layout::FIRST.numbered_partition(&c, 12345), "C#net-2027");
        assert_eq!(Layout::FIRST.pending_partitions(&c).len(), 16);
    }

    #[test]
    fn the_spread_layout_spreads_numbers_and_ids() {
        let c = ConsultationId::parse("net-2027").unwrap();
        let partitions: std::collections::BTreeSet<_> = (1..=1000)
            .map(|n| Layout::SPREAD.numbered_partition(&c, n))
            .collect();
        assert_eq!(partitions.len(), 64);
        assert_eq!(Layout::SPREAD.numbered_partition(&c, 65), "C#net-2027#R01");
        let shards: std::collections::BTreeSet<_> = (0..2000)
            .map(|i| {
                let id = ResponseId::parse(&uuid::Uuid::from_u128(i * 7_919).to_string()).unwrap();
                Layout::SPREAD.pending_partition(&c, &id)
            })
            .collect();
        assert_eq!(shards.len(), 64, "every pending partition takes ids");
    }
}
