//! Every parameter and result type through the `portkey` executable. The functions of
//! `fixtures/types` are mounted together on one local backend, and so are functions of published
//! crates from crates.io (through `fixtures/published`) and an axum `Router`
//! (`fixtures/axum-app`). Each reply is checked for status, content type and body, 400s
//! included, and each backend's OpenAPI document is checked by openapi-spec-validator.
//!
//! The copies live under cargo's temporary folder in `signatures-types`,
//! `signatures-published` and `signatures-axum`. The tests of this file run one at a time.

mod support;

use support::{Fixture, stderr_of, url_of};

use std::path::{Path, PathBuf};
use std::process::Command;

/// The status, headers and body of one response.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    headers: String,
    body: String,
}

/// Sends a request with curl: `method`, `url`, optional body and extra headers.
fn send(method: &str, url: &str, body: Option<&str>, headers: &[&str]) -> Reply {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "120", "-D", "-", "-o", "-", "-X", method])
        .args(["-w", "\n%{http_code}\n%{content_type}"]);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(body) = body {
        command.args(["--data-binary", body]);
    }
    let output = command.arg(url).output().expect("curl runs");
    assert!(output.status.success(), "curl {url}: {}", stderr_of(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a header block");
    let mut parts = rest.rsplitn(3, '\n');
    let content_type = parts.next().unwrap_or_default().to_string();
    let status = parts.next().unwrap_or_default().parse().expect("a status code");
    let body = parts.next().unwrap_or_default().to_string();
    Reply {
        status,
        content_type,
        headers: head.to_ascii_lowercase(),
        body,
    }
}

/// Mounts each `(function, template, extra arguments)` and returns the backend's base URL.
fn mount_all(manifest: &Path, mounts: &[(&str, &str, &[&str])]) -> String {
    let mut base = String::new();
    for (function, template, extra) in mounts {
        let mut args = vec!["mount", function, template];
        args.extend_from_slice(extra);
        let output = support::portkey_in(manifest, &args);
        assert!(output.status.success(), "mount {function}: {}", stderr_of(&output));
        let url = url_of(&output);
        let authority_end = url["http://".len()..].find('/').expect("a path") + "http://".len();
        base = url[..authority_end].to_string();
    }
    base
}

/// Checks status, content type (a prefix: `text/plain` matches `text/plain; charset=utf-8`)
/// and body of a reply.
#[track_caller]
fn expect(reply: &Reply, status: u16, content_type: &str, body: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(
        reply.content_type.starts_with(content_type),
        "content type `{}`, expected `{content_type}`: {reply:?}",
        reply.content_type
    );
    assert_eq!(reply.body, body, "{reply:?}");
}

/// Checks that a reply is a 400 whose JSON error body mentions `needle`.
#[track_caller]
fn expect_400(reply: &Reply, needle: &str) {
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.body.contains(needle), "`{needle}` not in {reply:?}");
}

fn types_copy() -> PathBuf {
    support::fixture_copy("types", "signatures-types")
}

#[test]
fn every_parameter_and_result_type_answers_through_the_local_backend() {
    let fixture = Fixture::take(types_copy());
    let post: &[&str] = &["--method", "POST"];
    let get: &[&str] = &[];
    let mounts: &[(&str, &str, &[&str])] = &[
            ("types::sum_ids", "/sum?ids={ids}&offset={offset}", get),
            ("types::join_tags", "/tags?tags={tags}", get),
            ("types::shift", "/shift", post),
            ("types::manhattan", "/manhattan", post),
            ("types::byte_count", "/count", post),
            ("types::reverse_bytes", "/reverse", post),
            ("types::checksum", "/checksum", post),
            ("types::next_char", "/next/{letter}", get),
            ("types::widen", "/widen?big={big}&small={small}", get),
            ("types::char_count", "/chars?text={text}", get),
            ("types::greet", "/greet?name={name}", get),
            ("types::json_kind", "/kind", post),
            ("types::bytes_up_to", "/upto/{count}", get),
            ("types::maybe_bytes", "/maybe?text={text}", get),
            ("types::label", "/label?name={name}", get),
            ("types::bytes_len", "/bytes-len", post),
            ("types::bytes_reversed", "/bytes-rev", post),
            ("types::create", "/create?name={name}", get),
            ("types::redirect", "/go?to={to}", get),
            ("types::page", "/page/{title}", get),
            ("types::motto", "/motto", get),
            ("types::color", "/color/{name}", get),
            ("types::forget", "/forget/{key}", &["--method", "DELETE"]),
            ("types::app", "/app/*", get),
            ("types::app_bytes", "/raw/*", get),
            ("types::status_of", "/status/{code}", get),
            ("types::upload", "/upload?name={name}", post),
    ];
    let base = mount_all(fixture.manifest(), mounts);
    let get = |path: &str| send("GET", &format!("{base}{path}"), None, &[]);
    let post = |path: &str, body: &str, content_type: &str| {
        let header = format!("content-type: {content_type}");
        send("POST", &format!("{base}{path}"), Some(body), &[&header])
    };
    let text = "text/plain";
    let json = "application/json";
    let binary = "application/octet-stream";

    // Collections from comma-joined values, repeated keys and a JSON array.
    expect(&get("/sum?ids=1,2,3"), 200, text, "6");
    expect(&get("/sum?ids=1&ids=2&offset=10"), 200, text, "13");
    expect_400(&get("/sum?ids=1,x"), "ids");
    expect(&get("/tags?tags=a&tags=b%20c"), 200, text, "a|b c");
    // A struct from the whole JSON body, by value and by reference.
    expect(&post("/shift", r#"{"x":1,"y":2,"dx":3}"#, json), 200, json, r#"{"x":4,"y":2}"#);
    expect(&post("/manhattan", r#"{"x":-3,"y":4}"#, json), 200, text, "7");
    expect_400(&post("/manhattan", r#"{"x":"west"}"#, json), "point");
    // Raw bodies as `Vec<u8>`, `&[u8]` and `bytes::Bytes`; binary results.
    expect(&post("/count", "hello", text), 200, text, "5");
    expect(&post("/reverse", "abc", binary), 200, binary, "cba");
    expect(&post("/bytes-len", "abcd", binary), 200, text, "4");
    expect(&post("/bytes-rev", "xyz", binary), 200, binary, "zyx");
    expect(&post("/checksum", r#"{"data":[1,2],"seed":0}"#, json), 200, text, "33");
    // `char`, 128-bit integers, `Cow<str>` and optional parameters.
    expect(&get("/next/a"), 200, text, "b");
    expect_400(&get("/next/ab"), "letter");
    expect(
        &get("/widen?big=340282366920938463463374607431768211455&small=-1"),
        200,
        text,
        "340282366920938463463374607431768211454",
    );
    expect_400(&get("/widen?big=-1&small=0"), "big");
    expect(&get("/chars?text=h%C3%A9llo"), 200, text, "5");
    expect(&get("/greet?name=Ada"), 200, text, "hello Ada");
    expect(&get("/greet"), 200, text, "hello world");
    // `serde_json::Value` from the whole body.
    expect(&post("/kind", "[1,2]", json), 200, text, "array");
    expect_400(&post("/kind", "{not json", json), "JSON");
    expect(&get("/upto/3"), 200, binary, "\u{0}\u{1}\u{2}");
    expect_400(&get("/upto/300"), "count");
    expect(&get("/maybe?text=ab"), 200, binary, "ab");
    assert_eq!(get("/maybe?text=").status, 404);
    // `Display` and `Serialize`: JSON wins.
    expect(&get("/label?name=x"), 200, json, r#"{"name":"x"}"#);
    // Status codes and headers chosen by the function.
    expect(&get("/create?name=Ada"), 201, text, "created Ada");
    expect(&get("/create?name="), 422, text, "a name is required");
    let redirect = get("/go?to=/elsewhere");
    expect(&redirect, 307, "", "");
    assert!(redirect.headers.contains("location: /elsewhere"), "{redirect:?}");
    let page = get("/page/Hi");
    expect(&page, 200, "text/html", "<h1>Hi</h1>");
    assert!(page.headers.contains("cache-control: max-age=60"), "{page:?}");
    // References as results: `&'static str` and `Option<&T>`.
    expect(&get("/motto"), 200, text, "ship less");
    expect(&get("/color/teal"), 200, json, r##"{"name":"teal","hex":"#008080"}"##);
    assert_eq!(get("/color/red").status, 404);
    // `()` is 204.
    let forgotten = send("DELETE", &format!("{base}/forget/k"), None, &[]);
    expect(&forgotten, 204, "", "");
    // Whole-request handlers on prefixes: every method and every path below the prefix.
    let hello = get("/app/hello?who=Ada%20L");
    expect(&hello, 200, text, "hello who=Ada%20L");
    assert!(hello.headers.contains("x-app-path: /app/hello"), "{hello:?}");
    expect(&get("/app/users/7"), 200, text, "user 7");
    let agent = send("GET", &format!("{base}/app/agent"), None, &["x-agent: probe"]);
    expect(&agent, 200, text, "agent probe");
    expect(&post("/app/echo", "body text", text), 200, text, "body text");
    expect(&get("/app/deep/er/path"), 404, text, "no route for /app/deep/er/path");
    let raw = send("PUT", &format!("{base}/raw/a/b"), Some("xyz12"), &[]);
    expect(&raw, 200, text, "5 bytes");
    // The prefix itself is not below the prefix.
    assert_eq!(get("/app").status, 404);
    // A status a final response cannot have is a 500 that names it; a 204 has no body.
    let informational = get("/status/101");
    assert_eq!(informational.status, 500, "{informational:?}");
    assert!(informational.body.contains("status 101"), "{informational:?}");
    expect(&get("/status/204"), 204, "", "");
    expect(&get("/status/418"), 418, text, "status 418");
    expect(&post("/upload?name=photo", "12345", binary), 200, text, "photo: 5 bytes");

    // The OpenAPI document, from the backend and from `portkey openapi`, lists every route and
    // validates.
    let served = get("/_portkey/openapi.json");
    expect_status(&served, 200);
    let document: serde_json::Value = serde_json::from_str(&served.body).expect("JSON");
    check_openapi(&document, mounts);
    assert_eq!(document["servers"][0]["url"], base.as_str());
    let written = fixture.manifest().with_file_name("openapi.json");
    let output = support::portkey_in(
        fixture.manifest(),
        &["openapi", "--out", written.to_str().expect("a UTF-8 path")],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = std::fs::read_to_string(&written).expect("the written document");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    check_openapi(&document, mounts);
    let shift = &document["paths"]["/shift"]["post"];
    let body = &shift["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["properties"]["point"]["$ref"], "#/components/schemas/Point", "{shift}");
    assert_eq!(document["components"]["schemas"]["Point"]["required"], serde_json::json!(["x", "y"]));
    let sum = &document["paths"]["/sum"]["get"]["parameters"];
    assert_eq!(sum[0]["schema"]["type"], "array", "{sum}");
    assert_eq!(sum[1]["required"], false, "{sum}");
    let color = &document["paths"]["/color/{name}"]["get"]["responses"];
    assert!(color.get("404").is_some(), "{color}");
    assert!(document["paths"]["/forget/{key}"]["delete"]["responses"].get("204").is_some());
    assert!(document["paths"]["/app/{proxy}"]["patch"].is_object(), "ANY is listed per method");
    // Beside a raw body, the other parameters come from the query.
    let upload = &document["paths"]["/upload"]["post"];
    assert_eq!(upload["parameters"][0]["name"], "name", "{upload}");
    assert_eq!(upload["parameters"][0]["in"], "query", "{upload}");
    assert!(upload["requestBody"]["content"].get("application/octet-stream").is_some(), "{upload}");
}

#[track_caller]
fn expect_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
}

/// Checks that `document` has an operation for every mount and passes openapi-spec-validator.
fn check_openapi(document: &serde_json::Value, mounts: &[(&str, &str, &[&str])]) {
    let mut operation_ids = Vec::new();
    for operations in document["paths"].as_object().expect("paths").values() {
        for operation in operations.as_object().expect("operations").values() {
            operation_ids.push(operation["operationId"].as_str().expect("an operation id").to_string());
        }
    }
    for (function, _, _) in mounts {
        let id = function.replace("::", "_");
        assert!(
            operation_ids.iter().any(|listed| *listed == id || listed.starts_with(&format!("{id}_"))),
            "no operation for {function} among {operation_ids:?}"
        );
    }
    let validator = openapi_validator();
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("checked-openapi.json");
    std::fs::write(&file, document.to_string()).expect("write the document");
    let checked = Command::new(&validator).arg(&file).output().expect("the validator runs");
    assert!(
        checked.status.success(),
        "openapi-spec-validator rejects the document: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        stderr_of(&checked)
    );
    // The validator is not lenient: a document without `info` and `paths` fails.
    std::fs::write(&file, r#"{"openapi": "3.0.3"}"#).expect("write the document");
    let broken = Command::new(&validator).arg(&file).output().expect("the validator runs");
    assert!(!broken.status.success(), "the validator accepts a broken document");
}

/// Returns the openapi-spec-validator executable, installing it with
/// `scripts/openapi-validator.sh` when missing.
fn openapi_validator() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/openapi-validator.sh");
    let output = Command::new("bash").arg(&script).output().expect("the script runs");
    assert!(output.status.success(), "scripts/openapi-validator.sh failed: {}", stderr_of(&output));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

#[test]
fn a_star_before_the_last_segment_is_refused_at_mount_time() {
    let fixture = Fixture::take(types_copy());
    let output = support::portkey_in(fixture.manifest(), &["mount", "types::app", "/app/*/more"]);
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("`*` takes the rest of the path"), "{stderr}");
}

#[test]
fn functions_of_published_crates_answer() {
    let fixture = Fixture::take(support::fixture_copy("published", "signatures-published"));
    let get: &[&str] = &[];
    let mounts: &[(&str, &str, &[&str])] = &[
        // Two string parameters.
        ("strsim::levenshtein", "/distance?a={a}&b={b}", get),
        // An associated function with a `Result` of the crate's own error type.
        ("semver::Version::parse", "/semver/{text}", get),
        // An `Option` of a borrowed slice.
        ("mime_guess::get_mime_extensions_str", "/extensions?mime_str={mime_str}", get),
        // A `Result` with std's `FromUtf8Error`.
        ("urlencoding::decode", "/decode?data={data}", get),
        // A collection inside an `Option`.
        ("shlex::split", "/split?in_str={in_str}", get),
    ];
    let base = mount_all(fixture.manifest(), mounts);
    let get = |path: &str| send("GET", &format!("{base}{path}"), None, &[]);
    let text = "text/plain";
    let json = "application/json";
    expect(&get("/distance?a=kitten&b=sitting"), 200, text, "3");
    expect_400(&get("/distance?a=kitten"), "b");
    expect(&get("/semver/1.2.3-beta.1"), 200, text, "1.2.3-beta.1");
    let bad = get("/semver/1.x");
    assert_eq!(bad.status, 500, "{bad:?}");
    assert!(bad.body.contains("unexpected character 'x'"), "{bad:?}");
    let extensions = get("/extensions?mime_str=image/png");
    assert_eq!(extensions.status, 200, "{extensions:?}");
    assert_eq!(extensions.content_type, json, "{extensions:?}");
    assert!(extensions.body.contains("\"png\""), "{extensions:?}");
    assert_eq!(get("/extensions?mime_str=no/such").status, 404);
    expect(&get("/decode?data=a%2520b"), 200, text, "a b");
    let invalid = get("/decode?data=%25FF");
    assert_eq!(invalid.status, 500, "{invalid:?}");
    assert!(invalid.body.contains("utf-8"), "{invalid:?}");
    expect(&get("/split?in_str=a%20%22b%20c%22"), 200, json, r#"["a","b c"]"#);
    assert_eq!(get("/split?in_str=%22open").status, 404);
    let served = get("/_portkey/openapi.json");
    expect_status(&served, 200);
    let document: serde_json::Value = serde_json::from_str(&served.body).expect("JSON");
    check_openapi(&document, mounts);
}

#[test]
fn an_axum_router_answers_on_a_prefix() {
    let fixture = Fixture::take(support::fixture_copy("axum-app", "signatures-axum"));
    let mounts: &[(&str, &str, &[&str])] = &[("axum_app::router", "/shop/*", &[])];
    let base = mount_all(fixture.manifest(), mounts);
    let get = |path: &str| send("GET", &format!("{base}{path}"), None, &[]);
    expect(&get("/shop/hello/Ada"), 200, "text/plain", "hello Ada from axum");
    expect(&get("/shop/items?size=4"), 200, "application/json", "[1,2,3,4]");
    let sum = send(
        "POST",
        &format!("{base}/shop/sum"),
        Some(r#"{"numbers":[1,2,3]}"#),
        &["content-type: application/json"],
    );
    expect(&sum, 201, "application/json", r#"{"numbers":[1,2,3],"total":6}"#);
    expect(&get("/shop/missing"), 404, "text/plain", "no such shop route");
    // A response without a content type gets none added.
    let empty = get("/shop/empty");
    expect(&empty, 204, "", "");
    assert!(!empty.headers.contains("content-type"), "{empty:?}");
    // The router's own rules apply: a POST to a GET route is its 405.
    assert_eq!(send("POST", &format!("{base}/shop/hello/x"), None, &[]).status, 405);
    let served = get("/_portkey/openapi.json");
    expect_status(&served, 200);
    let document: serde_json::Value = serde_json::from_str(&served.body).expect("JSON");
    check_openapi(&document, mounts);
}
