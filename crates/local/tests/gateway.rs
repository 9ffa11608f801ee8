//! The gateway against real child processes: routing, the payload 2.0 event as the function
//! receives it, and the mapping of function results to HTTP responses.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use support::{Project, Server, echoed_pid};

/// Creates a project with the routes the routing tests need, all echoing the event.
fn routing_project() -> Project {
    let project = Project::new();
    project.mount("app::hello", "GET", "/hello?name={name}", &[]);
    project.mount("app::user", "GET", "/users/{id}", &[]);
    project.mount("app::me", "GET", "/users/me", &[]);
    project.mount(
        "app::file",
        "GET",
        "/users/{id}/files/{path+}?verbose={verbose}",
        &[],
    );
    project.mount("app::create", "POST", "/items", &[]);
    project
}

fn routed_function(reply: &support::Reply) -> String {
    reply.json()["event"]["routeKey"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn routes_query_template() {
    let project = routing_project();
    let server = Server::start(&project);

    let reply = server.get("/hello?name=Ada%20L&name=Grace&extra=1");

    assert_eq!(reply.status, 200, "{}", reply.text());
    let event = &reply.json()["event"];
    assert_eq!(event["routeKey"], "GET /hello");
    assert_eq!(event["queryStringParameters"]["name"], "Ada L,Grace");
    assert_eq!(event["queryStringParameters"]["extra"], "1");
    assert_eq!(event["rawQueryString"], "name=Ada%20L&name=Grace&extra=1");
    assert!(
        event.get("pathParameters").is_none(),
        "no path parameters: {event}"
    );
}

#[test]
fn routes_path_parameters() {
    let project = routing_project();
    let server = Server::start(&project);

    let reply = server.get("/users/a%2Fb%20c");

    assert_eq!(reply.status, 200, "{}", reply.text());
    let event = &reply.json()["event"];
    assert_eq!(event["routeKey"], "GET /users/{id}");
    assert_eq!(event["pathParameters"]["id"], "a/b c");
    assert_eq!(event["rawPath"], "/users/a%2Fb%20c");
}

#[test]
fn routes_path_and_query_together() {
    let project = routing_project();
    let server = Server::start(&project);

    let reply = server.get("/users/7/files/docs/a.txt?verbose=true");

    assert_eq!(reply.status, 200, "{}", reply.text());
    let event = &reply.json()["event"];
    assert_eq!(event["routeKey"], "GET /users/{id}/files/{path+}");
    assert_eq!(event["pathParameters"]["id"], "7");
    assert_eq!(event["pathParameters"]["path"], "docs/a.txt");
    assert_eq!(event["queryStringParameters"]["verbose"], "true");
}

#[test]
fn most_specific_route_wins() {
    let project = routing_project();
    let server = Server::start(&project);

    let literal = server.get("/users/me");
    let placeholder = server.get("/users/you");

    assert_eq!(routed_function(&literal), "GET /users/me");
    assert_eq!(routed_function(&placeholder), "GET /users/{id}");
}

#[test]
fn method_mismatch_is_405() {
    let project = routing_project();
    let server = Server::start(&project);

    let reply = server.send("DELETE", "/items", None, &[]);

    assert_eq!(reply.status, 405, "{}", reply.text());
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(reply.json()["allowed"][0], "POST");
}

#[test]
fn unknown_path_is_404_json() {
    let project = routing_project();
    let server = Server::start(&project);

    let reply = server.get("/nothing/here");

    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["message"], "Not Found");
    let text = reply.text();
    assert!(
        !text.contains("app::"),
        "the 404 body names no mounted function: {text}"
    );
    assert!(
        !text.contains("/users"),
        "the 404 body lists no routes: {text}"
    );
}

#[test]
fn event_has_payload_v2_fields() {
    let project = Project::new();
    project.mount_with("app::echo", "POST", "/echo/{id}", &[], |record| {
        record.timeout_secs = 7
    });
    let server = Server::start(&project);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;

    let reply = server.send(
        "POST",
        "/echo/42?a=1&a=2&b=x+y",
        Some(br#"{"hello":"world"}"#),
        &[
            ("X-Custom", "one"),
            ("x-custom", "two"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "portkey-test/1.0"),
            ("Content-Type", "application/json"),
        ],
    );

    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let event = &body["event"];
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /echo/{id}");
    assert_eq!(event["rawPath"], "/echo/42");
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=x+y");
    assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=2"]));
    assert!(event["headers"].get("cookie").is_none(), "the Cookie header stays in headers");
    assert_eq!(event["headers"]["x-custom"], "one,two");
    assert_eq!(event["headers"]["content-type"], "application/json");
    assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
    assert!(
        event["headers"]["x-amzn-trace-id"]
            .as_str()
            .is_some_and(|trace| trace.starts_with("Root=1-"))
    );
    assert_eq!(event["queryStringParameters"]["a"], "1,2");
    assert_eq!(event["queryStringParameters"]["b"], "x+y");
    assert_eq!(event["pathParameters"]["id"], "42");
    assert_eq!(event["body"], r#"{"hello":"world"}"#);
    assert_eq!(event["isBase64Encoded"], false);

    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "000000000000");
    assert_eq!(context["apiId"], "portkey-local");
    assert_eq!(
        context["domainName"],
        format!("127.0.0.1:{}", server.info.port)
    );
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/echo/42");
    assert_eq!(context["http"]["protocol"], "HTTP/1.1");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "portkey-test/1.0");
    assert_eq!(context["routeKey"], "POST /echo/{id}");
    assert_eq!(context["stage"], "$default");
    let time_epoch = context["timeEpoch"]
        .as_u64()
        .expect("timeEpoch is a number");
    assert!(
        time_epoch >= before && time_epoch < before + 60_000,
        "timeEpoch {time_epoch} vs {before}"
    );
    let time = context["time"].as_str().expect("time is a string");
    assert!(
        time.ends_with(" +0000") && time.len() == 26,
        "time {time:?}"
    );

    let request_id = context["requestId"].as_str().expect("requestId");
    assert_eq!(reply.header("apigw-requestid"), Some(request_id));

    let invocation = &body["invocation"];
    assert_eq!(invocation["lambda-runtime-aws-request-id"], request_id);
    assert_eq!(
        invocation["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:app-echo"
    );
    assert!(
        invocation["lambda-runtime-trace-id"]
            .as_str()
            .is_some_and(|trace| trace.starts_with("Root=1-"))
    );
    let deadline: u64 = invocation["lambda-runtime-deadline-ms"]
        .as_str()
        .and_then(|value| value.parse().ok())
        .expect("deadline is a number");
    assert!(
        deadline >= before + 7_000 && deadline < before + 7_000 + 30_000,
        "the deadline {deadline} is an absolute epoch time 7 s after {before}"
    );
}

#[test]
fn binary_request_body_is_base64() {
    let project = Project::new();
    project.mount("app::echo", "PUT", "/upload", &[]);
    let server = Server::start(&project);

    let reply = server.send("PUT", "/upload", Some(&[0, 159, 146, 150, 255]), &[]);

    assert_eq!(reply.status, 200, "{}", reply.text());
    let event = &reply.json()["event"];
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "AJ+Slv8=");
}

#[test]
fn proxy_response_is_mapped() {
    let project = Project::new();
    project.mount("app::proxy", "GET", "/proxy", &[("FAKE_ACTION", "proxy")]);
    let server = Server::start(&project);

    let reply = server.get("/proxy");

    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(reply.header("x-fake"), Some("yes"));
    assert_eq!(
        reply.header_all("set-cookie"),
        ["session=abc; Path=/; HttpOnly", "theme=dark"]
    );
    assert!(reply.text().starts_with("created by "), "{}", reply.text());
}

#[test]
fn base64_proxy_body_is_decoded() {
    let project = Project::new();
    project.mount(
        "app::binary",
        "GET",
        "/binary",
        &[("FAKE_ACTION", "binary")],
    );
    let server = Server::start(&project);

    let reply = server.get("/binary");

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(reply.body, [0, 159, 146, 150, 255]);
}

#[test]
fn plain_json_result_is_200() {
    let project = Project::new();
    project.mount("app::plain", "GET", "/plain", &[("FAKE_ACTION", "plain")]);
    let server = Server::start(&project);

    let reply = server.get("/plain");

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), serde_json::json!([1, "two", {"three": 3}]));
}

#[test]
fn non_json_result_is_502() {
    let project = Project::new();
    project.mount("app::text", "GET", "/text", &[("FAKE_ACTION", "not-json")]);
    let server = Server::start(&project);

    let reply = server.get("/text");

    assert_eq!(reply.status, 502);
    assert_eq!(reply.json()["errorType"], "InvalidResponse");
    let second = server.get("/text?action=echo");
    assert_eq!(
        second.status,
        200,
        "the instance still serves: {}",
        second.text()
    );
}

#[test]
fn oversized_request_is_413() {
    let project = Project::new();
    project.mount("app::echo", "POST", "/big", &[]);
    let server = Server::start(&project);
    let body = vec![b'a'; 6 * 1024 * 1024 + 1];

    let reply = server.send("POST", "/big", Some(&body), &[]);

    assert_eq!(reply.status, 413, "{}", reply.text());
    let fits = server.send("POST", "/big", Some(b"small"), &[]);
    assert_eq!(fits.status, 200, "{}", fits.text());
}

#[test]
fn oversized_response_is_502() {
    let project = Project::new();
    project.mount("app::huge", "GET", "/huge", &[("FAKE_ACTION", "huge")]);
    let server = Server::start(&project);

    let reply = server.get("/huge");

    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.json()["errorType"], "Function.ResponseSizeTooLarge");
    let next = server.get("/huge?action=echo");
    assert_eq!(
        next.status,
        200,
        "the instance keeps serving after a rejected response: {}",
        next.text()
    );
}

#[test]
fn any_method_route_accepts_all() {
    let project = Project::new();
    project.mount("app::any", "ANY", "/any", &[]);
    let server = Server::start(&project);

    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let reply = server.send(method, "/any", None, &[]);
        assert_eq!(reply.status, 200, "{method}: {}", reply.text());
        assert_eq!(
            reply.json()["event"]["requestContext"]["http"]["method"],
            method
        );
    }
    let pid = echoed_pid(&server.get("/any"));
    assert!(pid > 0);
}

#[test]
fn expect_continue_gets_413_before_body() {
    use std::io::{BufRead, BufReader, Write};

    let project = Project::new();
    project.mount("app::echo", "POST", "/big", &[]);
    let server = Server::start(&project);
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", server.info.port)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("set a read timeout");

    let head = "POST /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 7340032\r\nExpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut status_line = String::new();
    BufReader::new(&stream)
        .read_line(&mut status_line)
        .expect("read the status line");

    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line:?}");
}
