//! One synchronous invocation, as the gateway performs it: take an instance from the mount's
//! pool, hand it the event, and wait for its response, its error, its exit or its deadline.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use tokio::sync::oneshot;
use tracing::warn;

use crate::ids::function_arn;
use crate::instance::{InitFailure, Invocation};
use crate::pool::{Pool, Reuse};
use crate::shared::Shared;

/// The result of an invocation.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The function's result, posted to `.../response`.
    Response(Bytes),
    /// The function posted to `.../error`.
    FunctionError {
        error_type: String,
        error_message: String,
    },
    /// The function posted a response or error body over the payload limit.
    ResponseTooLarge { limit: usize },
    /// The process exited during the invocation.
    Crashed { message: String },
    /// The process requested another invocation without posting a result for this one.
    NoResponse { message: String },
    /// The deadline passed without a response.
    TimedOut { timeout_secs: u32 },
    /// The instance started for the request failed its init.
    InitFailed(InitFailure),
    /// The instance started for the request did not finish init in time.
    InitTimedOut { message: String },
    /// Every instance stayed busy until the request gave up waiting.
    Throttled {
        waited: Duration,
        max_instances: usize,
    },
    /// The bootstrap could not be started.
    SpawnFailed { message: String },
    /// The mount was reloaded or removed while the request waited; it should be routed again.
    Retired,
    /// The instance exited or was stopped before it fetched the invocation with `next`, so
    /// another instance can run it.
    Undelivered { reason: String },
}

/// How many instances one invocation is handed to when each exits before fetching it.
const MAX_DELIVERY_ATTEMPTS: usize = 3;

/// Invokes the pool's function with `event` and waits for the outcome. An invocation belongs to
/// an instance only once the instance fetched it, so one that its instance never fetched is
/// handed to another instance.
pub(crate) async fn invoke(
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    request_id: String,
    trace_id: String,
    event: Bytes,
) -> Outcome {
    let mut last_reason = String::new();
    for attempt in 1..=MAX_DELIVERY_ATTEMPTS {
        let outcome = invoke_once(&shared, &pool, &request_id, &trace_id, event.clone()).await;
        let Outcome::Undelivered { reason } = outcome else {
            return outcome;
        };
        warn!(
            function = %pool.spec.record.function,
            request_id = %request_id,
            attempt,
            "{reason}; handing the invocation to another instance"
        );
        last_reason = reason;
    }
    Outcome::Crashed {
        message: format!(
            "{MAX_DELIVERY_ATTEMPTS} instances of `{}` stopped before fetching request \
             {request_id}; the last: {last_reason}",
            pool.spec.record.function
        ),
    }
}

/// Hands the invocation to one instance and waits for the outcome.
async fn invoke_once(
    shared: &Arc<Shared>,
    pool: &Arc<Pool>,
    request_id: &str,
    trace_id: &str,
    event: Bytes,
) -> Outcome {
    let lease = match pool.acquire(shared).await {
        Ok(lease) => lease,
        Err(outcome) => return outcome,
    };
    let instance = lease.instance().clone();
    let timeout_secs = pool.spec.record.timeout_secs;
    let timeout = Duration::from_secs(u64::from(timeout_secs));

    let (reply_sender, reply) = oneshot::channel();
    if let Err(outcome) = instance.begin(request_id, reply_sender) {
        lease.finish(Reuse::Discard);
        return outcome;
    }
    let invocation = Invocation {
        request_id: request_id.to_string(),
        event,
        deadline_ms: epoch_millis(SystemTime::now() + timeout),
        trace_id: trace_id.to_string(),
        function_arn: function_arn(&pool.spec.record.function),
    };
    if let Err(outcome) = instance.send(invocation) {
        instance.abandon(request_id);
        lease.finish(Reuse::Discard);
        return outcome;
    }

    match tokio::time::timeout(timeout, reply).await {
        Ok(Ok(outcome)) => {
            let reuse = match outcome {
                Outcome::Response(_)
                | Outcome::FunctionError { .. }
                | Outcome::ResponseTooLarge { .. } => Reuse::Keep,
                _ => Reuse::Discard,
            };
            lease.finish(reuse);
            outcome
        }
        Ok(Err(_)) => {
            lease.finish(Reuse::Discard);
            Outcome::Crashed {
                message: format!(
                    "the instance of `{}` stopped without answering",
                    instance.function
                ),
            }
        }
        Err(_) => {
            if instance.abandon(request_id) {
                warn!(
                    function = %instance.function,
                    instance = instance.id,
                    request_id = %request_id,
                    timeout_secs,
                    "invocation timed out; killing the instance"
                );
                instance.replace_on_exit();
                instance.kill(&format!(
                    "request {request_id} timed out after {timeout_secs} s"
                ));
            }
            lease.finish(Reuse::Discard);
            Outcome::TimedOut { timeout_secs }
        }
    }
}

/// Returns `at` as Unix epoch milliseconds.
pub(crate) fn epoch_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
