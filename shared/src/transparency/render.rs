//! The transparency log's parts of the site: the log lines of a receipt, the final checkpoint
//! on a closed consultation's page, and the static "verify a file" page (the browser hashes the
//! file with WebCrypto and checks it against the log; no server is involved).

use maud::{DOCTYPE, Markup, html};

use crate::domain::{ConsultationId, DossierInfo, Receipt};

use super::publish::{VERIFIER_KEY_PATH, checkpoint_key};

/// Where the verify page is published (a folder: `/verify/`).
pub const VERIFY_PAGE_KEY: &str = "verify/index.html";

/// Its script: a file of its own, as the site's Content-Security-Policy allows no inline code.
pub const VERIFY_SCRIPT_KEY: &str = "verify/verify.js";

pub fn verify_url(consultation: &ConsultationId) -> String {
    format!("/verify/?consultation={consultation}")
}

/// The receipt's signed place in the log (HTML receipt page).
pub fn receipt_log(receipt: &Receipt) -> Markup {
    let Some(log) = &receipt.log else {
        return html! {};
    };
    html! {
        section aria-labelledby="log" {
            h2 id="log" { "Signed receipt" }
            p {
                "Your response is entry " (log.leaf_index) " of the consultation's public transparency log "
                code { (log.origin) } ". Its leaf hash is " code class="sha" { (log.leaf_hash) }
                ", signed by the log's key " code { (log.key) } ": "
                code class="sha" { (log.signature) } "."
            }
            p {
                "Save the JSON form of this receipt (the API returns it) and run "
                code { "verbatim verify <site> " (receipt.consultation) " --receipt receipt.json" }
                " to prove that what was published is what you sent."
            }
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

/// The final checkpoint on a closed consultation's page: "N responses, root hash …".
pub fn dossier_log(consultation: &ConsultationId, dossier: &DossierInfo) -> Markup {
    let Some(root) = &dossier.log_root else {
        return html! {};
    };
    html! {
        p class="log" {
            "Transparency log: " (dossier.response_count) " responses, root hash "
            code class="sha" { (root) } " ("
            a href={ "/" (checkpoint_key(consultation)) } { "signed checkpoint" } ", "
            a href={ "/" (VERIFIER_KEY_PATH) } { "verifier key" } "; also in the dossier). "
            a href=(verify_url(consultation)) { "Check a file you downloaded" } "."
        }
    }
}

/// The static verify page.
pub fn verify_page(stylesheet: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Verify a file" }
                link rel="stylesheet" href={ "/" (stylesheet) };
            }
            body {
                main id="main" {
                    h1 { "Verify a file" }
                    p {
                        "Choose a file you downloaded from a consultation. Your browser computes its SHA-256 "
                        "and checks it against the consultation's transparency log: every entry bundle is "
                        "read, hashed (RFC 6962) and the root compared with the signed checkpoint. "
                        "Nothing is uploaded."
                    }
                    form id="verify" {
                        p {
                            label for="consultation" { "Consultation" }
                            " "
                            input id="consultation" name="consultation" required autocomplete="off";
                        }
                        p {
                            label for="file" { "File" }
                            " "
                            input id="file" name="file" type="file" required;
                        }
                        p { button type="submit" { "Verify" } }
                    }
                    div id="result" role="status" aria-live="polite" {}
                    p {
                        "The checkpoint is signed with the key published at "
                        a href={ "/" (VERIFIER_KEY_PATH) } { (VERIFIER_KEY_PATH) }
                        "; "
                        code { "verbatim verify <site> <consultation>" }
                        " also checks that signature and every published file."
                    }
                }
                script src={ "/" (VERIFY_SCRIPT_KEY) } defer {}
            }
        }
    }
    .into_string()
}

/// The verify page's script (served as `/verify/verify.js`).
pub const VERIFY_SCRIPT: &str = r#"
"use strict";
const form = document.getElementById("verify");
const result = document.getElementById("result");
const params = new URLSearchParams(location.search);
if (params.get("consultation")) document.getElementById("consultation").value = params.get("consultation");
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const sha = (bytes) => crypto.subtle.digest("SHA-256", bytes);
const concat = (...parts) => { const n = parts.reduce((s, p) => s + p.length, 0); const out = new Uint8Array(n); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
async function root(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1; while (k * 2 < leaves.length) k *= 2;
  return new Uint8Array(await sha(concat(Uint8Array.of(1), await root(leaves.slice(0, k)), await root(leaves.slice(k)))));
}
function path(n) { let s = String(n % 1000).padStart(3, "0"); while (n >= 1000) { n = Math.floor(n / 1000); s = "x" + String(n % 1000).padStart(3, "0") + "/" + s; } return s; }
function say(text, ok) { result.textContent = text; result.className = ok ? "ok" : "problem"; }
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = document.getElementById("consultation").value.trim();
  const file = document.getElementById("file").files[0];
  if (!id || !file) return;
  say("Computing the SHA-256 of " + file.name + "…", true);
  try {
    const digest = hex(await sha(await file.arrayBuffer()));
    const base = "/consultations/" + encodeURIComponent(id) + "/log/";
    const checkpoint = await (await fetch(base + "checkpoint")).text();
    const lines = checkpoint.split("\n");
    const size = Number(lines[1]);
    const signedRoot = lines[2];
    const leaves = [];
    const found = [];
    for (let n = 0; n * 256 < size; n++) {
      const width = Math.min(256, size - n * 256);
      const url = base + "tile/entries/" + path(n) + (width < 256 ? ".p/" + width : "");
      const response = await fetch(url);
      if (!response.ok) throw new Error("missing " + url);
      const bundle = new Uint8Array(await response.arrayBuffer());
      for (let o = 0; o < bundle.length;) {
        const len = (bundle[o] << 8) | bundle[o + 1];
        const entry = bundle.slice(o + 2, o + 2 + len);
        o += 2 + len;
        leaves.push(new Uint8Array(await sha(concat(Uint8Array.of(0), entry))));
        const record = JSON.parse(new TextDecoder().decode(entry));
        for (const f of record.files) if (f.sha256 === digest) found.push([record.number, f.name, f.size]);
      }
    }
    if (leaves.length !== size) throw new Error("the log's entry bundles do not hold " + size + " entries");
    const computed = btoa(String.fromCharCode(...(await root(leaves))));
    if (computed !== signedRoot) { say("The log's entries do not hash to the signed root (" + signedRoot + "): the log was altered.", false); return; }
    if (found.length === 0) { say("SHA-256 " + digest + ": no file of the " + size + " logged responses has these bytes. The file differs from every published one.", false); return; }
    say("SHA-256 " + digest + " is in the log, whose " + size + " entries hash to the signed root " + signedRoot + ": " +
        found.map(([n, name, bytes]) => "response " + n + ", " + name + " (" + bytes + " bytes)").join("; ") + ". This file is exactly as received.", true);
  } catch (error) {
    say("Could not verify: " + error.message, false);
  }
});
"#;
