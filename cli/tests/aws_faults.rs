//! AWS faults: the real `portkey` executable deploys the `hello` fixture to moto's server through
//! a fault-injecting proxy on 127.0.0.1, and the test checks through the AWS SDK, against moto
//! directly, what each command leaves behind.
//!
//! Each scenario step is one command from a known starting state: a first mount behind the HTTP
//! API, a settings change, a code change, a function URL mount, its move to the HTTP API, `ls`,
//! and unmounting. Two kinds of cases run:
//!
//! - transient: every other request of every operation (or of a few, for stalls) gets a fault,
//!   starting with the first, and every command must still complete with the right result;
//! - persistent: every attempt of one operation gets a fault. The command either completes or
//!   fails with a message naming its step. A failed remount leaves the previous version
//!   reachable. Then a rerun without faults must converge to the state of a clean run.
//!
//! The counts (faults injected, commands completed, commands failed cleanly, reruns converged)
//! are printed at the end.

mod support;
#[path = "support/faults.rs"]
mod faults;
#[path = "support/moto.rs"]
mod moto;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use faults::{Fault, FaultProxy, Rule};
use moto::Moto;

/// The per-attempt timeout the commands run with, so that a stalled call costs seconds.
const ATTEMPT_TIMEOUT_SECS: u64 = 2;

/// The first retry delay the commands run with (500 ms by default), so that the many retries
/// of these tests cost little time. The schedule's shape and its jitter stay the same.
const INITIAL_BACKOFF_MS: u64 = 20;

/// A stall longer than the attempt timeout.
const STALL: Duration = Duration::from_secs(6);

/// One command of the scenario, the state it starts from, and the state it must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `mount hello::flatter` behind the HTTP API, on an empty account.
    MountApi,
    /// The same mount with an environment variable: a settings update.
    ChangeSettings,
    /// The same mount with `--size full`: a code update.
    ChangeCode,
    /// `mount hello::shout --function-url`, on an empty account.
    MountUrl,
    /// `mount hello::shout` behind the HTTP API, moving it from its function URL.
    MoveUrlToApi,
    /// `ls --target aws` with `hello::flatter` deployed.
    List,
    /// `unmount hello::flatter` with it deployed.
    Unmount,
}

const STEPS: [Step; 7] = [
    Step::MountApi,
    Step::ChangeSettings,
    Step::ChangeCode,
    Step::MountUrl,
    Step::MoveUrlToApi,
    Step::List,
    Step::Unmount,
];

impl Step {
    fn args(self) -> Vec<&'static str> {
        let flatter = ["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"];
        match self {
            Step::MountApi => flatter.to_vec(),
            Step::ChangeSettings => [&flatter[..], &["--env", "MODE=changed"]].concat(),
            Step::ChangeCode => [&flatter[..], &["--size", "full"]].concat(),
            Step::MountUrl => vec!["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url"],
            Step::MoveUrlToApi => vec!["mount", "hello::shout", "/shout?text={text}", "--target", "aws"],
            Step::List => vec!["ls", "--target", "aws", "--json"],
            Step::Unmount => vec!["unmount", "hello::flatter", "--target", "aws"],
        }
    }

    /// The step that brings an empty account to this step's starting state.
    fn setup(self) -> Option<Step> {
        match self {
            Step::MountApi | Step::MountUrl => None,
            Step::ChangeSettings | Step::ChangeCode | Step::List | Step::Unmount => Some(Step::MountApi),
            Step::MoveUrlToApi => Some(Step::MountUrl),
        }
    }

    /// Whether a failure of this step must leave the previous deployment reachable.
    fn replaces_a_deployment(self) -> bool {
        matches!(self, Step::ChangeSettings | Step::ChangeCode | Step::MoveUrlToApi)
    }
}

/// What moto holds, read through the SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    /// Function name to its code hash.
    functions: BTreeMap<String, String>,
    /// Function name to its environment variables.
    environments: BTreeMap<String, BTreeMap<String, String>>,
    /// Route key to the function its integration invokes.
    routes: BTreeMap<String, String>,
    /// Integrations per API, and how many APIs exist.
    integrations: usize,
    apis: usize,
    /// Functions with a function URL.
    urls: BTreeSet<String>,
    /// Object keys in the code bucket.
    objects: Vec<String>,
    /// Whether portkey's role exists with the basic execution policy attached.
    role_ready: bool,
    /// Whether the bucket exists with public access blocked and default encryption.
    bucket_locked: bool,
}

struct Harness {
    /// The names of the two functions the steps deploy.
    flatter: String,
    shout: String,
    moto: Moto,
    proxy: FaultProxy,
    manifest: PathBuf,
    fixture_target: PathBuf,
    runtime: tokio::runtime::Runtime,
    /// The code hash of `hello::flatter` built with default settings, learned from a clean run.
    flatter_code: Option<String>,
    counts: Counts,
}

#[derive(Debug, Default)]
struct Counts {
    faults: usize,
    completed: usize,
    failed_cleanly: usize,
    converged: usize,
}

struct Run {
    /// The requests the proxy saw during the command.
    seen: Vec<faults::Seen>,
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Harness {
    /// Starts moto and the proxy for a copy of the fixture named `project`, which builds into its
    /// own target folder so that tests running at the same time share no files.
    fn start(project: &str) -> Harness {
        let moto = Moto::start();
        let proxy = FaultProxy::start(&moto.endpoint);
        let manifest = support::fixture_copy("hello", project);
        let _ = std::fs::remove_file(manifest.with_file_name("portkey.json"));
        let fixture_target = manifest.with_file_name("target");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Harness {
            flatter: format!("portkey-{project}-hello-flatter"),
            shout: format!("portkey-{project}-hello-shout"),
            moto,
            proxy,
            manifest,
            fixture_target,
            runtime,
            flatter_code: None,
            counts: Counts::default(),
        }
    }

    /// Runs `portkey <args>` through the proxy.
    fn portkey(&mut self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
        command.arg("-v").args(args).arg("--manifest-path").arg(&self.manifest);
        for (key, value) in self.moto.env() {
            command.env(key, value);
        }
        command
            .env("AWS_ENDPOINT_URL", &self.proxy.endpoint)
            .env("PORTKEY_AWS_ATTEMPT_TIMEOUT_SECS", ATTEMPT_TIMEOUT_SECS.to_string())
            .env("PORTKEY_AWS_RETRY_INITIAL_BACKOFF_MS", INITIAL_BACKOFF_MS.to_string())
            .env("CARGO_TARGET_DIR", &self.fixture_target);
        let output = command.output().expect("the portkey executable runs");
        let seen = self.proxy.take_seen();
        self.counts.faults += seen.iter().filter(|seen| seen.fault.is_some()).count();
        let run = Run {
            seen,
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        run
    }

    /// Runs `step` without faults and checks that it reaches its state.
    fn clean(&mut self, step: Step) {
        self.proxy.set_rules(Vec::new());
        let run = self.portkey(&step.args());
        assert!(run.success, "{step:?} failed without faults:\n{}\n{}", run.stdout, run.stderr);
        self.check_reached(step, &run);
    }

    /// Empties moto: every resource of every service.
    fn reset_moto(&self) {
        let address = self.moto.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("moto accepts connections");
        let request = format!("POST /moto-api/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"), "moto reset: {response}");
    }

    /// Brings moto to the starting state of `step`.
    fn prepare(&mut self, step: Step) {
        self.reset_moto();
        if let Some(setup) = step.setup() {
            self.clean(setup);
        }
    }

    fn snapshot(&self) -> Snapshot {
        self.runtime.block_on(read_snapshot(&self.moto))
    }

    /// Checks the state a successful `step` leaves.
    fn check_reached(&mut self, step: Step, run: &Run) {
        let state = self.snapshot();
        let context = format!("after {step:?}:\n{state:#?}\n{}", run.stderr);
        let (flatter, shout) = (self.flatter.clone(), self.shout.clone());
        match step {
            Step::MountApi | Step::ChangeSettings | Step::ChangeCode => {
                assert_eq!(state.functions.keys().collect::<Vec<_>>(), vec![&flatter], "{context}");
                assert_eq!(state.routes.get("GET /hello").map(String::as_str), Some(flatter.as_ref()), "{context}");
                assert_eq!(state.routes.len(), 1, "{context}");
                assert_eq!((state.apis, state.integrations), (1, 1), "{context}");
                assert!(state.role_ready, "the role lacks its policy {context}");
                assert!(state.bucket_locked, "the bucket is not locked down {context}");
                assert!(run.stdout.contains("execute-api"), "no API URL printed {context}");
                let env = state.environments.get(&flatter).cloned().unwrap_or_default();
                assert_eq!(env.get("MODE").map(String::as_str), (step == Step::ChangeSettings).then_some("changed"), "{context}");
                let code = state.functions[&flatter].clone();
                if step == Step::MountApi {
                    self.flatter_code.get_or_insert(code.clone());
                }
                let default_code = self.flatter_code.as_deref();
                match step {
                    Step::ChangeCode => assert_ne!(Some(code.as_str()), default_code, "the code was not updated {context}"),
                    _ => assert_eq!(Some(code.as_str()), default_code, "{context}"),
                }
                assert!(state.objects.iter().any(|key| key.contains(&flatter)), "{context}");
            }
            Step::MountUrl => {
                assert_eq!(state.functions.keys().collect::<Vec<_>>(), vec![&shout], "{context}");
                assert!(state.urls.contains(shout.as_str()), "{context}");
                assert!(state.routes.is_empty(), "{context}");
            }
            Step::MoveUrlToApi => {
                assert_eq!(state.functions.keys().collect::<Vec<_>>(), vec![&shout], "{context}");
                assert!(state.urls.is_empty(), "the old URL is still public {context}");
                assert_eq!(state.routes.get("GET /shout").map(String::as_str), Some(shout.as_ref()), "{context}");
                assert_eq!((state.apis, state.integrations), (1, 1), "{context}");
            }
            Step::List => {
                let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|error| panic!("ls printed no JSON ({error}) {context}"));
                let paths: Vec<&str> = listed.as_array().into_iter().flatten().filter_map(|mount| mount["rust_path"].as_str()).collect();
                assert_eq!(paths, vec!["hello::flatter"], "{context}");
            }
            Step::Unmount => {
                assert!(state.functions.is_empty(), "{context}");
                assert!(state.routes.is_empty(), "{context}");
                assert_eq!((state.apis, state.integrations), (0, 0), "orphaned API resources {context}");
                assert!(state.objects.is_empty(), "orphaned objects {context}");
            }
        }
    }

    /// Checks that a failed `step` left the previous deployment reachable.
    fn check_previous_reachable(&self, step: Step, run: &Run) {
        let state = self.snapshot();
        let context = format!("after a failed {step:?}:\n{state:#?}\n{}", run.stderr);
        let (flatter, shout) = (self.flatter.as_str(), self.shout.as_str());
        match step {
            Step::ChangeSettings | Step::ChangeCode => {
                assert!(state.functions.contains_key(flatter), "the function is gone {context}");
                assert_eq!(state.routes.get("GET /hello").map(String::as_str), Some(flatter.as_ref()), "the route is gone {context}");
            }
            Step::MoveUrlToApi => {
                let by_url = state.urls.contains(shout);
                let by_route = state.routes.get("GET /shout").map(String::as_str) == Some(shout.as_ref());
                assert!(state.functions.contains_key(shout), "the function is gone {context}");
                assert!(by_url || by_route, "neither the URL nor the route reaches the function {context}");
            }
            _ => {}
        }
    }

    /// Checks that a failed command failed cleanly: exit status 1, no panic, and a message that
    /// names the step of `operation`.
    fn check_clean_failure(&self, operation: &str, run: &Run) {
        let context = format!("{operation}:\n{}\n{}", run.stdout, run.stderr);
        assert_eq!(run.code, Some(1), "not a clean failure {context}");
        assert!(!run.stderr.contains("panicked"), "a panic {context}");
        let error = run.stderr.lines().filter(|line| line.starts_with("error")).collect::<Vec<_>>().join("\n");
        assert!(!error.is_empty(), "no error line {context}");
        let service = operation.split(':').next().unwrap_or_default();
        let names_step = match service {
            "STS" => error.contains("AWS account"),
            "IAM" => error.contains("IAM role") || error.contains("portkey-lambda"),
            "S3" => error.contains("bucket") || error.contains("s3://"),
            "Lambda" => error.contains(&self.flatter) || error.contains(&self.shout) || error.contains("Lambda"),
            "ApiGatewayV2" => error.contains("HTTP API"),
            _ => false,
        };
        assert!(names_step, "the message does not name the step of {operation}: {error}");
        assert!(error.contains("failed") || error.contains("did not settle"), "{context}");
    }
}

async fn read_snapshot(moto: &Moto) -> Snapshot {
    let config = moto.sdk_config().await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    let api = aws_sdk_apigatewayv2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());

    let mut functions = BTreeMap::new();
    let mut environments = BTreeMap::new();
    let mut urls = BTreeSet::new();
    for function in lambda.list_functions().send().await.unwrap().functions() {
        let name = function.function_name().unwrap_or_default().to_string();
        functions.insert(name.clone(), function.code_sha256().unwrap_or_default().to_string());
        let variables = function.environment().and_then(|environment| environment.variables());
        let env = variables.map(|variables| variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        environments.insert(name.clone(), env);
        if lambda.get_function_url_config().function_name(&name).send().await.is_ok() {
            urls.insert(name);
        }
    }

    let apis = api.get_apis().send().await.unwrap();
    let mut routes = BTreeMap::new();
    let mut integration_count = 0;
    for item in apis.items() {
        let id = item.api_id().unwrap();
        let integrations = api.get_integrations().api_id(id).send().await.unwrap();
        integration_count += integrations.items().len();
        for route in api.get_routes().api_id(id).send().await.unwrap().items() {
            let target = route.target().unwrap_or_default().trim_start_matches("integrations/");
            let uri = integrations
                .items()
                .iter()
                .find(|integration| integration.integration_id() == Some(target))
                .and_then(|integration| integration.integration_uri())
                .unwrap_or("(no integration)");
            routes.insert(route.route_key().unwrap().to_string(), uri.rsplit(':').next().unwrap_or_default().to_string());
        }
    }

    let role_ready = match iam.list_attached_role_policies().role_name("portkey-lambda").send().await {
        Ok(attached) => attached.attached_policies().iter().any(|policy| {
            policy.policy_arn().is_some_and(|arn| arn.ends_with("service-role/AWSLambdaBasicExecutionRole"))
        }),
        Err(_) => false,
    };

    let mut objects = Vec::new();
    let mut bucket_locked = false;
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        let name = bucket.name().unwrap();
        for object in s3.list_objects_v2().bucket(name).send().await.unwrap().contents() {
            objects.push(format!("{name}/{}", object.key().unwrap()));
        }
        let blocked = s3.get_public_access_block().bucket(name).send().await.ok().and_then(|output| {
            output.public_access_block_configuration().map(|block| {
                block.block_public_acls() == Some(true)
                    && block.ignore_public_acls() == Some(true)
                    && block.block_public_policy() == Some(true)
                    && block.restrict_public_buckets() == Some(true)
            })
        });
        let encrypted = s3.get_bucket_encryption().bucket(name).send().await.is_ok();
        bucket_locked = blocked == Some(true) && encrypted;
    }

    Snapshot {
        functions,
        environments,
        routes,
        integrations: integration_count,
        apis: apis.items().len(),
        urls,
        objects,
        role_ready,
        bucket_locked,
    }
}

/// Runs every step once without faults and returns the operations each one calls.
fn operations_per_step(harness: &mut Harness) -> Vec<(Step, Vec<String>)> {
    let mut found = Vec::new();
    for step in STEPS {
        harness.prepare(step);
        harness.proxy.set_rules(Vec::new());
        let run = harness.portkey(&step.args());
        let seen = run.seen.clone();
        assert!(run.success, "{step:?} failed without faults:\n{}", run.stderr);
        harness.check_reached(step, &run);
        let mut operations: Vec<String> = seen.into_iter().map(|seen| seen.operation).collect();
        operations.sort();
        operations.dedup();
        assert!(
            !operations.iter().any(|operation| operation.starts_with("Unknown:")),
            "the proxy could not name an operation: {operations:?}"
        );
        found.push((step, operations));
    }
    found
}

/// Stalls cost an attempt timeout each, so they hit one or two operations per service.
const STALLED: [&str; 8] = [
    "STS:GetCallerIdentity",
    "IAM:CreateRole",
    "S3:PutObject",
    "Lambda:CreateFunction",
    "Lambda:UpdateFunctionCode",
    "ApiGatewayV2:CreateApi",
    "ApiGatewayV2:CreateRoute",
    "Lambda:DeleteFunction",
];

#[test]
fn transient_faults_are_retried() {
    let started = Instant::now();
    let mut harness = Harness::start("faults-transient");
    let transient = [
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Throttled,
        Fault::Conflict,
        Fault::Reset,
        Fault::LostResponse,
        Fault::Stall(STALL),
    ];
    let mut faulted = BTreeSet::new();
    for fault in transient {
        for step in STEPS {
            harness.prepare(step);
            let rules = vec![Rule::alternate(fault.clone())];
            match fault {
                Fault::Stall(_) => harness.proxy.set_rules_for(rules, &STALLED),
                _ => harness.proxy.set_rules(rules),
            }
            let run = harness.portkey(&step.args());
            harness.proxy.set_rules(Vec::new());
            assert!(run.success, "{step:?} failed under alternating {} faults:\n{}\n{}", fault.name(), run.stdout, run.stderr);
            for seen in run.seen.iter().filter(|seen| seen.fault.is_some()) {
                faulted.insert(format!("{} {}", seen.operation, fault.name()));
            }
            harness.counts.completed += 1;
            harness.check_reached(step, &run);
        }
    }
    let counts = &harness.counts;
    eprintln!(
        "transient AWS faults: {} faults injected into {} operation and fault pairs, {} commands completed, {:.0} s",
        counts.faults,
        faulted.len(),
        counts.completed,
        started.elapsed().as_secs_f64()
    );
    assert!(faulted.len() > 100, "too few operation and fault pairs: {faulted:?}");
}

#[test]
fn persistent_faults_fail_cleanly_and_converge() {
    let started = Instant::now();
    let mut harness = Harness::start("faults-persistent");
    let per_step = operations_per_step(&mut harness);
    let all: BTreeSet<&String> = per_step.iter().flat_map(|(_, operations)| operations).collect();
    assert!(all.len() > 25, "too few operations seen: {all:?}");
    for (service, operation) in all.iter().filter_map(|call| call.split_once(':')) {
        assert!(
            portkey_aws::required_actions(service, operation).is_some(),
            "{service}:{operation} is called but missing from the policy table"
        );
    }

    // One operation at a time, in the first step that calls it, with the fault kinds in turn.
    let persistent = [Fault::Unavailable, Fault::Throttled, Fault::Reset, Fault::ServerError, Fault::LostResponse];
    let mut covered = BTreeSet::new();
    let mut case = 0;
    for (step, operations) in &per_step {
        for operation in operations {
            if !covered.insert(operation.clone()) {
                continue;
            }
            let fault = persistent[case % persistent.len()].clone();
            case += 1;
            harness.prepare(*step);
            harness.proxy.set_rules(vec![Rule::always(operation, fault.clone())]);
            let run = harness.portkey(&step.args());
            harness.proxy.set_rules(Vec::new());
            if run.success {
                harness.counts.completed += 1;
                harness.check_reached(*step, &run);
                continue;
            }
            harness.counts.failed_cleanly += 1;
            harness.check_clean_failure(operation, &run);
            if step.replaces_a_deployment() {
                harness.check_previous_reachable(*step, &run);
            }
            let rerun = harness.portkey(&step.args());
            assert!(rerun.success, "the rerun of {step:?} after {operation} {} faults failed:\n{}", fault.name(), rerun.stderr);
            harness.check_reached(*step, &rerun);
            harness.counts.converged += 1;
        }
    }

    let counts = &harness.counts;
    eprintln!(
        "persistent AWS faults: {} operations, {} faults injected, {} commands completed, {} failed cleanly, {} reruns converged, {:.0} s",
        all.len(),
        counts.faults,
        counts.completed,
        counts.failed_cleanly,
        counts.converged,
        started.elapsed().as_secs_f64()
    );
    assert!(counts.failed_cleanly > 10, "too few persistent faults failed a command: {counts:?}");
    assert_eq!(counts.converged, counts.failed_cleanly);
}

#[test]
fn the_proxy_names_operations() {
    let cases = [
        ("POST", "/", "sts", "Action=GetCallerIdentity&Version=2011-06-15", "STS:GetCallerIdentity"),
        ("POST", "/", "iam", "Action=CreateRole&RoleName=x", "IAM:CreateRole"),
        ("PUT", "/bucket?publicAccessBlock", "s3", "", "S3:PutPublicAccessBlock"),
        ("PUT", "/bucket", "s3", "", "S3:CreateBucket"),
        ("PUT", "/bucket/fn/abc.zip?x-id=PutObject", "s3", "", "S3:PutObject"),
        ("GET", "/bucket?list-type=2&prefix=fn%2F", "s3", "", "S3:ListObjectsV2"),
        ("PUT", "/2015-03-31/functions/f/code", "lambda", "", "Lambda:UpdateFunctionCode"),
        ("DELETE", "/2015-03-31/functions/f/policy/sid", "lambda", "", "Lambda:RemovePermission"),
        ("POST", "/2021-10-31/functions/f/url", "lambda", "", "Lambda:CreateFunctionUrlConfig"),
        ("PATCH", "/v2/apis/a/routes/r", "apigateway", "", "ApiGatewayV2:UpdateRoute"),
    ];
    for (method, target, scope, body, expected) in cases {
        assert_eq!(faults::operation_of_parts(method, target, scope, body), expected, "{method} {target}");
    }
}
