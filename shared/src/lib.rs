//! Verbatim: open public consultations whose responses are received on time and published
//! exactly as sent (ITU Council Resolution 1344).
//!
//! The modules depend one way, from the bottom up (`tests/layers.rs` keeps it so):
//! - `domain`: the pure core (consultations, deadlines, responses, receipts, the summary);
//! - `ports`: the traits the use cases need from the outside world; `adapters` implement them
//!   (embedded files + SQLite, S3 + DynamoDB + SES);
//! - `transparency`: the signed log; `i18n`: the six languages' catalogues; `extract`: the
//!   words in a response's files (bounded; PDF in a child process);
//! - `site`: every page, feed and manifest, pure functions of domain data;
//! - the use cases, one folder each: `intake` (responses, uploads, spooling), `sequencing`
//!   (numbering, and keeping what can no longer be numbered), `secretariat`,
//!   `publish`, `search` (the static full-text index), `closing` (and the dossier), `email`
//!   (intake by mail, the list);
//! - `http`: one router per function; `backend`: a storage choice wired into all of them.

pub mod adapters;
pub mod backend;
pub mod closing;
pub mod domain;
pub mod email;
pub mod extract;
pub mod http;
pub mod i18n;
pub mod intake;
pub mod ports;
pub mod publish;
pub mod search;
pub mod secretariat;
pub mod sequencing;
pub mod settings;
pub mod site;
pub mod transparency;
pub mod witness;

pub use backend::Backend;
pub use settings::{AwsNames, MailSettings, Timing, Vars};
