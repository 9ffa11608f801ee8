//! A record of every AWS operation portkey calls, taken by an SDK interceptor on each client.
//! Debug logs name each call, and commands count their write calls. When
//! `PORTKEY_AWS_CALL_LOG` names a file, every call is appended to it as `Service:Operation`: the
//! tests check the printed IAM policy against that record.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;

/// The environment variable naming a file every AWS call is appended to.
pub const CALL_LOG_ENV: &str = "PORTKEY_AWS_CALL_LOG";

/// One AWS operation, as the SDK names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The service, for example `Lambda` or `S3`.
    pub service: String,
    /// The operation, for example `CreateFunction`.
    pub operation: String,
}

impl Call {
    /// Tells whether the operation changes something in AWS. Reads are `Get*`, `List*`, `Head*`
    /// and `Describe*` (STS's `GetCallerIdentity` among them). Everything else writes, `Invoke` included.
    pub fn is_write(&self) -> bool {
        !["Get", "List", "Head", "Describe"].iter().any(|prefix| self.operation.starts_with(prefix))
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.operation)
    }
}

/// The calls made through one set of clients, in order.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
    file: Option<PathBuf>,
}

impl CallLog {
    /// Creates a log that also appends to the file named by `PORTKEY_AWS_CALL_LOG`, when it is set.
    pub fn from_env() -> CallLog {
        CallLog {
            calls: Arc::default(),
            file: std::env::var_os(CALL_LOG_ENV).map(PathBuf::from),
        }
    }

    /// Returns every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|calls| calls.clone()).unwrap_or_default()
    }

    /// Returns the write calls so far.
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_write).collect()
    }

    fn record(&self, call: Call) {
        tracing::debug!(call = %call, "AWS call");
        if let Some(path) = &self.file {
            // The log is a test and audit aid: failing to write it must not fail a deploy.
            if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(file, "{call}");
            }
        }
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

/// The interceptor that feeds a `CallLog`.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub(crate) log: CallLog,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "portkey-call-recorder"
    }

    // Runs once per operation, retries excluded, after the operation's metadata is in the bag
    // (client interceptors' `read_before_execution` runs before it is).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.log.record(Call {
                service: metadata.service().to_string(),
                operation: metadata.name().to_string(),
            });
        }
        Ok(())
    }

    // The SDK retries on its own, so these two hooks make each failed attempt and each retry
    // visible at info level, with the call and the attempt number.
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Err(error)) = context.output_or_error() else {
            return Ok(());
        };
        let attempt = cfg.load::<RequestAttempts>().map(|attempts| attempts.attempts()).unwrap_or(1);
        let status = context.response().map(|response| response.status().as_u16());
        let error = DisplayErrorContext(error);
        // A 4xx other than 429 is a result (a missing resource, a conflict) that the caller
        // handles, not a failure worth reporting by default.
        if status.is_some_and(|status| (400..500).contains(&status) && status != 429) {
            tracing::debug!(call = %call_name(cfg), attempt, status, error = %error, "AWS call attempt returned an error");
            return Ok(());
        }
        tracing::info!(call = %call_name(cfg), attempt, status, error = %error, "AWS call attempt failed");
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map(|attempts| attempts.attempts()).unwrap_or(1);
        if attempt > 1 {
            tracing::info!(call = %call_name(cfg), attempt, max_attempts = crate::config::MAX_ATTEMPTS, "retrying AWS call");
        }
        Ok(())
    }
}

fn call_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map(|metadata| format!("{}:{}", metadata.service(), metadata.name()))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(operation: &str) -> Call {
        Call { service: "Lambda".into(), operation: operation.into() }
    }

    #[test]
    fn reads_and_writes() {
        assert!(!call("GetFunction").is_write());
        assert!(!call("ListFunctions").is_write());
        assert!(!call("HeadObject").is_write());
        assert!(call("CreateFunction").is_write());
        assert!(call("PutObject").is_write());
        assert!(call("AddPermission").is_write());
        assert!(call("Invoke").is_write());
    }
}
