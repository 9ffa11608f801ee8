//! Connecting to AWS: the standard configuration chain (environment, profiles, SSO, `--profile`,
//! `--region`), `AWS_ENDPOINT_URL` and its per-service forms, and one client per service, each
//! with the call recorder attached.

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
}

impl Clients {
    /// Loads the configuration and builds the clients. Fails when no region can be found: portkey
    /// never guesses one, because resources would end up where the user does not look.
    pub async fn connect(options: &AwsOptions) -> Result<Clients, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
