//! What was kept privately for a consultation instead of being published (see
//! `domain::kept`): listed for the Secretariat, each downloadable as it was received. Reading
//! only: nothing here changes, hides or publishes anything.

use super::{AdminError, Secretariat};
use crate::domain::ConsultationId;
use crate::domain::kept::{KeptItem, KeptList, KeptReason};
use crate::ports::{Object, ObjectKey};

impl Secretariat {
    /// What was kept for `id`, at most `per_reason` a reason.
    pub async fn kept(
        &self,
        id: &ConsultationId,
        per_reason: usize,
    ) -> Result<KeptList, AdminError> {
        if self.consultations.get(id).await?.is_none() {
            return Err(AdminError::NotFound(id.clone()));
        }
        let mut list = KeptList::default();
        for reason in KeptReason::ALL {
            let prefix = reason.prefix(id);
            let found = self.private.list(&prefix, None, per_reason + 1).await?;
            if found.len() > per_reason {
                list.more.push(reason);
            }
            list.items
                .extend(found.into_iter().take(per_reason).filter_map(|l| {
                    let name = l.key.as_str().strip_prefix(&prefix)?.to_owned();
                    Some(KeptItem {
                        reason,
                        name,
                        size: l.size,
                        kept_at: l.modified,
                    })
                }));
        }
        Ok(list)
    }

    /// The bytes of `name`, kept for `reason` in `id`, as received; `None` if there is none.
    pub async fn kept_file(
        &self,
        id: &ConsultationId,
        reason: KeptReason,
        name: &str,
    ) -> Result<Option<Object>, AdminError> {
        let Some(key) = reason.key(id, name).and_then(|k| ObjectKey::parse(k).ok()) else {
            return Ok(None);
        };
        Ok(self.private.get(&key).await?)
    }
}
