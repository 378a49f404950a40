//! The console against the real binary: `verbatim admin add-user` with the password on standard
//! input while `serve` runs on the same data folder, then signing in over HTTP and acting as
//! that person, who is named in the audit log.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{TOKEN, open_consultation, start};

fn admin(args: &[&str], data: &std::path::Path, stdin: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("admin")
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0")
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn cookie_of(reply: &reqwest::Response, name: &str) -> String {
    reply
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_person_added_on_the_command_line_signs_in_and_is_named_in_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    open_consultation(&http, &server.url, "console-e2e").await;

    // While serve runs on the same folder.
    let (ok, out) = admin(
        &["add-user", "ada", "--admin"],
        dir.path(),
        "correct horse battery\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = admin(&["add-user", "ada"], dir.path(), "correct horse battery\n");
    assert!(!ok && out.contains("taken"), "{out}");
    let (ok, out) = admin(&["add-user", "bob"], dir.path(), "too short\n");
    assert!(!ok && out.contains("at least 12 characters"), "{out}");
    let (ok, out) = admin(&["remove-user", "nobody"], dir.path(), "");
    assert!(!ok && out.contains("no account nobody"), "{out}");

    let form = http
        .get(format!("{}/admin/sign-in", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let sign_in_cookie = cookie_of(&form, "verbatim_sign_in");
    let token = sign_in_cookie.split_once('=').unwrap().1.to_owned();
    let origin = server.url.clone();
    let signed_in = http
        .post(format!("{}/admin/sign-in", server.url))
        .header(reqwest::header::COOKIE, &sign_in_cookie)
        .header(reqwest::header::ORIGIN, &origin)
        .form(&[
            ("name", "ada"),
            ("password", "correct horse battery"),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = cookie_of(&signed_in, "verbatim_session");

    let list = http
        .get(format!("{}/admin/", server.url))
        .header(reqwest::header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let html = list.text().await.unwrap();
    assert!(html.contains("/admin/consultations/console-e2e"), "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    let moved = http
        .post(format!(
            "{}/admin/consultations/console-e2e/deadline",
            server.url
        ))
        .header(reqwest::header::COOKIE, &session)
        .header(reqwest::header::ORIGIN, &origin)
        .form(&[
            ("meeting_date", "2099-06-30"),
            ("reason", "the meeting moved"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 303, "{}", moved.text().await.unwrap());
    let audit: serde_json::Value = http
        .get(format!(
            "{}/api/admin/consultations/console-e2e/audit",
            server.url
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[1]["by"], "ada", "{audit}");

    // Removing the account on the command line ends the session at once.
    let (ok, out) = admin(&["remove-user", "ada"], dir.path(), "");
    assert!(ok, "{out}");
    let after = http
        .get(format!("{}/admin/", server.url))
        .header(reqwest::header::COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
}
