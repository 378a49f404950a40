//! The domain core: consultations, the deadline rule, responses and what may be stored.
//! Pure types and functions, no I/O, so every rule is unit-tested on its own.

pub mod account;
pub mod answer;
pub mod audit;
pub mod consultation;
pub mod country;
pub mod deadline;
pub mod kept;
pub mod limits;
pub mod media;
pub mod outcome;
pub mod response;
pub mod schema;
pub mod similarity;
pub mod site_paths;
pub mod subscription;
pub mod summary;
pub mod text;
pub mod upload;

pub use audit::{Action, Actor, AuditEntry};
pub use consultation::*;
pub use response::*;
pub use subscription::{
    EmailAddress, MailStop, MailingStage, OutcomeMailing, SubscriberId, Subscription,
    SubscriptionToken,
};
pub use summary::Summary;
pub use text::{Arg, Text};
pub use upload::UploadId;

/// A field a person sent that breaks a rule; the message says how to fix it, in any language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: Text,
}

impl ValidationError {
    /// A rule whose message exists in English only (the Secretariat's API).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: Text::English(message.into()),
        }
    }

    /// A rule a stakeholder may break, with its message from the catalogues.
    pub fn text(field: impl Into<String>, message: Text) -> Self {
        Self {
            field: field.into(),
            message,
        }
    }
}
