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
    }
}
