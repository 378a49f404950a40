//! Closing schedules on EventBridge Scheduler: one one-time schedule per consultation, at its
//! deadline in Geneva time, invoking the close function. Moving the deadline moves it.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::domain::ConsultationId;
use crate::domain::deadline::{GENEVA, geneva};
use crate::ports::{CloseScheduler, StoreError};

pub struct EventBridgeScheduler {
    pub client: Client,
    pub group: String,
    /// The close function's ARN.
    pub target_arn: String,
    /// The role the scheduler assumes to invoke it.
    pub role_arn: String,
}

impl EventBridgeScheduler {
    /// Schedules in `names.group` that invoke `names.target_arn` as `names.role_arn`.
    pub fn new(config: &aws_config::SdkConfig, names: &crate::settings::ScheduleNames) -> Self {
        Self {
            client: Client::new(config),
            group: names.group.clone(),
            target_arn: names.target_arn.clone(),
            role_arn: names.role_arn.clone(),
        }
    }
}

/// Schedule names are at most 64 characters; long ids keep a prefix and a digest.
pub fn schedule_name(id: &ConsultationId) -> String {
    let id = id.as_str();
    if id.len() <= 58 {
        return format!("close-{id}");
    }
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    format!("close-{}-{}", &id[..45], &digest[..12])
}

/// `at(…)` in Geneva wall-clock time, rounded up to the next whole second (schedules have no
/// milliseconds, and firing before the deadline would find nothing to close).
pub fn schedule_expression(deadline: Timestamp) -> String {
    let rounded = if deadline.subsec_nanosecond() == 0 {
        deadline
    } else {
        Timestamp::from_second(deadline.as_second()).expect("a valid second")
            + SignedDuration::from_secs(1)
    };
    format!(
        "at({})",
        rounded
            .to_zoned_datetime(geneva())
            .strftime("%Y-%m-%dT%H:%M:%S")
    )
}

#[async_trait]
impl CloseScheduler for EventBridgeScheduler {
    async fn schedule_closing(
        &self,
        consultation: &ConsultationId,
        deadline: Timestamp,
    ) -> Result<(), StoreError> {
        let name = schedule_name(consultation);
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(serde_json::json!({ "consultation": consultation }).to_string())
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(10)
                    .maximum_event_age_in_seconds(3600)
                    .build(),
            )
            .build()
            .map_err(|e| StoreError::backend("building a schedule target", e))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| StoreError::backend("building a schedule window", e))?;
        let expression = schedule_expression(deadline);
        let created = self
            .client
            .create_schedule()
            .name(&name)
            .group_name(&self.group)
            .schedule_expression(&expression)
            .schedule_expression_timezone(GENEVA)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConflictException") => self
                .client
                .update_schedule()
                .name(&name)
                .group_name(&self.group)
                .schedule_expression(&expression)
                .schedule_expression_timezone(GENEVA)
                .flexible_time_window(window)
                .target(target)
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    StoreError::backend(
                        format!("moving schedule {name}"),
                        aws_sdk_scheduler::Error::from(e),
                    )
                }),
            Err(e) => Err(StoreError::backend(
                format!("creating schedule {name}"),
                aws_sdk_scheduler::Error::from(e),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_geneva_time_rounded_up() {
        let deadline: Timestamp = "2027-02-28T22:59:59.999Z".parse().unwrap();
        assert_eq!(schedule_expression(deadline), "at(2027-03-01T00:00:00)");
        let summer: Timestamp = "2027-06-15T10:00:00Z".parse().unwrap();
        assert_eq!(schedule_expression(summer), "at(2027-06-15T12:00:00)");
    }

    #[test]
    fn names_fit_in_64_characters() {
        let short = ConsultationId::parse("net-2027").unwrap();
        assert_eq!(schedule_name(&short), "close-net-2027");
        let long = ConsultationId::parse(&"a".repeat(64)).unwrap();
        let name = schedule_name(&long);
        assert!(name.len() <= 64, "{name}");
        let other = ConsultationId::parse(&format!("{}b", "a".repeat(63))).unwrap();
        assert_ne!(schedule_name(&other), name);
    }
}
