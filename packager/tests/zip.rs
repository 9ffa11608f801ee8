//! The zip is deterministic, readable by the system `unzip`, and holds an executable `bootstrap`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use portkey_packager::{Compression, package};

fn fake_executable(dir: &std::path::Path, content: &[u8]) -> std::path::PathBuf {
    let path = dir.join("exe");
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn same_input_gives_identical_zip() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let executable = fake_executable(dir.path(), &content);

    let first = package(&executable, &dir.path().join("a.zip"), Compression::Deflate).unwrap();
    // A different modification time on the input must not change the output.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&executable, &content).unwrap();
    let second = package(&executable, &dir.path().join("b.zip"), Compression::Deflate).unwrap();

    let first_bytes = std::fs::read(&first.zip).unwrap();
    let second_bytes = std::fs::read(&second.zip).unwrap();
    assert_eq!(first_bytes, second_bytes);
    assert_eq!(first.code_sha256, second.code_sha256);
    assert_eq!(first.bootstrap_bytes, 200_000);
    assert!(first.zip_bytes < 200_000, "zip of {} bytes is not compressed", first.zip_bytes);
}

#[test]
fn different_input_gives_different_hash() {
    let dir = tempfile::tempdir().unwrap();
    let first = package(&fake_executable(dir.path(), b"one"), &dir.path().join("a.zip"), Compression::Deflate).unwrap();
    let second = package(&fake_executable(dir.path(), b"two"), &dir.path().join("b.zip"), Compression::Deflate).unwrap();
    assert_ne!(first.code_sha256, second.code_sha256);
}

#[test]
fn unzip_extracts_executable_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let executable = fake_executable(dir.path(), b"#!/bin/sh\necho hi\n");
    let zip = package(&executable, &dir.path().join("fn.zip"), Compression::Zopfli).unwrap();

    let out = dir.path().join("out");
    let status = Command::new("unzip")
        .arg("-q")
        .arg(&zip.zip)
        .arg("-d")
        .arg(&out)
        .status()
        .expect("the system `unzip` runs");
    assert!(status.success());
    let extracted = out.join("bootstrap");
    assert_eq!(std::fs::read(&extracted).unwrap(), b"#!/bin/sh\necho hi\n");
    let mode = std::fs::metadata(&extracted).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn code_sha256_matches_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let zip = package(&fake_executable(dir.path(), b"abc"), &dir.path().join("fn.zip"), Compression::Deflate).unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("sha256sum '{}' | cut -d' ' -f1 | xxd -r -p | base64", zip.zip.display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), zip.code_sha256);
}

#[test]
fn empty_executable_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let error = package(&fake_executable(dir.path(), b""), &dir.path().join("fn.zip"), Compression::Deflate)
        .unwrap_err()
        .to_string();
    assert!(error.contains("is empty"), "{error}");
}

#[test]
fn missing_executable_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let error = package(&missing, &dir.path().join("fn.zip"), Compression::Deflate)
        .unwrap_err()
        .to_string();
    assert!(error.contains("nope"), "{error}");
}
