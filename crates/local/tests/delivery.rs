//! Handing invocations to instances: an invocation that its instance never fetched goes to
//! another instance, and an oversized result leaves its instance able to serve.

mod support;

use portkey_local::MAX_RESULT_BYTES;
use support::{Project, Server, echoed_pid};

#[test]
fn unfetched_invocation_goes_to_new_instance() {
    let project = Project::new();
    project.mount("app::echo", "GET", "/echo", &[]);
    let server = Server::start_with(&project, |config| config.max_instances_per_mount = 1);

    // The instance posts its response, returns to the pool, and exits a second later without
    // fetching the next invocation, which the second request queues for it in the meantime.
    let first = server.get("/echo?action=exit-after-response&ms=1000");
    assert_eq!(first.status, 200, "{}", first.text());
    let second = server.get("/echo");

    assert_eq!(
        second.status,
        200,
        "the queued invocation must not fail with its instance: {}",
        second.text()
    );
    assert_ne!(
        echoed_pid(&second),
        echoed_pid(&first),
        "a new instance serves the queued invocation"
    );
}

#[test]
fn oversized_result_is_drained_before_413() {
    let project = Project::new();
    project.mount("app::huge", "GET", "/huge", &[]);
    let server = Server::start_with(&project, |config| config.max_instances_per_mount = 1);
    let before = echoed_pid(&server.get("/huge?action=echo"));

    // The fake bootstrap writes the whole 100 MB before it reads the response, and exits when
    // that write fails, so it survives only when the emulator reads the body before the 413.
    let reply = server.get("/huge?action=huge&bytes=104857600");

    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.json()["errorType"], "Function.ResponseSizeTooLarge");
    let after = server.get("/huge?action=echo");
    assert_eq!(after.status, 200, "{}", after.text());
    assert_eq!(
        echoed_pid(&after),
        before,
        "the instance that posted 100 MB keeps serving"
    );
}

#[test]
fn result_limit_matches_lambda() {
    let project = Project::new();
    project.mount("app::huge", "GET", "/huge", &[]);
    let server = Server::start(&project);

    // The fake bootstrap posts `bytes` letters, which are not JSON, so an accepted result
    // fails as an invalid response instead.
    let at_limit = server.get(&format!("/huge?action=huge&bytes={MAX_RESULT_BYTES}"));
    let over_limit = server.get(&format!("/huge?action=huge&bytes={}", MAX_RESULT_BYTES + 1));

    assert_eq!(MAX_RESULT_BYTES, 6_291_556);
    assert_eq!(at_limit.status, 502, "{}", at_limit.text());
    assert_eq!(at_limit.json()["errorType"], "InvalidResponse");
    assert_eq!(over_limit.status, 502, "{}", over_limit.text());
    assert_eq!(
        over_limit.json()["errorType"],
        "Function.ResponseSizeTooLarge"
    );
}
