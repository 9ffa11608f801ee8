//! Who may use the control endpoints under `/_portkey/`, and what happens to mounts and paths
//! that would take their place.

mod support;

use std::time::Duration;

use portkey_local::LocalError;
use support::{Project, Server, raw_exchange};

/// Sends a raw control request with the given extra header lines (each ending in `\r\n`).
fn control_request(port: u16, method: &str, path: &str, headers: &str) -> support::RawReply {
    let request = format!(
        "{method} {path} HTTP/1.1\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    raw_exchange(port, request.as_bytes())
}

#[test]
fn shutdown_with_origin_is_403() {
    let project = Project::new();
    let server = Server::start(&project);
    let port = server.info.port;

    let host = format!("Host: 127.0.0.1:{port}\r\n");
    let headers = format!("{host}Origin: http://attacker.example\r\n");
    let reply = control_request(port, "POST", "/_portkey/shutdown", &headers);

    assert_eq!(reply.status, 403, "{}", reply.head);
    let body = reply.json();
    assert_eq!(body["message"], "Forbidden");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Origin"),
        "{body}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.get("/_portkey/health").status,
        200,
        "the server still runs"
    );
}

#[test]
fn reload_with_foreign_host_is_403() {
    let project = Project::new();
    let server = Server::start(&project);
    let port = server.info.port;

    for host in [
        format!("attacker.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_string(),
    ] {
        let headers = format!("Host: {host}\r\n");
        let reply = control_request(port, "POST", "/_portkey/reload", &headers);

        assert_eq!(reply.status, 403, "{host}: {}", reply.head);
        let detail = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(detail.contains(&host), "{host}: {detail}");
    }
}

#[test]
fn control_without_host_is_403() {
    let project = Project::new();
    let server = Server::start(&project);

    let request = "GET /_portkey/health HTTP/1.0\r\n\r\n";
    let reply = raw_exchange(server.info.port, request.as_bytes());

    assert_eq!(reply.status, 403, "{}", reply.head);
}

#[test]
fn loopback_host_names_are_accepted() {
    let project = Project::new();
    let server = Server::start(&project);
    let port = server.info.port;

    for host in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"] {
        let headers = format!("Host: {host}:{port}\r\n");
        let reply = control_request(port, "GET", "/_portkey/health", &headers);

        assert_eq!(reply.status, 200, "{host}: {}", reply.head);
        assert_eq!(reply.json()["port"], port, "{host}");
    }
}

#[test]
fn client_functions_pass_guard() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);

    let list = portkey_local::list(&server.info).expect("list the mounts");
    let report = portkey_local::reload(&server.info).expect("reload");

    assert_eq!(list.mounts.len(), 1);
    assert!(report.added.is_empty(), "{report:?}");
    // `client_starts_lists_and_stops` in lifecycle.rs covers `shutdown`, which needs the
    // server in another process.
}

#[test]
fn second_server_names_portkey_down() {
    let project = Project::new();
    let server = Server::start(&project);

    let config = portkey_local::ServerConfig::new(project.root(), project.state_dir());
    let error =
        portkey_local::serve(config).expect_err("a second server for the same state folder");

    assert!(
        matches!(&error, LocalError::AlreadyRunning { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("portkey down"), "{message}");
    let root = std::fs::canonicalize(project.root()).expect("canonical project root");
    assert!(
        message.contains(&root.display().to_string()),
        "the message names the project: {message}"
    );
    assert!(!message.contains("/_portkey/shutdown"), "{message}");
    assert!(message.contains(&server.info.url), "{message}");
}

#[test]
fn reserved_template_mount_is_skipped() {
    let project = Project::new();
    project.mount("app::health", "GET", "/_portkey/health", &[]);
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);

    let list = portkey_local::list(&server.info).expect("list the mounts");
    let served: Vec<&str> = list
        .mounts
        .iter()
        .map(|mount| mount.function.as_str())
        .collect();
    assert_eq!(served, ["app::echo"]);
    assert_eq!(list.skipped.len(), 1, "{:?}", list.skipped);
    assert_eq!(list.skipped[0].function, "app::health");
    assert!(
        list.skipped[0].error.contains("/_portkey/"),
        "{}",
        list.skipped[0].error
    );
    let health = server.get("/_portkey/health");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["port"], server.info.port);
}

#[test]
fn greedy_mount_never_gets_reserved_paths() {
    let project = Project::new();
    project.mount("app::all", "ANY", "/{proxy+}", &[]);
    let server = Server::start(&project);

    let reserved = server.get("/_portkey/other");
    let bare = server.get("/_portkey");
    let elsewhere = server.get("/_portkeyish/other");

    assert_eq!(reserved.status, 404, "{}", reserved.text());
    assert!(
        reserved.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/_portkey/health"),
        "{}",
        reserved.text()
    );
    assert_eq!(bare.status, 404, "{}", bare.text());
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.text());
}
