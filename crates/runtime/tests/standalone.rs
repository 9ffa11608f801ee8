//! The crate as portkey ships it: only `Cargo.toml` and `src/` copied next to a generated shim,
//! outside any workspace. Checks that such a copy builds with a shim-like binary, and that
//! `respond::Ret` on a type that is neither `Serialize` nor `Display` fails to compile with an
//! error naming both traits.
//!
//! These tests run `cargo check --offline` on a scratch project; the dependencies are already in
//! cargo's cache because this crate was built first.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Lays out `<scratch>/runtime` (the copied crate) and `<scratch>/<name>` (a binary crate with
/// `main_rs` as its `src/main.rs`), and returns the binary crate's directory.
fn scratch_project(name: &str, main_rs: &str) -> PathBuf {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("standalone")
        .join(name);
    let _ = std::fs::remove_dir_all(&scratch);

    let runtime = scratch.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::copy(crate_dir.join("Cargo.toml"), runtime.join("Cargo.toml")).unwrap();
    copy_dir(&crate_dir.join("src"), &runtime.join("src"));

    let app = scratch.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                    [dependencies]\nportkey-runtime = { path = \"../runtime\" }\n\n[workspace]\n";
    std::fs::write(app.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(app.join("src/main.rs"), main_rs).unwrap();
    app
}

/// Runs `cargo check --offline` in `app`; returns whether it passed and its stderr.
fn cargo_check(app: &Path) -> (bool, String) {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("standalone-target");
    let output = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet"])
        .current_dir(app)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("run cargo");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const SHIM_LIKE_MAIN: &str = r#"
use std::fmt;

struct Celsius(f64);

impl fmt::Display for Celsius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} C", self.0)
    }
}

fn handle(req: &portkey_runtime::Request) -> portkey_runtime::Response {
    let a0: u32 = match req.scalar::<u32>("age", "u32") { Ok(v) => v, Err(r) => return r };
    let a1: Option<String> = match req.optional_scalar::<String>("name", "String") { Ok(v) => v, Err(r) => return r };
    let a2: Vec<u8> = match req.json("tags", "Vec<u8>") { Ok(v) => v, Err(r) => return r };
    let _ = (a1.as_deref(), &a2);
    match a0 {
        0 => portkey_runtime::Response::no_content(),
        1 => { use portkey_runtime::respond::*; (&Ret(a2)).portkey_respond() }
        2 => { use portkey_runtime::respond::*; (&Ret(Celsius(1.5))).portkey_respond() }
        3 => portkey_runtime::Response::not_found(),
        _ => {
            let out: Result<String, std::io::Error> = Err(std::io::Error::other("x"));
            match out {
                Ok(v) => portkey_runtime::Response::display(&v),
                Err(e) => { use portkey_runtime::respond::*; (&Fail(e)).portkey_fail() }
            }
        }
    }
}

fn main() {
    portkey_runtime::start(handle)
}
"#;

const NEITHER_TRAIT_MAIN: &str = r#"
struct Opaque;

fn handle(_req: &portkey_runtime::Request) -> portkey_runtime::Response {
    { use portkey_runtime::respond::*; (&Ret(Opaque)).portkey_respond() }
}

fn main() {
    portkey_runtime::start(handle)
}
"#;

#[test]
fn copied_crate_builds_with_shim() {
    let app = scratch_project("shim", SHIM_LIKE_MAIN);
    let (passed, stderr) = cargo_check(&app);
    assert!(passed, "cargo check failed:\n{stderr}");
}

#[test]
fn ret_without_traits_names_both() {
    let app = scratch_project("neither", NEITHER_TRAIT_MAIN);
    let (passed, stderr) = cargo_check(&app);
    assert!(
        !passed,
        "a type without Serialize and Display must not compile"
    );
    assert!(stderr.contains("portkey_respond"), "{stderr}");
    assert!(stderr.contains("Serialize"), "{stderr}");
    assert!(stderr.contains("Display"), "{stderr}");
}
