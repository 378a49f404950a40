//! Lambda: closes consultations at their deadline. Invoked by a one-time EventBridge Scheduler
//! schedule per consultation (`{"consultation": "<id>"}`), and by a periodic sweep
//! (`{}`) in case a schedule failed.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::tracing::{self, Instrument};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use shared::closing::Closer;
use shared::domain::ConsultationId;
use shared::ports::{PublishedByStream, SystemClock};
use shared::{AwsNames, Backend, Timing, Vars};

/// A due step this close is waited for within the invocation (the dossier follows the
/// deadline by the in-flight grace); anything later is left to the next sweep.
const WAIT_AT_MOST: Duration = Duration::from_secs(120);
/// How long one invocation keeps coming back (a seal waiting for pending responses looks again
/// every 10 s): inside the function's 300 s timeout, the 5-minute sweep takes over after it.
const RUN_FOR_AT_MOST: Duration = Duration::from_secs(240);

#[derive(Debug, Deserialize)]
struct CloseEvent {
    #[serde(default)]
    consultation: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Started again by itself to read a PDF's text in a bounded child process (for a response
    // whose text publication has not extracted yet when the dossier is built).
    shared::extract::run_if_child();
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_iter(std::env::vars());
    let (names, timing) = (AwsNames::from_vars(&vars)?, Timing::from_vars(&vars)?);
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &names, false)
        .await?
        .with_timing(timing);
    // Pages follow from the table's stream, like every other change.
    let closer = Arc::new(backend.closer(Arc::new(SystemClock), Arc::new(PublishedByStream)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<CloseEvent>| {
        let closer = closer.clone();
        async move { handle(&closer, event.payload).await }
    }))
    .await
}

async fn handle(closer: &Closer, event: CloseEvent) -> Result<(), Error> {
    let Some(raw) = event.consultation else {
        closer.sweep().await?;
        return Ok(());
    };
    let id = ConsultationId::parse(&raw)?;
    let span = tracing::info_span!("close", consultation = %id);
    let started = std::time::Instant::now();
    async {
        while let Some(next) = closer.run(&id).await? {
            let wait = jiff::Timestamp::now().duration_until(next);
            let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
            if wait > WAIT_AT_MOST || started.elapsed() + wait > RUN_FOR_AT_MOST {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};
    use serde_json::json;
    use shared::adapters::scheduler::EventBridgeScheduler;
    use shared::domain::DeadlineRequest;
    use shared::http::admin::AdminToken;
    use shared::ports::ObjectKey;
    use test_support::NoQueue;

    use super::*;

    /// Opening a consultation schedules its closing at the deadline in Geneva time; moving the
    /// deadline moves the schedule; the scheduled event closes it and builds the dossier.
    #[tokio::test]
    async fn schedules_follow_the_deadline_and_their_event_closes() {
        let moto = test_support::moto();
        let backend = moto.fresh_backend("close").await;
        let config = moto.sdk_config().await;
        let client = aws_sdk_scheduler::Client::new(&config);
        let group = test_support::unique_name("closing");
        client
            .create_schedule_group()
            .name(&group)
            .send()
            .await
            .unwrap();
        let scheduler = EventBridgeScheduler {
            client: client.clone(),
            group: group.clone(),
            target_arn: "arn:aws:lambda:us-east-1:123456789012:function:verbatim-close".into(),
            role_arn: "arn:aws:iam::123456789012:role/verbatim-scheduler".into(),
        };
        let secretariat = backend
            .admin_state(
                Arc::new(SystemClock),
                Arc::new(NoQueue),
                Arc::new(scheduler),
                AdminToken::generate(),
            )
            .secretariat;
        let deadline = Timestamp::now() + SignedDuration::from_secs(2);
        let request = serde_json::from_value(json!({
            "id": "scheduled", "title": {"en": "Scheduled"}, "questions": [{"en": "Q?"}],
            "meeting_date": "2099-01-31", "deadline": "2099-01-01T12:00:00+01:00"
        }))
        .unwrap();
        secretariat.open(request, None).await.unwrap();
        let schedule = |name: &'static str| {
            let client = client.clone();
            let group = group.clone();
            async move {
                client
                    .get_schedule()
                    .name(name)
                    .group_name(group)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let first = schedule("close-scheduled").await;
        assert_eq!(first.schedule_expression(), Some("at(2099-01-01T12:00:00)"));
        assert_eq!(first.schedule_expression_timezone(), Some("Europe/Zurich"));
        let target = first.target().unwrap();
        assert_eq!(target.input(), Some(r#"{"consultation":"scheduled"}"#));

        let moved: DeadlineRequest =
            serde_json::from_value(json!({"deadline": deadline.to_string()})).unwrap();
        let id = ConsultationId::parse("scheduled").unwrap();
        secretariat.move_deadline(&id, moved, None).await.unwrap();
        let second = schedule("close-scheduled").await;
        assert_ne!(second.schedule_expression(), first.schedule_expression());

        // moto never fires schedules: deliver the event the schedule would send.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let mut closer = backend.closer(Arc::new(SystemClock), Arc::new(NoQueue));
        closer.settle = SignedDuration::from_secs(1);
        let event: CloseEvent = serde_json::from_str(target.input().unwrap()).unwrap();
        handle(&closer, event).await.unwrap();
        let record = backend.consultations.get(&id).await.unwrap().unwrap();
        let dossier = record.consultation.closing.unwrap().dossier.expect("built");
        assert_eq!(dossier.response_count, 0);
        let key = ObjectKey::parse("consultations/scheduled/dossier.zip").unwrap();
        assert!(backend.site.get(&key).await.unwrap().is_some());

        // The sweep finds nothing more to do.
        handle(&closer, serde_json::from_str("{}").unwrap())
            .await
            .unwrap();
    }
}
