//! Zero-downtime swaps: when a mount's code or settings change, the new instance finishes init
//! before traffic moves to it, requests on the old instance finish, and a new instance that fails
//! init leaves the old one serving.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{Project, Server, echoed_env, request};

#[test]
fn steady_requests_survive_twenty_swaps() {
    let project = Project::new();
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "0")]);
    let server = Server::start(&project);
    assert_eq!(server.get("/v").status, 200);

    // Each swap's new instance takes 150 ms to init, so requests arrive during every init.
    let stop = Arc::new(AtomicBool::new(false));
    let url = server.url("/v");
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                let mut replies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    replies.push(request("GET", &url, None, &[]));
                }
                replies
            })
        })
        .collect();

    for version in 1..=20 {
        let version = version.to_string();
        project.mount("app::versioned", "GET", "/v", &[("VERSION", &version), ("FAKE_INIT", "sleep:150")]);
        let report = portkey_local::reload(&server.info).expect("reload");
        assert_eq!(report.replaced, ["app::versioned"], "swap {version}");
        assert!(report.failed.is_empty(), "swap {version}: {:?}", report.failed);
        let after = server.get("/v");
        assert_eq!(echoed_env(&after)["VERSION"], version, "a request after swap {version} reaches the new code");
    }
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        for reply in client.join().expect("client thread") {
            total += 1;
            assert_eq!(reply.status, 200, "a request failed during the swaps: {}", reply.text());
            let version: u32 = echoed_env(&reply)["VERSION"].parse().expect("a version number");
            assert!(version <= 20, "{version}");
        }
    }
    assert!(total >= 40, "only {total} requests ran during 20 swaps");
}

#[test]
fn failed_init_keeps_the_old_instance_serving() {
    let project = Project::new();
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "1")]);
    let server = Server::start(&project);
    assert_eq!(echoed_env(&server.get("/v"))["VERSION"], "1");

    project.mount("app::versioned", "GET", "/v", &[("VERSION", "2"), ("FAKE_INIT", "error")]);
    let report = portkey_local::reload(&server.info).expect("reload");
    assert!(report.replaced.is_empty(), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].function, "app::versioned");
    assert!(report.failed[0].error.contains("failed init"), "{}", report.failed[0].error);

    let still = server.get("/v");
    assert_eq!(still.status, 200);
    assert_eq!(echoed_env(&still)["VERSION"], "1");

    // A process that exits before init is kept out the same way.
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "3"), ("FAKE_INIT", "exit")]);
    let report = portkey_local::reload(&server.info).expect("reload");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(echoed_env(&server.get("/v"))["VERSION"], "1");

    // A working version after the failures is swapped in.
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "4")]);
    let report = portkey_local::reload(&server.info).expect("reload");
    assert_eq!(report.replaced, ["app::versioned"]);
    assert_eq!(echoed_env(&server.get("/v"))["VERSION"], "4");
}

#[test]
fn running_request_finishes_on_the_old_instance() {
    let project = Project::new();
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "1")]);
    let server = Server::start(&project);
    assert_eq!(server.get("/v").status, 200);

    let slow_url = server.url("/v?action=sleep&ms=1200");
    let slow = std::thread::spawn(move || request("GET", &slow_url, None, &[]));
    std::thread::sleep(Duration::from_millis(200));
    project.mount("app::versioned", "GET", "/v", &[("VERSION", "2")]);
    let report = portkey_local::reload(&server.info).expect("reload");
    assert_eq!(report.replaced, ["app::versioned"]);
    assert_eq!(echoed_env(&server.get("/v"))["VERSION"], "2");

    let finished = slow.join().expect("client thread");
    assert_eq!(finished.status, 200, "{}", finished.text());
    assert_eq!(echoed_env(&finished)["VERSION"], "1");
}
