//! The AWS backend end to end: the real `portkey` executable deploys images of the `hello`
//! fixture to moto's server on 127.0.0.1, and the test checks the result through the AWS SDK. It
//! covers a first mount, an unchanged remount (no write call), a code change (one upload, one
//! update), a second function on the same HTTP API, a function URL and its two permissions,
//! unmounting one and then the rest (nothing left behind), that the deployed zip serves requests under
//! the local backend, and that `portkey policy` covers every AWS operation the commands called.
//! With `--auth iam`, routes and function URLs take only signed requests and carry no public
//! permission.

mod support;
#[path = "support/moto.rs"]
mod moto;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moto::Moto;

struct Run {
    stdout: String,
    stderr: String,
    calls: Vec<String>,
}

impl Run {
    fn writes(&self) -> Vec<&str> {
        self.calls
            .iter()
            .map(String::as_str)
            .filter(|call| {
                let operation = call.split(':').nth(1).unwrap_or_default();
                !["Get", "List", "Head", "Describe"].iter().any(|prefix| operation.starts_with(prefix))
            })
            .collect()
    }

    fn url(&self) -> &str {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix("url: "))
            .unwrap_or_else(|| panic!("no url line in:\n{}\n{}", self.stdout, self.stderr))
    }
}

struct Project<'a> {
    moto: &'a Moto,
    manifest: PathBuf,
    log_dir: PathBuf,
    runs: usize,
    all_calls: Vec<String>,
}

impl<'a> Project<'a> {
    /// Copies `fixtures/<fixture>` to `copy`, starting from an empty project file, with the AWS
    /// call logs in `<copy>-logs` beside it.
    fn for_fixture(moto: &'a Moto, fixture: &str, copy: &str) -> Project<'a> {
        let manifest = support::fixture_copy(fixture, copy);
        let _ = std::fs::remove_file(manifest.with_file_name("portkey.json"));
        let log_dir = manifest.parent().unwrap().with_extension("logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        Project {
            moto,
            manifest,
            log_dir,
            runs: 0,
            all_calls: Vec::new(),
        }
    }

    fn portkey(&mut self, args: &[&str]) -> Run {
        self.runs += 1;
        let log = self.log_dir.join(format!("calls-{}.log", self.runs));
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
        command.args(args).arg("--manifest-path").arg(&self.manifest);
        for (key, value) in self.moto.env() {
            command.env(key, value);
        }
        command.env("PORTKEY_AWS_CALL_LOG", &log);
        let output: Output = command.output().expect("portkey runs");
        let run = Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            calls: std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
        };
        assert!(
            output.status.success(),
            "portkey {args:?} failed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        self.all_calls.extend(run.calls.iter().cloned());
        run
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

struct Seen {
    functions: Vec<String>,
    routes: BTreeMap<String, String>,
    objects: Vec<String>,
    apis: Vec<String>,
}

/// What moto holds for the project, read through the SDK: function names, route keys with the
/// function each invokes, object keys, and HTTP API names.
fn seen(moto: &Moto) -> Seen {
    rt().block_on(async {
        let config = moto.sdk_config().await;
        let lambda = aws_sdk_lambda::Client::new(&config);
        let api = aws_sdk_apigatewayv2::Client::new(&config);
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());

        let functions: Vec<String> = lambda
            .list_functions()
            .send()
            .await
            .unwrap()
            .functions()
            .iter()
            .filter_map(|f| f.function_name().map(str::to_string))
            .collect();
        let apis = api.get_apis().send().await.unwrap();
        let mut routes = BTreeMap::new();
        for item in apis.items() {
            let id = item.api_id().unwrap();
            let integrations = api.get_integrations().api_id(id).send().await.unwrap();
            for route in api.get_routes().api_id(id).send().await.unwrap().items() {
                let target = route.target().unwrap_or_default().trim_start_matches("integrations/");
                let uri = integrations
                    .items()
                    .iter()
                    .find(|integration| integration.integration_id() == Some(target))
                    .and_then(|integration| integration.integration_uri())
                    .unwrap_or("(no integration)");
                let function = uri.rsplit(':').next().unwrap_or_default().to_string();
                routes.insert(route.route_key().unwrap().to_string(), function);
            }
        }
        let mut objects = Vec::new();
        for bucket in s3.list_buckets().send().await.unwrap().buckets() {
            let name = bucket.name().unwrap();
            for object in s3.list_objects_v2().bucket(name).send().await.unwrap().contents() {
                objects.push(format!("{name}/{}", object.key().unwrap()));
            }
        }
        Seen {
            functions,
            routes,
            objects,
            apis: apis.items().iter().filter_map(|a| a.name().map(str::to_string)).collect(),
        }
    })
}

/// The bucket blocks public access and encrypts by default; the API's `$default` stage deploys
/// automatically; the function runs the custom runtime with the image's architecture.
fn check_locked_down(moto: &Moto, function: &str) {
    rt().block_on(async {
        let config = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let bucket = s3.list_buckets().send().await.unwrap().buckets()[0].name().unwrap().to_string();
        assert_eq!(bucket, "portkey-123456789012-eu-west-1");
        let block = s3.get_public_access_block().bucket(&bucket).send().await.unwrap();
        let block = block.public_access_block_configuration().unwrap();
        assert_eq!(
            (block.block_public_acls(), block.ignore_public_acls(), block.block_public_policy(), block.restrict_public_buckets()),
            (Some(true), Some(true), Some(true), Some(true))
        );
        let encryption = s3.get_bucket_encryption().bucket(&bucket).send().await.unwrap();
        assert!(encryption.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty()));

        let api = aws_sdk_apigatewayv2::Client::new(&config);
        let apis = api.get_apis().send().await.unwrap();
        let stages = api.get_stages().api_id(apis.items()[0].api_id().unwrap()).send().await.unwrap();
        let stage = stages.items().iter().find(|s| s.stage_name() == Some("$default")).expect("a $default stage");
        assert_eq!(stage.auto_deploy(), Some(true));

        let lambda = aws_sdk_lambda::Client::new(&config);
        let function = lambda.get_function_configuration().function_name(function).send().await.unwrap();
        assert_eq!(function.runtime().map(|r| r.as_str()), Some("provided.al2023"));
        assert_eq!(function.handler(), Some("bootstrap"));
        let expected = if cfg!(target_arch = "x86_64") { "x86_64" } else { "arm64" };
        assert_eq!(function.architectures().first().map(|a| a.as_str()), Some(expected));
    })
}

/// Downloads the zip behind the function's current code from moto's S3.
fn download_deployed_zip(moto: &Moto, function: &str, to: &Path) {
    rt().block_on(async {
        let config = moto.sdk_config().await;
        let lambda = aws_sdk_lambda::Client::new(&config);
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let sha = lambda
            .get_function()
            .function_name(function)
            .send()
            .await
            .unwrap()
            .configuration()
            .unwrap()
            .code_sha256()
            .unwrap()
            .to_string();
        let bucket = s3.list_buckets().send().await.unwrap().buckets()[0].name().unwrap().to_string();
        let key = format!("{function}/{}.zip", sha.trim_end_matches('=').replace('/', "_").replace('+', "-"));
        let object = s3.get_object().bucket(&bucket).key(&key).send().await.unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        std::fs::write(to, &bytes).unwrap();
    })
}

/// Serves the downloaded image under the local backend and returns its response body for `path`.
fn answer_under_local_backend(zip: &Path, path: &str) -> String {
    let dir = zip.parent().unwrap().join("served");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let unzip = Command::new("unzip").arg("-o").arg(zip).arg("-d").arg(&dir).output().unwrap();
    assert!(unzip.status.success(), "{}", String::from_utf8_lossy(&unzip.stderr));
    let project = serde_json::json!({
        "version": 1,
        "mounts": [{
            "function": "hello::flatter",
            "method": "GET",
            "template": "/hello?name={name}",
            "bootstrap": dir.join("bootstrap"),
            "zip": zip,
            "code_sha256": "",
            "updated_at": "2026-01-01T00:00:00Z"
        }]
    });
    std::fs::write(dir.join("portkey.json"), serde_json::to_string(&project).unwrap()).unwrap();
    let options = portkey_local::client::StartOptions::new(env!("CARGO_BIN_EXE_portkey"), &dir, dir.join("state"));
    let server = portkey_local::client::ensure_running(&options).expect("the local backend starts");
    let url = portkey_local::client::url_for(&server, path);
    let output = Command::new("curl").args(["-sS", &url]).output().unwrap();
    let _ = portkey_local::client::shutdown(&server);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn deploys_updates_and_removes_mounts_on_moto() {
    let moto = Moto::start();
    let manifest = support::fixture_copy("hello", "aws-hello");
    let _ = std::fs::remove_file(manifest.with_file_name("portkey.json"));
    let lib = manifest.with_file_name("src").join("lib.rs");
    let log_dir = manifest.parent().unwrap().join("aws-logs");
    std::fs::create_dir_all(&log_dir).unwrap();
    let mut project = Project {
        moto: &moto,
        manifest: manifest.clone(),
        log_dir: log_dir.clone(),
        runs: 0,
        all_calls: Vec::new(),
    };
    let flatter = "portkey-aws-hello-hello-flatter";
    let render = "portkey-aws-hello-hello-render";
    let shout = "portkey-aws-hello-hello-shout";

    // First mount: everything is created, and the URL is the API's address with the template.
    let first = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    assert!(first.url().contains(".execute-api.eu-west-1.amazonaws.com/hello?name={name}"), "{}", first.url());
    for expected in ["IAM:CreateRole", "S3:CreateBucket", "S3:PutObject", "Lambda:CreateFunction", "ApiGatewayV2:CreateApi", "ApiGatewayV2:CreateRoute", "Lambda:AddPermission"] {
        assert!(first.writes().contains(&expected), "{expected} missing from {:?}", first.writes());
    }
    let state = seen(&moto);
    assert_eq!(state.functions, vec![flatter.to_string()]);
    assert_eq!(state.routes.get("GET /hello").map(String::as_str), Some(flatter));
    check_locked_down(&moto, flatter);

    // The same mount again writes nothing.
    let again = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    assert_eq!(again.writes(), Vec::<&str>::new(), "an unchanged remount wrote");
    assert_eq!(again.url(), first.url());

    // A code change: one upload, one code update, nothing else.
    let source = std::fs::read_to_string(&lib).unwrap();
    let changed = source.replace("is a delight to work with", "is a joy to work with");
    assert_ne!(source, changed, "the fixture's flatter text moved; update this test");
    std::fs::write(&lib, &changed).unwrap();
    let update = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    std::fs::write(&lib, &source).unwrap();
    assert_eq!(update.writes(), vec!["S3:PutObject", "Lambda:UpdateFunctionCode"]);

    // The deployed zip serves the new text under the local backend.
    let zip = log_dir.join("deployed.zip");
    download_deployed_zip(&moto, flatter, &zip);
    assert_eq!(answer_under_local_backend(&zip, "/hello?name=Ada"), "Ada is a joy to work with");

    // A second function joins the same HTTP API.
    let second = project.portkey(&["mount", "hello::render", "/render", "--method", "POST", "--target", "aws"]);
    assert_eq!(second.url().split("/render").next(), first.url().split("/hello").next(), "not the same API");
    let state = seen(&moto);
    assert_eq!(state.apis, vec!["portkey-aws-hello".to_string()]);
    assert_eq!(state.routes.get("GET /hello").map(String::as_str), Some(flatter));
    assert_eq!(state.routes.get("POST /render").map(String::as_str), Some(render));

    // A function URL instead of a route: both permissions public URLs need.
    let url_mount = project.portkey(&["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url"]);
    assert!(url_mount.url().ends_with("/shout?text={text}"), "{}", url_mount.url());
    assert!(!url_mount.url().contains("execute-api"), "{}", url_mount.url());
    let policy = rt().block_on(async {
        let config = moto.sdk_config().await;
        let lambda = aws_sdk_lambda::Client::new(&config);
        lambda.get_policy().function_name(shout).send().await.unwrap().policy.unwrap()
    });
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let url_statement = statements.iter().find(|s| s["Action"] == "lambda:InvokeFunctionUrl").expect("an InvokeFunctionUrl statement");
    assert!(url_statement.to_string().contains("NONE"), "{url_statement}");
    let invoke_statement = statements.iter().find(|s| s["Action"] == "lambda:InvokeFunction").expect("an InvokeFunction statement");
    assert!(invoke_statement.to_string().to_lowercase().contains("invokedviafunctionurl"), "{invoke_statement}");
    assert!(!seen(&moto).routes.values().any(|f| f == shout), "a function URL mount got an API route");

    // `ls` reads it all back from AWS, and a lost project file is rebuilt by it.
    std::fs::remove_file(manifest.with_file_name("portkey.json")).unwrap();
    let listed = project.portkey(&["ls", "--target", "aws", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let paths: Vec<&str> = listed.as_array().unwrap().iter().map(|m| m["rust_path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["hello::flatter", "hello::render", "hello::shout"]);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest.with_file_name("portkey.json")).unwrap()).unwrap();
    assert_eq!(file["aws"]["eu-west-1"]["mounts"].as_array().unwrap().len(), 3);

    // Unmounting one leaves the others intact.
    project.portkey(&["unmount", "hello::flatter", "--target", "aws"]);
    let state = seen(&moto);
    assert!(!state.functions.contains(&flatter.to_string()));
    assert_eq!(state.routes.keys().collect::<Vec<_>>(), vec!["POST /render"]);
    assert!(!state.objects.iter().any(|key| key.contains(flatter)), "{:?}", state.objects);
    assert!(state.objects.iter().any(|key| key.contains(render)), "{:?}", state.objects);

    // Unmounting the rest leaves nothing: no function, route, API or object.
    project.portkey(&["unmount", "hello::render", "--target", "aws"]);
    project.portkey(&["unmount", "hello::shout", "--target", "aws"]);
    let state = seen(&moto);
    assert_eq!(state.functions, Vec::<String>::new());
    assert_eq!(state.routes, BTreeMap::new());
    assert_eq!(state.apis, Vec::<String>::new());
    assert_eq!(state.objects, Vec::<String>::new());

    // The printed policy grants every action of every operation the commands called.
    let printed = Command::new(env!("CARGO_BIN_EXE_portkey")).arg("policy").output().unwrap();
    assert!(printed.status.success(), "{}", String::from_utf8_lossy(&printed.stderr));
    let document: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    let granted = portkey_aws::granted_actions(&document);
    let mut operations: Vec<&String> = project.all_calls.iter().collect();
    operations.sort();
    operations.dedup();
    assert!(operations.len() > 20, "too few operations recorded: {operations:?}");
    for call in operations {
        let (service, operation) = call.split_once(':').unwrap();
        let actions = portkey_aws::required_actions(service, operation)
            .unwrap_or_else(|| panic!("{call} was called but is missing from the policy table"));
        for action in actions {
            assert!(granted.iter().any(|g| g == action), "{call} needs {action}, which the policy lacks");
        }
    }
}

/// The route's authorization type for each route key of the project's API, and the function
/// URL's auth type with the actions of the function's resource policy.
fn auth_of(moto: &Moto, function: &str) -> (BTreeMap<String, String>, Option<String>, Vec<String>) {
    rt().block_on(async {
        let config = moto.sdk_config().await;
        let lambda = aws_sdk_lambda::Client::new(&config);
        let api = aws_sdk_apigatewayv2::Client::new(&config);
        let mut routes = BTreeMap::new();
        for item in api.get_apis().send().await.unwrap().items() {
            for route in api.get_routes().api_id(item.api_id().unwrap()).send().await.unwrap().items() {
                let auth = route.authorization_type().map(|auth| auth.as_str().to_string()).unwrap_or_default();
                routes.insert(route.route_key().unwrap().to_string(), auth);
            }
        }
        let url_auth = match lambda.get_function_url_config().function_name(function).send().await {
            Ok(output) => Some(output.auth_type.as_str().to_string()),
            Err(_) => None,
        };
        let actions = match lambda.get_policy().function_name(function).send().await {
            Ok(output) => {
                let policy: serde_json::Value = serde_json::from_str(&output.policy.unwrap_or_default()).unwrap_or_default();
                policy["Statement"]
                    .as_array()
                    .map(|statements| statements.iter().filter_map(|s| s["Action"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        (routes, url_auth, actions)
    })
}

#[test]
fn iam_auth_locks_routes_and_urls() {
    let moto = Moto::start();
    let mut project = Project::for_fixture(&moto, "hello", "aws-hello-iam");
    let shout = "portkey-aws-hello-iam-hello-shout";

    // A route that takes only signed requests, and the note that states it.
    let first = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws", "--auth", "iam"]);
    assert!(first.stderr.contains("note: --auth iam"), "{}", first.stderr);
    assert!(first.stderr.contains("execute-api:Invoke"), "{}", first.stderr);
    let (routes, _, _) = auth_of(&moto, shout);
    assert_eq!(routes.get("GET /hello").map(String::as_str), Some("AWS_IAM"), "{routes:?}");
    let listed = project.portkey(&["ls", "--target", "aws", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed[0]["auth"], "iam", "{listed}");

    // Remounting without --auth makes it public again with one write, and an unchanged
    // remount still writes nothing.
    let public = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    assert_eq!(public.writes(), vec!["ApiGatewayV2:UpdateRoute"]);
    let (routes, _, _) = auth_of(&moto, shout);
    assert_eq!(routes.get("GET /hello").map(String::as_str), Some("NONE"), "{routes:?}");
    let again = project.portkey(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    assert_eq!(again.writes(), Vec::<&str>::new());

    // A function URL with IAM auth has no public permission.
    project.portkey(&["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url", "--auth", "iam"]);
    let (_, url_auth, actions) = auth_of(&moto, shout);
    assert_eq!(url_auth.as_deref(), Some("AWS_IAM"));
    assert_eq!(actions, Vec::<String>::new(), "an IAM-only URL got public permissions");

    // Made public, it gets both permissions; locked again, it loses them.
    project.portkey(&["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url"]);
    let (_, url_auth, mut actions) = auth_of(&moto, shout);
    actions.sort();
    assert_eq!(url_auth.as_deref(), Some("NONE"));
    assert_eq!(actions, ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
    let locked = project.portkey(&["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url", "--auth", "iam"]);
    assert_eq!(locked.writes(), vec!["Lambda:UpdateFunctionUrlConfig", "Lambda:RemovePermission", "Lambda:RemovePermission"]);
    let (_, url_auth, actions) = auth_of(&moto, shout);
    assert_eq!(url_auth.as_deref(), Some("AWS_IAM"));
    assert_eq!(actions, Vec::<String>::new());

    // Every operation called is in the printed policy's table.
    for call in &project.all_calls {
        let (service, operation) = call.split_once(':').unwrap();
        assert!(portkey_aws::required_actions(service, operation).is_some(), "{call} is missing from the policy table");
    }

    // The local backend has no IAM: --auth iam there is an error with the fix.
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(["mount", "hello::flatter", "/hello?name={name}", "--auth", "iam", "--manifest-path"])
        .arg(&project.manifest)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth are settings of AWS deployments; add --target aws"), "{stderr}");
}

#[test]
fn unmounting_what_is_not_deployed_names_what_is() {
    let moto = Moto::start();
    let manifest = support::fixture_copy("hello", "aws-hello-empty");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
    command.args(["unmount", "hello::nope", "--target", "aws", "--manifest-path"]).arg(&manifest);
    for (key, value) in moto.env() {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`hello::nope` is not mounted on AWS"), "{stderr}");
    assert!(stderr.contains("nothing of project `aws-hello-empty` is deployed in eu-west-1"), "{stderr}");
}

#[test]
fn a_missing_region_is_named_with_the_fix() {
    let manifest = support::fixture_copy("hello", "aws-hello-no-region");
    let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
    command.args(["ls", "--target", "aws", "--manifest-path"]).arg(&manifest);
    // An endpoint is set so that nothing could reach real AWS even if the region were found.
    command
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent/portkey-test-aws-config")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let output = command.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no AWS region is set; pass --region"), "{stderr}");
}

#[test]
fn a_handler_on_a_prefix_gets_a_proxy_route() {
    let moto = Moto::start();
    let mut project = Project::for_fixture(&moto, "types", "aws-types");
    let mounted = project.portkey(&["mount", "types::app", "/app/*", "--target", "aws"]);
    assert!(mounted.url().ends_with("/app/*"), "{}", mounted.url());
    let state = seen(&moto);
    assert_eq!(
        state.routes.get("ANY /app/{proxy+}").map(String::as_str),
        Some("portkey-aws-types-types-app"),
        "{:?}",
        state.routes
    );
}
