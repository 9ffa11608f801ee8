//! Instances as real child processes: their environment, function errors, timeouts, crashes,
//! init failures, parallel requests, and the Runtime API's status codes.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use portkey_local::Health;
use support::{Project, Server, echoed_env, echoed_pid, request, wait_until};

#[test]
fn environment_is_lambdas_only() {
    let project = Project::new();
    project.mount_with(
        "app::echo",
        "GET",
        "/echo",
        &[("GREETING", "hi"), ("AWS_REGION", "eu-west-9")],
        |record| record.memory_mb = 256,
    );
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
        "cargo gives the test process variables to leak"
    );
    let server = Server::start(&project);

    let reply = server.get("/echo");

    assert_eq!(reply.status, 200, "{}", reply.text());
    let env = echoed_env(&reply);
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "GREETING",
        "LAMBDA_TASK_ROOT",
        "LANG",
        "PATH",
        "TZ",
        "_HANDLER",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "no server variable reaches the function");
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(
        env["AWS_REGION"], "us-east-1",
        "a mount cannot override a reserved variable"
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "app-echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["TZ"], ":UTC");
    let runtime_api = &env["AWS_LAMBDA_RUNTIME_API"];
    let (address, prefix) = runtime_api
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .expect("http://host:port/prefix");
    assert!(address.starts_with("127.0.0.1:"), "{runtime_api}");
    assert!(!prefix.is_empty(), "{runtime_api}");
}

#[test]
fn function_error_is_500_then_served() {
    let project = Project::new();
    project.mount("app::flaky", "GET", "/flaky", &[]);
    let server = Server::start(&project);

    let failed = server.get("/flaky?action=error");
    let next = server.get("/flaky");

    assert_eq!(failed.status, 500, "{}", failed.text());
    let body = failed.json();
    assert_eq!(body["errorType"], "FakeError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|message| message.starts_with("the fake failed on purpose")),
        "{body}"
    );
    assert_eq!(next.status, 200, "{}", next.text());
    let pid_in_error = body["errorMessage"]
        .as_str()
        .and_then(|message| message.rsplit(' ').next())
        .and_then(|pid| pid.parse::<u64>().ok());
    assert_eq!(
        pid_in_error,
        Some(echoed_pid(&next)),
        "the same instance serves after a function error"
    );
}

#[test]
fn timeout_is_504_then_fresh_instance() {
    let project = Project::new();
    project.mount_with("app::slow", "GET", "/slow", &[], |record| {
        record.timeout_secs = 1
    });
    let server = Server::start(&project);
    let first_pid = echoed_pid(&server.get("/slow"));

    let started = Instant::now();
    let timed_out = server.get("/slow?action=sleep&ms=5000");
    let elapsed = started.elapsed();
    let next = server.get("/slow");

    assert_eq!(timed_out.status, 504, "{}", timed_out.text());
    assert_eq!(timed_out.json()["errorType"], "Sandbox.Timedout");
    assert!(
        elapsed >= Duration::from_millis(900),
        "answered after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "answered after {elapsed:?}"
    );
    assert_eq!(next.status, 200, "{}", next.text());
    assert_ne!(
        echoed_pid(&next),
        first_pid,
        "a new instance serves after a timeout"
    );
}

#[test]
fn crash_is_502_then_restart() {
    let project = Project::new();
    project.mount("app::crashy", "GET", "/crashy", &[]);
    let server = Server::start(&project);
    let first_pid = echoed_pid(&server.get("/crashy"));

    let crashed = server.get("/crashy?action=exit");
    let next = server.get("/crashy");

    assert_eq!(crashed.status, 502, "{}", crashed.text());
    let body = crashed.json();
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("exit status: 3")),
        "{body}"
    );
    assert_eq!(next.status, 200, "{}", next.text());
    assert_ne!(echoed_pid(&next), first_pid);
}

#[test]
fn crash_starts_replacement_eagerly() {
    let project = Project::new();
    project.mount("app::crashy", "GET", "/crashy", &[]);
    let server = Server::start(&project);
    assert_eq!(server.get("/crashy?action=exit").status, 502);

    let warm = wait_until(Duration::from_secs(10), || {
        let list = portkey_local::list(&server.info).expect("list mounts");
        list.mounts[0].instances.idle == 1
    });

    assert!(
        warm,
        "a replacement instance is started and becomes idle without a request"
    );
}

#[test]
fn init_error_is_reported() {
    let project = Project::new();
    project.mount("app::broken", "GET", "/broken", &[("FAKE_INIT", "error")]);
    let server = Server::start(&project);

    let reply = server.get("/broken");

    assert_eq!(reply.status, 502, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["errorType"], "FakeInitError");
    assert_eq!(body["errorMessage"], "the fake init failed on purpose");
}

#[test]
fn exit_during_init_is_reported() {
    let project = Project::new();
    project.mount("app::gone", "GET", "/gone", &[("FAKE_INIT", "exit")]);
    let server = Server::start(&project);

    let reply = server.get("/gone");

    assert_eq!(reply.status, 502, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["errorType"], "Runtime.ExitError");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("exit status: 2"), "{message}");
    assert!(
        message.contains("before requesting its first invocation"),
        "{message}"
    );
    assert!(
        message.contains("exiting during init on purpose"),
        "the message quotes the output: {message}"
    );
}

#[test]
fn slow_init_times_out() {
    let project = Project::new();
    project.mount(
        "app::sleepy",
        "GET",
        "/sleepy",
        &[("FAKE_INIT", "sleep:5000")],
    );
    let server = Server::start_with(&project, |config| {
        config.init_timeout = Duration::from_millis(500)
    });

    let reply = server.get("/sleepy");

    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(
        reply.json()["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("init did not finish"))
    );
}

#[test]
fn missing_bootstrap_is_502() {
    let project = Project::new();
    project.mount_with("app::missing", "GET", "/missing", &[], |record| {
        record.bootstrap = "/nonexistent/portkey/bootstrap".into();
    });
    let server = Server::start(&project);

    let reply = server.get("/missing");

    assert_eq!(reply.status, 502, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["errorType"], "Runtime.StartError");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("/nonexistent/portkey/bootstrap"))
    );
}

#[test]
fn unanswered_invocation_is_502() {
    let project = Project::new();
    project.mount("app::skipper", "GET", "/skip", &[]);
    let server = Server::start(&project);

    let reply = server.get("/skip?action=skip");

    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.json()["errorType"], "Runtime.NoResponse");
    assert_eq!(server.get("/skip").status, 200);
}

#[test]
fn parallel_requests_all_answered() {
    let project = Project::new();
    project.mount("app::parallel", "GET", "/work", &[]);
    let server = Server::start_with(&project, |config| config.max_instances_per_mount = 3);
    let url = server.url("/work?action=sleep&ms=400");

    let started = Instant::now();
    let replies: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || request("GET", &url, None, &[]))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("client thread"))
        .collect();
    let elapsed = started.elapsed();

    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let pids: BTreeSet<u64> = replies.iter().map(echoed_pid).collect();
    assert!(
        pids.len() >= 2,
        "parallel requests ran on several instances: {pids:?}"
    );
    assert!(
        pids.len() <= 3,
        "no more than the maximum of 3 instances: {pids:?}"
    );
    assert!(
        elapsed < Duration::from_millis(6 * 400),
        "requests overlapped: {elapsed:?}"
    );
}

#[test]
fn busy_mount_queues_requests() {
    let project = Project::new();
    project.mount_with("app::single", "GET", "/single", &[], |record| {
        record.timeout_secs = 2
    });
    let server = Server::start_with(&project, |config| config.max_instances_per_mount = 1);
    let busy_url = server.url("/single?action=sleep&ms=1500");
    let busy = std::thread::spawn(move || request("GET", &busy_url, None, &[]));
    std::thread::sleep(Duration::from_millis(200));

    let queued = server.get("/single");

    assert_eq!(busy.join().expect("client thread").status, 200);
    assert_eq!(
        queued.status,
        200,
        "a queued request is served once the instance is free: {}",
        queued.text()
    );
}

#[test]
fn busy_mount_throttles_after_timeout() {
    let project = Project::new();
    project.mount_with("app::single", "GET", "/single", &[], |record| {
        record.timeout_secs = 1
    });
    let server = Server::start_with(&project, |config| config.max_instances_per_mount = 1);
    let url = server.url("/single?action=sleep&ms=700");

    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || request("GET", &url, None, &[]))
        })
        .collect();
    let mut statuses: Vec<u16> = handles
        .into_iter()
        .map(|handle| handle.join().expect("client thread").status)
        .collect();
    statuses.sort();

    assert_eq!(
        statuses,
        [200, 200, 429],
        "the third request gives up after the 1 s timeout"
    );
}

/// Returns the Runtime API address and the path prefix of the instance that echoes `path`.
fn runtime_api_of(server: &Server, path: &str) -> (String, String) {
    let health: Health =
        serde_json::from_value(server.get("/_portkey/health").json()).expect("health");
    let env = echoed_env(&server.get(path));
    let prefix = env["AWS_LAMBDA_RUNTIME_API"]
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, prefix)| prefix.to_string())
        .expect("prefix");
    (health.runtime_api, prefix)
}

#[test]
fn runtime_api_rejects_bad_calls() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);
    let (runtime_api, prefix) = runtime_api_of(&server, "/echo");
    let base = format!("http://{runtime_api}/{prefix}/2018-06-01/runtime");

    let unknown_request = request(
        "POST",
        &format!("{base}/invocation/no-such-id/response"),
        Some(b"{}"),
        &[],
    );
    let unknown_error = request(
        "POST",
        &format!("{base}/invocation/no-such-id/error"),
        Some(b"{}"),
        &[],
    );
    let late_init_error = request("POST", &format!("{base}/init/error"), Some(b"{}"), &[]);
    let unknown_instance = request(
        "GET",
        &format!("http://{runtime_api}/no-such-instance/2018-06-01/runtime/invocation/next"),
        None,
        &[],
    );
    let unknown_path = request(
        "GET",
        &format!("http://{runtime_api}/something/else"),
        None,
        &[],
    );

    assert_eq!(unknown_request.status, 400, "{}", unknown_request.text());
    assert_eq!(unknown_request.json()["errorType"], "InvalidRequestID");
    assert_eq!(unknown_error.status, 400, "{}", unknown_error.text());
    assert_eq!(late_init_error.status, 403, "{}", late_init_error.text());
    assert_eq!(unknown_instance.status, 404, "{}", unknown_instance.text());
    assert_eq!(unknown_path.status, 404, "{}", unknown_path.text());
    assert_eq!(server.get("/echo").status, 200, "the instance still serves");
}

#[test]
fn relative_bootstrap_resolves_against_root() {
    let project = Project::new();
    let folder = project.root().join("target/lambda/app");
    std::fs::create_dir_all(&folder).expect("create the bootstrap folder");
    // A link rather than a copy: executing a file that was just written can fail with ETXTBSY
    // while another test thread forks.
    std::os::unix::fs::symlink(support::fake_bootstrap(), folder.join("bootstrap"))
        .expect("link the bootstrap");
    project.mount_with("app::relative", "GET", "/relative", &[], |record| {
        record.bootstrap = "target/lambda/app/bootstrap".into();
    });
    let server = Server::start(&project);

    let reply = server.get("/relative");

    assert_eq!(reply.status, 200, "{}", reply.text());
    let task_root = std::path::PathBuf::from(&echoed_env(&reply)["LAMBDA_TASK_ROOT"]);
    assert_eq!(task_root, folder.canonicalize().expect("canonical folder"));
}

#[test]
fn instances_report_their_pid_and_cold_start() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);

    let first = server.get("/echo");
    assert_eq!(first.status, 200, "{}", first.text());
    let second = server.get("/echo");
    assert_eq!(second.status, 200, "{}", second.text());

    let listed = server.get("/_portkey/instances");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let body = listed.json();
    let instances = body["instances"].as_array().expect("an instance list");
    assert_eq!(instances.len(), 1, "{body}");
    let instance = &instances[0];
    assert_eq!(instance["function"], "app::echo");
    assert_eq!(
        instance["pid"].as_u64(),
        Some(echoed_pid(&first)),
        "{instance}"
    );
    assert_eq!(instance["invocations"], 2, "{instance}");
    let init = instance["init_us"].as_u64().expect("init measured");
    let first_response = instance["first_response_us"]
        .as_u64()
        .expect("first response measured");
    assert!(init > 0 && init <= first_response, "{instance}");
    assert!(first_response < 60_000_000, "{instance}");
}

#[test]
fn without_prewarm_the_first_request_starts_the_process() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start_with(&project, |config| config.prewarm = false);

    let before = server.get("/_portkey/instances").json();
    assert_eq!(
        before["instances"],
        serde_json::json!([]),
        "no process before a request"
    );

    let reply = server.get("/echo");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let listed = server.get("/_portkey/instances").json();
    let instances = listed["instances"].as_array().expect("an instance list");
    assert_eq!(instances.len(), 1, "{listed}");
    assert_eq!(instances[0]["pid"].as_u64(), Some(echoed_pid(&reply)));
    assert_eq!(instances[0]["invocations"], 1);
}

#[test]
fn prewarm_takes_on_or_off() {
    let config = portkey_local::parse_serve_args(["serve", "--project", "/p", "--prewarm", "off"])
        .expect("valid arguments");
    assert!(!config.prewarm);
    let error = portkey_local::parse_serve_args(["serve", "--project", "/p", "--prewarm", "maybe"])
        .expect_err("unknown value");
    assert!(error.to_string().contains("--prewarm maybe"), "{error}");
}
