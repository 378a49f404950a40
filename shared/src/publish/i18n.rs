//! The interface text of the public site in the six languages of the ITU, one message
//! catalogue (a flat JSON object) per language. The catalogues are compiled in, so a Lambda
//! function needs no files; a test checks that every catalogue has every English key with the
//! same placeholders, so a missing translation is a failing build, not a blank on a page.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::LazyLock;

use jiff::Timestamp;

use crate::domain::Language;
use crate::domain::deadline::geneva;

const SOURCES: [(Language, &str); 6] = [
    (Language::Ar, include_str!("messages/ar.json")),
    (Language::En, include_str!("messages/en.json")),
    (Language::Es, include_str!("messages/es.json")),
    (Language::Fr, include_str!("messages/fr.json")),
    (Language::Ru, include_str!("messages/ru.json")),
    (Language::Zh, include_str!("messages/zh.json")),
];

static CATALOGUES: LazyLock<BTreeMap<Language, Catalogue>> = LazyLock::new(|| {
    SOURCES
        .into_iter()
        .map(|(lang, source)| {
            let map = serde_json::from_str(source).unwrap_or_else(|e| {
                panic!(
                    "the {} message catalogue is not valid JSON: {e}",
                    lang.code()
                )
            });
            (lang, Catalogue { lang, map })
        })
        .collect()
});

/// The interface text in one language.
pub struct Catalogue {
    lang: Language,
    map: BTreeMap<String, String>,
}

/// The catalogue of `lang`.
pub fn messages(lang: Language) -> &'static Catalogue {
    &CATALOGUES[&lang]
}

impl Catalogue {
    pub fn lang(&self) -> Language {
        self.lang
    }

    /// The text for `key`; English if this catalogue lacks it (the tests forbid that), and
    /// nothing, in a release build, for a key no catalogue has.
    pub fn t(&self, key: &str) -> &str {
        self.map
            .get(key)
            .or_else(|| CATALOGUES[&Language::En].map.get(key))
            .map(String::as_str)
            .unwrap_or_else(|| {
                debug_assert!(false, "no message {key:?} in any catalogue");
                ""
            })
    }

    /// The text for `key` with each `{name}` replaced by its value.
    pub fn f(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), &value.to_string());
        }
        text
    }

    /// `28 February 2027, 23:59 Geneva time (UTC+01:00)`, in this language's words.
    pub fn geneva_time(&self, at: Timestamp) -> String {
        let zoned = at.to_zoned_datetime(geneva());
        let month = usize::try_from(zoned.month() - 1).unwrap_or(0);
        let month_name = self.t("months").split('|').nth(month).unwrap_or("");
        self.f(
            "datetime",
            &[
                ("day", &zoned.day()),
                ("month", &month_name),
                ("year", &zoned.year()),
                ("time", &zoned.strftime("%H:%M")),
                ("offset", &zoned.strftime("%:z")),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn placeholders(text: &str) -> BTreeSet<&str> {
        text.match_indices('{')
            .filter_map(|(i, _)| text[i..].find('}').map(|end| &text[i..i + end + 1]))
            .collect()
    }

    #[test]
    fn every_catalogue_has_every_key_with_the_same_placeholders() {
        let english = &messages(Language::En).map;
        for lang in Language::ALL {
            let catalogue = &messages(lang).map;
            let keys: BTreeSet<_> = catalogue.keys().collect();
            let expected: BTreeSet<_> = english.keys().collect();
            assert_eq!(keys, expected, "keys of the {} catalogue", lang.code());
            for (key, text) in english {
                assert_eq!(
                    placeholders(&catalogue[key]),
                    placeholders(text),
                    "placeholders of {key} in {}",
                    lang.code()
                );
                assert!(
                    !catalogue[key].trim().is_empty(),
                    "{key} in {}",
                    lang.code()
                );
            }
            assert_eq!(
                catalogue["months"].split('|').count(),
                12,
                "months in {}",
                lang.code()
            );
        }
    }

    #[test]
    fn catalogues_are_translated_not_copied() {
        let english = messages(Language::En);
        for lang in Language::ALL.into_iter().filter(|l| *l != Language::En) {
            let other = messages(lang);
            for key in ["form_heading", "submit", "field_name", "responses_empty"] {
                assert_ne!(other.t(key), english.t(key), "{key} in {}", lang.code());
            }
        }
    }

    #[test]
    fn geneva_time_in_each_language_keeps_the_offset() {
        let winter: Timestamp = "2027-02-28T22:59:59.999Z".parse().unwrap();
        assert_eq!(
            messages(Language::En).geneva_time(winter),
            "28 February 2027, 23:59 Geneva time (UTC+01:00)"
        );
        assert_eq!(
            messages(Language::Fr).geneva_time(winter),
            "28 février 2027, 23:59, heure de Genève (UTC+01:00)"
        );
        assert_eq!(
            messages(Language::Zh).geneva_time(winter),
            "2027年2月28日 23:59（日内瓦时间，UTC+01:00）"
        );
        let summer: Timestamp = "2027-06-15T21:59:59.999Z".parse().unwrap();
        assert!(
            messages(Language::Ru)
                .geneva_time(summer)
                .ends_with("(UTC+02:00)")
        );
    }

    #[test]
    fn placeholders_are_filled() {
        let m = messages(Language::En);
        assert_eq!(
            m.f("response_title", &[("number", &7), ("name", &"Ada")]),
            "Response 7: Ada"
        );
    }
}
