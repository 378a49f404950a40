//! The counts of what came in so far, for the console while a consultation runs (the public
//! summary page has them from the closing on): the list's line per consultation, and the
//! charts of the published responses, counted from their records. Reading only.

use super::{AdminError, Secretariat};
use crate::domain::kept::KeptReason;
use crate::domain::site_paths;
use crate::domain::summary::{Overview, Tally};
use crate::domain::{ConsultationId, Summary};

/// Responses read from the store per batch.
const BATCH: u64 = 500;

/// The most responses the console counts on a page view: beyond, it says the counts are of
/// the first ones (the summary page, from the closing, counts them all). At 50,000 the console
/// reads about 75 MB of records on AWS in about a hundred queries: a few seconds, a few cents'
/// fraction, for the handful of people who open it.
pub const TALLIED_AT_MOST: u64 = 50_000;

/// The kept items counted for each reason on the console's list, at most.
pub const KEPT_COUNTED_AT_MOST: usize = 1000;

impl Secretariat {
    /// The console list's line for `id`: a read of its publication mark, a listing for each
    /// kind of kept mail, and one of the site's `responses.json`.
    pub async fn overview(&self, id: &ConsultationId) -> Result<Overview, AdminError> {
        let mut overview = Overview {
            published: self.publication.published(id).await?,
            ..Overview::default()
        };
        for reason in KeptReason::ALL {
            let found = self
                .private
                .list(&reason.prefix(id), None, KEPT_COUNTED_AT_MOST + 1)
                .await?;
            overview.more |= found.len() > KEPT_COUNTED_AT_MOST;
            let counted = found.len().min(KEPT_COUNTED_AT_MOST) as u64;
            match reason {
                KeptReason::Late => overview.late += counted,
                _ => overview.not_published += counted,
            }
        }
        let manifest = site_paths::manifest_url(id);
        overview.last_published = self
            .site
            .list(&manifest[1..], None, 1)
            .await?
            .into_iter()
            .find(|l| l.key.as_str() == &manifest[1..])
            .map(|l| l.modified);
        Ok(overview)
    }

    /// Counts the published responses of `id` (at most [`TALLIED_AT_MOST`]).
    pub async fn tally(&self, id: &ConsultationId) -> Result<Tally, AdminError> {
        let published = self.publication.published(id).await?;
        let counted = published.min(TALLIED_AT_MOST);
        let mut summary = Summary::default();
        let mut next = 1;
        while next <= counted {
            let last = counted.min(next + BATCH - 1);
            for response in self.responses.range(id, next..=last).await? {
                summary.count(&response.receipt());
            }
            next = last + 1;
        }
        Ok(Tally {
            summary,
            published,
            truncated: published > counted,
        })
    }
}
