//! The interface text of the public site in the six languages of the ITU, one message
//! catalogue (a flat JSON object) per language. The catalogues are compiled in, so a Lambda
//! function needs no files; a test checks that every catalogue has every English key with the
//! same placeholders, so a missing translation is a failing build, not a blank on a page.
//!
//! A message that holds a count has one variant per CLDR plural category of its language,
//! as keys `message#one`, `message#few`… (`#other` always): Arabic needs six, Russian four,
//! Chinese one. [`Catalogue::render`] turns a [`Text`] (a key and typed arguments, as the core
//! raises it) into a sentence.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::LazyLock;

use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use jiff::Timestamp;
use unic_langid::LanguageIdentifier;

use crate::domain::deadline::geneva;
use crate::domain::{Arg, Channel, Language, Text};

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

/// The CLDR cardinal rules of each language.
static PLURAL_RULES: LazyLock<BTreeMap<Language, PluralRules>> = LazyLock::new(|| {
    Language::ALL
        .into_iter()
        .map(|lang| {
            let id: LanguageIdentifier = lang.code().parse().expect("a valid language code");
            let rules = PluralRules::create(id, PluralRuleType::CARDINAL)
                .unwrap_or_else(|e| panic!("no plural rules for {}: {e}", lang.code()));
            (lang, rules)
        })
        .collect()
});

/// The CLDR name of the plural category `count` falls in, in `lang`.
pub fn plural_category(lang: Language, count: u64) -> &'static str {
    match PLURAL_RULES[&lang].select(count) {
        Ok(PluralCategory::ZERO) => "zero",
        Ok(PluralCategory::ONE) => "one",
        Ok(PluralCategory::TWO) => "two",
        Ok(PluralCategory::FEW) => "few",
        Ok(PluralCategory::MANY) => "many",
        Ok(PluralCategory::OTHER) | Err(_) => "other",
    }
}

/// The language a request asks for: `?lang=` if it names one of the six, else the first of
/// the six in `Accept-Language` by preference (`fr-CH, en;q=0.8`), else none (English).
pub fn requested_language(query_lang: Option<&str>, accept: Option<&str>) -> Option<Language> {
    if let Some(lang) = query_lang.and_then(Language::parse) {
        return Some(lang);
    }
    let mut ranked: Vec<(f32, Language)> = accept?
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
            let lang = Language::parse(&primary)?;
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (q > 0.0).then_some((q, lang))
        })
        .collect();
    // Stable: among equal weights the first listed wins.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.first().map(|(_, lang)| *lang)
}

/// English, for logs and for `Display` of the errors that carry a [`Text`]. Here rather than
/// beside `Text`: the domain core names sentences, the catalogues word them.
impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&messages(Language::En).render(self))
    }
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
    /// How a response came in, in this language's words.
    pub fn channel_name(&self, channel: Channel) -> &str {
        self.t(match channel {
            Channel::Web => "mail_channel_web",
            Channel::Api => "mail_channel_api",
            Channel::Email => "mail_channel_email",
        })
    }

    pub fn f(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        fill(self.t(key), args)
    }

    /// The variant of the plural message `key` for `count` (`key#one`, `key#few`…), with
    /// `{count}` and each `{name}` filled in.
    pub fn p(&self, key: &str, count: u64, args: &[(&str, &dyn Display)]) -> String {
        let category = plural_category(self.lang, count);
        let variant = format!("{key}#{category}");
        let chosen = if self.has(&variant) {
            variant
        } else {
            format!("{key}#other")
        };
        let mut all: Vec<(&str, &dyn Display)> = vec![("count", &count)];
        all.extend_from_slice(args);
        self.f(&chosen, &all)
    }

    /// The variants of the plural message `key` as a JSON object by category, for scripts
    /// that pick one with `Intl.PluralRules`.
    pub fn plural_variants(&self, key: &str) -> String {
        let prefix = format!("{key}#");
        let variants: BTreeMap<&str, &str> = self
            .map
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, v.as_str())))
            .collect();
        serde_json::to_string(&variants).expect("strings serialize")
    }

    fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A sentence the core raised, in this language: the plural variant chosen by its first
    /// count, fields named by their labels, instants in Geneva time.
    pub fn render(&self, text: &Text) -> String {
        let (key, args) = match text {
            Text::English(text) => return text.clone(),
            Text::Message { key, args } => (*key, args),
        };
        let values: Vec<(&str, String)> = args
            .iter()
            .map(|(name, arg)| (*name, self.arg(arg)))
            .collect();
        let dyns: Vec<(&str, &dyn Display)> = values
            .iter()
            .map(|(name, value)| (*name, value as &dyn Display))
            .collect();
        let count = args.iter().find_map(|(_, arg)| match arg {
            Arg::Count(n) => Some(*n),
            _ => None,
        });
        match count {
            Some(n) if self.has(&format!("{key}#other")) => self.p(key, n, &dyns),
            _ => self.f(key, &dyns),
        }
    }

    fn arg(&self, arg: &Arg) -> String {
        match arg {
            Arg::Plain(value) => value.clone(),
            Arg::Count(n) => n.to_string(),
            Arg::Field(name) => self.field_label(name).to_owned(),
            Arg::Geneva(at) => self.geneva_time(*at),
            Arg::Utc(at) => at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            Arg::Rfc3339(at) => crate::domain::deadline::rfc3339_geneva(*at),
            Arg::Nested(text) => self.render(text),
        }
    }

    /// The label of a form field as the form shows it; an unknown field by its name.
    /// A field's broken rule, led by the field's label (`Country: must be…`), so the reader
    /// sees which field it is wherever the message is shown.
    pub fn field_rule(&self, field: &str, rule: &Text) -> String {
        self.f(
            "err_field_rule",
            &[
                ("field", &self.field_label(field)),
                ("rule", &self.render(rule)),
            ],
        )
    }

    pub fn field_label<'a>(&'a self, field: &'a str) -> &'a str {
        match field {
            "name" => self.t("field_name"),
            "organization" => self.t("field_organization"),
            "email" => self.t("field_email"),
            "category" => self.t("field_category"),
            "country" => self.t("field_country"),
            "text" => self.t("field_text"),
            "file" | "files" | "uploads" => self.t("field_files"),
            other => other,
        }
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

/// `template` with each `{name}` of `args` replaced by its value, in one pass: a value is
/// never read for placeholders itself (a submitter named `{title}` stays `{title}`), and a
/// `{…}` that names no argument stays as it is.
fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut text = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| (close, value.to_string()))
        });
        match value {
            Some((close, value)) => {
                text.push_str(&value);
                rest = &after[close + 1..];
            }
            None => {
                text.push('{');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text
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

    /// The plural categories whole counts reach in `lang` (CLDR's rules repeat past 1000),
    /// and `other`, which every language has.
    fn categories_needed(lang: Language) -> BTreeSet<&'static str> {
        (0..=1000)
            .map(|n| plural_category(lang, n))
            .chain(["other"])
            .collect()
    }

    fn split(key: &str) -> (&str, Option<&str>) {
        match key.split_once('#') {
            Some((base, category)) => (base, Some(category)),
            None => (key, None),
        }
    }

    #[test]
    fn every_catalogue_has_every_key_with_the_same_placeholders() {
        let english = &messages(Language::En).map;
        let singles: BTreeSet<&str> = english
            .keys()
            .filter(|k| !k.contains('#'))
            .map(String::as_str)
            .collect();
        let counted: BTreeSet<&str> = english
            .keys()
            .filter_map(|k| split(k).1.map(|_| split(k).0))
            .collect();
        assert!(counted.contains("filter_shown") && counted.contains("err_too_many_files"));
        for lang in Language::ALL {
            let catalogue = &messages(lang).map;
            let keys: BTreeSet<&str> = catalogue
                .keys()
                .filter(|k| !k.contains('#'))
                .map(String::as_str)
                .collect();
            assert_eq!(keys, singles, "keys of the {} catalogue", lang.code());
            for key in &singles {
                assert_eq!(
                    placeholders(&catalogue[*key]),
                    placeholders(&english[*key]),
                    "placeholders of {key} in {}",
                    lang.code()
                );
            }
            for text in catalogue.values() {
                assert!(!text.trim().is_empty(), "an empty text in {}", lang.code());
            }
            let needed = categories_needed(lang);
            for base in &counted {
                let has: BTreeSet<&str> = catalogue
                    .keys()
                    .filter(|k| split(k).0 == *base)
                    .filter_map(|k| split(k).1)
                    .collect();
                assert_eq!(has, needed, "plural forms of {base} in {}", lang.code());
                // Every variant says what English says; `{count}` may be implied by the words
                // ("one file", "two files" in Arabic).
                let mut wanted = placeholders(&english[&format!("{base}#other")]);
                for category in &has {
                    let got = placeholders(&catalogue[&format!("{base}#{category}")]);
                    assert!(
                        got.is_subset(&wanted),
                        "{base}#{category} in {}",
                        lang.code()
                    );
                    wanted.remove("{count}");
                    assert!(
                        wanted.is_subset(&got),
                        "{base}#{category} in {} lacks {wanted:?}",
                        lang.code()
                    );
                    wanted.insert("{count}");
                }
            }
            let stray: Vec<_> = catalogue
                .keys()
                .filter(|k| k.contains('#') && !counted.contains(split(k).0))
                .collect();
            assert!(stray.is_empty(), "{stray:?} in {}", lang.code());
            assert_eq!(
                catalogue["months"].split('|').count(),
                12,
                "months in {}",
                lang.code()
            );
        }
    }

    #[test]
    fn each_language_needs_its_own_plural_categories() {
        let names = |lang| categories_needed(lang).into_iter().collect::<Vec<_>>();
        assert_eq!(
            names(Language::Ar),
            ["few", "many", "one", "other", "two", "zero"]
        );
        assert_eq!(names(Language::Ru), ["few", "many", "one", "other"]);
        assert_eq!(names(Language::En), ["one", "other"]);
        assert_eq!(names(Language::Fr), ["one", "other"]);
        assert_eq!(names(Language::Es), ["one", "other"]);
        assert_eq!(names(Language::Zh), ["other"]);
    }

    #[test]
    fn counts_take_their_plural_form() {
        let fr = messages(Language::Fr);
        let shown =
            |m: &Catalogue, n: u64| m.p("filter_shown", n, &[("shown", &n), ("total", &40)]);
        assert_eq!(shown(fr, 1), "1 réponse sur 40 correspond dans cette page.");
        assert_eq!(shown(fr, 0), "0 réponse sur 40 correspond dans cette page.");
        assert_eq!(
            shown(fr, 2),
            "2 réponses sur 40 correspondent dans cette page."
        );
        let en = messages(Language::En);
        assert_eq!(en.p("bytes", 1, &[]), "1 byte");
        assert_eq!(en.p("bytes", 0, &[]), "0 bytes");
        let ru = messages(Language::Ru);
        assert_eq!(ru.p("bytes", 1, &[]), "1 байт");
        assert_eq!(ru.p("bytes", 3, &[]), "3 байта");
        assert_eq!(ru.p("bytes", 11, &[]), "11 байт");
        assert_eq!(ru.p("bytes", 22, &[]), "22 байта");
        let ar = messages(Language::Ar);
        assert_eq!(ar.p("bytes", 2, &[]), "بايتان");
        assert_eq!(ar.p("bytes", 5, &[]), "5 بايتات");
        assert_eq!(ar.p("bytes", 15, &[]), "15 بايتًا");
        assert_eq!(ar.p("bytes", 100, &[]), "100 بايت");
        assert_eq!(messages(Language::Zh).p("bytes", 1, &[]), "1 字节");
    }

    #[test]
    fn scripts_get_every_variant_as_json() {
        let variants: BTreeMap<String, String> =
            serde_json::from_str(&messages(Language::Ru).plural_variants("filter_shown")).unwrap();
        let names: Vec<_> = variants.keys().map(String::as_str).collect();
        assert_eq!(names, ["few", "many", "one", "other"]);
    }

    #[test]
    fn errors_render_in_each_language_with_their_arguments() {
        let closed = Text::with(
            "err_closed",
            [
                (
                    "deadline",
                    Arg::Geneva("2027-02-28T22:59:59.999Z".parse().unwrap()),
                ),
                ("utc", Arg::Utc("2027-02-28T22:59:59.999Z".parse().unwrap())),
            ],
        );
        assert_eq!(
            messages(Language::En).render(&closed),
            "the consultation closed at 28 February 2027, 23:59 Geneva time (UTC+01:00) \
             (2027-02-28 22:59:59 UTC); responses are no longer accepted"
        );
        assert_eq!(
            messages(Language::Fr).render(&closed),
            "la consultation a été close le 28 février 2027, 23:59, heure de Genève (UTC+01:00) \
             (2027-02-28 22:59:59 UTC) ; les réponses ne sont plus acceptées"
        );
        let too_many = Text::with("err_too_many_files", [("count", Arg::count(1u64))]);
        assert_eq!(
            messages(Language::Es).render(&too_many),
            "una respuesta puede incluir como máximo 1 archivo"
        );
        let twice = Text::with("err_field_twice", [("field", Arg::field("country"))]);
        assert_eq!(
            messages(Language::Ru).render(&twice),
            "поле «Страна» указано дважды"
        );
        let nested = Text::with(
            "err_unsupported_file",
            [
                ("file", Arg::plain("a.exe")),
                (
                    "reason",
                    Arg::Nested(Box::new(Text::key("err_content_unknown"))),
                ),
            ],
        );
        assert!(
            messages(Language::Zh)
                .render(&nested)
                .starts_with("a.exe：其内容为无法识别类型的二进制数据。")
        );
        assert_eq!(
            messages(Language::Ar).render(&Text::english("as given")),
            "as given"
        );
    }

    #[test]
    fn the_requested_language_comes_from_the_query_then_accept_language() {
        assert_eq!(
            requested_language(Some("fr"), Some("ru")),
            Some(Language::Fr)
        );
        assert_eq!(
            requested_language(Some("xx"), Some("ru")),
            Some(Language::Ru)
        );
        assert_eq!(
            requested_language(None, Some("de-CH, es;q=0.5, zh-Hans;q=0.8")),
            Some(Language::Zh)
        );
        assert_eq!(
            requested_language(None, Some("fr-CH, en;q=0.9")),
            Some(Language::Fr)
        );
        assert_eq!(requested_language(None, Some("de, ar;q=0")), None);
        assert_eq!(requested_language(None, Some("*")), None);
        assert_eq!(requested_language(None, None), None);
    }

    #[test]
    fn catalogues_are_translated_not_copied() {
        let english = messages(Language::En);
        for lang in Language::ALL.into_iter().filter(|l| *l != Language::En) {
            let other = messages(lang);
            for key in [
                "form_heading",
                "submit",
                "field_name",
                "responses_empty",
                "err_name_required",
                "err_closed",
                "filter_shown#other",
            ] {
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

    #[test]
    fn placeholders_are_filled_once_and_never_from_a_value() {
        let args: [(&str, &dyn Display); 2] = [("name", &"{title}"), ("title", &"Internet")];
        assert_eq!(fill("{name} on {title}", &args), "{title} on Internet");
        assert_eq!(fill("{unknown} {name}", &args), "{unknown} {title}");
        assert_eq!(fill("{ {name}} {", &args), "{ {title}} {");
        assert_eq!(fill("", &args), "");
    }
}
