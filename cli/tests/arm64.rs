//! `--arch arm64` through the `portkey` executable, on a copy of `fixtures/hello` of its own: the
//! image is an aarch64 static executable linked by the toolchain's rust-lld, and the local
//! backend runs it under qemu-user (Debian's `qemu-user-static`, which `scripts/setup.sh`
//! installs) and answers through the same gateway as an x86_64 image.
//!
//! On AWS (moto's server on 127.0.0.1), the function is created with the image's architecture.
//!
//! The copy lives under cargo's temporary folder in `arm64-hello`, so its backend and project file
//! are its own. The tests share the copy, so they run one at a time.

#[path = "support/moto.rs"]
mod moto;
mod support;

use moto::Moto;
use support::{Fixture, curl_get as get, stderr_of as stderr, url_of};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// `e_machine` of AArch64 executables.
const EM_AARCH64: u16 = 183;

fn manifest() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("hello", "arm64-hello"))
        .clone()
}

fn portkey(args: &[&str]) -> Output {
    support::portkey_in(&manifest(), args)
}

/// Reads `e_machine` from the ELF header of `path`.
fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert_eq!(
        &bytes[..4],
        b"\x7fELF",
        "{} is not an ELF file",
        path.display()
    );
    u16::from_le_bytes([bytes[18], bytes[19]])
}

#[test]
fn arm64_flatter_answers_under_qemu_beside_an_x86_64_mount() {
    assert!(
        Path::new("/usr/bin/qemu-aarch64-static").is_file()
            || which("qemu-aarch64-static")
            || which("qemu-aarch64"),
        "qemu-user is missing; run scripts/setup.sh, which installs Debian's qemu-user-static"
    );
    let _fixture = Fixture::take(manifest());

    let shaken = portkey(&[
        "shake",
        "--fn",
        "hello::flatter",
        "--arch",
        "arm64",
        "--json",
    ]);
    assert!(shaken.status.success(), "{}", stderr(&shaken));
    let json: serde_json::Value = serde_json::from_slice(&shaken.stdout).expect("JSON on stdout");
    assert_eq!(
        json["report"]["target_triple"], "aarch64-unknown-linux-musl",
        "{json}"
    );
    let bootstrap = PathBuf::from(json["bootstrap"].as_str().expect("bootstrap path"));
    assert_eq!(elf_machine(&bootstrap), EM_AARCH64);
    let zip_bytes = json["report"]["zip_bytes"].as_u64().expect("zip size");
    eprintln!("hello::flatter arm64: zip {zip_bytes} B");

    let arm = portkey(&[
        "mount",
        "hello::flatter",
        "/arm/hello?name={name}",
        "--arch",
        "arm64",
    ]);
    assert!(arm.status.success(), "mount failed: {}", stderr(&arm));
    let explode = portkey(&[
        "mount",
        "hello::explode",
        "/arm/explode?message={message}",
        "--arch",
        "arm64",
    ]);
    assert!(
        explode.status.success(),
        "mount failed: {}",
        stderr(&explode)
    );
    let x86 = portkey(&["mount", "hello::divide", "/x86/divide?a={a}&b={b}"]);
    assert!(x86.status.success(), "mount failed: {}", stderr(&x86));

    let project =
        std::fs::read_to_string(manifest().with_file_name("portkey.json")).expect("project file");
    let project: serde_json::Value = serde_json::from_str(&project).expect("project JSON");
    let mounts = project["mounts"].as_array().expect("mounts");
    let flatter = mounts
        .iter()
        .find(|mount| mount["function"] == "hello::flatter")
        .expect("flatter recorded");
    assert_eq!(flatter["build"]["arch"], "arm64", "{flatter}");
    let divide = mounts
        .iter()
        .find(|mount| mount["function"] == "hello::divide")
        .expect("divide recorded");
    assert!(
        divide
            .get("build")
            .is_none_or(|build| build.get("arch").is_none()),
        "{divide}"
    );

    let (status, body) = get(&url_of(&arm).replace("{name}", "Ada"));
    assert_eq!(status, "200", "{body}");
    assert_eq!(body, "Ada is a delight to work with");
    // A second request reaches the same warm instance.
    let (status, body) = get(&url_of(&arm).replace("{name}", "Grace"));
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", "Grace is a delight to work with")
    );
    // A panic unwinds through the aarch64 unwinder and reaches the caller with its message.
    let (status, body) = get(&url_of(&explode).replace("{message}", "kaboom-arm"));
    assert_eq!(status, "500", "{body}");
    assert!(body.contains("kaboom-arm"), "{body}");
    let (status, body) = get(&url_of(&x86).replace("{a}", "84").replace("{b}", "2"));
    assert_eq!((status.as_str(), body.as_str()), ("200", "42"), "{body}");
}

/// Reads the architecture of every Lambda function moto holds.
fn architectures(moto: &Moto) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = moto.sdk_config().await;
        let lambda = aws_sdk_lambda::Client::new(&config);
        let listed = lambda.list_functions().send().await.unwrap();
        listed
            .functions()
            .iter()
            .flat_map(|function| {
                function
                    .architectures()
                    .iter()
                    .map(|a| a.as_str().to_string())
            })
            .collect()
    })
}

#[test]
fn aws_function_takes_the_image_architecture() {
    let _fixture = Fixture::take(manifest());
    let moto = Moto::start();
    let mount = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
        command
            .args([
                "mount",
                "hello::flatter",
                "/hello?name={name}",
                "--target",
                "aws",
            ])
            .args(extra)
            .arg("--manifest-path")
            .arg(manifest())
            .envs(moto.env());
        let output = command.output().expect("the portkey executable runs");
        eprintln!(
            "$ portkey mount --target aws {}\n{}",
            extra.join(" "),
            stderr(&output)
        );
        assert!(output.status.success(), "mount failed: {}", stderr(&output));
    };

    mount(&["--arch", "arm64"]);
    assert_eq!(architectures(&moto), ["arm64"]);
    // NOTE: moto's UpdateFunctionCode ignores `Architectures`, so the move back to x86_64 on a
    // remount (an update with the new architecture) cannot be checked here.
}

#[test]
fn arch_rejects_unknown_values() {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(["shake", "--fn", "hello::flatter", "--arch", "sparc"])
        .output()
        .expect("the portkey executable runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("sparc"), "{message}");
    assert!(
        message.contains("arm64") && message.contains("x86_64"),
        "{message}"
    );
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
