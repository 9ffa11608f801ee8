//! The AWS backend's error type. Each message names the resource or value that failed and what to
//! do next. The AWS error code and message are kept, because they are what a user searches for.

use std::fmt::Display;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An error of the AWS backend.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region came from `--region`, the environment or the profile.
    #[error(
        "no AWS region is set; pass --region (for example --region eu-west-1), set AWS_REGION, \
         or add `region = ...` to the profile in ~/.aws/config"
    )]
    NoRegion,

    /// A call to AWS failed.
    #[error("{action} failed: {detail}{hint}")]
    Call {
        /// The step portkey was taking, for example "creating the Lambda function portkey-app-f".
        action: String,
        /// The AWS error code and message, or the transport error.
        detail: String,
        /// A sentence naming the next step, starting with "; ", or empty.
        hint: String,
    },

    /// An AWS response lacks a field portkey needs.
    #[error("{action}: AWS answered without {field}; rerun the command, and if it persists report it")]
    Missing {
        action: String,
        field: &'static str,
    },

    /// A wait for a resource to settle ran out of time.
    #[error("{what} did not settle within {seconds} s (last status: {status}); check it in the AWS console and rerun")]
    Timeout {
        what: String,
        seconds: u64,
        status: String,
    },

    /// An environment setting of the AWS backend has an invalid value.
    #[error("{0}")]
    Setting(String),

    /// The image cannot be deployed as it is.
    #[error("{0}")]
    Image(String),

    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl AwsError {
    /// Wraps an SDK error with what portkey was doing when it happened.
    pub(crate) fn call<E, R>(action: impl Into<String>, error: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let action = action.into();
        let detail = describe(&error);
        let hint = hint_for(&error);
        AwsError::Call { action, detail, hint }
    }

    pub(crate) fn missing(action: impl Into<String>, field: &'static str) -> AwsError {
        AwsError::Missing { action: action.into(), field }
    }
}

/// Returns the error code of an SDK error, when AWS sent one.
pub(crate) fn code_of<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Returns the message of an SDK error, when AWS sent one.
pub(crate) fn message_of<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().message(),
        _ => None,
    }
}

fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                (None, Some(message)) => message.to_string(),
                (None, None) => chain(err),
            }
        }
        other => chain(other),
    }
}

/// Joins an error and its sources, because the SDK's top-level messages ("dispatch failure")
/// leave out the cause.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        push_cause(&mut text, cause);
        source = cause.source();
    }
    text
}

fn push_cause(text: &mut String, cause: &dyn Display) {
    let cause = cause.to_string();
    if !text.contains(&cause) {
        text.push_str(": ");
        text.push_str(&cause);
    }
}

fn hint_for<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata,
{
    let code = code_of(error).unwrap_or_default();
    let hint = match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
            "the AWS identity in use lacks a permission; `portkey policy` prints the policy portkey needs"
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the AWS credentials have expired; refresh them (for SSO: `aws sso login`) and rerun"
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            "the AWS credentials are not valid; check AWS_PROFILE or AWS_ACCESS_KEY_ID"
        }
        _ => match error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                "AWS could not be reached; check the network, or AWS_ENDPOINT_URL when it is set"
            }
            SdkError::ConstructionFailure(_) => {
                "the request could not be built; check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID) and the region"
            }
            _ => "",
        },
    };
    if hint.is_empty() { String::new() } else { format!("; {hint}") }
}
