//! The transparency log's parts of the site: the log lines of a receipt, the final checkpoint
//! on a closed consultation's page, and the static "verify a file" page (the browser hashes the
//! file with WebCrypto and checks it against the log; no server is involved).

use maud::{Markup, html};

use crate::domain::site_paths::Edition;
use crate::domain::{ConsultationId, DossierInfo, Receipt};
use crate::i18n::{Catalogue, messages};
use crate::site::layout::{edition_page, interpolate};

use crate::transparency::publish::{VERIFIER_KEY_PATH, checkpoint_key};

/// Where the verify page is (a folder), unprefixed; each language edition has its own.
pub const VERIFY_PATH: &str = "/verify/";
/// Its key in the unprefixed edition (`{lang}/verify/index.html` in the others).
pub const VERIFY_PAGE_KEY: &str = "verify/index.html";

/// Its script: a file of its own, as the site's Content-Security-Policy allows no inline code.
pub const VERIFY_SCRIPT_KEY: &str = "verify/verify.js";
/// Ed25519 for the verify page where the browser's WebCrypto has none (an ES module the page
/// imports only then): @noble/ed25519 1.6.0, audited, vendored (see its first lines).
pub const ED25519_SCRIPT_KEY: &str = "verify/noble-ed25519.js";

pub fn verify_url(edition: Edition, consultation: &ConsultationId) -> String {
    format!("{}?consultation={consultation}", edition.url(VERIFY_PATH))
}

/// The receipt's signed place in the log (HTML receipt page), in the page's language.
pub fn receipt_log(m: &Catalogue, receipt: &Receipt) -> Markup {
    let Some(log) = &receipt.log else {
        return html! {};
    };
    let command = format!(
        "verbatim verify <site> {} --receipt receipt.json",
        receipt.consultation
    );
    html! {
        section aria-labelledby="log" {
            h2 id="log" { (m.t("log_receipt_heading")) }
            p { (interpolate(m.t("log_receipt_text"), &[
                ("index", html! { (log.leaf_index) }),
                ("origin", html! { code { (log.origin) } }),
                ("leaf_hash", html! { code class="sha" { (log.leaf_hash) } }),
                ("key", html! { code { (log.key) } }),
                ("signature", html! { code class="sha" { (log.signature) } }),
            ])) }
            p { (interpolate(m.t("log_receipt_verify"), &[
                ("command", html! { code dir="ltr" { (command) } }),
            ])) }
        }
    }
}

/// The plain-text form of the same, for the email receipt: the signed receipt as JSON, ready
/// to save for `verbatim verify --receipt`.
pub fn receipt_text(receipt: &Receipt) -> String {
    let Some(log) = &receipt.log else {
        return String::new();
    };
    let json = serde_json::to_string_pretty(receipt).unwrap_or_default();
    format!(
        "\nTransparency log: entry {} of {}\n  leaf hash {}\n  signed by {}\n\
         Save the receipt below as receipt.json; `verbatim verify <site> {} --receipt receipt.json`\n\
         proves with it that what is published is what you sent.\n\n{json}\n",
        log.leaf_index, log.origin, log.leaf_hash, log.key, receipt.consultation
    )
}

/// The final checkpoint on a closed consultation's page: "N responses, root hash …", linking
/// the verify page of the page's own language edition.
pub fn dossier_log(
    edition: Edition,
    consultation: &ConsultationId,
    dossier: &DossierInfo,
) -> Markup {
    let Some(root) = &dossier.log_root else {
        return html! {};
    };
    let m = messages(edition.lang);
    html! {
        p class="log" {
            (interpolate(&m.p("log_dossier", dossier.response_count, &[]), &[
                ("root", html! { code class="sha" { (root) } }),
                ("checkpoint", html! { a href={ "/" (checkpoint_key(consultation)) } { (m.t("log_checkpoint_link")) } }),
                ("key", html! { a href={ "/" (VERIFIER_KEY_PATH) } { (m.t("log_key_link")) } }),
                ("check", html! { a href=(verify_url(edition, consultation)) { (m.t("log_check_link")) } }),
            ]))
        }
    }
}

/// The verify page of one language edition (the site's layout: header, language switcher).
pub fn verify_page(edition: Edition) -> String {
    let m = messages(edition.lang);
    let key = html! { a href={ "/" (VERIFIER_KEY_PATH) } dir="ltr" { "/" (VERIFIER_KEY_PATH) } };
    let command = html! { code dir="ltr" { "verbatim verify <site> <consultation>" } };
    edition_page(
        edition,
        VERIFY_PATH,
        m.t("verify_title"),
        html! {
            h1 { (m.t("verify_title")) }
            p { (m.t("verify_intro")) }
            form id="verify"
                data-computing=(m.t("verify_computing"))
                data-altered=(m.t("verify_altered"))
                data-unsigned=(m.t("verify_unsigned"))
                data-absent=(m.t("verify_absent"))
                data-found=(m.t("verify_found"))
                data-found-file=(m.t("verify_found_file"))
                data-failed=(m.t("verify_failed"))
                data-witnesses=(m.t("verify_witnesses"))
                data-log-signed=(m.t("verify_log_signed"))
                data-witness-valid=(m.t("verify_witness_valid"))
                data-witness-missing=(m.t("verify_witness_missing"))
                data-witness-invalid=(m.t("verify_witness_invalid"))
                data-quorum-met=(m.t("verify_quorum_met"))
                data-quorum-unmet=(m.t("verify_quorum_unmet"))
                data-no-witnesses=(m.t("verify_no_witnesses"))
            {
                div class="field" {
                    label for="consultation" { (m.t("verify_consultation")) }
                    input id="consultation" name="consultation" required autocomplete="off" dir="ltr";
                }
                div class="field" {
                    label for="file" { (m.t("verify_file")) }
                    input id="file" name="file" type="file" required;
                }
                p { button type="submit" { (m.t("verify_button")) } }
            }
            div id="result" role="status" aria-live="polite" {}
            div id="vouching" aria-live="polite" {}
            p { (interpolate(m.t("verify_key_note"), &[("key", key), ("command", command)])) }
            script src={ "/" (VERIFY_SCRIPT_KEY) } defer {}
        },
    )
}

/// The verify page's script (served as `/verify/verify.js`).
pub const VERIFY_SCRIPT: &str = include_str!("assets/verify.js");

/// The fallback Ed25519 (served as `/verify/noble-ed25519.js`).
pub const ED25519_SCRIPT: &str = include_str!("assets/noble-ed25519.js");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;

    #[test]
    fn the_verify_page_speaks_each_language_and_hands_its_words_to_the_script() {
        for edition in Edition::all() {
            let page = verify_page(edition);
            let m = messages(edition.lang);
            assert!(page.contains(&format!("lang=\"{}\"", edition.lang.code())));
            assert!(page.contains(&maud::html! { (m.t("verify_title")) }.into_string()));
            for attribute in [
                "computing",
                "altered",
                "unsigned",
                "absent",
                "found",
                "found-file",
                "failed",
                "witnesses",
                "log-signed",
                "witness-valid",
                "witness-missing",
                "witness-invalid",
                "quorum-met",
                "quorum-unmet",
                "no-witnesses",
            ] {
                assert!(
                    page.contains(&format!("data-{attribute}=\"")),
                    "{attribute} in {edition:?}"
                );
            }
            assert!(page.contains(&format!("src=\"/{VERIFY_SCRIPT_KEY}\"")));
        }
        assert!(verify_page(Edition::of(Language::Ar)).contains("dir=\"rtl\""));
    }

    #[test]
    fn the_closed_page_line_counts_in_the_language_and_links_its_own_verify_page() {
        let id = ConsultationId::parse("net-2031").unwrap();
        let dossier = |count| DossierInfo {
            built_at: jiff::Timestamp::UNIX_EPOCH,
            response_count: count,
            size: 1,
            sha256: "00".into(),
            log_root: Some("cm9vdA==".into()),
        };
        let fr = Edition::of(Language::Fr);
        let one = dossier_log(fr, &id, &dossier(1)).into_string();
        assert!(one.contains("1 réponse,"), "{one}");
        assert!(
            one.contains("href=\"/fr/verify/?consultation=net-2031\""),
            "{one}"
        );
        let many = dossier_log(fr, &id, &dossier(5)).into_string();
        assert!(many.contains("5 réponses,"), "{many}");
        let ru = dossier_log(Edition::of(Language::Ru), &id, &dossier(5)).into_string();
        assert!(ru.contains("5 ответов,"), "{ru}");
    }
}
