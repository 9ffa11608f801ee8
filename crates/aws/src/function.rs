//! The Lambda function of one mount: created on first deploy, its code updated only when
//! `CodeSha256` differs, its settings updated only when they differ, and each change waited for
//! until Lambda reports it done. Also the function URL and the resource-policy statements.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionConfiguration, FunctionUrlAuthType, LastUpdateStatus, Runtime, State,
};

use crate::backoff::Backoff;
use crate::config::Clients;
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
    let Some(current) = get_function(clients, spec.name).await? else {
        let arn = create_function(clients, spec).await?;
        wait_settled(clients, spec.name).await?;
        return Ok(FunctionOutcome {
            arn,
            created: true,
            code_updated: false,
            settings_updated: false,
        });
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
        clients
            .lambda
            .update_function_code()
            .function_name(spec.name)
            .s3_bucket(spec.bucket)
            .s3_key(spec.key)
            .architectures(spec.architecture.clone())
            .send()
            .await
            .map_err(|error| AwsError::call(format!("updating the code of {}", spec.name), error))?;
        wait_settled(clients, spec.name).await?;
    }

    let settings_differ = settings_differ(&current, spec);
    if settings_differ {
        wait_settled(clients, spec.name).await?;
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
            .await
            .map_err(|error| AwsError::call(format!("updating the settings of {}", spec.name), error))?;
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
async fn create_function(clients: &Clients, spec: &FunctionSpec<'_>) -> Result<String, AwsError> {
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
            Ok(output) => return output.function_arn.ok_or_else(|| AwsError::missing(&action, "FunctionArn")),
            Err(error) if role_not_ready(&error) && backoff.wait().await => {
                tracing::info!(function = spec.name, "the execution role is not assumable yet; retrying");
            }
            Err(error) => return Err(AwsError::call(action, error)),
        }
    }
}

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
    match clients.lambda.delete_function().function_name(name).send().await {
        Ok(_) => Ok(true),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(false),
        Err(error) => Err(AwsError::call(format!("deleting the Lambda function {name}"), error)),
    }
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
    match clients.lambda.remove_permission().function_name(name).statement_id(statement_id).send().await {
        Ok(_) => Ok(()),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("removing the permission {statement_id} of {name}"), error)),
    }
}

/// Lets an HTTP API invoke the function, scoped to that API's ARN.
pub(crate) async fn allow_api(clients: &Clients, name: &str, statement_id: &str, source_arn: &str) -> Result<(), AwsError> {
    clients
        .lambda
        .add_permission()
        .function_name(name)
        .statement_id(statement_id)
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(source_arn)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("letting {source_arn} invoke {name}"), error))?;
    Ok(())
}

/// Reads the function's public URL, or `None` when it has none.
pub(crate) async fn function_url(clients: &Clients, name: &str) -> Result<Option<String>, AwsError> {
    match clients.lambda.get_function_url_config().function_name(name).send().await {
        Ok(output) => Ok(Some(output.function_url)),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(None),
        Err(error) => Err(AwsError::call(format!("reading the function URL of {name}"), error)),
    }
}

/// Gives the function a public URL with both permissions public URLs need:
/// `lambda:InvokeFunctionUrl` for auth type NONE, and `lambda:InvokeFunction` when invoked through
/// the URL. Returns the URL.
pub(crate) async fn ensure_function_url(
    clients: &Clients,
    name: &str,
    statements: &[String],
    url_sid: &str,
    invoke_sid: &str,
) -> Result<String, AwsError> {
    let url = match function_url(clients, name).await? {
        Some(url) => url,
        None => {
            clients
                .lambda
                .create_function_url_config()
                .function_name(name)
                .auth_type(FunctionUrlAuthType::None)
                .send()
                .await
                .map_err(|error| AwsError::call(format!("creating the function URL of {name}"), error))?
                .function_url
        }
    };
    if !statements.iter().any(|sid| sid == url_sid) {
        clients
            .lambda
            .add_permission()
            .function_name(name)
            .statement_id(url_sid)
            .action("lambda:InvokeFunctionUrl")
            .principal("*")
            .function_url_auth_type(FunctionUrlAuthType::None)
            .send()
            .await
            .map_err(|error| AwsError::call(format!("allowing public calls of the URL of {name}"), error))?;
    }
    if !statements.iter().any(|sid| sid == invoke_sid) {
        clients
            .lambda
            .add_permission()
            .function_name(name)
            .statement_id(invoke_sid)
            .action("lambda:InvokeFunction")
            .principal("*")
            .invoked_via_function_url(true)
            .send()
            .await
            .map_err(|error| AwsError::call(format!("allowing invocation of {name} through its URL"), error))?;
    }
    Ok(url)
}

/// Removes the function's URL; a function without one is left alone.
pub(crate) async fn delete_function_url(clients: &Clients, name: &str) -> Result<(), AwsError> {
    match clients.lambda.delete_function_url_config().function_name(name).send().await {
        Ok(_) => Ok(()),
        Err(error) if code_of(&error) == Some("ResourceNotFoundException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("deleting the function URL of {name}"), error)),
    }
}
