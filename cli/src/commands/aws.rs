//! The `--target aws` side of `mount`, `unmount`, `ls` and `invoke`, and `portkey policy`. The
//! image is the same one the local backend runs; `portkey-aws` deploys it. After every command the
//! project file's `aws` part is rewritten from what AWS reports.

use anyhow::{Context, Result, bail};
use portkey_aws::{AwsOptions, Clients, DeployedMount, MountSpec};
use portkey_route::{Method, Template, percent_decode};
use serde_json::{Map, Value, json};

use crate::args::{AwsArgs, InvokeArgs, LsArgs};
use crate::image::FunctionImage;
use crate::progress::status;
use crate::project::ProjectDirs;

/// A mount to deploy, checked and built.
pub struct AwsMount<'a> {
    pub image: &'a FunctionImage,
    pub method: Method,
    pub template: &'a Template,
    pub memory_mb: u32,
    pub timeout_secs: u32,
    pub env: std::collections::BTreeMap<String, String>,
    pub role: Option<String>,
    pub function_url: bool,
    pub auth: portkey_aws::Auth,
}

/// Runs an async AWS task on a runtime of its own: the rest of the CLI is synchronous.
fn block_on<T>(task: impl Future<Output = Result<T>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime for the AWS calls")?;
    runtime.block_on(task)
}

/// Returns the project's name in AWS resource names: the workspace folder's name.
pub(crate) fn project_name(dirs: &ProjectDirs) -> String {
    let folder = dirs.root.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    portkey_aws::names::project_slug(&folder)
}

pub(crate) async fn connect(aws: &AwsArgs) -> Result<Clients> {
    let options: AwsOptions = aws.options();
    Ok(Clients::connect(&options).await?)
}

pub fn mount(dirs: &ProjectDirs, aws: &AwsArgs, mount: AwsMount<'_>) -> Result<()> {
    let project = project_name(dirs);
    let spec = MountSpec {
        rust_path: mount.image.found.requested_path.clone(),
        method: mount.method.as_str().to_string(),
        template: mount.template.as_str().to_string(),
        route_key: format!("{} {}", mount.method.as_str(), mount.template.path_pattern()),
        bootstrap: mount.image.bootstrap.clone(),
        zip: mount.image.package.zip.clone(),
        code_sha256: mount.image.package.code_sha256.clone(),
        memory_mb: mount.memory_mb,
        timeout_secs: mount.timeout_secs,
        env: mount.env,
        role: mount.role,
        function_url: mount.function_url,
        auth: mount.auth,
    };
    block_on(async {
        let clients = connect(aws).await?;
        status("Deploying", &format!("{} to AWS Lambda in {}", spec.rust_path, clients.region()));
        let deployed = portkey_aws::deploy(&clients, &project, &spec).await;
        // The state is refreshed even after a failure, so the file shows what AWS holds.
        let refreshed = refresh_state(dirs, &clients, &project).await;
        let deployed = deployed?;
        refreshed?;
        let what = match (deployed.created, deployed.code_updated, deployed.settings_updated) {
            (true, _, _) => "created".to_string(),
            (false, true, _) => "code updated".to_string(),
            (false, false, true) => "settings updated".to_string(),
            (false, false, false) if deployed.write_calls == 0 => "unchanged, nothing written".to_string(),
            (false, false, false) => format!("code unchanged, {} routing changes", deployed.write_calls),
        };
        status("Deployed", &format!("{} as {} ({what})", spec.rust_path, deployed.function_name));
        println!("url: {}", deployed.url);
        if spec.auth == portkey_aws::Auth::Iam {
            let permission = if spec.function_url { "lambda:InvokeFunctionUrl" } else { "execute-api:Invoke" };
            eprintln!(
                "note: --auth iam: the URL takes only requests signed with AWS Signature Version 4 by an IAM \
                 identity allowed {permission} on it; others get 403"
            );
        }
        Ok(())
    })
}

pub fn unmount(dirs: &ProjectDirs, aws: &AwsArgs, function: &str) -> Result<()> {
    let project = project_name(dirs);
    block_on(async {
        let clients = connect(aws).await?;
        let deployed = portkey_aws::list(&clients, &project).await?;
        let listed = deployed.iter().any(|mount| mount.rust_path == function);
        // Removal runs even when the mount is not listed: a half-removed mount has lost the
        // description it is listed by, and this finishes removing it.
        let removal = portkey_aws::undeploy(&clients, &project, function).await?;
        refresh_state(dirs, &clients, &project).await?;
        let removed_something = removal.function_deleted || removal.objects_deleted > 0 || !removal.routes_deleted.is_empty();
        if !listed && !removed_something {
            let names: Vec<&str> = deployed.iter().map(|mount| mount.rust_path.as_str()).collect();
            let known = if names.is_empty() {
                format!("nothing of project `{project}` is deployed in {}", clients.region())
            } else {
                format!("deployed in {}: {}", clients.region(), names.join(", "))
            };
            bail!("`{function}` is not mounted on AWS ({known})");
        }
        let mut parts = vec![format!("function {}", removal.function_name)];
        if !removal.routes_deleted.is_empty() {
            parts.push(format!("routes {}", removal.routes_deleted.join(", ")));
        }
        parts.push(format!("{} code objects", removal.objects_deleted));
        if removal.api_deleted {
            parts.push("the now empty HTTP API".to_string());
        }
        status("Removed", &parts.join(", "));
        status("Unmounted", &format!("{function} from AWS"));
        Ok(())
    })
}

pub fn ls(dirs: &ProjectDirs, args: &LsArgs) -> Result<()> {
    let project = project_name(dirs);
    block_on(async {
        let clients = connect(&args.aws).await?;
        let mounts = refresh_state(dirs, &clients, &project).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&mounts)?);
            return Ok(());
        }
        if mounts.is_empty() {
            eprintln!(
                "nothing of project `{project}` is deployed in {}; deploy with `portkey mount <path> <template> --target aws`",
                clients.region()
            );
            return Ok(());
        }
        for mount in &mounts {
            println!(
                "{}\t{}\t{}\t{}\t{} B\t{}",
                mount.rust_path,
                mount.method,
                mount.url.as_deref().unwrap_or("(no route: mount it again)"),
                mount.code_sha256,
                mount.code_size,
                mount.last_modified
            );
        }
        Ok(())
    })
}

pub fn run_invoke(args: &InvokeArgs) -> Result<()> {
    if args.target != crate::args::Target::Aws {
        bail!("`portkey invoke` calls functions on AWS; for the local backend, send the request to the URL `portkey mount` printed");
    }
    let dirs = ProjectDirs::find(args.project.manifest_path.as_deref())?;
    let project = project_name(&dirs);
    let method = Method::parse(&args.method)?;
    if let Some(data) = &args.data {
        serde_json::from_str::<Value>(data).with_context(|| format!("--data is not valid JSON: `{data}`"))?;
    }
    block_on(async {
        let clients = connect(&args.aws).await?;
        let mounts = refresh_state(&dirs, &clients, &project).await?;
        let (mount, event) = request_event(&mounts, method, &args.path, args.data.as_deref())?;
        status("Invoking", &format!("{} ({}) with {} {}", mount.rust_path, mount.function_name, method, args.path));
        let invocation = portkey_aws::invoke(&clients, &project, &mount.rust_path, serde_json::to_vec(&event)?).await?;
        let payload = String::from_utf8_lossy(&invocation.payload).into_owned();
        if let Some(kind) = invocation.function_error {
            let message = serde_json::from_str::<Value>(&payload)
                .ok()
                .and_then(|error| error["errorMessage"].as_str().map(str::to_string))
                .unwrap_or(payload);
            bail!("{} failed ({kind}): {message}", mount.function_name);
        }
        let response: Value = serde_json::from_str(&payload).unwrap_or(Value::String(payload.clone()));
        let status_code = response["statusCode"].as_u64().unwrap_or(200);
        status("Answered", &format!("{status_code}"));
        match response["body"].as_str() {
            Some(body) => println!("{body}"),
            None => println!("{payload}"),
        }
        Ok(())
    })
}

/// Builds the HTTP API (payload 2.0) event a request to `path` would produce, and finds the mount
/// whose route takes it.
fn request_event<'a>(
    mounts: &'a [DeployedMount],
    method: Method,
    path: &str,
    data: Option<&str>,
) -> Result<(&'a DeployedMount, Value)> {
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    if !raw_path.starts_with('/') {
        bail!("the path `{path}` must start with `/`, for example \"/hello?name=Ada\"");
    }
    let mut found = None;
    for mount in mounts {
        let (Ok(template), Ok(mount_method)) = (Template::parse(&mount.template), Method::parse(&mount.method)) else {
            continue;
        };
        if !mount_method.accepts(method.as_str()) {
            continue;
        }
        if let Some(params) = template.match_path(raw_path) {
            found = Some((mount, template, params));
            break;
        }
    }
    let Some((mount, template, params)) = found else {
        let routes: Vec<String> = mounts.iter().map(|mount| format!("{} {}", mount.method, mount.template)).collect();
        bail!("no mount on AWS takes {method} {raw_path}; the deployed routes are: {}", routes.join(", "));
    };

    let mut query = Map::new();
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        match query.get_mut(&key) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                query.insert(key, Value::String(value));
            }
        }
    }
    let path_parameters: Map<String, Value> = params.into_iter().map(|(name, value)| (name, Value::String(value))).collect();
    let route_key = format!("{} {}", mount.method, template.path_pattern());
    let mut headers = Map::new();
    headers.insert("user-agent".into(), "portkey-invoke".into());
    if data.is_some() {
        headers.insert("content-type".into(), "application/json".into());
    }
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": if path_parameters.is_empty() { Value::Null } else { Value::Object(path_parameters) },
        "requestContext": {
            "http": {"method": method.as_str(), "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "portkey-invoke"},
            "routeKey": route_key,
            "stage": "$default"
        },
        "body": data,
        "isBase64Encoded": false
    });
    Ok((mount, event))
}

/// Reads what is deployed from AWS and writes it into the project file's `aws` part.
async fn refresh_state(dirs: &ProjectDirs, clients: &Clients, project: &str) -> Result<Vec<DeployedMount>> {
    let mounts = portkey_aws::list(clients, project).await?;
    let region = clients.region().to_string();
    let records: Vec<portkey_project::AwsMountRecord> = mounts
        .iter()
        .map(|mount| portkey_project::AwsMountRecord {
            function: mount.rust_path.clone(),
            method: mount.method.clone(),
            template: mount.template.clone(),
            function_name: mount.function_name.clone(),
            access: serde_json::to_value(mount.access).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            url: mount.url.clone(),
            auth: serde_json::to_value(mount.auth).ok().and_then(|v| v.as_str().map(str::to_string)),
            code_sha256: mount.code_sha256.clone(),
            code_size: mount.code_size,
            last_modified: mount.last_modified.clone(),
        })
        .collect();
    let project = project.to_string();
    portkey_project::update(&dirs.root, move |file| {
        if records.is_empty() {
            file.aws.remove(&region);
        } else {
            file.aws.insert(
                region,
                portkey_project::AwsRegionState {
                    project,
                    mounts: records,
                    checked_at: portkey_project::now_rfc3339(),
                },
            );
        }
    })?;
    Ok(mounts)
}

pub fn run_policy() -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&portkey_aws::policy_document())?);
    eprintln!(
        "This policy covers the calls portkey makes, on resources named portkey-*. With --role ARN, also \
         allow iam:PassRole on that role."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portkey_aws::Access;

    fn deployed(method: &str, template: &str) -> DeployedMount {
        DeployedMount {
            rust_path: format!("app::{}", template.len()),
            method: method.into(),
            template: template.into(),
            function_name: "portkey-app-f".into(),
            access: Access::Api,
            url: None,
            auth: portkey_aws::Auth::None,
            code_sha256: String::new(),
            code_size: 0,
            last_modified: String::new(),
        }
    }

    #[test]
    fn builds_a_v2_event_for_the_matching_route() {
        let mounts = vec![deployed("GET", "/hello?name={name}"), deployed("POST", "/users/{id}")];
        let (mount, event) = request_event(&mounts, Method::Post, "/users/a%20b?x=1&x=2", Some("{}")).unwrap();
        assert_eq!(mount.template, "/users/{id}");
        assert_eq!(event["routeKey"], "POST /users/{id}");
        assert_eq!(event["pathParameters"]["id"], "a b");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["rawQueryString"], "x=1&x=2");
        assert_eq!(event["body"], "{}");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
    }

    #[test]
    fn names_the_routes_when_nothing_matches() {
        let mounts = vec![deployed("GET", "/hello")];
        let error = request_event(&mounts, Method::Get, "/nope", None).unwrap_err().to_string();
        assert!(error.contains("GET /hello"), "{error}");
        assert!(error.contains("/nope"), "{error}");
    }
}
