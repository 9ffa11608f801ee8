//! Deploying and removing one mount, and listing what is deployed. Every step reads before it
//! writes, so a remount with nothing changed makes no write call, and a rerun after a failure picks
//! up where the failed run stopped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::api::{self, ApiIntegration, ApiRoute, HttpApi};
use crate::bucket;
use crate::config::Clients;
use crate::error::AwsError;
use crate::function::{self, FunctionSpec};
use crate::image;
use crate::names;
use crate::role::{self, ExecutionRole};

/// One mount to deploy.
#[derive(Debug, Clone)]
pub struct MountSpec {
    /// The Rust path, for example `hello::flatter`.
    pub rust_path: String,
    /// The HTTP method, for example `GET`, or `ANY`.
    pub method: String,
    /// The URL template, for example `/hello?name={name}`.
    pub template: String,
    /// The API Gateway route key, for example `GET /hello` or `GET /users/{id}`.
    pub route_key: String,
    /// The image's executable (its architecture is read from it).
    pub bootstrap: PathBuf,
    /// The image's zip.
    pub zip: PathBuf,
    /// The base64 SHA-256 of the zip.
    pub code_sha256: String,
    pub memory_mb: u32,
    pub timeout_secs: u32,
    pub env: BTreeMap<String, String>,
    /// An execution role to use instead of portkey's own.
    pub role: Option<String>,
    /// Give the function its own URL instead of a route on the project's HTTP API.
    pub function_url: bool,
    /// The callers the route or URL accepts.
    pub auth: Auth,
}

/// The callers a deployed mount accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// Anyone: the route or URL is public.
    #[default]
    None,
    /// Only requests signed with AWS Signature Version 4 by an IAM identity that may invoke it
    /// (`execute-api:Invoke` for a route, `lambda:InvokeFunctionUrl` for a function URL).
    Iam,
}

/// The outcome of `deploy`.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub function_name: String,
    pub function_arn: String,
    /// The public URL with the template's path and query, for example
    /// `https://abc.execute-api.eu-west-1.amazonaws.com/hello?name={name}`.
    pub url: String,
    pub created: bool,
    pub uploaded: bool,
    pub code_updated: bool,
    pub settings_updated: bool,
    /// How many write calls the deploy made; zero when nothing had changed.
    pub write_calls: usize,
}

/// The resources `undeploy` removed.
#[derive(Debug, Clone, Default)]
pub struct Removal {
    pub function_name: String,
    pub function_deleted: bool,
    pub routes_deleted: Vec<String>,
    pub objects_deleted: usize,
    pub api_deleted: bool,
}

/// The way a deployed function is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Through a route of the project's HTTP API.
    Api,
    /// Through the function's own URL.
    FunctionUrl,
    /// Not reachable from the internet: a remount repairs it.
    None,
}

/// One deployed mount, as AWS reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeployedMount {
    pub rust_path: String,
    pub method: String,
    pub template: String,
    pub function_name: String,
    pub access: Access,
    pub url: Option<String>,
    pub auth: Auth,
    pub code_sha256: String,
    pub code_size: i64,
    pub last_modified: String,
}

/// Deploys one mount: role, bucket and object, function, then its route or URL.
pub async fn deploy(clients: &Clients, project: &str, spec: &MountSpec) -> Result<Deployment, AwsError> {
    let writes_before = clients.log().writes().len();
    let name = names::function_name(project, &spec.rust_path);
    let architecture = image::architecture(&spec.bootstrap)?;
    let account = clients.account_id().await?;
    let role = match &spec.role {
        Some(arn) => ExecutionRole {
            arn: arn.clone(),
            created: false,
        },
        None => role::ensure_role(clients).await?,
    };

    let bucket = names::bucket_name(&account, clients.region());
    bucket::ensure_bucket(clients, &bucket).await?;
    let key = names::object_key(&name, &spec.code_sha256);
    let uploaded = bucket::upload_once(clients, &bucket, &key, &spec.zip).await?;

    let description = names::describe_mount(&spec.rust_path, &spec.method, &spec.template);
    let outcome = function::ensure_function(
        clients,
        &FunctionSpec {
            name: &name,
            project,
            description: &description,
            role_arn: &role.arn,
            role_is_new: role.created,
            bucket: &bucket,
            key: &key,
            code_sha256: &spec.code_sha256,
            architecture,
            memory_mb: spec.memory_mb,
            timeout_secs: spec.timeout_secs,
            env: &spec.env,
        },
    )
    .await?;

    let statements = function::policy_statement_ids(clients, &name).await?;
    let base = if spec.function_url {
        let url = function::ensure_function_url(
            clients,
            &name,
            &statements,
            names::URL_STATEMENT_ID,
            names::URL_INVOKE_STATEMENT_ID,
            spec.auth,
        )
        .await?;
        // A mount moved from the HTTP API to its own URL leaves no route behind.
        if let Some(api) = api::find_api(clients, &names::api_name(project)).await? {
            remove_routing(clients, &api, &outcome.arn, &name).await?;
        }
        url.trim_end_matches('/').to_string()
    } else {
        let api = api::ensure_api(clients, &names::api_name(project), project).await?;
        route_to(clients, &api, &outcome.arn, &spec.route_key, spec.auth).await?;
        let statement_id = names::api_statement_id(&api.id);
        if !statements.contains(&statement_id) {
            let source_arn = format!("arn:{}:execute-api:{}:{account}:{}/*", partition(&outcome.arn), clients.region(), api.id);
            function::allow_api(clients, &name, &statement_id, &source_arn).await?;
        }
        // A mount moved from its own URL to the HTTP API stops being public at the old URL.
        if function::function_url(clients, &name).await?.is_some() {
            function::delete_function_url(clients, &name).await?;
            function::remove_statement(clients, &name, names::URL_STATEMENT_ID).await?;
            function::remove_statement(clients, &name, names::URL_INVOKE_STATEMENT_ID).await?;
        }
        api.endpoint
    };

    Ok(Deployment {
        function_name: name,
        function_arn: outcome.arn,
        url: format!("{base}{}", spec.template),
        created: outcome.created,
        uploaded,
        code_updated: outcome.code_updated,
        settings_updated: outcome.settings_updated,
        write_calls: clients.log().writes().len() - writes_before,
    })
}

/// Points `route_key` at the function's integration, creating what is missing and removing the
/// function's routes with other keys (left by an earlier template).
async fn route_to(clients: &Clients, api: &HttpApi, function_arn: &str, route_key: &str, auth: Auth) -> Result<(), AwsError> {
    let integrations = api::integrations(clients, &api.id).await?;
    let integration = match integrations.iter().find(|integration| integration.uri == function_arn) {
        Some(integration) => integration.id.clone(),
        None => api::create_integration(clients, &api.id, function_arn).await?,
    };
    let routes = api::routes(clients, &api.id).await?;
    for route in routes.iter().filter(|route| route.integration.as_deref() == Some(integration.as_str()) && route.key != route_key) {
        api::delete_route(clients, &api.id, route).await?;
    }
    match routes.iter().find(|route| route.key == route_key) {
        None => api::create_route(clients, &api.id, route_key, &integration, auth).await,
        Some(route) if route.integration.as_deref() == Some(integration.as_str()) => {
            if route.auth != auth {
                api::set_route_auth(clients, &api.id, route, auth).await?;
            }
            Ok(())
        }
        Some(route) => {
            if let Some(owner) = owner_of(route, &integrations) {
                return Err(AwsError::Image(format!(
                    "the route {route_key} on the HTTP API {} already invokes {owner}; unmount that function \
                     (`portkey unmount <path> --target aws`) or choose another path",
                    api.id
                )));
            }
            // The route points at an integration that no longer exists: take it over.
            api::retarget_route(clients, &api.id, route, &integration).await?;
            if route.auth != auth {
                api::set_route_auth(clients, &api.id, route, auth).await?;
            }
            Ok(())
        }
    }
}

fn owner_of(route: &ApiRoute, integrations: &[ApiIntegration]) -> Option<String> {
    let id = route.integration.as_deref()?;
    let integration = integrations.iter().find(|integration| integration.id == id)?;
    Some(integration.uri.rsplit(':').next().unwrap_or(&integration.uri).to_string())
}

/// Removes the function's routes and integrations from the API, and the API when no route is
/// left. Returns the deleted route keys and whether the API went.
async fn remove_routing(clients: &Clients, api: &HttpApi, function_arn: &str, name: &str) -> Result<(Vec<String>, bool), AwsError> {
    let ours: Vec<ApiIntegration> = api::integrations(clients, &api.id)
        .await?
        .into_iter()
        .filter(|integration| integration.uri == function_arn || integration_names(&integration.uri, name))
        .collect();
    let mut deleted = Vec::new();
    let routes = api::routes(clients, &api.id).await?;
    for route in &routes {
        if ours.iter().any(|integration| route.integration.as_deref() == Some(integration.id.as_str())) {
            api::delete_route(clients, &api.id, route).await?;
            deleted.push(route.key.clone());
        }
    }
    for integration in &ours {
        api::delete_integration(clients, &api.id, &integration.id).await?;
    }
    if !ours.is_empty() {
        function::remove_statement(clients, name, &names::api_statement_id(&api.id)).await?;
    }
    let api_deleted = routes.len() == deleted.len();
    if api_deleted {
        api::delete_api(clients, &api.id).await?;
    }
    Ok((deleted, api_deleted))
}

/// Whether an integration URI invokes the function called `name` (any qualifier).
fn integration_names(uri: &str, name: &str) -> bool {
    uri.split(':').skip_while(|part| *part != "function").nth(1) == Some(name)
}

/// Removes a mount from AWS: its routes, integration and permission, the function, its objects,
/// and the HTTP API when it held nothing else. Parts already gone are skipped, so a rerun after a
/// failure finishes the job.
pub async fn undeploy(clients: &Clients, project: &str, rust_path: &str) -> Result<Removal, AwsError> {
    let name = names::function_name(project, rust_path);
    let mut removal = Removal {
        function_name: name.clone(),
        ..Removal::default()
    };
    let arn = function::get_function(clients, &name)
        .await?
        .and_then(|configuration| configuration.function_arn().map(str::to_string))
        .unwrap_or_default();
    if let Some(api) = api::find_api(clients, &names::api_name(project)).await? {
        let (routes, api_deleted) = remove_routing(clients, &api, &arn, &name).await?;
        removal.routes_deleted = routes;
        removal.api_deleted = api_deleted;
    }
    removal.function_deleted = function::delete_function(clients, &name).await?;
    let account = clients.account_id().await?;
    let bucket = names::bucket_name(&account, clients.region());
    removal.objects_deleted = bucket::delete_prefix(clients, &bucket, &names::object_prefix(&name)).await?;
    Ok(removal)
}

/// Every mount of the project deployed in the clients' region, read from AWS itself (function
/// names and descriptions, API routes, function URLs), sorted by Rust path.
pub async fn list(clients: &Clients, project: &str) -> Result<Vec<DeployedMount>, AwsError> {
    let functions = function::list_functions(clients, &names::function_prefix(project)).await?;
    let api = api::find_api(clients, &names::api_name(project)).await?;
    let (routes, integrations) = match &api {
        Some(api) => (api::routes(clients, &api.id).await?, api::integrations(clients, &api.id).await?),
        None => (Vec::new(), Vec::new()),
    };
    let mut mounts = Vec::new();
    for configuration in functions {
        let Some(name) = configuration.function_name() else { continue };
        let Some((rust_path, method, template)) = configuration.description().and_then(names::parse_description) else {
            tracing::warn!(function = name, "skipping a function whose description portkey did not write");
            continue;
        };
        let arn = configuration.function_arn().unwrap_or_default();
        let route = routes.iter().find(|route| {
            integrations.iter().any(|integration| {
                (integration.uri == arn || integration_names(&integration.uri, name))
                    && route.integration.as_deref() == Some(integration.id.as_str())
            })
        });
        let (access, url, auth) = match (&api, route) {
            (Some(api), Some(route)) => (Access::Api, Some(format!("{}{template}", api.endpoint)), route.auth),
            _ => match function::function_url_config(clients, name).await? {
                Some((url, auth)) => (Access::FunctionUrl, Some(format!("{}{template}", url.trim_end_matches('/'))), auth),
                None => (Access::None, None, Auth::None),
            },
        };
        mounts.push(DeployedMount {
            rust_path,
            method,
            template,
            function_name: name.to_string(),
            access,
            url,
            auth,
            code_sha256: configuration.code_sha256().unwrap_or_default().to_string(),
            code_size: configuration.code_size(),
            last_modified: configuration.last_modified().unwrap_or_default().to_string(),
        });
    }
    mounts.sort_by(|a, b| a.rust_path.cmp(&b.rust_path));
    Ok(mounts)
}

/// Replaces the code of a deployed mount's function with a new image, leaving its settings and
/// routing as they are. Uploads and updates only when `CodeSha256` differs; returns whether it
/// updated.
pub async fn update_code(
    clients: &Clients,
    project: &str,
    rust_path: &str,
    bootstrap: &std::path::Path,
    zip: &std::path::Path,
    code_sha256: &str,
) -> Result<bool, AwsError> {
    let name = names::function_name(project, rust_path);
    let Some(current) = function::get_function(clients, &name).await? else {
        return Err(AwsError::Image(format!(
            "`{rust_path}` is not deployed in {} (no function {name}); mount it with `portkey mount {rust_path} <template> --target aws`",
            clients.region()
        )));
    };
    if current.code_sha256() == Some(code_sha256) {
        return Ok(false);
    }
    let architecture = image::architecture(bootstrap)?;
    let account = clients.account_id().await?;
    let bucket = names::bucket_name(&account, clients.region());
    let key = names::object_key(&name, code_sha256);
    bucket::upload_once(clients, &bucket, &key, zip).await?;
    // The settings are the function's current ones, so only the code changes.
    let env: BTreeMap<String, String> = current
        .environment()
        .and_then(|environment| environment.variables())
        .map(|variables| variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let outcome = function::ensure_function(
        clients,
        &FunctionSpec {
            name: &name,
            project,
            description: current.description().unwrap_or_default(),
            role_arn: current.role().unwrap_or_default(),
            role_is_new: false,
            bucket: &bucket,
            key: &key,
            code_sha256,
            architecture,
            memory_mb: current.memory_size().unwrap_or(128).try_into().unwrap_or(128),
            timeout_secs: current.timeout().unwrap_or(30).try_into().unwrap_or(30),
            env: &env,
        },
    )
    .await?;
    Ok(outcome.code_updated)
}

/// The result of a direct invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The function's response document (for HTTP events: `statusCode`, `headers`, `body`).
    pub payload: Vec<u8>,
    /// Set when the function failed: Lambda's `FunctionError`, with the error document in
    /// `payload`.
    pub function_error: Option<String>,
}

/// Invokes a mount's function directly with `event`.
pub async fn invoke(clients: &Clients, project: &str, rust_path: &str, event: Vec<u8>) -> Result<Invocation, AwsError> {
    let name = names::function_name(project, rust_path);
    let output = clients
        .lambda
        .invoke()
        .function_name(&name)
        .payload(aws_smithy_types::Blob::new(event))
        .send()
        .await
        .map_err(|error| AwsError::call(format!("invoking {name}"), error))?;
    Ok(Invocation {
        payload: output.payload.map(|payload| payload.into_inner()).unwrap_or_default(),
        function_error: output.function_error,
    })
}

fn partition(arn: &str) -> &str {
    arn.split(':').nth(1).filter(|part| !part.is_empty()).unwrap_or("aws")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_uri_names_the_function() {
        assert!(integration_names("arn:aws:lambda:eu-west-1:123:function:portkey-a-b", "portkey-a-b"));
        assert!(integration_names("arn:aws:lambda:eu-west-1:123:function:portkey-a-b:live", "portkey-a-b"));
        assert!(!integration_names("arn:aws:lambda:eu-west-1:123:function:portkey-a-bc", "portkey-a-b"));
    }

    #[test]
    fn partition_comes_from_the_arn() {
        assert_eq!(partition("arn:aws-cn:lambda:cn-north-1:1:function:f"), "aws-cn");
        assert_eq!(partition("nonsense"), "aws");
    }
}
