//! Tests of `portkey.json` on a real file system: loading, stable output, atomic saves, the
//! lock, and the errors for damaged files.

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use portkey_project::{
    MountRecord, ProjectError, ProjectFile, ProjectLock, remove_mount, update, upsert_mount,
};

fn record(function: &str) -> MountRecord {
    MountRecord::new(
        function,
        "GET",
        format!("/{}", function.replace("::", "/")),
        format!("target/portkey/{function}/bootstrap"),
        format!("target/portkey/{function}/bootstrap.zip"),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    )
}

fn temp_root() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary folder")
}

#[test]
fn missing_file_is_empty_project() {
    let root = temp_root();
    let project = ProjectFile::load(root.path()).expect("load");
    assert_eq!(project, ProjectFile::default());
    assert_eq!(project.version, 1);
    assert!(project.mounts.is_empty());
    assert_eq!(project.local.port, None);
}

#[test]
fn save_then_load_round_trips() {
    let root = temp_root();
    let mut mount = record("hello::flatter");
    mount.env.insert("GREETING".into(), "hi".into());
    mount.timeout_secs = 5;
    mount.memory_mb = 256;
    let mut project = ProjectFile::default();
    project.local.port = Some(9123);
    project.mounts.push(mount);

    project.save(root.path()).expect("save");
    let loaded = ProjectFile::load(root.path()).expect("load");

    assert_eq!(loaded, project);
}

#[test]
fn saved_json_is_sorted_and_stable() {
    let root = temp_root();
    let mut project = ProjectFile::default();
    project.mounts.push(record("zeta::last"));
    project.mounts.push(record("alpha::first"));
    project.mounts.push(record("mid::dle"));
    project.save(root.path()).expect("save");

    let text = fs::read_to_string(ProjectFile::path(root.path())).expect("read");
    let alpha = text.find("alpha::first").expect("alpha present");
    let mid = text.find("mid::dle").expect("mid present");
    let zeta = text.find("zeta::last").expect("zeta present");
    assert!(alpha < mid, "mounts are sorted by function:\n{text}");
    assert!(mid < zeta, "mounts are sorted by function:\n{text}");
    assert!(text.ends_with("}\n"), "the file ends with a newline");

    let reloaded = ProjectFile::load(root.path()).expect("load");
    reloaded.save(root.path()).expect("save again");
    let again = fs::read_to_string(ProjectFile::path(root.path())).expect("read");
    assert_eq!(
        text, again,
        "saving an unchanged project rewrites the same bytes"
    );
}

#[test]
fn defaults_fill_omitted_fields() {
    let root = temp_root();
    let text = r#"{
  "version": 1,
  "mounts": [
    {
      "function": "hello::flatter",
      "method": "GET",
      "template": "/hello?name={name}",
      "bootstrap": "/tmp/bootstrap",
      "zip": "/tmp/bootstrap.zip",
      "code_sha256": "abc=",
      "updated_at": "2024-01-01T00:00:00Z"
    }
  ]
}"#;
    fs::write(ProjectFile::path(root.path()), text).expect("write");

    let project = ProjectFile::load(root.path()).expect("load");

    let mount = project.mount("hello::flatter").expect("mount present");
    assert_eq!(mount.timeout_secs, 30);
    assert_eq!(mount.memory_mb, 128);
    assert!(mount.env.is_empty());
    assert_eq!(project.local.port, None);
}

#[test]
fn corrupt_file_error_names_position() {
    let root = temp_root();
    let path = ProjectFile::path(root.path());
    fs::write(
        &path,
        "{\n  \"version\": 1,\n  \"mounts\": [\n    {\"function\": }\n  ]\n}\n",
    )
    .expect("write");

    let error = ProjectFile::load(root.path()).expect_err("a corrupt file is an error");

    let ProjectError::Corrupt { line, column, .. } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert_eq!(*line, 4);
    assert_eq!(*column, 18);
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("line 4, column 18"), "{message}");
    assert!(message.contains("delete it"), "{message}");
    assert!(message.contains("portkey mount"), "{message}");
}

#[test]
fn unknown_field_is_corrupt() {
    let root = temp_root();
    fs::write(
        ProjectFile::path(root.path()),
        "{\"version\": 1, \"mountz\": []}",
    )
    .expect("write");

    let error = ProjectFile::load(root.path()).expect_err("an unknown field is an error");

    assert!(matches!(error, ProjectError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("mountz"), "{error}");
}

#[test]
fn newer_version_is_rejected() {
    let root = temp_root();
    fs::write(ProjectFile::path(root.path()), "{\"version\": 2}").expect("write");

    let error = ProjectFile::load(root.path()).expect_err("version 2 is unsupported");

    assert!(
        matches!(error, ProjectError::UnsupportedVersion { found: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn duplicate_mount_is_rejected() {
    let root = temp_root();
    let mut project = ProjectFile::default();
    project.mounts.push(record("hello::flatter"));
    project.mounts.push(record("hello::flatter"));
    fs::write(ProjectFile::path(root.path()), project.to_json()).expect("write");

    let error = ProjectFile::load(root.path()).expect_err("a function mounted twice is an error");

    assert!(
        matches!(&error, ProjectError::DuplicateMount { function, .. } if function == "hello::flatter"),
        "{error:?}"
    );
}

#[test]
fn upsert_adds_then_replaces() {
    let root = temp_root();

    let first = upsert_mount(root.path(), record("hello::flatter")).expect("upsert");
    assert!(first.is_none());

    let mut changed = record("hello::flatter");
    changed.code_sha256 = "changed=".into();
    let previous = upsert_mount(root.path(), changed).expect("upsert again");
    assert_eq!(
        previous.map(|mount| mount.code_sha256).as_deref(),
        Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    );

    let project = ProjectFile::load(root.path()).expect("load");
    assert_eq!(project.mounts.len(), 1);
    assert_eq!(project.mounts[0].code_sha256, "changed=");
}

#[test]
fn remove_returns_removed_record() {
    let root = temp_root();
    upsert_mount(root.path(), record("a::one")).expect("upsert");
    upsert_mount(root.path(), record("b::two")).expect("upsert");

    let removed = remove_mount(root.path(), "a::one").expect("remove");
    let missing = remove_mount(root.path(), "not::mounted").expect("remove a missing mount");

    assert_eq!(
        removed.map(|mount| mount.function).as_deref(),
        Some("a::one")
    );
    assert!(missing.is_none());
    let project = ProjectFile::load(root.path()).expect("load");
    let functions: Vec<&str> = project
        .mounts
        .iter()
        .map(|mount| mount.function.as_str())
        .collect();
    assert_eq!(functions, ["b::two"]);
}

#[test]
fn update_keeps_other_fields() {
    let root = temp_root();
    upsert_mount(root.path(), record("hello::flatter")).expect("upsert");

    let old_port = update(root.path(), |project| project.local.port.replace(8080)).expect("update");

    assert_eq!(old_port, None);
    let project = ProjectFile::load(root.path()).expect("load");
    assert_eq!(project.local.port, Some(8080));
    assert_eq!(project.mounts.len(), 1);
}

#[test]
fn save_leaves_no_temporary_files() {
    let root = temp_root();
    for index in 0..5 {
        upsert_mount(root.path(), record(&format!("m::f{index}"))).expect("upsert");
    }

    let mut names: Vec<String> = fs::read_dir(root.path())
        .expect("list folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();

    assert_eq!(names, ["portkey.json"]);
}

#[test]
fn lock_blocks_concurrent_update() {
    let root = temp_root();
    let lock = ProjectLock::acquire(root.path()).expect("lock");

    let (done_sender, done_receiver) = mpsc::channel();
    let root_path = root.path().to_path_buf();
    let writer = thread::spawn(move || {
        let result = upsert_mount(&root_path, record("hello::flatter"));
        done_sender.send(()).expect("send");
        result
    });

    let early = done_receiver.recv_timeout(Duration::from_millis(300));
    assert!(
        early.is_err(),
        "the update finished while another holder had the lock"
    );
    assert!(
        !ProjectFile::path(root.path()).exists(),
        "nothing is written while the lock is held"
    );

    drop(lock);
    done_receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the update finishes once the lock is released");
    writer.join().expect("writer thread").expect("upsert");
    assert!(
        ProjectFile::load(root.path())
            .expect("load")
            .mount("hello::flatter")
            .is_some()
    );
}

#[test]
fn concurrent_upserts_lose_nothing() {
    let root = temp_root();
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let root_path = root.path().to_path_buf();
            thread::spawn(move || {
                for index in 0..5 {
                    upsert_mount(&root_path, record(&format!("w{writer}::f{index}")))
                        .expect("upsert");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }

    let project = ProjectFile::load(root.path()).expect("load");
    assert_eq!(
        project.mounts.len(),
        40,
        "every upsert of every thread is kept"
    );
}

#[test]
fn readers_never_see_partial_file() {
    let root = temp_root();
    upsert_mount(root.path(), record("seed::mount")).expect("upsert");
    let root_path = root.path().to_path_buf();
    let writer = thread::spawn(move || {
        for index in 0..60 {
            let mut mount = record("seed::mount");
            // A large environment makes each write span several pages.
            for key in 0..200 {
                mount
                    .env
                    .insert(format!("KEY_{key}"), format!("value {index} {key}"));
            }
            upsert_mount(&root_path, mount).expect("upsert");
        }
    });

    let mut loads = 0;
    while !writer.is_finished() {
        let project = ProjectFile::load(root.path()).expect("every load sees a whole file");
        assert_eq!(project.mounts.len(), 1);
        loads += 1;
    }
    writer.join().expect("writer thread");
    assert!(loads > 0);
}

#[test]
fn relative_paths_resolve_against_root() {
    let mount = record("hello::flatter");
    let root = Path::new("/work/project");

    assert_eq!(
        mount.bootstrap_path(root),
        Path::new("/work/project/target/portkey/hello::flatter/bootstrap")
    );
    let mut absolute = mount.clone();
    absolute.zip = "/elsewhere/bootstrap.zip".into();
    assert_eq!(
        absolute.zip_path(root),
        Path::new("/elsewhere/bootstrap.zip")
    );
}
