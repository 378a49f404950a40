//! Responses by email (Res. 1344: an announced address, and the Secretariat's email list).

pub mod list;
pub mod message;
pub mod outcome;
pub mod receive;
#[cfg(feature = "embedded")]
pub mod smtp;
