//! Where things live on the public site. The same keys are used in the site bucket and by the
//! local host, so a URL given in a receipt is valid on both.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::consultation::{ConsultationId, Language};

/// Responses listed per HTML page and per manifest page: bounded, so publishing one more
/// response rewrites a bounded amount, however large the consultation grows.
pub const PAGE_SIZE: u64 = 100;

/// Characters left as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One language version of the site's pages. Each language lives under `/{code}/`; English is
/// also served unprefixed, so the paths published before the site had languages keep working.
/// Files, manifests and dossiers are the same for every language and never prefixed; pages
/// and Atom feeds are written once per edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edition {
    pub lang: Language,
    pub prefixed: bool,
}

impl Edition {
    /// The unprefixed English edition.
    pub const DEFAULT: Edition = Edition {
        lang: Language::En,
        prefixed: false,
    };

    /// The edition of `lang` under `/{code}/`.
    pub fn of(lang: Language) -> Self {
        Self {
            lang,
            prefixed: true,
        }
    }

    /// Every edition the publisher writes: the unprefixed one and one per language.
    pub fn all() -> impl Iterator<Item = Edition> {
        std::iter::once(Self::DEFAULT).chain(Language::ALL.into_iter().map(Self::of))
    }

    /// `path` (an unprefixed site URL starting with `/`) in this edition.
    pub fn url(self, path: &str) -> String {
        if self.prefixed {
            format!("/{}{path}", self.lang.code())
        } else {
            path.to_owned()
        }
    }

    /// An unprefixed site key (no leading slash) in this edition.
    pub fn key(self, key: &str) -> String {
        if self.prefixed {
            format!("{}/{key}", self.lang.code())
        } else {
            key.to_owned()
        }
    }
}

pub fn index_key() -> String {
    "index.html".to_owned()
}

pub fn consultation_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/")
}

/// The HTML page `page` (1-based) of a consultation's responses; page 1 is the consultation page.
pub fn page_url(c: &ConsultationId, page: u64) -> String {
    if page == 1 {
        consultation_url(c)
    } else {
        format!("/consultations/{c}/page/{page}/")
    }
}

pub fn page_key(c: &ConsultationId, page: u64) -> String {
    format!("{}index.html", &page_url(c, page)[1..])
}

/// The manifest's entry point: the consultation, totals, links to every page, and page 1.
pub fn manifest_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/responses.json")
}

pub fn manifest_page_url(c: &ConsultationId, page: u64) -> String {
    format!("/consultations/{c}/manifest/{page}.json")
}

/// Every published file of a closed consultation, for the Group's meeting.
pub fn dossier_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/dossier.zip")
}

pub fn dossier_key(c: &ConsultationId) -> String {
    dossier_url(c)[1..].to_owned()
}

/// The Atom feed of a consultation's latest responses.
pub fn feed_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/feed.atom")
}

/// The Atom feed of every consultation.
pub fn all_feed_url() -> String {
    "/feed.atom".to_owned()
}

/// Counts and near-identical responses, built with the dossier.
pub fn summary_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/summary/")
}

pub fn summary_key(c: &ConsultationId) -> String {
    format!("{}index.html", &summary_url(c)[1..])
}

/// Whether a site key is a consultation's dossier (a download).
pub fn is_dossier(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    matches!(parts.as_slice(), ["consultations", _, "dossier.zip"])
}

/// The public path of a response's file: the URL in receipts and manifests.
pub fn file_url(c: &ConsultationId, number: u64, name: &str) -> String {
    format!(
        "/consultations/{c}/responses/{number}/{}",
        utf8_percent_encode(name, SEGMENT)
    )
}

/// Page `page` of the answers to question `k` (1-based): paged like the responses (page `p`
/// holds the answers of responses `(p - 1) × PAGE_SIZE + 1` to `p × PAGE_SIZE`), so a new
/// response rewrites only the page it lands on.
pub fn question_url(c: &ConsultationId, k: usize, page: u64) -> String {
    if page == 1 {
        format!("/consultations/{c}/questions/{k}/")
    } else {
        format!("/consultations/{c}/questions/{k}/page/{page}/")
    }
}

pub fn question_key(c: &ConsultationId, k: usize, page: u64) -> String {
    format!("{}index.html", &question_url(c, k, page)[1..])
}

/// Every response as one CSV table, derived from the published files.
pub fn csv_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/responses.csv")
}

/// The permanent address of one response: who, when, its files, its log entry, its text.
pub fn response_url(c: &ConsultationId, number: u64) -> String {
    format!("/consultations/{c}/responses/{number}/")
}

/// The response page's key sits beside its folder, not in it (`…/responses/7.html`, served at
/// `…/responses/7/`): the folder holds the files as sent, and one may be named `index.html`.
pub fn response_key(c: &ConsultationId, number: u64) -> String {
    format!("consultations/{c}/responses/{number}.html")
}

/// The key a folder URL is served from: `index.html` inside it, except a response's page (see
/// [`response_key`]). `path` is a decoded URL path without its leading slash, ending in `/`.
pub fn folder_key(path: &str) -> String {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let response_page = match parts.as_slice() {
        ["consultations", _, "responses", n] => n,
        [lang, "consultations", _, "responses", n] if Language::parse(lang).is_some() => n,
        _ => return format!("{path}index.html"),
    };
    if !response_page.is_empty() && response_page.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}.html", path.trim_end_matches('/'))
    } else {
        format!("{path}index.html")
    }
}

/// The text extracted from a response's files: derived, for reading and searching, in its own
/// folder so that no submitted file can take its place.
pub fn extracted_url(c: &ConsultationId, number: u64) -> String {
    format!("/consultations/{c}/extracted/{number}.txt")
}

pub fn extracted_key(c: &ConsultationId, number: u64) -> String {
    extracted_url(c, number)[1..].to_owned()
}

/// The consultation's search page (the index is static, next to it; see [`search_index_prefix`]).
pub fn search_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/search/")
}

pub fn search_key(c: &ConsultationId) -> String {
    format!("{}index.html", &search_url(c)[1..])
}

/// The folder of the consultation's search index (Pagefind's files), with a trailing slash.
pub fn search_index_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/pagefind/")
}

/// The site key prefix of the search index's files.
pub fn search_index_prefix(c: &ConsultationId) -> String {
    search_index_url(c)[1..].to_owned()
}

/// The site key of a response's file (the URL path, decoded, without the leading slash).
pub fn file_key(c: &ConsultationId, number: u64, name: &str) -> String {
    format!("consultations/{c}/responses/{number}/{name}")
}

/// Whether a site key is a submitted file (served as a download, never rendered).
pub fn is_response_file(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    matches!(parts.as_slice(), ["consultations", _, "responses", number, _]
        if number.bytes().all(|b| b.is_ascii_digit()))
}

/// The Group's outcome for a consultation: its latest version, and every earlier one listed.
pub fn outcome_url(c: &ConsultationId) -> String {
    format!("/consultations/{c}/outcome/")
}

pub fn outcome_key(c: &ConsultationId) -> String {
    format!("{}index.html", &outcome_url(c)[1..])
}

/// The site key of a file of the outcome version kept in `folder`.
pub fn outcome_file_key(c: &ConsultationId, folder: &str, name: &str) -> String {
    format!("consultations/{c}/outcome/{folder}/{name}")
}

/// The public path of a file of the outcome version kept in `folder`.
pub fn outcome_file_url(c: &ConsultationId, folder: &str, name: &str) -> String {
    format!(
        "/consultations/{c}/outcome/{folder}/{}",
        utf8_percent_encode(name, SEGMENT)
    )
}

/// The site key of a background document uploaded into `folder`.
pub fn document_file_key(c: &ConsultationId, folder: &str, name: &str) -> String {
    format!("consultations/{c}/documents/{folder}/{name}")
}

/// The public path of a background document.
pub fn document_file_url(c: &ConsultationId, folder: &str, name: &str) -> String {
    format!(
        "/consultations/{c}/documents/{folder}/{}",
        utf8_percent_encode(name, SEGMENT)
    )
}

/// Whether a site key is a file the Secretariat published (an outcome's or a background
/// document): a download, like a response's file.
pub fn is_secretariat_file(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    matches!(parts.as_slice(), ["consultations", _, "outcome" | "documents", folder, name]
        if !folder.is_empty() && !name.is_empty())
}

/// The 1-based page on which response `number` is listed.
pub fn page_of(number: u64) -> u64 {
    (number.max(1) - 1) / PAGE_SIZE + 1
}

pub fn page_count(total: u64) -> u64 {
    total.div_ceil(PAGE_SIZE).max(1)
}

/// Response numbers listed on `page`, given `total` responses.
pub fn page_range(page: u64, total: u64) -> std::ops::RangeInclusive<u64> {
    let first = (page - 1) * PAGE_SIZE + 1;
    first..=(page * PAGE_SIZE).min(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ConsultationId {
        ConsultationId::parse("net-2027").unwrap()
    }

    #[test]
    fn file_urls_are_encoded_and_keys_are_not() {
        assert_eq!(
            file_url(&id(), 7, "Réponse finale (2).pdf"),
            "/consultations/net-2027/responses/7/R%C3%A9ponse%20finale%20%282%29.pdf"
        );
        assert_eq!(
            file_key(&id(), 7, "Réponse finale (2).pdf"),
            "consultations/net-2027/responses/7/Réponse finale (2).pdf"
        );
        assert!(is_response_file("consultations/net-2027/responses/7/a.pdf"));
        assert!(!is_response_file("consultations/net-2027/responses.json"));
        assert!(!is_response_file(
            "consultations/net-2027/page/2/index.html"
        ));
    }

    #[test]
    fn a_response_page_never_takes_the_place_of_a_file() {
        assert_eq!(
            response_key(&id(), 7),
            "consultations/net-2027/responses/7.html"
        );
        assert_eq!(
            folder_key("consultations/net-2027/responses/7/"),
            response_key(&id(), 7)
        );
        assert_eq!(
            folder_key("fr/consultations/net-2027/responses/7/"),
            Edition::of(Language::Fr).key(&response_key(&id(), 7))
        );
        // A file named index.html stays where it was published.
        assert_ne!(
            folder_key("consultations/net-2027/responses/7/"),
            file_key(&id(), 7, "index.html")
        );
        assert!(!is_response_file(&response_key(&id(), 7)));
        assert_eq!(
            folder_key("consultations/net-2027/"),
            "consultations/net-2027/index.html"
        );
        assert_eq!(
            folder_key("xx/consultations/net-2027/responses/7/"),
            "xx/consultations/net-2027/responses/7/index.html"
        );
        assert_eq!(folder_key(""), "index.html");
    }

    #[test]
    fn editions_prefix_pages_with_their_language() {
        let fr = Edition::of(Language::Fr);
        assert_eq!(
            fr.url(&consultation_url(&id())),
            "/fr/consultations/net-2027/"
        );
        assert_eq!(
            fr.key(&page_key(&id(), 2)),
            "fr/consultations/net-2027/page/2/index.html"
        );
        assert_eq!(Edition::DEFAULT.url("/"), "/");
        assert_eq!(Edition::DEFAULT.key(&index_key()), "index.html");
        let all: Vec<_> = Edition::all().collect();
        assert_eq!(all.len(), 7);
        assert!(all.contains(&Edition::of(Language::En)));
        assert!(!is_response_file("fr/consultations/net-2027/index.html"));
    }

    #[test]
    fn pagination() {
        assert_eq!(page_of(1), 1);
        assert_eq!(page_of(100), 1);
        assert_eq!(page_of(101), 2);
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(100), 1);
        assert_eq!(page_count(101), 2);
        assert_eq!(page_range(2, 150), 101..=150);
        assert_eq!(page_range(1, 0).count(), 0);
        assert_eq!(page_key(&id(), 1), "consultations/net-2027/index.html");
        assert_eq!(
            page_key(&id(), 3),
            "consultations/net-2027/page/3/index.html"
        );
    }
}
