//! Which consultations' publication keeps failing, and when each is tried again.
//!
//! A consultation whose publication fails is retried with a growing pause (2 s, 4 s, … up to
//! five minutes), so a fault that does not go away costs little and never holds up the other
//! consultations; the failures are logged and shown by the host's health route, so an operator
//! sees them without reading every log line.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::ConsultationId;

/// The first pause after a failure; each further failure doubles it, up to [`MAX_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_secs(2);
pub const MAX_PAUSE: Duration = Duration::from_secs(5 * 60);

/// The pause before the next attempt after `failures` failures in a row (at least one).
pub fn pause_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_PAUSE.saturating_mul(1 << doublings).min(MAX_PAUSE)
}

/// One consultation whose publication is failing, as the health route shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FailingPublication {
    pub consultation: ConsultationId,
    /// Failures in a row since the last success.
    #[schema(minimum = 1)]
    pub failures: u32,
    #[schema(value_type = String, format = DateTime)]
    pub first_failed_at: Timestamp,
    pub last_error: String,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
}

#[derive(Debug)]
struct Failing {
    shown: FailingPublication,
    next_attempt: Instant,
}

/// The failing consultations of one process (the local host's publication worker).
#[derive(Debug, Default)]
pub struct PublicationHealth {
    failing: Mutex<BTreeMap<ConsultationId, Failing>>,
}

impl PublicationHealth {
    /// Whether `consultation` is waiting out its pause at `now` (a request for it then is
    /// left to the retry already planned).
    pub fn is_pausing(&self, consultation: &ConsultationId, now: Instant) -> bool {
        self.lock()
            .get(consultation)
            .is_some_and(|f| now < f.next_attempt)
    }

    /// Records a failure and returns the pause before the next attempt.
    pub fn failed(
        &self,
        consultation: &ConsultationId,
        error: String,
        now: Instant,
        at: Timestamp,
    ) -> Duration {
        let mut failing = self.lock();
        let failures = failing.get(consultation).map_or(0, |f| f.shown.failures) + 1;
        let pause = pause_after(failures);
        let first_failed_at = failing
            .get(consultation)
            .map_or(at, |f| f.shown.first_failed_at);
        let next_attempt_at = at
            .checked_add(jiff::SignedDuration::try_from(pause).unwrap_or_default())
            .unwrap_or(at);
        tracing::error!(
            consultation = %consultation,
            failures,
            retry_in_s = pause.as_secs(),
            error = %error,
            "publication failed; retrying after a pause"
        );
        failing.insert(
            consultation.clone(),
            Failing {
                shown: FailingPublication {
                    consultation: consultation.clone(),
                    failures,
                    first_failed_at,
                    last_error: error,
                    next_attempt_at,
                },
                next_attempt: now + pause,
            },
        );
        pause
    }

    /// Records a success: the consultation is healthy again.
    pub fn succeeded(&self, consultation: &ConsultationId) {
        if let Some(was) = self.lock().remove(consultation) {
            tracing::info!(
                consultation = %consultation,
                failures = was.shown.failures,
                "publication recovered"
            );
        }
    }

    /// The failing consultations, by id.
    pub fn failing(&self) -> Vec<FailingPublication> {
        self.lock().values().map(|f| f.shown.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConsultationId, Failing>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_five_minutes() {
        let pauses: Vec<u64> = (1..=10).map(|n| pause_after(n).as_secs()).collect();
        assert_eq!(pauses, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(pause_after(u32::MAX), MAX_PAUSE);
    }

    #[test]
    fn a_failing_consultation_pauses_and_recovers_alone() {
        let health = PublicationHealth::default();
        let (bad, good) = (
            ConsultationId::parse("bad").unwrap(),
            ConsultationId::parse("good").unwrap(),
        );
        let now = Instant::now();
        let at = Timestamp::UNIX_EPOCH;
        assert_eq!(health.failed(&bad, "boom".into(), now, at), FIRST_PAUSE);
        assert_eq!(
            health.failed(&bad, "boom again".into(), now, at),
            FIRST_PAUSE * 2
        );
        assert!(health.is_pausing(&bad, now + Duration::from_secs(3)));
        assert!(!health.is_pausing(&bad, now + Duration::from_secs(4)));
        assert!(!health.is_pausing(&good, now));
        let shown = health.failing();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].failures, 2);
        assert_eq!(shown[0].last_error, "boom again");
        assert_eq!(
            shown[0].next_attempt_at,
            at + jiff::SignedDuration::from_secs(4)
        );
        health.succeeded(&bad);
        assert!(health.failing().is_empty());
        assert!(!health.is_pausing(&bad, now));
    }
}
