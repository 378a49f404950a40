//! Which witnesses a checkpoint needs: C2SP tlog-policy (c2sp.org/tlog-policy, repository
//! revision 5ba5ee8).
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Lines may come in any order except that a group or the quorum names only what earlier lines
//! defined; `#` starts a comment line. Names are compared byte for byte, as the specification
//! says; the file must be UTF-8 (which it recommends for any non-ASCII text). Verbatim reads it
//! three times: the publisher (`verbatim serve --witness-policy`) asks each witness that has a
//! URL to cosign, `verbatim verify --policy` accepts a checkpoint only when the quorum is met,
//! and the site publishes it at `/log/policy` so that every reader knows the rule.

use signed_note::{Note, NoteError, VerifierList};

use super::cosignature::CosignatureVerifier;
use crate::transparency::LogVerifier;

/// The limits the specification recommends supporting at least; a policy beyond them is
/// refused rather than slowly evaluated.
pub const MAX_LOGS: usize = 32;
pub const MAX_WITNESSES: usize = 32;
pub const MAX_GROUPS: usize = 32;

/// A policy, checked: every name defined once, groups and the quorum naming what came before.
#[derive(Debug, Clone)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Option<Member>,
    /// The text it was read from, published as is.
    text: String,
}

#[derive(Debug, Clone)]
pub struct PolicyLog {
    pub key: LogVerifier,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PolicyWitness {
    pub name: String,
    pub key: CosignatureVerifier,
    /// Its tlog-witness submission prefix (`<url>/add-checkpoint`), for a log that asks it.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the witness policy, line {line}: {why}")]
pub struct PolicyError {
    pub line: usize,
    pub why: String,
}

/// What a checkpoint's cosignatures amount to under a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Witnesses whose cosignature verifies.
    pub signed: Vec<String>,
    /// Witnesses with no cosignature on it.
    pub missing: Vec<String>,
    /// Witnesses whose cosignature line does not verify (a changed byte, another checkpoint).
    pub invalid: Vec<String>,
    pub quorum_met: bool,
}

impl Policy {
    /// Parses a policy file. Every rule of the specification is checked; the first broken one
    /// is named with its line.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut policy = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
            text: text.to_owned(),
        };
        let mut quorum_line = None;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let fail = |why: String| PolicyError { line, why };
            if let Some(c) = raw.chars().find(|c| c.is_ascii_control() && *c != '\t') {
                return Err(fail(format!(
                    "control character {:#04x} (only tab and newline are allowed)",
                    c as u32
                )));
            }
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some((&keyword, args)) = words.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [vkey] => (vkey, None),
                        [vkey, url] => (vkey, Some(url.to_string())),
                        _ => return Err(fail("expected `log <vkey> [<url>]`".into())),
                    };
                    let key = LogVerifier::parse(vkey)
                        .map_err(|e| fail(format!("the log's key: {e}")))?;
                    if policy
                        .logs
                        .iter()
                        .any(|l| same_key(l.key.as_str(), key.as_str()))
                    {
                        return Err(fail("this log is listed twice".into()));
                    }
                    policy.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [name, vkey] => (name, vkey, None),
                        [name, vkey, url] => (name, vkey, Some(url.to_string())),
                        _ => return Err(fail("expected `witness <name> <vkey> [<url>]`".into())),
                    };
                    policy.check_new_name(name).map_err(fail)?;
                    let key = CosignatureVerifier::parse(vkey)
                        .map_err(|e| fail(format!("witness {name}'s key: {e}")))?;
                    if let Some(other) = policy
                        .witnesses
                        .iter()
                        .find(|w| same_key(w.key.as_str(), key.as_str()))
                    {
                        return Err(fail(format!(
                            "witness {name} has the key of witness {}",
                            other.name
                        )));
                    }
                    policy.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, threshold, members @ ..] = args else {
                        return Err(fail("expected `group <name> all|any|<k> <name>...`".into()));
                    };
                    policy.check_new_name(name).map_err(fail)?;
                    if members.is_empty() {
                        return Err(fail(format!("group {name} has no members")));
                    }
                    let mut resolved = Vec::new();
                    for member in members {
                        let m = policy.member(member).map_err(fail)?;
                        if resolved.contains(&m) {
                            return Err(fail(format!("{member} is listed twice in group {name}")));
                        }
                        resolved.push(m);
                    }
                    let n = resolved.len();
                    let threshold = match *threshold {
                        "all" => n,
                        "any" => 1,
                        k => match parse_decimal(k) {
                            Some(k) if (1..=n).contains(&k) => k,
                            _ => {
                                return Err(fail(format!(
                                    "group {name}: the threshold must be all, any or a number \
                                     from 1 to {n}, not {k:?}"
                                )));
                            }
                        },
                    };
                    policy.groups.push(Group {
                        name: name.to_string(),
                        threshold,
                        members: resolved,
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(fail("expected `quorum <name>`".into()));
                    };
                    if let Some(first) = quorum_line {
                        return Err(fail(format!(
                            "a second quorum (the first is on line {first})"
                        )));
                    }
                    quorum_line = Some(line);
                    policy.quorum = match *name {
                        "none" => None,
                        name => Some(policy.member(name).map_err(fail)?),
                    };
                }
                other => return Err(fail(format!("unknown keyword {other:?}"))),
            }
            if policy.logs.len() > MAX_LOGS
                || policy.witnesses.len() > MAX_WITNESSES
                || policy.groups.len() > MAX_GROUPS
            {
                return Err(fail(format!(
                    "more than {MAX_LOGS} logs, {MAX_WITNESSES} witnesses or {MAX_GROUPS} groups"
                )));
            }
        }
        if quorum_line.is_none() {
            return Err(PolicyError {
                line: text.split('\n').count(),
                why: "no quorum line (write `quorum none` to require no witness)".into(),
            });
        }
        Ok(policy)
    }

    /// The file as it was read: what `/log/policy` publishes.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// Whether `vkey` is one of the policy's logs (the same public key, whatever its name).
    pub fn lists_log(&self, vkey: &str) -> bool {
        self.logs.iter().any(|l| same_key(l.key.as_str(), vkey))
    }

    /// Whether the policy needs any cosignature at all.
    pub fn requires_witnesses(&self) -> bool {
        self.quorum.is_some()
    }

    /// Which witnesses cosigned `checkpoint` (a signed note), and whether that meets the
    /// quorum. The log's own signature is not looked at here (see `open_checkpoint`).
    pub fn verdict(&self, checkpoint: &[u8]) -> Verdict {
        let note = Note::from_bytes(checkpoint).ok();
        let mut verdict = Verdict {
            signed: Vec::new(),
            missing: Vec::new(),
            invalid: Vec::new(),
            quorum_met: false,
        };
        let mut cosigned = vec![false; self.witnesses.len()];
        for (i, witness) in self.witnesses.iter().enumerate() {
            let list = VerifierList::new(vec![Box::new(witness.key.clone())]);
            match note.as_ref().map(|n| n.verify(&list)) {
                Some(Ok(_)) => {
                    cosigned[i] = true;
                    verdict.signed.push(witness.name.clone());
                }
                Some(Err(NoteError::InvalidSignature { .. })) => {
                    verdict.invalid.push(witness.name.clone())
                }
                _ => verdict.missing.push(witness.name.clone()),
            }
        }
        verdict.quorum_met = self.met(&cosigned);
        verdict
    }

    /// Whether the quorum is met when exactly the witnesses marked in `cosigned` cosigned.
    pub fn met(&self, cosigned: &[bool]) -> bool {
        let Some(quorum) = self.quorum else {
            return true;
        };
        // Groups name only earlier groups: one pass in order decides each.
        let mut groups = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let witnessed = group
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(w) => cosigned.get(*w).copied().unwrap_or(false),
                    Member::Group(g) => groups[*g],
                })
                .count();
            groups.push(witnessed >= group.threshold);
        }
        match quorum {
            Member::Witness(w) => cosigned.get(w).copied().unwrap_or(false),
            Member::Group(g) => groups[g],
        }
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("`none` is reserved".into());
        }
        if self.member(name).is_ok() {
            return Err(format!("{name} is defined twice"));
        }
        Ok(())
    }

    fn member(&self, name: &str) -> Result<Member, String> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(format!("{name} is not defined on an earlier line"))
    }
}

/// Two vkeys are the same key if they wrap the same key type and public key, whatever their
/// names and key IDs say.
fn same_key(a: &str, b: &str) -> bool {
    let key = |v: &str| v.rsplit_once('+').map(|(_, k)| k.to_owned());
    key(a).is_some() && key(a) == key(b)
}

fn parse_decimal(s: &str) -> Option<usize> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0')))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transparency::cosignature::CosignerKey;

    fn key(name: &str, seed: u8) -> CosignerKey {
        CosignerKey::from_seed(name, [seed; 32]).unwrap()
    }

    #[test]
    fn the_specifications_example_decides_as_it_says() {
        let keys: Vec<_> = (1..=6).map(|i| key(&format!("w{i}.example"), i)).collect();
        let vk = |i: usize| keys[i].verifier_key();
        let text = format!(
            "# two organisations\nwitness X1 {}\nwitness X2 {}\nwitness X3 {}\n\
             group X-witnesses 2 X1 X2 X3\n\n  witness Y1 {} https://y1.example/\n\
             witness Y2 {}\nwitness\tY3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\
             group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            vk(0),
            vk(1),
            vk(2),
            vk(3),
            vk(4),
            vk(5)
        );
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy.witnesses().len(), 6);
        assert_eq!(
            policy.witnesses()[3].url.as_deref(),
            Some("https://y1.example/")
        );
        let signed = |ws: &[usize]| {
            let mut c = vec![false; 6];
            for w in ws {
                c[*w] = true;
            }
            policy.met(&c)
        };
        assert!(signed(&[0, 1, 3]));
        assert!(signed(&[0, 2, 5]));
        assert!(!signed(&[0, 3, 4, 5]), "one X is not two");
        assert!(!signed(&[0, 1, 2]), "no Y");
        assert!(!signed(&[]));
    }

    #[test]
    fn cosignatures_on_a_note_are_counted_and_a_changed_one_is_named() {
        let (a, b) = (key("a.example", 1), key("b.example", 2));
        let policy = Policy::parse(&format!(
            "witness A {}\nwitness B {}\ngroup both all A B\nquorum both\n",
            a.verifier_key(),
            b.verifier_key()
        ))
        .unwrap();
        let body = "log.example/consultations/c\n3\nq3nG0vvQmHj0mPfDEDh+Nt8oI0Gyz5grnCjcw6m2VHk=\n";
        let log = crate::transparency::LogKey::from_seed("log.example", [9; 32]).unwrap();
        let signed = crate::transparency::checkpoint::sign_note(&log, body).unwrap();
        let with = |lines: &[String]| {
            let mut note = signed.clone();
            for l in lines {
                note.extend_from_slice(l.as_bytes());
            }
            note
        };
        let (line_a, line_b) = (
            a.cosign(body.as_bytes(), 100),
            b.cosign(body.as_bytes(), 200),
        );
        let both = policy.verdict(&with(&[line_a.clone(), line_b.clone()]));
        assert_eq!(both.signed, ["A", "B"]);
        assert!(both.quorum_met);
        let one = policy.verdict(&with(std::slice::from_ref(&line_a)));
        assert_eq!(
            (one.signed.clone(), one.missing.clone()),
            (vec!["A".to_string()], vec!["B".to_string()])
        );
        assert!(!one.quorum_met);
        // A cosignature of another checkpoint, or with a byte changed, does not count.
        let other = b.cosign(
            b"log.example/consultations/c\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            200,
        );
        let forged = policy.verdict(&with(&[line_a, other]));
        assert_eq!(forged.invalid, ["B"]);
        assert!(!forged.quorum_met);
    }

    #[test]
    fn broken_policies_are_refused_with_their_line() {
        let a = key("a.example", 1).verifier_key();
        let b = key("b.example", 2).verifier_key();
        let log = crate::transparency::LogKey::from_seed("log.example", [9; 32]).unwrap();
        let cases = [
            (format!("witness A {a}\n"), 2, "no quorum"),
            (format!("quorum A\nwitness A {a}\n"), 1, "not defined"),
            (
                format!("witness A {a}\nwitness A {b}\nquorum A\n"),
                2,
                "defined twice",
            ),
            (
                format!("witness A {a}\nwitness B {a}\nquorum A\n"),
                2,
                "has the key",
            ),
            (
                format!("witness A {a}\ngroup g 2 A\nquorum g\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {a}\ngroup g 0 A\nquorum g\n"),
                2,
                "threshold",
            ),
            (
                format!("witness A {a}\ngroup g any A A\nquorum g\n"),
                2,
                "twice",
            ),
            (
                format!("witness A {a}\ngroup g any\nquorum g\n"),
                2,
                "no members",
            ),
            (format!("witness none {a}\nquorum none\n"), 1, "reserved"),
            (
                format!("witness A {a}\nquorum A\nquorum none\n"),
                3,
                "second quorum",
            ),
            (
                format!("witness A {}\nquorum A\n", log.verifier_key()),
                1,
                "key",
            ),
            (format!("log {a}\nquorum none\n"), 1, "log's key"),
            (
                "witnes A x\nquorum none\n".to_string(),
                1,
                "unknown keyword",
            ),
            ("quorum none\x0b\n".to_string(), 1, "control"),
        ];
        for (text, line, why) in cases {
            let e = Policy::parse(&text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.why.contains(why), "{text:?}: {e}");
        }
        let none = Policy::parse(&format!("log {}\nquorum none\n", log.verifier_key())).unwrap();
        assert!(!none.requires_witnesses());
        assert!(none.verdict(b"not even a note").quorum_met);
    }
}
