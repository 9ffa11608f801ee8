//! The Lambda function of one mount: created on first deploy, its code updated only when
//! `CodeSha256` differs, its settings updated only when they differ, and each change waited for
//! until Lambda reports it done. Also the function URL and the resource-policy statements.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionConfiguration, FunctionUrlAuthType, LastUpdateStatus, Runtime, State,
};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::backoff::Backoff;
use crate::config::Clients;
use crate::deploy::Auth;
use crate::error::{AwsError, code_of, message_of};
use crate::names::PROJECT_TAG;

/// Everything Lambda needs to hold one mount's function.
#[derive(Debug, Clone)]
pub(crate) struct FunctionSpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) project: &'a str,
    pub(crate) description: &'a str,
    pub(crate) role_arn: &'a str,
    pub(crate) role_is_new: bool,
    pub(crate) bucket: &'a str,
    pub(crate) key: &'a str,
    pub(crate) code_sha256: &'a str,
    pub(crate) architecture: Architecture,
    pub(crate) memory_mb: u32,
    pub(crate) timeout_secs: u32,
    pub(crate) env: &'a BTreeMap<String, String>,
}

/// The outcome of `ensure_function`.
#[derive(Debug, Clone)]
pub(crate) struct FunctionOutcome {
    pub(crate) arn: String,
    pub(crate) created: bool,
    pub(crate) code_updated: bool,
    pub(crate) settings_updated: bool,
}

/// The function as `GetFunction` reports it, or `None` when it does not exist.
pub(crate) async fn get_function(clients: &Clients, name: &str) -> Result<Option<FunctionConfiguration>, AwsError> {
    match clients.lambda.get_function().function_name(name).send().await {
        Ok(output) => Ok(output.configuration),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(None),
        Err(error) => Err(AwsError::call(format!("reading the Lambda function {name}"), error)),
    }
}

/// Creates the function or brings it in line with `spec`, making write calls only for what
/// differs.
pub(crate) async fn ensure_function(clients: &Clients, spec: &FunctionSpec<'_>) -> Result<FunctionOutcome, AwsError> {
    let current = match get_function(clients, spec.name).await? {
        Some(current) => current,
        None => {
            if let Some(arn) = create_function(clients, spec).await? {
                wait_settled(clients, spec.name).await?;
                return Ok(FunctionOutcome {
                    arn,
                    created: true,
                    code_updated: false,
                    settings_updated: false,
                });
            }
            // An attempt whose response was lost created it: compare it like any existing one.
            let action = format!("reading the Lambda function {}", spec.name);
            get_function(clients, spec.name).await?.ok_or_else(|| AwsError::missing(action, "Configuration"))?
        }
    };
    let arn = current
        .function_arn()
        .ok_or_else(|| AwsError::missing(format!("reading the Lambda function {}", spec.name), "FunctionArn"))?
        .to_string();

    let code_differs = current.code_sha256() != Some(spec.code_sha256)
        || current.architectures().first().is_some_and(|architecture| architecture != &spec.architecture);
    if code_differs {
        // A function still settling from an earlier command rejects updates.
        wait_settled(clients, spec.name).await?;
        let action = format!("updating the code of {}", spec.name);
        write_when_settled(clients, spec.name, &action, || {
            clients
                .lambda
                .update_function_code()
                .function_name(spec.name)
                .s3_bucket(spec.bucket)
                .s3_key(spec.key)
                .architectures(spec.architecture.clone())
                .send()
        })
        .await?
        .found(spec.name, &action)?;
        wait_settled(clients, spec.name).await?;
    }

    let settings_differ = settings_differ(&current, spec);
    if settings_differ {
        wait_settled(clients, spec.name).await?;
        let action = format!("updating the settings of {}", spec.name);
        write_when_settled(clients, spec.name, &action, || {
            clients
                .lambda
                .update_function_configuration()
                .function_name(spec.name)
                .description(spec.description)
                .role(spec.role_arn)
                .memory_size(spec.memory_mb as i32)
                .timeout(spec.timeout_secs as i32)
                .environment(environment(spec.env))
                .send()
        })
        .await?
        .found(spec.name, &action)?;
        wait_settled(clients, spec.name).await?;
    }
    Ok(FunctionOutcome {
        arn,
        created: false,
        code_updated: code_differs,
        settings_updated: settings_differ,
    })
}

fn settings_differ(current: &FunctionConfiguration, spec: &FunctionSpec<'_>) -> bool {
    let current_env: BTreeMap<String, String> = current
        .environment()
        .and_then(|environment| environment.variables())
        .map(|variables| variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    current.description() != Some(spec.description)
        || current.role() != Some(spec.role_arn)
        || current.memory_size() != Some(spec.memory_mb as i32)
        || current.timeout() != Some(spec.timeout_secs as i32)
        || &current_env != spec.env
}

fn environment(env: &BTreeMap<String, String>) -> Environment {
    let variables: HashMap<String, String> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Environment::builder().set_variables(Some(variables)).build()
}

/// Creates the function, retrying while a role created moments ago cannot be assumed yet.
/// Returns its ARN, or `None` when the function already exists (an earlier attempt whose response
/// was lost created it).
async fn create_function(clients: &Clients, spec: &FunctionSpec<'_>) -> Result<Option<String>, AwsError> {
    let action = format!("creating the Lambda function {}", spec.name);
    let limit = if spec.role_is_new { Duration::from_secs(90) } else { Duration::from_secs(20) };
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), limit);
    loop {
        let code = aws_sdk_lambda::types::FunctionCode::builder().s3_bucket(spec.bucket).s3_key(spec.key).build();
        let result = clients
            .lambda
            .create_function()
            .function_name(spec.name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(spec.role_arn)
            .code(code)
            .architectures(spec.architecture.clone())
            .memory_size(spec.memory_mb as i32)
            .timeout(spec.timeout_secs as i32)
            .description(spec.description)
            .environment(environment(spec.env))
            .tags(PROJECT_TAG, spec.project)
            .send()
            .await;
        match result {
            Ok(output) => return output.function_arn.map(Some).ok_or_else(|| AwsError::missing(&action, "FunctionArn")),
            Err(error) if code_of(&error) == Some("ResourceConflictException") => {
                tracing::info!(function = spec.name, "the function already exists; an earlier attempt created it");
                return Ok(None);
            }
            Err(error) if role_not_ready(&error) && backoff.wait().await => {
                tracing::info!(function = spec.name, "the execution role is not assumable yet; retrying");
            }
            Err(error) => return Err(AwsError::call(action, error)),
        }
    }
}

/// The outcome of a Lambda write that may repeat one whose response was lost.
enum Written<T> {
    /// The write succeeded now.
    Done(T),
    /// Lambda returned that the resource already exists.
    AlreadyExists,
    /// Lambda returned `ResourceNotFoundException`.
    NotFound,
}

impl<T> Written<T> {
    /// Turns `NotFound` into an error for writes that need the function to exist.
    fn found(self, name: &str, action: &str) -> Result<Written<T>, AwsError> {
        match self {
            Written::NotFound => Err(AwsError::Image(format!(
                "{action} failed: the Lambda function {name} no longer exists; rerun the command to create it again"
            ))),
            other => Ok(other),
        }
    }
}

/// Runs a Lambda write on function `name`. While Lambda returns `ResourceConflictException`
/// because an update of the function is in progress, it waits for the function to settle and
/// tries again, for up to `CONFLICT_LIMIT`. A conflict whose message says the resource already
/// exists, and a missing resource, are returned for the caller to judge: after a lost response
/// they mean an earlier attempt already did the work.
async fn write_when_settled<T, E, F, Fut>(clients: &Clients, name: &str, action: &str, mut call: F) -> Result<Written<T>, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut backoff = Backoff::new(clients.initial_backoff, Duration::from_secs(4), CONFLICT_LIMIT);
    loop {
        let error = match call().await {
            Ok(output) => return Ok(Written::Done(output)),
            Err(error) => error,
        };
        if code_of(&error) == Some("ResourceNotFoundException") {
            return Ok(Written::NotFound);
        }
        if code_of(&error) != Some("ResourceConflictException") {
            return Err(AwsError::call(action, error));
        }
        if message_of(&error).is_some_and(|message| message.contains("already exist")) {
            tracing::info!(function = name, action, "the resource already exists; an earlier attempt created it");
            return Ok(Written::AlreadyExists);
        }
        if !backoff.wait().await {
            return Err(AwsError::call(action, error));
        }
        tracing::info!(function = name, action, "Lambda reports an update in progress; retrying once the function settles");
        wait_settled(clients, name).await?;
    }
}

/// How long a Lambda write keeps retrying while the function reports an update in progress.
const CONFLICT_LIMIT: Duration = Duration::from_secs(120);

/// Tells whether CreateFunction failed because IAM has not yet propagated the role.
fn role_not_ready<R>(error: &aws_smithy_runtime_api::client::result::SdkError<aws_sdk_lambda::operation::create_function::CreateFunctionError, R>) -> bool {
    code_of(error) == Some("InvalidParameterValueException")
        && message_of(error).is_some_and(|message| message.contains("cannot be assumed"))
}

/// Waits until the function is active and no update is in progress; fails when Lambda reports
/// the last change failed.
pub(crate) async fn wait_settled(clients: &Clients, name: &str) -> Result<(), AwsError> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2), Duration::from_secs(300));
    loop {
        let configuration = clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|error| AwsError::call(format!("reading the state of {name}"), error))?;
        let state = configuration.state().cloned();
        let update = configuration.last_update_status().cloned();
        if state == Some(State::Failed) || update == Some(LastUpdateStatus::Failed) {
            let reason = configuration
                .last_update_status_reason()
                .or(configuration.state_reason())
                .unwrap_or("no reason given");
            return Err(AwsError::Image(format!(
                "Lambda could not apply the change to {name}: {reason}; the previous version keeps serving, \
                 fix the cause and rerun"
            )));
        }
        let pending = state == Some(State::Pending) || update == Some(LastUpdateStatus::InProgress);
        if !pending {
            return Ok(());
        }
        if !backoff.wait().await {
            return Err(AwsError::Timeout {
                what: format!("the Lambda function {name}"),
                seconds: backoff.limit_secs(),
                status: format!("{state:?} / {update:?}"),
            });
        }
    }
}

/// Deletes the function (its URL and resource policy go with it). Returns false when there was
/// none.
pub(crate) async fn delete_function(clients: &Clients, name: &str) -> Result<bool, AwsError> {
    let action = format!("deleting the Lambda function {name}");
    let written = write_when_settled(clients, name, &action, || clients.lambda.delete_function().function_name(name).send()).await?;
    Ok(!matches!(written, Written::NotFound))
}

/// Every function of the project: the ones whose name has the project's prefix.
pub(crate) async fn list_functions(clients: &Clients, prefix: &str) -> Result<Vec<FunctionConfiguration>, AwsError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| AwsError::call("listing Lambda functions", error))?;
        for function in page.functions() {
            if function.function_name().is_some_and(|name| name.starts_with(prefix)) {
                found.push(function.clone());
            }
        }
        match page.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => return Ok(found),
        }
    }
}

/// Reads the statement ids of the function's resource policy (empty when it has none).
pub(crate) async fn policy_statement_ids(clients: &Clients, name: &str) -> Result<Vec<String>, AwsError> {
    let policy = match clients.lambda.get_policy().function_name(name).send().await {
        Ok(output) => output.policy.unwrap_or_default(),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => return Ok(Vec::new()),
        Err(error) => return Err(AwsError::call(format!("reading the resource policy of {name}"), error)),
    };
    let parsed: serde_json::Value = serde_json::from_str(&policy).unwrap_or(serde_json::Value::Null);
    Ok(parsed["Statement"]
        .as_array()
        .map(|statements| {
            statements
                .iter()
                .filter_map(|statement| statement["Sid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Removes one statement of the function's resource policy; a missing one is not an error.
pub(crate) async fn remove_statement(clients: &Clients, name: &str, statement_id: &str) -> Result<(), AwsError> {
    let action = format!("removing the permission {statement_id} of {name}");
    write_when_settled(clients, name, &action, || {
        clients.lambda.remove_permission().function_name(name).statement_id(statement_id).send()
    })
    .await?;
    Ok(())
}

/// Lets an HTTP API invoke the function, scoped to that API's ARN.
pub(crate) async fn allow_api(clients: &Clients, name: &str, statement_id: &str, source_arn: &str) -> Result<(), AwsError> {
    let action = format!("letting {source_arn} invoke {name}");
    write_when_settled(clients, name, &action, || {
        clients
            .lambda
            .add_permission()
            .function_name(name)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .source_arn(source_arn)
            .send()
    })
    .await?
    .found(name, &action)?;
    Ok(())
}

/// Reads the function's URL, or `None` when it has none.
pub(crate) async fn function_url(clients: &Clients, name: &str) -> Result<Option<String>, AwsError> {
    Ok(function_url_config(clients, name).await?.map(|(url, _)| url))
}

/// Reads the function's URL and who may call it, or `None` when it has no URL.
pub(crate) async fn function_url_config(clients: &Clients, name: &str) -> Result<Option<(String, Auth)>, AwsError> {
    match clients.lambda.get_function_url_config().function_name(name).send().await {
        Ok(output) => {
            let auth = match output.auth_type {
                FunctionUrlAuthType::AwsIam => Auth::Iam,
                _ => Auth::None,
            };
            Ok(Some((output.function_url, auth)))
        }
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(None),
        Err(error) => Err(AwsError::call(format!("reading the function URL of {name}"), error)),
    }
}

fn url_auth_type(auth: Auth) -> FunctionUrlAuthType {
    match auth {
        Auth::None => FunctionUrlAuthType::None,
        Auth::Iam => FunctionUrlAuthType::AwsIam,
    }
}

/// Gives the function a URL and returns it. With `Auth::None` the URL is public, with both
/// permissions public URLs need: `lambda:InvokeFunctionUrl` for auth type NONE, and
/// `lambda:InvokeFunction` when invoked through the URL. With `Auth::Iam` the URL takes only
/// signed requests, and those two public permissions are removed when present.
pub(crate) async fn ensure_function_url(
    clients: &Clients,
    name: &str,
    statements: &[String],
    url_sid: &str,
    invoke_sid: &str,
    auth: Auth,
) -> Result<String, AwsError> {
    let url = match function_url_config(clients, name).await? {
        Some((url, current)) if current == auth => url,
        Some((url, _)) => {
            let action = format!("changing the authorization of the function URL of {name}");
            write_when_settled(clients, name, &action, || {
                clients.lambda.update_function_url_config().function_name(name).auth_type(url_auth_type(auth)).send()
            })
            .await?
            .found(name, &action)?;
            url
        }
        None => {
            let action = format!("creating the function URL of {name}");
            let created = write_when_settled(clients, name, &action, || {
                clients
                    .lambda
                    .create_function_url_config()
                    .function_name(name)
                    .auth_type(url_auth_type(auth))
                    .send()
            })
            .await?;
            match created {
                Written::Done(output) => output.function_url,
                Written::AlreadyExists | Written::NotFound => {
                    function_url(clients, name).await?.ok_or_else(|| AwsError::missing(&action, "FunctionUrl"))?
                }
            }
        }
    };
    if auth == Auth::Iam {
        for sid in [url_sid, invoke_sid] {
            if statements.iter().any(|existing| existing == sid) {
                remove_statement(clients, name, sid).await?;
            }
        }
        return Ok(url);
    }
    if !statements.iter().any(|sid| sid == url_sid) {
        let action = format!("allowing public calls of the URL of {name}");
        write_when_settled(clients, name, &action, || {
            clients
                .lambda
                .add_permission()
                .function_name(name)
                .statement_id(url_sid)
                .action("lambda:InvokeFunctionUrl")
                .principal("*")
                .function_url_auth_type(FunctionUrlAuthType::None)
                .send()
        })
        .await?
        .found(name, &action)?;
    }
    if !statements.iter().any(|sid| sid == invoke_sid) {
        let action = format!("allowing invocation of {name} through its URL");
        write_when_settled(clients, name, &action, || {
            clients
                .lambda
                .add_permission()
                .function_name(name)
                .statement_id(invoke_sid)
                .action("lambda:InvokeFunction")
                .principal("*")
                .invoked_via_function_url(true)
                .send()
        })
        .await?
        .found(name, &action)?;
    }
    Ok(url)
}

/// Removes the function's URL; a function without one is left alone.
pub(crate) async fn delete_function_url(clients: &Clients, name: &str) -> Result<(), AwsError> {
    let action = format!("deleting the function URL of {name}");
    write_when_settled(clients, name, &action, || {
        clients.lambda.delete_function_url_config().function_name(name).send()
    })
    .await?;
    Ok(())
}
