//! Connecting to AWS: the standard configuration chain (environment, profiles, SSO, `--profile`,
//! `--region`), `AWS_ENDPOINT_URL` and its per-service forms, and one client per service, each
//! with the call recorder attached. Every client retries transient failures (5xx, throttling,
//! connection errors, timeouts) a bounded number of times with jittered exponential backoff, and
//! gives up on an attempt that hangs.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use crate::calls::{CallLog, Recorder};
use crate::error::AwsError;

/// Connection settings: the profile and region to use.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// A profile from `~/.aws/config`; by default `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// The region; by default `AWS_REGION` or the profile's region.
    pub region: Option<String>,
}

/// Attempts per AWS call, the first included. The SDK's standard mode sleeps a random time up to
/// `initial × 2^(attempt - 1)`, capped at `MAX_BACKOFF`, between attempts.
pub const MAX_ATTEMPTS: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The first retry delay unless `PORTKEY_AWS_RETRY_INITIAL_BACKOFF_MS` sets another.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// The environment variable that sets the first retry delay of AWS calls, in milliseconds.
pub const INITIAL_BACKOFF_ENV: &str = "PORTKEY_AWS_RETRY_INITIAL_BACKOFF_MS";

/// The time to open a connection to an AWS endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The time one attempt of a call may take, upload included, unless
/// `PORTKEY_AWS_ATTEMPT_TIMEOUT_SECS` sets another.
// NOTE: sized for zips of a few MB; an image of tens of MB on a slow uplink needs the variable.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The environment variable that sets the per-attempt timeout of AWS calls, in whole seconds.
pub const ATTEMPT_TIMEOUT_ENV: &str = "PORTKEY_AWS_ATTEMPT_TIMEOUT_SECS";

/// The service clients of one command.
#[derive(Debug, Clone)]
pub struct Clients {
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) lambda: aws_sdk_lambda::Client,
    pub(crate) api: aws_sdk_apigatewayv2::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    region: String,
    log: CallLog,
    /// The first delay of every retry loop, the SDK's and portkey's own.
    pub(crate) initial_backoff: Duration,
}

impl Clients {
    /// Loads the configuration and builds the clients. Fails when no region can be found: portkey
    /// never guesses one, because resources would end up where the user does not look.
    pub async fn connect(options: &AwsOptions) -> Result<Clients, AwsError> {
        let initial_backoff = initial_backoff()?;
        let retry = RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(initial_backoff)
            .with_max_backoff(MAX_BACKOFF);
        let timeout = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(attempt_timeout()?)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry).timeout_config(timeout);
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|region| region.to_string()).ok_or(AwsError::NoRegion)?;
        let log = CallLog::from_env();
        let recorder = || Recorder { log: log.clone() };

        // Emulators serve S3 at one host name, so buckets go in the path there.
        let s3_path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || sdk.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(s3_path_style)
            .interceptor(recorder())
            .build();
        Ok(Clients {
            iam: aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&sdk).interceptor(recorder()).build()),
            s3: aws_sdk_s3::Client::from_conf(s3),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&sdk).interceptor(recorder()).build(),
            ),
            api: aws_sdk_apigatewayv2::Client::from_conf(
                aws_sdk_apigatewayv2::config::Builder::from(&sdk).interceptor(recorder()).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(&sdk).interceptor(recorder()).build()),
            region,
            log,
            initial_backoff,
        })
    }

    /// Returns the region every client talks to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Returns the record of calls made through these clients.
    pub fn log(&self) -> &CallLog {
        &self.log
    }

    /// Reads the account of the credentials in use.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        let action = "reading the AWS account of the credentials (sts:GetCallerIdentity)";
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| AwsError::call(action, error))?;
        identity.account.ok_or_else(|| AwsError::missing(action, "Account"))
    }
}

/// Reads the per-attempt timeout from `PORTKEY_AWS_ATTEMPT_TIMEOUT_SECS`, or returns the default.
fn attempt_timeout() -> Result<Duration, AwsError> {
    let seconds = positive_setting(ATTEMPT_TIMEOUT_ENV, "seconds", DEFAULT_ATTEMPT_TIMEOUT.as_secs())?;
    Ok(Duration::from_secs(seconds))
}

/// Reads the first retry delay from `PORTKEY_AWS_RETRY_INITIAL_BACKOFF_MS`, or returns the default.
fn initial_backoff() -> Result<Duration, AwsError> {
    let millis = positive_setting(INITIAL_BACKOFF_ENV, "milliseconds", DEFAULT_INITIAL_BACKOFF.as_millis() as u64)?;
    Ok(Duration::from_millis(millis))
}

/// Reads a whole number above 0 from the environment variable `name`, or returns `default`.
fn positive_setting(name: &str, unit: &str, default: u64) -> Result<u64, AwsError> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(default);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(AwsError::Setting(format!(
            "{name} is {text:?}, which is not a whole number of {unit} above 0; \
             set it to one or unset it for the default of {default} {unit}"
        ))),
    }
}
