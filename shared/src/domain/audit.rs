//! The append-only record of every change to a consultation: who, what, when. Written in the
//! same transaction as the change itself, so the log cannot miss one.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::consultation::{Consultation, ConsultationId};

/// Who made a change: the `secretariat` through the admin API, or the `system` (closing at the
/// deadline, building the dossier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// Through the admin API.
    Secretariat,
    /// Verbatim itself (closing at the deadline).
    System,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Created,
    DeadlineChanged,
    Reopened,
    Closed,
    /// The set of responses became final: nothing more is stored.
    Sealed,
    DossierBuilt,
    /// A version of the Group's outcome was published.
    OutcomePublished,
    /// The description was given or replaced.
    DescriptionChanged,
    /// Background documents were published.
    DocumentsAdded,
    /// The title or the questions were reworded or translated.
    WordingChanged,
}

/// One change to a consultation, in its append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub consultation: ConsultationId,
    pub actor: Actor,
    /// The person behind a Secretariat change, as the deployment knows them: on AWS the IAM
    /// principal whose signature API Gateway checked (its ARN). Absent for Verbatim's own
    /// changes and on the local host, where the admin token is shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub by: Option<String>,
    pub action: Action,
    /// What changed, e.g. the old and new deadline.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// The entry recording that the Secretariat (`by`, when known) opened `c`.
    pub fn created(c: &Consultation, by: Option<String>) -> Self {
        Self {
            at: c.created_at,
            consultation: c.id.clone(),
            actor: Actor::Secretariat,
            by,
            action: Action::Created,
            details: serde_json::json!({
                "opens_at": c.opens_at,
                "deadline": c.deadline,
                "deadline_rule": c.deadline_rule,
                "meeting_date": c.meeting_date,
            }),
        }
    }
}
