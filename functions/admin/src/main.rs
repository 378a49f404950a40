//! Lambda: the Secretariat's admin API (HTTP API -> axum router).

use std::sync::Arc;

use lambda_http::request::RequestContext;
use shared::adapters::scheduler::EventBridgeScheduler;
use shared::http::admin::{self, AdminToken, Caller};
use shared::http::{with_request_log, with_security_headers};
use shared::ports::{PublishedByStream, SystemClock};
use shared::settings::ScheduleNames;
use shared::{AwsNames, Backend, Timing, Vars};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let vars = Vars::from_iter(std::env::vars());
    let token = AdminToken::new(vars.required("VERBATIM_ADMIN_TOKEN", "the admin API")?)?;
    let (names, timing) = (AwsNames::from_vars(&vars)?, Timing::from_vars(&vars)?);
    let schedules = ScheduleNames::from_vars(&vars)?;
    let config = aws_config::load_from_env().await;
    let backend = Backend::aws(&config, &names, false)
        .await?
        .with_timing(timing);
    let scheduler = EventBridgeScheduler::new(&config, &schedules);
    let state = backend.admin_state(
        Arc::new(SystemClock),
        Arc::new(PublishedByStream),
        Arc::new(scheduler),
        token,
    );
    // Behind API Gateway and CloudFront the console is only ever reached over HTTPS, from the
    // public site's pages (CloudFront forwards them to API Gateway's own host name).
    let mut console = shared::http::session::ConsoleSettings::new(true, Vec::new());
    if let Some(public_url) = vars.get(shared::settings::PUBLIC_URL_VAR) {
        console = console.with_public_url(public_url);
    }
    let state = admin::AdminState {
        console: Arc::new(console),
        ..state
    };
    let router = admin::router(state.clone())
        .merge(shared::http::console::router(state))
        .layer(axum::middleware::map_request(named_caller));
    lambda_http::run(with_request_log(with_security_headers(router))).await
}

/// Names the request's caller for the audit log: the IAM principal whose SigV4 signature API
/// Gateway checked (the admin routes require one, see `infra/template.yaml`).
async fn named_caller(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(caller) = caller_of(request.extensions().get::<RequestContext>()) {
        request.extensions_mut().insert(caller);
    }
    request
}

fn caller_of(context: Option<&RequestContext>) -> Option<Caller> {
    match context? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()?
            .iam
            .as_ref()?
            .user_arn
            .clone()
            .map(Caller),
        #[allow(unreachable_patterns)] // other event sources, with lambda_http's other features
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription,
        ApiGatewayV2httpRequestContext,
    };

    #[test]
    fn the_caller_is_the_iam_principal_api_gateway_checked() {
        let arn = "arn:aws:iam::123456789012:user/secretariat-ada";
        let mut context = ApiGatewayV2httpRequestContext::default();
        assert_eq!(
            caller_of(Some(&RequestContext::ApiGatewayV2(context.clone()))),
            None,
            "unsigned: no one"
        );
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
        iam.user_arn = Some(arn.to_owned());
        authorizer.iam = Some(iam);
        context.authorizer = Some(authorizer);
        assert_eq!(
            caller_of(Some(&RequestContext::ApiGatewayV2(context))),
            Some(Caller(arn.to_owned()))
        );
        assert_eq!(caller_of(None), None);
    }
}
