//! Lambda: publishes what the table's stream reports as new (responses, consultations), then
//! mails each newly published response to the consultation's email list. A schedule also
//! invokes it every minute to rebuild the search index of each consultation that has responses
//! its index misses: in an invocation of its own, so that publication never waits for a
//! rebuild (tens of seconds at 10,000 responses).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::adapters::events::changed_consultations;
use shared::adapters::witness_http::HttpWitnesses;
use shared::backend::ses_mailer;
use shared::ports::{Clock, SystemClock};
use shared::publish::pipeline::Pipeline;
use shared::search::SearchIndex;
use shared::transparency::cosigning::{self, Cosigning};
use shared::{AwsNames, Backend, MailSettings, Timing, Vars};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Started again by itself to read a PDF's text in a bounded child process.
    shared::extract::run_if_child();
    lambda_runtime::tracing::init_default_subscriber();
    let vars = Vars::from_iter(std::env::vars());
    let (names, timing) = (AwsNames::from_vars(&vars)?, Timing::from_vars(&vars)?);
    let mail = MailSettings::from_vars(&vars)?;
    let mail_pace = vars
        .parsed(
            shared::settings::MAIL_PER_SECOND_VAR,
            shared::settings::mail_pace,
        )?
        .unwrap_or(shared::email::outcome::DEFAULT_MAIL_PACE);
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &names, false)
        .await?
        .with_timing(timing);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The witnesses asked to cosign each checkpoint (the template's WitnessPolicy).
    let cosigning = vars
        .parsed(
            shared::settings::WITNESS_POLICY_VAR,
            shared::settings::witness_policy,
        )?
        .flatten()
        .map(|policy| {
            Arc::new(Cosigning::new(
                policy,
                Arc::new(HttpWitnesses::new(cosigning::WITNESS_TIMEOUT)),
            ))
        });
    let pipeline = Arc::new(Pipeline {
        publisher: Arc::new(shared::publish::Publisher {
            cosigning,
            ..backend.publisher(clock.clone())
        }),
        // The schedule paces the rebuilds (once a minute): a little under a minute here, so
        // that a sweep arriving a moment early still rebuilds.
        search: Arc::new(SearchIndex {
            rebuild_every: std::time::Duration::from_secs(50),
            ..backend.search_index(clock.clone())
        }),
        list: Arc::new(shared::email::list::EmailList {
            mail_pace,
            ..backend.email_list(
                ses_mailer(&config, &mail),
                clock,
                mail.public_url,
                mail.mail_domain,
            )
        }),
    });
    // Stylesheet, scripts, verify pages: once per instance, not with every batch.
    pipeline.publisher.publish_assets().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let pipeline = pipeline.clone();
        async move {
            // The stream's batches carry `Records`; the schedule's event does not.
            if event.payload.get("Records").is_some() {
                let batch: Event = serde_json::from_value(event.payload)?;
                handle(&pipeline, batch).await
            } else {
                // The outcome's mail goes out here, not in the stream's invocations, whose
                // shard waits for them: paced at the mailer's rate, a large list takes minutes.
                Ok(pipeline.sweep(mail_run_end(&event.context)).await?)
            }
        }
    }))
    .await
}

/// Publishes each consultation named in the batch once, then mails its list. A consultation
/// that fails does not stop the others in the batch; the batch then fails, so the event
/// source mapping retries it (publication is idempotent, the list resumes from its progress
/// mark, and the mapping's retries are bounded, with a failure queue after them).
async fn handle(pipeline: &Pipeline, event: Event) -> Result<(), Error> {
    Ok(pipeline.on_changes(changed_consultations(&event)).await?)
}

/// When a sweep's mailing stops: before the next sweep starts (so that two never pace the same
/// list at once), and well before the invocation's own deadline.
fn mail_run_end(context: &lambda_runtime::Context) -> tokio::time::Instant {
    const UNTIL_NEXT_SWEEP: std::time::Duration = std::time::Duration::from_secs(45);
    const MARGIN: std::time::Duration = std::time::Duration::from_secs(15);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = std::time::Duration::from_millis(context.deadline.saturating_sub(now_ms));
    tokio::time::Instant::now() + UNTIL_NEXT_SWEEP.min(left.saturating_sub(MARGIN))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::domain::{
        AuditEntry, Channel, ConsultationRequest, EmailAddress, NewResponse, ResponseId, Submitter,
        Subscription,
    };
    use shared::ports::{Clock, ObjectKey};

    use super::*;
    use test_support::events::stream_record as record;
    use test_support::ses as moto_ses;

    /// A response with nothing but its submitter's name, received now by the API.
    fn response_by(consultation: &shared::domain::Consultation, name: &str) -> NewResponse {
        NewResponse {
            id: ResponseId::new(),
            consultation: consultation.id.clone(),
            received_at: SystemClock.now(),
            channel: Channel::Api,
            submitter: Submitter {
                name: name.into(),
                organization: None,
                category: None,
                country: None,
                email: None,
                language: None,
            },
            files: vec![],
        }
    }

    /// A consultation open until 2099, stored with its audit entry.
    async fn open_consultation(
        backend: &shared::Backend,
        id: &str,
        title: &str,
    ) -> shared::domain::Consultation {
        let request: ConsultationRequest = serde_json::from_value(json!({
            "id": id, "title": {"en": title},
            "questions": [{"en": "Q?"}], "meeting_date": "2099-01-31"
        }))
        .unwrap();
        let consultation = request.into_consultation(SystemClock.now()).unwrap();
        backend
            .consultations
            .create(&consultation, &AuditEntry::created(&consultation, None))
            .await
            .unwrap();
        consultation
    }

    #[tokio::test]
    async fn a_stream_batch_publishes_its_consultations() {
        let moto = test_support::moto();
        let backend = moto.fresh_backend("publish").await;
        let config = moto.sdk_config().await;
        moto_ses::verify_domain(&config, "consultations.example.org").await;
        let clock = SystemClock;
        let consultation = open_consultation(&backend, "streamed", "Streamed").await;
        backend
            .responses
            .append(response_by(&consultation, "Ada"))
            .await
            .unwrap();

        let event: Event = serde_json::from_value(json!({"Records": [
            record("C#streamed", "META"),
            record("C#streamed", "R#000000000001"),
            record("C#streamed", "PUBLISHED"),
        ]}))
        .unwrap();
        // A confirmed subscriber of the consultation's list, and a pending one.
        let subscribe = |address: &str, random: u8| {
            Subscription::request(
                consultation.id.clone(),
                EmailAddress::parse(address).unwrap(),
                [random; 32],
                clock.now(),
            )
        };
        let (ada, bob) = (
            subscribe("ada@example.org", 1),
            subscribe("bob@example.org", 2),
        );
        backend.subscriptions.request(&ada).await.unwrap();
        backend.subscriptions.request(&bob).await.unwrap();
        backend
            .subscriptions
            .confirm(&consultation.id, &ada.subscriber, clock.now())
            .await
            .unwrap();
        let mailer = Arc::new(shared::adapters::ses::SesMailer::new(
            aws_sdk_sesv2::Client::new(&config),
            "verbatim@consultations.example.org",
        ));
        let pipeline = Pipeline {
            list: Arc::new(backend.email_list(
                mailer,
                Arc::new(SystemClock),
                "https://consultations.example.org",
                "consultations.example.org",
            )),
            publisher: Arc::new(backend.publisher(Arc::new(SystemClock))),
            search: Arc::new(backend.search_index(Arc::new(SystemClock))),
        };
        handle(&pipeline, event.clone()).await.unwrap();
        // A batch delivered again publishes and mails nothing twice.
        handle(&pipeline, event).await.unwrap();

        let to_ada = moto_ses::sent_to(&moto.endpoint, "ada@example.org").await;
        assert_eq!(to_ada.len(), 1, "{to_ada:?}");
        assert!(to_ada[0].raw.contains("[streamed] Response 1: Ada"));
        assert!(
            to_ada[0]
                .raw
                .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        );
        assert!(
            to_ada[0]
                .raw
                .contains("List-Id: <streamed.consultations.example.org>")
        );
        assert!(
            moto_ses::sent_to(&moto.endpoint, "bob@example.org")
                .await
                .is_empty(),
            "pending subscribers get nothing"
        );

        let manifest = ObjectKey::parse("consultations/streamed/responses.json").unwrap();
        let object = backend
            .site
            .get(&manifest)
            .await
            .unwrap()
            .expect("published");
        let manifest: serde_json::Value =
            serde_json::from_slice(&object.into_bytes().await.unwrap()).unwrap();
        assert_eq!(manifest["total"], 1);
        assert_eq!(manifest["responses"][0]["name"], "Ada");
        // The response's own page with the batch; the search index with the minute's sweep.
        let records = backend.consultations.list().await.unwrap();
        pipeline.sweep_search(&records).await.unwrap();
        for key in [
            "consultations/streamed/responses/1.html",
            "consultations/streamed/extracted/1.txt",
            "consultations/streamed/pagefind/pagefind-entry.json",
            "consultations/streamed/pagefind/covered.json",
        ] {
            let key = ObjectKey::parse(key).unwrap();
            assert!(backend.site.get(&key).await.unwrap().is_some(), "{key:?}");
        }
    }

    /// SES fails a seeded share of `SendEmail` requests, with every kind of fault (500,
    /// throttling, 503, connections closed before or after SES did the work, delays), while
    /// responses are published in three stream batches. Each batch is handled as the event
    /// source mapping does: again after a failure, at most eleven times in all
    /// (`MaximumRetryAttempts: 10` in infra/template.yaml). Every confirmed subscriber gets every
    /// response. A mail goes out twice for two reasons only: SES sent it and its answer was lost
    /// (the SDK, or the next invocation, sends it again), or the batch failed in the middle of a
    /// response's fan-out, and its retry sends that response again to the subscribers served
    /// before the failure (the list's design: its mark moves after each whole response, see
    /// `shared::email::list`). The test counts both and bounds the second.
    #[tokio::test]
    async fn list_mail_through_a_failing_ses_reaches_every_subscriber() {
        use std::collections::BTreeMap;
        use test_support::fault_proxy::FaultProxy;
        const ID: &str = "ses-list";
        const DOMAIN: &str = "consultations.example.org";
        const WAVES: u64 = 3;
        const PER_WAVE: u64 = 3;
        const RATE: f64 = 0.5;
        /// The proxy's draws are the same on every run (the SDK's requests go one at a time):
        /// with this seed four invocations fail, three of them in the middle of a fan-out, and
        /// every kind of fault occurs.
        const SEED: u64 = 104;
        /// The batch's first delivery and the stream's ten retries.
        const INVOCATIONS: usize = 11;
        let started = std::time::Instant::now();
        let moto = test_support::moto();
        let backend = moto.fresh_backend("list-faults").await;
        let config = moto.sdk_config().await;
        moto_ses::verify_domain(&config, DOMAIN).await;
        let proxy = FaultProxy::start(&moto.endpoint, SEED, RATE);
        let mail = MailSettings {
            mail_domain: DOMAIN.to_owned(),
            public_url: format!("https://{DOMAIN}"),
            from: format!("verbatim@{DOMAIN}"),
        };
        // As `main` wires it, with SES reached through the proxy.
        let pipeline = Pipeline {
            list: Arc::new(backend.email_list(
                ses_mailer(&proxy.sdk_config(&config), &mail),
                Arc::new(SystemClock),
                &mail.public_url,
                &mail.mail_domain,
            )),
            publisher: Arc::new(backend.publisher(Arc::new(SystemClock))),
            search: Arc::new(backend.search_index(Arc::new(SystemClock))),
        };
        let clock = SystemClock;
        let consultation = open_consultation(&backend, ID, "Mailed while SES fails").await;
        let subscribers = ["ses-list-ada@example.org", "ses-list-bob@example.org"];
        for (i, address) in subscribers.iter().enumerate() {
            let s = Subscription::request(
                consultation.id.clone(),
                EmailAddress::parse(address).unwrap(),
                [i as u8 + 1; 32],
                clock.now(),
            );
            backend.subscriptions.request(&s).await.unwrap();
            backend
                .subscriptions
                .confirm(&consultation.id, &s.subscriber, clock.now())
                .await
                .unwrap();
        }
        let batch: Event =
            serde_json::from_value(json!({"Records": [record(&format!("C#{ID}"), "META")]}))
                .unwrap();

        let mut invocations = Vec::new();
        for wave in 0..WAVES {
            for k in 1..=PER_WAVE {
                let number = wave * PER_WAVE + k;
                backend
                    .responses
                    .append(response_by(&consultation, &format!("Person {number}")))
                    .await
                    .unwrap();
            }
            let mut tries = 0;
            loop {
                tries += 1;
                match handle(&pipeline, batch.clone()).await {
                    Ok(()) => break,
                    Err(e) if tries < INVOCATIONS => {
                        eprintln!("batch {wave}, invocation {tries}: {e}")
                    }
                    Err(e) => panic!("batch {wave}: {INVOCATIONS} invocations failed: {e}"),
                }
            }
            invocations.push(tries);
        }
        let counts = proxy.counts().await;

        // What moto's SES received, by subscriber and response number.
        let responses = WAVES * PER_WAVE;
        let mut total = 0u64;
        let mut twice = BTreeMap::new();
        for address in subscribers {
            let mut per_number = BTreeMap::<u64, u64>::new();
            for m in moto_ses::sent_to(&moto.endpoint, address).await {
                let subject = m
                    .raw
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("Subject: [{ID}] Response ")))
                    .unwrap_or_else(|| panic!("not a list mail: {}", m.raw));
                let (number, name) = subject.split_once(": ").unwrap();
                let number: u64 = number.parse().unwrap();
                assert_eq!(name, format!("Person {number}"), "{subject}");
                *per_number.entry(number).or_default() += 1;
            }
            assert_eq!(
                per_number.keys().copied().collect::<Vec<_>>(),
                (1..=responses).collect::<Vec<_>>(),
                "{address} got every response, none lost"
            );
            total += per_number.values().sum::<u64>();
            for (number, n) in per_number.into_iter().filter(|(_, n)| *n > 1) {
                twice.insert(format!("{address} #{number}"), n);
            }
        }
        let expected = responses * subscribers.len() as u64;
        let failed_invocations = invocations.iter().map(|n| n - 1).sum::<usize>() as u64;
        let resent_by_the_list = total as i64 - expected as i64 - counts.done_but_failed() as i64;
        eprintln!(
            "{responses} responses x {} subscribers: {total} mails ({expected} expected; more than \
             once: {twice:?}); {} invocations ({failed_invocations} failed); proxy: {:?}; \
             resent after a fan-out failed: {resent_by_the_list}; {:.1} s",
            subscribers.len(),
            invocations.iter().sum::<usize>(),
            counts.0,
            started.elapsed().as_secs_f64()
        );
        assert!(
            failed_invocations >= 1,
            "with this seed some list mail fails all the SDK's attempts: the stream's retry is \
             what this test is for"
        );
        assert_eq!(
            total,
            counts.reached_target(),
            "every SendEmail that reached SES is a mail moto kept"
        );
        // Beyond the sends SES did but answered as failed, only the subscribers served before a
        // failure in a fan-out get that response again: at most all but one per failed batch.
        assert!(
            (0..=(failed_invocations * (subscribers.len() as u64 - 1)) as i64)
                .contains(&resent_by_the_list),
            "{resent_by_the_list} mails sent again by the list"
        );
        assert_eq!(
            backend
                .subscriptions
                .notified(&consultation.id)
                .await
                .unwrap(),
            responses,
            "the list's mark is at the last response"
        );

        // A batch delivered again once SES is well sends nothing more.
        proxy.set_rate(0.0).await;
        handle(&pipeline, batch).await.unwrap();
        let mut again = 0;
        for address in subscribers {
            again += moto_ses::sent_to(&moto.endpoint, address).await.len() as u64;
        }
        assert_eq!(again, total, "nothing sent twice by a later batch");
    }
}
