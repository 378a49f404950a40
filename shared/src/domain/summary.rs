//! The counts on the Group's summary page: plain data, computed at closing.

use std::collections::BTreeMap;

use super::Receipt;
use super::similarity::SimilarGroup;

/// Counts for the Group's summary page.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub total: u64,
    pub by_category: BTreeMap<String, u64>,
    pub by_country: BTreeMap<String, u64>,
    pub by_channel: BTreeMap<String, u64>,
    /// Responses received in each hour, Geneva time (`2027-02-28T23`): the days and the rush
    /// before the deadline are read from it. At most one entry an hour of the consultation.
    pub by_hour: BTreeMap<String, u64>,
    /// How many responses answer each question (by its 1-based position), from their
    /// `answer-{k}.txt` files.
    pub answers_by_question: BTreeMap<usize, u64>,
    pub similar: Vec<SimilarGroup>,
}

impl Summary {
    /// Counts one more response.
    pub fn count(&mut self, r: &Receipt) {
        self.total += 1;
        let category = r.category.map_or("not given", |c| c.code());
        *self.by_category.entry(category.to_owned()).or_default() += 1;
        let country = r.country.as_ref().map_or("not given", |c| c.as_str());
        *self.by_country.entry(country.to_owned()).or_default() += 1;
        let channel = serde_json::to_value(r.channel)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *self.by_channel.entry(channel).or_default() += 1;
        for k in r
            .files
            .iter()
            .filter_map(|f| super::answer::question_of_file(&f.name))
        {
            *self.answers_by_question.entry(k).or_default() += 1;
        }
        if let Ok(at) = r.received_at.parse::<jiff::Timestamp>() {
            let hour = at
                .to_zoned_datetime(super::deadline::geneva())
                .strftime("%Y-%m-%dT%H")
                .to_string();
            *self.by_hour.entry(hour).or_default() += 1;
        }
    }

    /// Responses received on each day, Geneva time (`2027-02-28`), in order.
    pub fn by_day(&self) -> BTreeMap<String, u64> {
        let mut days = BTreeMap::new();
        for (hour, count) in &self.by_hour {
            let day = hour.split('T').next().unwrap_or(hour);
            *days.entry(day.to_owned()).or_default() += count;
        }
        days
    }

    /// Responses received in each of the last `hours` hours up to the deadline's hour (Geneva
    /// time), in order, empty hours included: where the rush is.
    pub fn last_hours(&self, deadline: jiff::Timestamp, hours: i64) -> Vec<(String, u64)> {
        let end = deadline.to_zoned_datetime(super::deadline::geneva());
        (0..hours)
            .rev()
            .filter_map(|back| end.checked_sub(jiff::SignedDuration::from_hours(back)).ok())
            .map(|at| {
                let hour = at.strftime("%Y-%m-%dT%H").to_string();
                let count = self.by_hour.get(&hour).copied().unwrap_or(0);
                (hour, count)
            })
            .collect()
    }
}

/// The counts of the responses published so far (for the console while a consultation runs),
/// and whether they stop short of them.
pub struct Tally {
    pub summary: Summary,
    pub published: u64,
    pub truncated: bool,
}

/// A consultation's line in the console's list: what was published, what was kept aside, and
/// when the site last changed for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub published: u64,
    /// Mail sent after the deadline, kept privately.
    pub late: u64,
    /// Everything else kept and not published (early or returned mail, automatic replies,
    /// responses set aside after the seal).
    pub not_published: u64,
    /// Whether either count stops at the most counted (see `secretariat::tally`).
    pub more: bool,
    /// When its list of responses (`responses.json`) was last written.
    pub last_published: Option<jiff::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, ConsultationId, ResponseId};

    fn receipt(at: &str) -> Receipt {
        Receipt {
            consultation: ConsultationId::parse("c-2027").unwrap(),
            id: ResponseId::new(),
            number: 1,
            received_at: at.to_owned(),
            channel: Channel::Web,
            name: "Ada".into(),
            organization: None,
            category: None,
            country: None,
            files: vec![],
            log: None,
        }
    }

    #[test]
    fn responses_are_counted_by_geneva_hour_and_day() {
        let mut summary = Summary::default();
        // 22:30Z on 28 February is 23:30 in Geneva (UTC+1); 23:10Z is already 1 March there.
        for at in [
            "2027-02-28T22:30:00Z",
            "2027-02-28T22:59:59Z",
            "2027-02-28T23:10:00Z",
        ] {
            summary.count(&receipt(at));
        }
        assert_eq!(
            summary.by_hour,
            BTreeMap::from([("2027-02-28T23".into(), 2), ("2027-03-01T00".into(), 1)])
        );
        assert_eq!(
            summary.by_day(),
            BTreeMap::from([("2027-02-28".into(), 2), ("2027-03-01".into(), 1)])
        );
        let deadline: jiff::Timestamp = "2027-02-28T22:59:59.999Z".parse().unwrap();
        assert_eq!(
            summary.last_hours(deadline, 3),
            [
                ("2027-02-28T21".into(), 0),
                ("2027-02-28T22".into(), 0),
                ("2027-02-28T23".into(), 2)
            ]
        );
    }
}
