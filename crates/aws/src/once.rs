//! Creating API Gateway resources exactly once. `CreateApi` and `CreateIntegration` are not
//! idempotent: when an attempt's response is lost (a reset connection, a timeout after API
//! Gateway acted), the SDK's own retry would create a second API or integration. These creates
//! therefore run with the SDK's retries off, and before each new attempt the resource is looked
//! up, so a lost response costs a read instead of a duplicate.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::backoff::Backoff;
use crate::config::{Clients, MAX_ATTEMPTS};
use crate::error::{AwsError, code_of};

/// Runs `create` until it succeeds, `find` reports the resource, or `MAX_ATTEMPTS` attempts have
/// failed. Only failures that a retry can cure (no response, 5xx, throttling) are retried.
pub(crate) async fn create_once<T, E, C, CF, F, FF>(
    clients: &Clients,
    action: &str,
    mut create: C,
    mut find: F,
) -> Result<T, AwsError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>, AwsError>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut backoff = Backoff::new(clients.initial_backoff, Duration::from_secs(8), Duration::from_secs(60));
    let mut attempt = 1;
    loop {
        let error = match create().await {
            Ok(created) => return Ok(created),
            Err(error) => error,
        };
        if attempt >= MAX_ATTEMPTS || !is_transient(&error) || !backoff.wait().await {
            return Err(AwsError::call(action, error));
        }
        attempt += 1;
        tracing::info!(action, attempt, max_attempts = MAX_ATTEMPTS, "retrying a create after a transient failure");
        if let Some(found) = find().await? {
            tracing::info!(action, "the earlier attempt had succeeded; using what it created");
            return Ok(found);
        }
    }
}

/// Tells whether a retry may cure `error`: no response at all, a 5xx status, or throttling.
fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let throttled = matches!(
                code_of(error),
                Some("TooManyRequestsException" | "ThrottlingException" | "Throttling" | "LimitExceededException")
            );
            status >= 500 || status == 429 || throttled
        }
        _ => false,
    }
}
