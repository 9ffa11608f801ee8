//! Requests the gateway rejects before routing them, over raw TCP: heads and bodies that do not
//! arrive in time get 408, and requests hyper cannot parse get JSON error bodies.

mod support;

use std::io::{BufReader, Write};
use std::time::{Duration, Instant};

use support::{Project, Server, connect, raw_exchange, read_raw_reply};

fn server_with_short_header_timeout(project: &Project) -> Server {
    project.mount("app::echo", "ANY", "/echo", &[]);
    Server::start_with(project, |config| {
        config.header_read_timeout = Duration::from_secs(1)
    })
}

#[test]
fn long_url_gets_json_414() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);
    let port = server.info.port;
    let request = format!(
        "GET /echo?padding={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        "a".repeat(200 * 1024)
    );

    let reply = raw_exchange(port, request.as_bytes());

    assert_eq!(reply.status, 414, "{}", reply.head);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["message"], "URI Too Long");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("65534 bytes"),
        "{body}"
    );
}

#[test]
fn long_url_after_keep_alive_gets_json_414() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start(&project);
    let port = server.info.port;
    let mut stream = connect(port);
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));

    let first = format!("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream
        .write_all(first.as_bytes())
        .expect("send the first request");
    let first_reply = read_raw_reply(&mut reader).expect("a first response");
    assert_eq!(first_reply.status, 200, "{}", first_reply.head);
    let long = format!(
        "GET /echo?padding={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    stream
        .write_all(long.as_bytes())
        .expect("send the long request");
    let reply = read_raw_reply(&mut reader).expect("a second response");

    assert_eq!(reply.status, 414, "{}", reply.head);
    assert_eq!(reply.json()["message"], "URI Too Long");
}

#[test]
fn malformed_header_gets_json_400() {
    let project = Project::new();
    let server = Server::start(&project);
    let port = server.info.port;
    let request = format!("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nno colon\r\n\r\n");

    let reply = raw_exchange(port, request.as_bytes());

    assert_eq!(reply.status, 400, "{}", reply.head);
    assert_eq!(reply.json()["message"], "Bad Request");
}

#[test]
fn oversized_head_gets_json_431() {
    let project = Project::new();
    let server = Server::start(&project);
    let port = server.info.port;
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(420 * 1024)
    );

    let reply = raw_exchange(port, request.as_bytes());

    assert_eq!(reply.status, 431, "{}", reply.head);
    let body = reply.json();
    assert_eq!(body["message"], "Request Header Fields Too Large");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("417792 bytes"),
        "{body}"
    );
}

#[test]
fn stalled_head_gets_408() {
    let project = Project::new();
    let server = server_with_short_header_timeout(&project);
    let mut stream = connect(server.info.port);
    let started = Instant::now();

    stream
        .write_all(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1")
        .expect("send part of the head");
    let reply = read_raw_reply(&mut BufReader::new(stream)).expect("a response");

    assert_eq!(reply.status, 408, "{}", reply.head);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.json()["message"], "Request Timeout");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn trickled_head_gets_408() {
    let project = Project::new();
    let server = server_with_short_header_timeout(&project);
    let stream = connect(server.info.port);
    let mut writer = stream.try_clone().expect("clone the stream");
    let started = Instant::now();

    // One header byte every 100 ms for up to 10 s: the head keeps arriving but never ends.
    let trickle = std::thread::spawn(move || {
        writer
            .write_all(b"GET /echo HTTP/1.1\r\nX-Slow: ")
            .expect("send the start of the head");
        for _ in 0..100 {
            if writer.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("set a read timeout");
    let reply = read_raw_reply(&mut BufReader::new(stream)).expect("a response");

    assert_eq!(reply.status, 408, "{}", reply.head);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    trickle.join().expect("the writer thread");
}

#[test]
fn silent_connection_is_closed() {
    let project = Project::new();
    let server = server_with_short_header_timeout(&project);
    let stream = connect(server.info.port);
    let started = Instant::now();

    let reply = read_raw_reply(&mut BufReader::new(stream));

    assert!(
        reply.is_none(),
        "no response to a client that sent nothing: {reply:?}"
    );
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn short_body_gets_408() {
    let project = Project::new();
    project.mount_with("app::echo", "POST", "/echo", &[], |record| {
        record.timeout_secs = 1
    });
    let server = Server::start(&project);
    let port = server.info.port;
    let mut stream = connect(port);
    let started = Instant::now();

    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100\r\n\r\n0123456789"
    );
    stream
        .write_all(head.as_bytes())
        .expect("send part of the request");
    let reply = read_raw_reply(&mut BufReader::new(stream)).expect("a response");

    assert_eq!(reply.status, 408, "{}", reply.head);
    assert_eq!(reply.header("connection"), Some("close"));
    let body = reply.json();
    assert_eq!(body["message"], "Request Timeout");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("body"),
        "{body}"
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn slow_client_does_not_block_others() {
    let project = Project::new();
    let server = server_with_short_header_timeout(&project);
    let mut stalled = connect(server.info.port);
    stalled
        .write_all(b"GET /echo HTTP/1.1\r\n")
        .expect("send part of the head");

    let reply = server.get("/echo");

    assert_eq!(reply.status, 200, "{}", reply.text());
}
