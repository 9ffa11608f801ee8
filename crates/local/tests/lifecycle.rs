//! The server's life: reloading `portkey.json`, restarting, `server.json`, and the blocking
//! client that starts a detached server and stops it.

mod support;

use std::fs;
use std::time::Duration;

use portkey_local::{LocalError, ServerInfo, StartOptions, server_file_path};
use support::{Project, Server, echoed_env, echoed_pid, request, server_binary};

#[test]
fn reload_adds_and_removes_mounts() {
    let project = Project::new();
    project.mount("app::first", "GET", "/first", &[]);
    let server = Server::start(&project);
    assert_eq!(server.get("/second").status, 404);

    project.mount("app::second", "GET", "/second", &[]);
    let added = portkey_local::reload(&server.info).expect("reload");
    assert_eq!(added.added, ["app::second"]);
    assert_eq!(server.get("/second").status, 200);

    project.unmount("app::first");
    let removed = portkey_local::reload(&server.info).expect("reload");
    assert_eq!(removed.removed, ["app::first"]);
    assert!(removed.added.is_empty());
    assert_eq!(server.get("/first").status, 404);
    assert_eq!(server.get("/second").status, 200);
}

#[test]
fn reload_replaces_changed_code() {
    let project = Project::new();
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "1")]);
    let server = Server::start(&project);
    let old = server.get("/v");
    assert_eq!(echoed_env(&old)["VERSION"], "1");

    // A slow request that is running on the old instance when the reload happens.
    let slow_url = server.url("/v?action=sleep&ms=1500");
    let slow = std::thread::spawn(move || request("GET", &slow_url, None, &[]));
    std::thread::sleep(Duration::from_millis(300));
    project.mount_with(
        "app::versioned",
        "GET",
        "/v",
        &[("VERSION", "2")],
        |record| {
            record.code_sha256 = "code-v2".into();
        },
    );
    let report = portkey_local::reload(&server.info).expect("reload");
    let new = server.get("/v");
    let finished = slow.join().expect("client thread");

    assert_eq!(report.replaced, ["app::versioned"]);
    assert_eq!(new.status, 200);
    assert_eq!(
        echoed_env(&new)["VERSION"],
        "2",
        "new requests go to new instances"
    );
    assert_eq!(
        finished.status,
        200,
        "the running request finishes: {}",
        finished.text()
    );
    assert_eq!(
        echoed_env(&finished)["VERSION"],
        "1",
        "it finishes on the old instance"
    );
    let list = portkey_local::list(&server.info).expect("list");
    assert_eq!(list.mounts[0].code_sha256, "code-v2");
}

#[test]
fn reload_keeps_instances_on_route_change() {
    let project = Project::new();
    project.mount("app::moved", "GET", "/before", &[]);
    let server = Server::start(&project);
    let pid = echoed_pid(&server.get("/before"));

    project.mount("app::moved", "GET", "/after", &[]);
    let report = portkey_local::reload(&server.info).expect("reload");

    assert_eq!(report.rerouted, ["app::moved"]);
    assert!(report.replaced.is_empty());
    assert_eq!(server.get("/before").status, 404);
    let moved = server.get("/after");
    assert_eq!(
        echoed_pid(&moved),
        pid,
        "the same instance serves the new route"
    );
}

#[test]
fn reload_of_corrupt_file_keeps_mounts() {
    let project = Project::new();
    project.mount("app::kept", "GET", "/kept", &[]);
    let server = Server::start(&project);

    fs::write(project.root().join("portkey.json"), "{ not json").expect("damage the file");
    let error = portkey_local::reload(&server.info).expect_err("a corrupt file is rejected");

    let LocalError::Rejected { status, body, .. } = &error else {
        panic!("expected Rejected, got {error:?}");
    };
    assert_eq!(*status, 400);
    assert!(body.contains("line 1, column 3"), "{body}");
    assert_eq!(
        server.get("/kept").status,
        200,
        "the served mounts are unchanged"
    );
}

#[test]
fn invalid_mount_is_skipped() {
    let project = Project::new();
    project.mount("app::good", "GET", "/good", &[]);
    project.mount("app::bad", "FETCH", "/bad", &[]);
    let server = Server::start(&project);

    let list = portkey_local::list(&server.info).expect("list");

    let served: Vec<&str> = list
        .mounts
        .iter()
        .map(|mount| mount.function.as_str())
        .collect();
    assert_eq!(served, ["app::good"]);
    assert_eq!(list.skipped.len(), 1);
    assert_eq!(list.skipped[0].function, "app::bad");
    assert!(
        list.skipped[0].error.contains("FETCH"),
        "{}",
        list.skipped[0].error
    );
    assert_eq!(list.mounts[0].url, format!("{}/good", server.info.url));
    assert_eq!(list.mounts[0].route_key, "GET /good");
}

#[test]
fn restart_serves_recorded_mounts() {
    let project = Project::new();
    project.mount("app::persistent", "GET", "/persistent", &[]);
    let first = Server::start(&project);
    assert_eq!(first.get("/persistent").status, 200);
    let state_dir = first.state_dir.clone();
    first.stop().expect("the first server stops cleanly");
    assert!(
        !server_file_path(&state_dir).exists(),
        "server.json is removed on a clean exit"
    );

    let second = Server::start(&project);

    assert_eq!(second.get("/persistent").status, 200);
}

#[test]
fn second_server_is_refused() {
    let project = Project::new();
    let server = Server::start(&project);

    let config = portkey_local::ServerConfig::new(project.root(), project.state_dir());
    let error =
        portkey_local::serve(config).expect_err("a second server for the same state folder");

    assert!(
        matches!(&error, LocalError::AlreadyRunning { pid, .. } if *pid == server.info.pid),
        "{error:?}"
    );
}

#[test]
fn stale_server_file_is_ignored() {
    let project = Project::new();
    let state_dir = project.state_dir();
    fs::create_dir_all(&state_dir).expect("create the state folder");
    let mut exited = std::process::Command::new("true")
        .spawn()
        .expect("run true");
    let dead_pid = exited.id();
    exited.wait().expect("wait for true");
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let stale = ServerInfo {
        pid: dead_pid,
        port: closed_port,
        url: format!("http://127.0.0.1:{closed_port}"),
        project_root: project.root().to_path_buf(),
        bind: None,
    };
    fs::write(
        server_file_path(&state_dir),
        serde_json::to_string(&stale).expect("serialise"),
    )
    .expect("write");

    assert!(portkey_local::running(&state_dir).is_none());
    let server = Server::start(&project);
    assert_ne!(server.info.pid, dead_pid);
}

#[test]
fn server_file_of_other_process_is_ignored() {
    let project = Project::new();
    let server = Server::start(&project);
    let other_state = project.root().join("other-state");
    fs::create_dir_all(&other_state).expect("create a state folder");
    let mut impostor = server.info.clone();
    impostor.pid += 1;
    fs::write(
        server_file_path(&other_state),
        serde_json::to_string(&impostor).expect("serialise"),
    )
    .expect("write");

    assert!(
        portkey_local::running(&other_state).is_none(),
        "a live port answering with another pid is not the recorded server"
    );
    assert_eq!(
        portkey_local::running(&server.state_dir),
        Some(server.info.clone())
    );
}

#[test]
fn client_starts_lists_and_stops() {
    let project = Project::new();
    project.mount("app::hello", "GET", "/hello?name={name}", &[]);
    let options = StartOptions::new(server_binary(), project.root(), project.state_dir());

    let info = portkey_local::ensure_running(&options).expect("start the server");
    let again = portkey_local::ensure_running(&options).expect("find the running server");
    let url = portkey_local::url_for(&info, "/hello?name={name}");
    let list = portkey_local::list(&info).expect("list");
    let reply = request("GET", &format!("{}/hello?name=Ada", info.url), None, &[]);
    let recorded = portkey_project::ProjectFile::load(project.root())
        .expect("load")
        .local
        .port;
    portkey_local::shutdown(&info).expect("stop the server");

    assert_eq!(again.pid, info.pid, "a running server is reused");
    assert_eq!(
        url,
        format!("http://127.0.0.1:{}/hello?name={{name}}", info.port)
    );
    assert_eq!(list.mounts.len(), 1);
    assert_eq!(list.mounts[0].url, url);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        recorded,
        Some(info.port),
        "the port is recorded in portkey.json"
    );
    assert!(portkey_local::running(&project.state_dir()).is_none());
    assert!(!server_file_path(&project.state_dir()).exists());
    let log = fs::read_to_string(project.state_dir().join(portkey_local::SERVER_LOG_NAME))
        .expect("read the log");
    assert!(log.contains("local server listening"), "{log}");
    assert!(
        log.contains("app::hello: fake-bootstrap: starting"),
        "instance output is logged with the function name: {log}"
    );
    assert!(log.contains("local server stopped"), "{log}");

    let restarted = portkey_local::ensure_running(&options).expect("start again");
    let reused_port = restarted.port;
    portkey_local::shutdown(&restarted).expect("stop again");
    assert_eq!(
        reused_port, info.port,
        "the recorded port is reused when free"
    );
}

#[test]
fn client_reports_failed_start() {
    let project = Project::new();
    let occupied = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = occupied.local_addr().expect("address").port();
    let mut options = StartOptions::new(server_binary(), project.root(), project.state_dir());
    options.port = Some(port);

    let error = portkey_local::ensure_running(&options).expect_err("the port is taken");

    let LocalError::ServerExited { log_tail, .. } = &error else {
        panic!("expected ServerExited, got {error:?}");
    };
    assert!(
        log_tail.contains(&format!("failed to listen on 127.0.0.1:{port}")),
        "{log_tail}"
    );
}

#[test]
fn client_rejects_corrupt_project() {
    let project = Project::new();
    fs::write(
        project.root().join("portkey.json"),
        "{\"version\": 1, \"mounts\": [}",
    )
    .expect("write");
    let options = StartOptions::new(server_binary(), project.root(), project.state_dir());

    let error = portkey_local::ensure_running(&options)
        .expect_err("a corrupt project file stops the start");

    assert!(
        matches!(
            error,
            LocalError::Project(portkey_project::ProjectError::Corrupt { line: 1, .. })
        ),
        "{error:?}"
    );
}

#[test]
fn client_rejects_missing_executable() {
    let project = Project::new();
    let options = StartOptions::new("/nonexistent/portkey", project.root(), project.state_dir());

    let error = portkey_local::ensure_running(&options).expect_err("no such executable");

    assert!(matches!(error, LocalError::Spawn { .. }), "{error:?}");
}

#[test]
fn shutdown_ends_busy_requests() {
    let project = Project::new();
    project.mount("app::slow", "GET", "/slow", &[]);
    let server = Server::start(&project);
    let slow_url = server.url("/slow?action=sleep&ms=20000");
    let slow = std::thread::spawn(move || request("GET", &slow_url, None, &[]));
    std::thread::sleep(Duration::from_millis(300));

    let started = std::time::Instant::now();
    let state_dir = server.state_dir.clone();
    server.stop().expect("the server stops cleanly");
    let reply = slow.join().expect("client thread");

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(!server_file_path(&state_dir).exists());
}

#[test]
fn sigterm_stops_detached_server() {
    let project = Project::new();
    let options = StartOptions::new(server_binary(), project.root(), project.state_dir());
    let info = portkey_local::ensure_running(&options).expect("start the server");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &info.pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());

    let stopped = support::wait_until(Duration::from_secs(10), || {
        portkey_local::running(&project.state_dir()).is_none()
            && !server_file_path(&project.state_dir()).exists()
    });
    assert!(
        stopped,
        "the server stops and removes server.json on SIGTERM"
    );
    let log = fs::read_to_string(project.state_dir().join(portkey_local::SERVER_LOG_NAME))
        .expect("read the log");
    assert!(log.contains("received SIGTERM"), "{log}");
}
