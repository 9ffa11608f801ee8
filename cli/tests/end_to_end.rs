//! The whole path through the `portkey` executable, on the `fixtures/hello` project: lookup,
//! shim, the shaker as linker, packaging, the project file and the local backend, answered over
//! real HTTP with curl.
//!
//! The tests work on a copy of the fixture under cargo's temporary folder, so they never touch
//! the mounts or the backend a developer has on `fixtures/hello` itself. They share that copy
//! and its local backend, so they run one at a time.

mod support;

use support::Fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The manifest of this run's copy of `fixtures/hello`. The copy's `target/` is kept between
/// runs, so later runs reuse its builds.
fn manifest() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("hello", "end-to-end-hello"))
    .clone()
}

/// Runs `portkey <args> --manifest-path <copy of fixtures/hello>/Cargo.toml`.
fn portkey(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest())
        .output()
        .expect("the portkey executable runs");
    eprintln!("$ portkey {}\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Mounts a function and returns the printed URL template.
fn mount(args: &[&str]) -> String {
    let mut full = vec!["mount"];
    full.extend_from_slice(args);
    let output = portkey(&full);
    assert!(output.status.success(), "mount failed: {}", stderr(&output));
    let out = stdout(&output);
    let url = out
        .lines()
        .find_map(|line| line.strip_prefix("url: "))
        .unwrap_or_else(|| panic!("no `url:` line in {out:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    url.to_string()
}

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

/// Sends a request with curl and returns the status, content type and body.
fn curl(method: &str, url: &str, body: Option<&str>) -> Reply {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "60", "-X", method, "-o", "-", "-w", "\n%{http_code} %{content_type}"])
        .arg(url);
    if let Some(body) = body {
        command.args(["-H", "content-type: application/json", "--data-binary", body]);
    }
    let output = command.output().expect("curl runs");
    assert!(output.status.success(), "curl {url}: {}", stderr(&output));
    let text = stdout(&output);
    let (body, trailer) = text.rsplit_once('\n').expect("curl printed the status line");
    let (status, content_type) = trailer.split_once(' ').unwrap_or((trailer, ""));
    Reply {
        status: status.parse().expect("a numeric status"),
        content_type: content_type.to_string(),
        body: body.to_string(),
    }
}

fn base_of(url: &str) -> String {
    let after_scheme = url.strip_prefix("http://").expect("an http URL");
    let host_end = after_scheme.find('/').unwrap_or(after_scheme.len());
    format!("http://{}", &after_scheme[..host_end])
}

#[test]
fn mount_flatter_answers_from_shaken_image() {
    let _fixture = Fixture::take(manifest());
    let url = mount(&["hello::flatter", "/hello?name={name}"]);
    assert!(url.ends_with("/hello?name={name}"), "{url}");

    let reply = curl("GET", &url.replace("{name}", "Ada"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.starts_with("Ada is "), "{}", reply.body);
    assert!(reply.content_type.starts_with("text/plain"), "{}", reply.content_type);

    let encoded = curl("GET", &url.replace("{name}", "Grace%20Hopper"), None);
    assert!(encoded.body.starts_with("Grace Hopper is "), "{}", encoded.body);

    let missing = curl("GET", &format!("{}/hello", base_of(&url)), None);
    assert_eq!(missing.status, 400, "{}", missing.body);
    let error: serde_json::Value = serde_json::from_str(&missing.body).expect("a JSON error body");
    assert_eq!(error["parameter"], "name", "{error}");
    assert_eq!(error["expected"], "String", "{error}");
}

#[test]
fn mount_dependency_function_reads_post_body() {
    let _fixture = Fixture::take(manifest());
    let url = mount(&["markdown::to_html", "/md", "--method", "POST"]);

    let reply = curl("POST", &url, Some(r##"{"value": "# Hello\n\nsome *text*"}"##));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("<h1>Hello</h1>"), "{}", reply.body);
    assert!(reply.body.contains("<em>text</em>"), "{}", reply.body);

    let wrong_method = curl("GET", &url, None);
    assert_ne!(wrong_method.status, 200, "{}", wrong_method.body);
}

#[test]
fn panic_gives_500_and_next_call_is_served() {
    let _fixture = Fixture::take(manifest());
    let url = mount(&["hello::explode", "/explode?message={message}"]);

    let reply = curl("GET", &url.replace("{message}", "kaboom"), None);
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert!(reply.body.contains("kaboom"), "{}", reply.body);

    let flatter = mount(&["hello::flatter", "/hello?name={name}"]);
    let next = curl("GET", &flatter.replace("{name}", "Ada"), None);
    assert_eq!(next.status, 200, "{}", next.body);
    let again = curl("GET", &url.replace("{message}", "twice"), None);
    assert_eq!(again.status, 500, "{}", again.body);
    assert!(again.body.contains("twice"), "{}", again.body);
}

#[test]
fn panic_storm_loses_no_call() {
    // 1,000 calls from 4 clients, of which every tenth divides by zero: each panic is a 500
    // naming it, every other call gets its quotient, and none is lost.
    let _fixture = Fixture::take(manifest());
    let url = mount(&["hello::divide", "/divide?a={a}&b={b}"]);
    let url = std::sync::Arc::new(url);
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut outcomes = (0, 0);
                for call in (client..1000).step_by(4) {
                    let a = 1000 + call as i64;
                    let b = if call % 10 == 0 { 0 } else { (call % 7 + 1) as i64 };
                    let reply = curl("GET", &url.replace("{a}", &a.to_string()).replace("{b}", &b.to_string()), None);
                    if b == 0 {
                        assert_eq!(reply.status, 500, "call {call}: {}", reply.body);
                        assert!(reply.body.contains("divide by zero"), "call {call}: {}", reply.body);
                        outcomes.1 += 1;
                    } else {
                        assert_eq!((reply.status, reply.body.as_str()), (200, (a / b).to_string().as_str()), "call {call}");
                        outcomes.0 += 1;
                    }
                }
                outcomes
            })
        })
        .collect();
    let (mut answered, mut panicked) = (0, 0);
    for client in clients {
        let (ok, failed) = client.join().expect("a client thread");
        answered += ok;
        panicked += failed;
    }
    assert_eq!((answered, panicked), (900, 100));
}

#[test]
fn shake_over_budget_fails_naming_largest() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&["shake", "--fn", "hello::flatter", "--max-size", "1KiB"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("over the --max-size budget of 1.0 KiB (1024 B)"), "{message}");
    let crates = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("largest crates: "))
        .unwrap_or_else(|| panic!("no largest crates line in {message}"));
    assert!(crates.contains("core "), "{crates}");
    assert!(crates.contains("std "), "{crates}");
    assert!(message.contains("largest functions:"), "{message}");
    let natives = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("largest native inputs: "))
        .unwrap_or_else(|| panic!("no largest native inputs line in {message}"));
    assert!(natives.contains("libc.a "), "{natives}");
    assert!(stdout(&output).contains("budget     zip"), "{}", stdout(&output));

    let output = portkey(&["shake", "--fn", "hello::flatter", "--max-size", "64MiB", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let budget = &value["budget"];
    assert_eq!(budget["max_bytes"], 64 * 1024 * 1024, "{budget}");
    assert_eq!(budget["within"], true, "{budget}");
    let zip_bytes = std::fs::metadata(value["zip"].as_str().unwrap()).unwrap().len();
    assert_eq!(budget["zip_bytes"], zip_bytes, "{budget}");
    assert!(budget["largest_functions"].as_array().is_some_and(|list| !list.is_empty()), "{budget}");
    assert!(budget["largest_native_inputs"].as_array().is_some_and(|list| !list.is_empty()), "{budget}");
}

#[test]
fn budget_script_fails_over_budget() {
    // scripts/budgets.sh is what CI runs on the fixtures: one function over a tiny budget must
    // fail it, while the others still get checked.
    let _fixture = Fixture::take(manifest());
    let budgets = manifest().with_file_name("tiny-budgets.txt");
    std::fs::write(&budgets, "# tiny\nhello::flatter 1KiB\nhello::flatter 64MiB --size min\n").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/budgets.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(&budgets)
        .env("PORTKEY", env!("CARGO_BIN_EXE_portkey"))
        .env("MANIFEST", manifest())
        .output()
        .expect("bash runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("OVER BUDGET: hello::flatter"), "{}", stderr(&output));
    assert!(stdout(&output).contains("within budget: hello::flatter --size min"), "{}", stdout(&output));
}

#[test]
fn shake_treemap_draws_crates_by_bytes() {
    let _fixture = Fixture::take(manifest());
    let svg_path = manifest().with_file_name("treemap.svg");
    let output = portkey(&["shake", "--fn", "markdown::to_html", "--json", "--treemap", svg_path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let svg = std::fs::read_to_string(&svg_path).expect("the treemap was written");
    let document = roxmltree::Document::parse(&svg).expect("the treemap is well-formed XML");

    let texts: Vec<&str> = document.descendants().filter(|node| node.has_tag_name("text")).filter_map(|node| node.text()).map(str::trim).collect();
    assert!(texts[0].starts_with("markdown::to_html: ") && texts[0].contains("zipped"), "{texts:?}");
    assert!(texts.iter().any(|text| text.starts_with("markdown ")), "no label for the markdown crate: {texts:?}");

    // Each crate is a group whose first rectangle's title names the crate and its bytes. The
    // crates' areas must split the map in proportion to their machine code.
    let mut crates: Vec<(String, f64)> = Vec::new();
    for group in document.descendants().filter(|node| node.has_tag_name("g")) {
        let rect = group.children().find(|node| node.has_tag_name("rect")).expect("a crate rectangle");
        let number = |name: &str| rect.attribute(name).unwrap().parse::<f64>().unwrap();
        let title = rect.children().find(|node| node.has_tag_name("title")).and_then(|node| node.text()).unwrap().trim();
        crates.push((title.to_string(), number("width") * number("height")));
    }
    let names: Vec<&str> = crates.iter().map(|(title, _)| title.split(':').next().unwrap()).collect();
    for expected in ["markdown", "std", "core", "portkey_runtime"] {
        assert!(names.contains(&expected), "no {expected} crate in {names:?}");
    }
    let bytes_of = |crate_name: &str| -> u64 {
        value["report"]["kept_functions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|function| function["crate_name"].as_str() == Some(crate_name))
            .filter_map(|function| function["size_bytes"].as_u64())
            .sum()
    };
    let total_area: f64 = crates.iter().map(|(_, area)| area).sum();
    let total_bytes: u64 = value["report"]["kept_functions"].as_array().unwrap().iter().filter_map(|f| f["size_bytes"].as_u64()).sum();
    for crate_name in ["markdown", "std", "core"] {
        let area = crates.iter().find(|(title, _)| title.starts_with(&format!("{crate_name}:"))).unwrap().1;
        let (area_share, byte_share) = (area / total_area, bytes_of(crate_name) as f64 / total_bytes as f64);
        assert!((area_share - byte_share).abs() < 0.01, "{crate_name}: area {area_share:.3}, bytes {byte_share:.3}");
    }
}

#[test]
fn shake_json_reports_kept_and_removed() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&["shake", "--fn", "hello::flatter", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let report = &value["report"];

    let kept = report["functions"]["kept"].as_u64().expect("a kept count");
    let removed = report["functions"]["removed"].as_u64().expect("a removed count");
    assert!(kept > 0, "{report}");
    assert!(removed > kept, "the shaker removed only {removed} of {} functions", kept + removed);

    let names: Vec<&str> = report["kept_functions"]
        .as_array()
        .expect("a kept function list")
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    assert!(names.iter().any(|name| name.contains("hello::flatter")), "flatter is not kept");
    let from_markdown: Vec<&&str> = names.iter().filter(|name| name.starts_with("markdown::")).collect();
    assert!(from_markdown.is_empty(), "kept markdown code that only `render` uses: {from_markdown:?}");

    // Panic locations name sources relative to the project, not the build machine's folders.
    let bootstrap = std::fs::read(value["bootstrap"].as_str().expect("a bootstrap path")).unwrap();
    let project_dir = manifest().parent().unwrap().to_string_lossy().into_owned();
    let leaks = bootstrap.windows(project_dir.len()).any(|window| window == project_dir.as_bytes());
    assert!(!leaks, "the image contains the path {project_dir}");

    let zip = PathBuf::from(value["zip"].as_str().expect("a zip path"));
    assert!(zip.is_file(), "{}", zip.display());
    assert_eq!(report["zip_bytes"].as_u64(), Some(std::fs::metadata(&zip).unwrap().len()));
}

#[test]
fn ls_unmount_down_and_up() {
    let _fixture = Fixture::take(manifest());
    let url = mount(&["hello::flatter", "/hello?name={name}"]);
    let listed = portkey(&["ls"]);
    assert!(stdout(&listed).contains("hello::flatter"), "{}", stdout(&listed));

    let stopped = portkey(&["down"]);
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let up = portkey(&["up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let restarted_url = stdout(&up)
        .lines()
        .find_map(|line| line.split('\t').nth(2).map(str::to_string))
        .expect("`up` lists the mount");
    let reply = curl("GET", &restarted_url.replace("{name}", "Ada"), None);
    assert!(reply.body.starts_with("Ada is "), "a restarted backend must serve the recorded mount: {}", reply.body);

    let unmounted = portkey(&["unmount", "hello::flatter"]);
    assert!(unmounted.status.success(), "{}", stderr(&unmounted));
    let gone = curl("GET", &restarted_url.replace("{name}", "Ada"), None);
    assert_eq!(gone.status, 404, "{}", gone.body);
    let _ = url;

    let again = portkey(&["unmount", "hello::flatter"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("`hello::flatter` is not mounted"), "{}", stderr(&again));
}

#[test]
fn mount_rejects_misspelled_function() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&["mount", "hello::flater", "/hello?name={name}"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("hello::flater"), "{message}");
    assert!(message.contains("hello::flatter"), "the error must suggest the near match: {message}");
}

#[test]
fn mount_rejects_unknown_placeholder_before_building() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&["mount", "hello::flatter", "/hello?nam={nam}"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("`{nam}`"), "{message}");
    assert!(!message.contains("Building"), "the template must be checked before the build: {message}");
}

#[test]
fn mount_rejects_unsupplied_parameter() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&["mount", "hello::add", "/add?a={a}"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("`b: i64` is required"), "{message}");
}

/// After a `rustup update`, the shaker's LLVM no longer matches the compiler: portkey must say
/// what to run instead of failing in the dynamic loader or on unreadable bitcode.
#[test]
fn toolchain_mismatch_says_what_to_run() {
    use std::os::unix::fs::PermissionsExt;

    let _fixture = Fixture::take(manifest());
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().expect("rustc runs");
    let real_rustc = Path::new(String::from_utf8_lossy(&sysroot.stdout).trim()).join("bin/rustc");
    let dir = std::env::temp_dir().join(format!("portkey-fake-rustc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("rustc");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = \"-vV\" ]; then\n\
             printf 'rustc 9.99.0 (0000000 2099-01-01)\\nbinary: rustc\\ncommit-hash: 0000000\\n\
             host: x86_64-unknown-linux-gnu\\nrelease: 9.99.0\\nLLVM version: 99.1.0\\n'\nexit 0\nfi\n\
             exec '{}' \"$@\"\n",
            real_rustc.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(["shake", "--fn", "hello::flatter", "--manifest-path"])
        .arg(manifest())
        .env("RUSTC", &fake)
        .output()
        .expect("the portkey executable runs");
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("rustc 9.99.0 (LLVM 99.1.0)"), "{message}");
    assert!(message.contains("cargo install --path"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

/// cargo runs `cargo portkey ls` as `cargo-portkey portkey ls`.
#[test]
fn cargo_subcommand_drops_its_own_name() {
    let _fixture = Fixture::take(manifest());
    let output = Command::new(env!("CARGO_BIN_EXE_cargo-portkey"))
        .args(["portkey", "ls", "--manifest-path"])
        .arg(manifest())
        .output()
        .expect("the cargo-portkey executable runs");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("no mounts"), "{}", stderr(&output));

    let version = Command::new(env!("CARGO_BIN_EXE_cargo-portkey"))
        .args(["portkey", "--version"])
        .output()
        .expect("the cargo-portkey executable runs");
    assert!(stdout(&version).starts_with("portkey "), "{}", stdout(&version));
}

#[test]
fn mount_rejects_route_of_another_function() {
    let _fixture = Fixture::take(manifest());
    mount(&["hello::describe", "/hello"]);
    let output = portkey(&["mount", "hello::flatter", "/hello?name={name}"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("GET /hello is already served by `hello::describe`"), "{message}");
    assert!(message.contains("portkey unmount hello::describe"), "{message}");
}
