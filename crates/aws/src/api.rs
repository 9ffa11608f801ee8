//! The project's API Gateway HTTP API: one per project and region, holding every mounted function
//! as routes to a Lambda proxy integration (payload 2.0), with a `$default` stage that deploys
//! automatically.

use aws_config::retry::RetryConfig;
use aws_sdk_apigatewayv2::types::{AuthorizationType, IntegrationType, ProtocolType};

use crate::config::Clients;
use crate::deploy::Auth;
use crate::error::{AwsError, code_of};
use crate::names::PROJECT_TAG;
use crate::once::create_once;

/// A per-call configuration that turns the SDK's retries off, for creates that `create_once`
/// retries itself.
fn no_sdk_retries() -> aws_sdk_apigatewayv2::config::Builder {
    aws_sdk_apigatewayv2::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// The HTTP API of a project.
#[derive(Debug, Clone)]
pub(crate) struct HttpApi {
    pub(crate) id: String,
    /// The base URL, for example `https://abc123.execute-api.eu-west-1.amazonaws.com`.
    pub(crate) endpoint: String,
}

/// A route of the API.
#[derive(Debug, Clone)]
pub(crate) struct ApiRoute {
    pub(crate) id: String,
    /// For example `GET /hello`.
    pub(crate) key: String,
    /// The integration id the route targets, when it targets one.
    pub(crate) integration: Option<String>,
    /// The callers the route accepts.
    pub(crate) auth: Auth,
}

/// A Lambda proxy integration of the API.
#[derive(Debug, Clone)]
pub(crate) struct ApiIntegration {
    pub(crate) id: String,
    /// The function ARN it invokes.
    pub(crate) uri: String,
}

/// Finds the API named `name`.
pub(crate) async fn find_api(clients: &Clients, name: &str) -> Result<Option<HttpApi>, AwsError> {
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .api
            .get_apis()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| AwsError::call("listing API Gateway HTTP APIs", error))?;
        for api in page.items() {
            if api.name() == Some(name) {
                let id = api.api_id().ok_or_else(|| AwsError::missing("listing HTTP APIs", "ApiId"))?;
                let endpoint = api.api_endpoint().ok_or_else(|| AwsError::missing("listing HTTP APIs", "ApiEndpoint"))?;
                return Ok(Some(HttpApi {
                    id: id.to_string(),
                    endpoint: endpoint.trim_end_matches('/').to_string(),
                }));
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Returns the API named `name`, creating it and its `$default` stage when missing.
pub(crate) async fn ensure_api(clients: &Clients, name: &str, project: &str) -> Result<HttpApi, AwsError> {
    let api = match find_api(clients, name).await? {
        Some(api) => api,
        None => {
            let action = format!("creating the HTTP API {name}");
            let create = || async {
                let created = clients
                    .api
                    .create_api()
                    .name(name)
                    .protocol_type(ProtocolType::Http)
                    .description("Routes of the functions mounted by portkey.")
                    .tags(PROJECT_TAG, project)
                    .customize()
                    .config_override(no_sdk_retries())
                    .send()
                    .await?;
                Ok((created.api_id, created.api_endpoint))
            };
            let find = || async {
                let found = find_api(clients, name).await?;
                Ok(found.map(|api| (Some(api.id), Some(api.endpoint))))
            };
            let (id, endpoint) = create_once(clients, &action, create, find).await?;
            HttpApi {
                id: id.ok_or_else(|| AwsError::missing(&action, "ApiId"))?,
                endpoint: endpoint
                    .ok_or_else(|| AwsError::missing(&action, "ApiEndpoint"))?
                    .trim_end_matches('/')
                    .to_string(),
            }
        }
    };
    ensure_default_stage(clients, &api.id).await?;
    Ok(api)
}

async fn ensure_default_stage(clients: &Clients, api_id: &str) -> Result<(), AwsError> {
    let stages = clients
        .api
        .get_stages()
        .api_id(api_id)
        .send()
        .await
        .map_err(|error| AwsError::call(format!("listing the stages of the HTTP API {api_id}"), error))?;
    if stages.items().iter().any(|stage| stage.stage_name() == Some("$default")) {
        return Ok(());
    }
    let result = clients.api.create_stage().api_id(api_id).stage_name("$default").auto_deploy(true).send().await;
    match result {
        Ok(_) => Ok(()),
        // A retry after a lost response finds the stage that the first attempt created.
        Err(error) if code_of(&error) == Some("ConflictException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("creating the $default stage of the HTTP API {api_id}"), error)),
    }
}

/// Lists every route of the API.
pub(crate) async fn routes(clients: &Clients, api_id: &str) -> Result<Vec<ApiRoute>, AwsError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .api
            .get_routes()
            .api_id(api_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| AwsError::call(format!("listing the routes of the HTTP API {api_id}"), error))?;
        for route in page.items() {
            let (Some(id), Some(key)) = (route.route_id(), route.route_key()) else { continue };
            found.push(ApiRoute {
                id: id.to_string(),
                key: key.to_string(),
                integration: route.target().and_then(|target| target.strip_prefix("integrations/")).map(str::to_string),
                auth: match route.authorization_type() {
                    Some(AuthorizationType::AwsIam) => Auth::Iam,
                    _ => Auth::None,
                },
            });
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(found),
        }
    }
}

/// Lists every integration of the API.
pub(crate) async fn integrations(clients: &Clients, api_id: &str) -> Result<Vec<ApiIntegration>, AwsError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .api
            .get_integrations()
            .api_id(api_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| AwsError::call(format!("listing the integrations of the HTTP API {api_id}"), error))?;
        for integration in page.items() {
            let (Some(id), Some(uri)) = (integration.integration_id(), integration.integration_uri()) else { continue };
            found.push(ApiIntegration {
                id: id.to_string(),
                uri: uri.to_string(),
            });
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(found),
        }
    }
}

/// Creates a Lambda proxy integration (payload 2.0) for `function_arn`.
pub(crate) async fn create_integration(clients: &Clients, api_id: &str, function_arn: &str) -> Result<String, AwsError> {
    let action = format!("connecting the HTTP API {api_id} to {function_arn}");
    let create = || async {
        let created = clients
            .api
            .create_integration()
            .api_id(api_id)
            .integration_type(IntegrationType::AwsProxy)
            .integration_uri(function_arn)
            .payload_format_version("2.0")
            .customize()
            .config_override(no_sdk_retries())
            .send()
            .await?;
        Ok(created.integration_id)
    };
    let find = || async {
        let found = integrations(clients, api_id).await?;
        Ok(found.into_iter().find(|integration| integration.uri == function_arn).map(|integration| Some(integration.id)))
    };
    create_once(clients, &action, create, find).await?.ok_or_else(|| AwsError::missing(&action, "IntegrationId"))
}

fn authorization_type(auth: Auth) -> AuthorizationType {
    match auth {
        Auth::None => AuthorizationType::None,
        Auth::Iam => AuthorizationType::AwsIam,
    }
}

pub(crate) async fn create_route(clients: &Clients, api_id: &str, key: &str, integration: &str, auth: Auth) -> Result<(), AwsError> {
    let action = format!("creating the route {key} on the HTTP API {api_id}");
    let target = format!("integrations/{integration}");
    let create = || async {
        clients
            .api
            .create_route()
            .api_id(api_id)
            .route_key(key)
            .target(&target)
            .authorization_type(authorization_type(auth))
            .customize()
            .config_override(no_sdk_retries())
            .send()
            .await?;
        Ok(())
    };
    let find = || async {
        let found = routes(clients, api_id).await?;
        Ok(found.iter().any(|route| route.key == key && route.integration.as_deref() == Some(integration)).then_some(()))
    };
    create_once(clients, &action, create, find).await
}

pub(crate) async fn retarget_route(clients: &Clients, api_id: &str, route: &ApiRoute, integration: &str) -> Result<(), AwsError> {
    clients
        .api
        .update_route()
        .api_id(api_id)
        .route_id(&route.id)
        .target(format!("integrations/{integration}"))
        .send()
        .await
        .map_err(|error| AwsError::call(format!("pointing the route {} of the HTTP API at integration {integration}", route.key), error))?;
    Ok(())
}

/// Changes who may call an existing route.
pub(crate) async fn set_route_auth(clients: &Clients, api_id: &str, route: &ApiRoute, auth: Auth) -> Result<(), AwsError> {
    clients
        .api
        .update_route()
        .api_id(api_id)
        .route_id(&route.id)
        .authorization_type(authorization_type(auth))
        .send()
        .await
        .map_err(|error| AwsError::call(format!("changing the authorization of the route {} of the HTTP API {api_id}", route.key), error))?;
    Ok(())
}

pub(crate) async fn delete_route(clients: &Clients, api_id: &str, route: &ApiRoute) -> Result<(), AwsError> {
    match clients.api.delete_route().api_id(api_id).route_id(&route.id).send().await {
        Ok(_) => Ok(()),
        Err(error) if code_of(&error) == Some("NotFoundException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("deleting the route {} of the HTTP API {api_id}", route.key), error)),
    }
}

pub(crate) async fn delete_integration(clients: &Clients, api_id: &str, integration: &str) -> Result<(), AwsError> {
    match clients.api.delete_integration().api_id(api_id).integration_id(integration).send().await {
        Ok(_) => Ok(()),
        Err(error) if code_of(&error) == Some("NotFoundException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("deleting integration {integration} of the HTTP API {api_id}"), error)),
    }
}

pub(crate) async fn delete_api(clients: &Clients, api_id: &str) -> Result<(), AwsError> {
    match clients.api.delete_api().api_id(api_id).send().await {
        Ok(_) => Ok(()),
        Err(error) if code_of(&error) == Some("NotFoundException") => Ok(()),
        Err(error) => Err(AwsError::call(format!("deleting the HTTP API {api_id}"), error)),
    }
}
