//! Verbatim: open public consultations whose responses are received on time and published
//! exactly as sent (ITU Council Resolution 1344).
//!
//! `domain` is the pure core; `ports` are the traits it needs from storage; `adapters`
//! implement them (embedded and AWS); `intake` and `publish` are the use cases; `http` holds
//! one router per function; `backend` wires a storage choice into all of them.

pub mod adapters;
pub mod backend;
pub mod closing;
pub mod domain;
pub mod dossier;
pub mod email;
pub mod http;
pub mod intake;
pub mod ports;
pub mod publish;
pub mod records;
pub mod secretariat;
pub mod spool;
pub mod transparency;
pub mod uploads;
pub mod views;

pub use backend::{AwsNames, Backend, MailSettings};
