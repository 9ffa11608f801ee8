//! One instance of a mounted function: a child process that runs the mount's `bootstrap` with
//! the environment Lambda gives. This module owns its Runtime API state (the invocation it
//! runs, whether it has finished init), forwards its output to the log line by line, and
//! supervises it until it exits or is killed.

use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tracing::{error, info, warn};

use crate::api::InstanceStatus;
use crate::ids::{LOCAL_REGION, lambda_function_name};
use crate::invoke::Outcome;
use crate::launcher::Launcher;
use crate::mounts::MountSpec;
use crate::pool::Pool;
use crate::shared::Shared;

/// Lambda's `PATH` for custom runtimes.
const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

/// Variables Lambda sets itself and rejects in a function's configuration. A mount's `env`
/// cannot override them.
const RESERVED_VARIABLES: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// Output lines longer than this are logged in pieces, so a program that never writes a newline
/// cannot make the server buffer without bound.
const MAX_LINE_BYTES: u64 = 16 * 1024;

/// How many recent output lines are kept to explain an init failure.
const OUTPUT_TAIL_LINES: usize = 20;

/// How many of the kept lines an init failure message quotes.
const QUOTED_TAIL_LINES: usize = 3;

/// How long to wait for the output pipes to close after the process exited; a grandchild that
/// inherited them could keep them open forever.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// An invocation handed to an instance through `GET .../invocation/next`.
pub(crate) struct Invocation {
    pub request_id: String,
    pub event: Bytes,
    /// The deadline as Unix epoch milliseconds.
    pub deadline_ms: u64,
    pub trace_id: String,
    pub function_arn: String,
}

/// The stage of an instance's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Started, and has not yet requested its first invocation.
    Starting,
    /// Has requested an invocation at least once.
    Ready,
    /// Posted to `/runtime/init/error`, exited, or was killed before requesting an invocation.
    InitFailed(InitFailure),
    /// Exited after init.
    Exited,
}

/// The reason an instance never became ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitFailure {
    pub error_type: String,
    pub message: String,
}

/// The invocation an instance holds.
struct Current {
    request_id: String,
    /// Whether `next` has handed it to the process.
    delivered: bool,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct InstanceState {
    current: Option<Current>,
    exited: bool,
    /// Start a new instance when this one exits, because it failed a request.
    replace_on_exit: bool,
    kill_reason: Option<String>,
    /// The process, once spawned.
    pid: Option<u32>,
    spawned_at: Option<Instant>,
    init_us: Option<u64>,
    first_response_us: Option<u64>,
    invocations: u64,
}

/// Why `Instance::complete` rejected a result.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CompleteError {
    /// The instance has no delivered invocation with this id.
    UnknownRequest,
}

pub(crate) struct Instance {
    pub id: u64,
    /// The Runtime API path prefix, unique per instance.
    pub prefix: String,
    pub function: String,
    pool: Weak<Pool>,
    sender: mpsc::Sender<Invocation>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    state: Mutex<InstanceState>,
    lifecycle: watch::Sender<Lifecycle>,
    kill_signal: Notify,
}

impl Instance {
    /// Creates an instance of `pool`'s mount; `start` runs its process.
    pub fn new(shared: &Shared, pool: &Arc<Pool>) -> Arc<Instance> {
        let id = shared.next_instance_id();
        let random = uuid::Uuid::new_v4().simple().to_string();
        let (sender, receiver) = mpsc::channel(1);
        Arc::new(Instance {
            id,
            prefix: format!("instance-{id}-{}", &random[..8]),
            function: pool.spec.record.function.clone(),
            pool: Arc::downgrade(pool),
            sender,
            receiver: tokio::sync::Mutex::new(receiver),
            state: Mutex::new(InstanceState::default()),
            lifecycle: watch::Sender::new(Lifecycle::Starting),
            kill_signal: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, InstanceState> {
        // Every update of the state is a few assignments that leave it consistent even when a
        // panic interrupted the holder.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn pool(&self) -> Option<Arc<Pool>> {
        self.pool.upgrade()
    }

    pub fn lifecycle(&self) -> watch::Receiver<Lifecycle> {
        self.lifecycle.subscribe()
    }

    /// Starts the process and its supervision. Returns a message when it could not be started.
    pub fn start(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        spec: &Arc<MountSpec>,
        pool: &Arc<Pool>,
    ) -> Result<(), String> {
        let mut command = self.command(shared, spec);
        shared.register(self);
        // Taken before the spawn: a small executable can ask for its first invocation before
        // `spawn` returns.
        self.state().spawned_at = Some(Instant::now());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                shared.unregister(&self.prefix);
                return Err(format!(
                    "failed to start the bootstrap {} of `{}`: {source}; build and mount the function again",
                    spec.bootstrap.display(),
                    self.function
                ));
            }
        };
        self.state().pid = child.id();
        info!(
            function = %self.function,
            instance = self.id,
            pid = child.id().unwrap_or_default(),
            "instance started"
        );

        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let mut pumps = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            pumps.push(tokio::spawn(forward_output(
                stdout,
                self.clone(),
                "stdout",
                tail.clone(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            pumps.push(tokio::spawn(forward_output(
                stderr,
                self.clone(),
                "stderr",
                tail.clone(),
            )));
        }
        tokio::spawn(supervise(
            self.clone(),
            shared.clone(),
            pool.clone(),
            child,
            pumps,
            tail,
        ));
        Ok(())
    }

    /// Builds the command with a clean environment as Lambda gives it: none of the server's own
    /// variables reach the function, so no credentials leak in.
    fn command(&self, shared: &Shared, spec: &MountSpec) -> Command {
        let task_root = spec.bootstrap.parent().unwrap_or(Path::new("/"));
        let name = lambda_function_name(&self.function);
        let record = &spec.record;

        let mut command = match &spec.launcher {
            Launcher::Native => Command::new(&spec.bootstrap),
            Launcher::Emulator(qemu) => {
                let mut command = Command::new(qemu);
                command.arg(&spec.bootstrap);
                command
            }
        };
        command.env_clear();
        // Reserved variables were reported once when the mount was loaded.
        for (key, value) in &record.env {
            if !is_reserved_variable(key) {
                command.env(key, value);
            }
        }
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                // With a scheme, like the emulator of cargo-lambda: AWS's own runtime crates
                // parse the value as a URI, which a path prefix without a scheme is not.
                format!("http://{}/{}", shared.runtime_api, self.prefix),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                record.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/{}", self.prefix),
            )
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", task_root)
            .env("AWS_REGION", LOCAL_REGION)
            .env("AWS_DEFAULT_REGION", LOCAL_REGION)
            .env("TZ", ":UTC")
            .env("PATH", LAMBDA_PATH)
            .env("LANG", "en_US.UTF-8")
            .current_dir(task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group lets a kill reach the processes the bootstrap started, and
            // keeps a Ctrl-C in the server's terminal from reaching the instance directly.
            .process_group(0)
            .kill_on_drop(true);
        command
    }

    /// Records the first `next` request. Returns true when the instance just became ready.
    pub fn mark_ready(&self) -> bool {
        // The init time is recorded before the lifecycle says Ready, so a status read in between
        // never shows a ready instance without it.
        if *self.lifecycle.borrow() == Lifecycle::Starting {
            let mut state = self.state();
            if state.init_us.is_none() {
                state.init_us = state.spawned_at.map(micros_since);
            }
        }
        self.lifecycle.send_if_modified(|lifecycle| {
            if *lifecycle != Lifecycle::Starting {
                return false;
            }
            *lifecycle = Lifecycle::Ready;
            true
        })
    }

    /// Describes the instance for `GET /_portkey/instances`.
    pub fn status(&self) -> InstanceStatus {
        let state = self.state();
        InstanceStatus {
            function: self.function.clone(),
            id: self.id,
            pid: state.pid,
            init_us: state.init_us,
            first_response_us: state.first_response_us,
            invocations: state.invocations,
        }
    }

    /// Records an init error posted by the process. Returns false when init had already ended.
    pub fn fail_init(&self, failure: InitFailure) -> bool {
        self.lifecycle.send_if_modified(|lifecycle| {
            if *lifecycle != Lifecycle::Starting {
                return false;
            }
            *lifecycle = Lifecycle::InitFailed(failure);
            true
        })
    }

    /// Assigns an invocation; `reply` receives its outcome. Fails with `Undelivered` when the
    /// process has exited.
    pub fn begin(&self, request_id: &str, reply: oneshot::Sender<Outcome>) -> Result<(), Outcome> {
        let mut state = self.state();
        if state.exited {
            return Err(Outcome::Undelivered {
                reason: format!(
                    "instance {} of `{}` exited before request {request_id} was assigned to it",
                    self.id, self.function
                ),
            });
        }
        state.current = Some(Current {
            request_id: request_id.to_string(),
            delivered: false,
            reply,
        });
        Ok(())
    }

    /// Queues the invocation for the process's next `next` request.
    pub fn send(&self, invocation: Invocation) -> Result<(), Outcome> {
        // The pool gives an instance one invocation at a time, so the one-slot channel is free.
        let request_id = invocation.request_id.clone();
        self.sender
            .try_send(invocation)
            .map_err(|_| Outcome::Undelivered {
                reason: format!(
                    "instance {} of `{}` could not queue request {request_id}",
                    self.id, self.function
                ),
            })
    }

    /// Waits for the next queued invocation, then records that it was delivered. Returns `None`
    /// once the process has exited or failed init, so a request from a dead process cannot wait
    /// forever.
    pub async fn next_invocation(&self) -> Option<Invocation> {
        let mut lifecycle = self.lifecycle();
        let ended = lifecycle
            .wait_for(|stage| matches!(stage, Lifecycle::Exited | Lifecycle::InitFailed(_)));
        tokio::select! {
            biased;
            invocation = self.receive_invocation() => invocation,
            _ = ended => None,
        }
    }

    async fn receive_invocation(&self) -> Option<Invocation> {
        let mut receiver = self.receiver.lock().await;
        let invocation = receiver.recv().await?;
        if let Some(current) = self.state().current.as_mut()
            && current.request_id == invocation.request_id
        {
            current.delivered = true;
        }
        Some(invocation)
    }

    /// Fails a delivered invocation that the process skipped. A `next` request during an
    /// invocation means the runtime dropped it without posting a response or an error.
    pub fn fail_unanswered(&self) {
        let mut state = self.state();
        let delivered = state
            .current
            .as_ref()
            .is_some_and(|current| current.delivered);
        if !delivered {
            return;
        }
        let Some(current) = state.current.take() else {
            return;
        };
        let message = format!(
            "the runtime of `{}` requested the next invocation without posting a response or an \
             error for request {}",
            self.function, current.request_id
        );
        warn!(function = %self.function, instance = self.id, request_id = %current.request_id, "{message}");
        // The gateway stops listening only after it has given up on the request.
        let _ = current.reply.send(Outcome::NoResponse { message });
    }

    /// Delivers the result of a delivered invocation to the waiting gateway request.
    pub fn complete(&self, request_id: &str, outcome: Outcome) -> Result<(), CompleteError> {
        let mut state = self.state();
        let matches = state
            .current
            .as_ref()
            .is_some_and(|current| current.delivered && current.request_id == request_id);
        if !matches {
            return Err(CompleteError::UnknownRequest);
        }
        let Some(current) = state.current.take() else {
            return Err(CompleteError::UnknownRequest);
        };
        state.invocations += 1;
        if state.first_response_us.is_none() {
            state.first_response_us = state.spawned_at.map(micros_since);
        }
        // A gateway request that already timed out no longer listens; the result is dropped then.
        let _ = current.reply.send(outcome);
        Ok(())
    }

    /// Drops the invocation `request_id` after its deadline passed. Returns true when the
    /// instance still had it, that is when the process posted no result.
    pub fn abandon(&self, request_id: &str) -> bool {
        let mut state = self.state();
        let pending = state
            .current
            .as_ref()
            .is_some_and(|current| current.request_id == request_id);
        if pending {
            state.current = None;
        }
        pending
    }

    pub fn has_exited(&self) -> bool {
        self.state().exited
    }

    /// Makes the supervisor start a new instance when this one exits.
    pub fn replace_on_exit(&self) {
        self.state().replace_on_exit = true;
    }

    /// Kills the process (and its process group); `reason` is logged when it exits.
    pub fn kill(&self, reason: &str) {
        {
            let mut state = self.state();
            if state.exited {
                return;
            }
            state.kill_reason.get_or_insert_with(|| reason.to_string());
        }
        // A stored permit reaches the supervisor even when it is not waiting at this moment.
        self.kill_signal.notify_one();
    }

    /// Records the exit: fails the current invocation when the process had fetched it, returns
    /// it as undelivered otherwise, and before init records why init failed. Returns whether a
    /// replacement should start.
    fn on_exit(&self, status: &ExitStatus, tail: &[String]) -> bool {
        let (current, kill_reason, replace) = {
            let mut state = self.state();
            state.exited = true;
            (
                state.current.take(),
                state.kill_reason.take(),
                state.replace_on_exit,
            )
        };
        let status_text = status.to_string();

        let init_message = match &kill_reason {
            Some(reason) => format!(
                "the bootstrap of `{}` was stopped before it finished init: {reason}",
                self.function
            ),
            None => with_output_tail(
                format!(
                    "the bootstrap of `{}` exited with {status_text} before requesting its first invocation",
                    self.function
                ),
                tail,
            ),
        };
        self.lifecycle.send_modify(|lifecycle| match lifecycle {
            Lifecycle::Starting => {
                *lifecycle = Lifecycle::InitFailed(InitFailure {
                    error_type: "Runtime.ExitError".to_string(),
                    message: init_message,
                })
            }
            Lifecycle::Ready => *lifecycle = Lifecycle::Exited,
            Lifecycle::InitFailed(_) | Lifecycle::Exited => {}
        });

        match &kill_reason {
            Some(reason) => {
                info!(function = %self.function, instance = self.id, status = %status_text, "instance killed: {reason}")
            }
            None if status.success() => {
                info!(function = %self.function, instance = self.id, "instance exited")
            }
            None => {
                warn!(function = %self.function, instance = self.id, status = %status_text, "instance exited")
            }
        }

        let Some(current) = current else {
            return replace;
        };
        if !current.delivered {
            // The invocation never reached the process, so the gateway hands it to another
            // instance, which it starts when none is free.
            let reason = format!(
                "instance {} of `{}` exited with {status_text} before fetching request {}",
                self.id, self.function, current.request_id
            );
            let _ = current.reply.send(Outcome::Undelivered { reason });
            return replace;
        }
        let message = format!(
            "the bootstrap of `{}` exited with {status_text} during request {}",
            self.function, current.request_id
        );
        error!(function = %self.function, instance = self.id, request_id = %current.request_id, "{message}");
        let _ = current.reply.send(Outcome::Crashed { message });
        true
    }
}

/// Waits for the process to exit, killing it when asked, then cleans up after it.
async fn supervise(
    instance: Arc<Instance>,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    mut child: Child,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            () = instance.kill_signal.notified() => kill_process_group(&mut child),
        }
    };
    for pump in pumps {
        // A pump that does not finish in time is left to end on its own.
        let _ = tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, pump).await;
    }

    let replace = match status {
        Ok(status) => {
            let tail: Vec<String> = lock_tail(&tail).iter().cloned().collect();
            instance.on_exit(&status, &tail)
        }
        Err(source) => {
            error!(function = %instance.function, instance = instance.id, "failed to wait for the instance: {source}");
            let status = ExitStatus::default();
            instance.on_exit(&status, &[])
        }
    };
    shared.unregister(&instance.prefix);
    pool.on_exit(&instance);
    if replace && shared.config.prewarm && !shared.is_shutting_down() {
        pool.spawn_warm(&shared);
    }
}

/// Sends SIGKILL to the process group the instance leads, and to the process itself in case it
/// left the group.
fn kill_process_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) takes plain integers and has no memory effects. The process has not
        // been reaped yet (its id is still known), so the group id cannot have been reused.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    // Fails only when the process has already exited, which is the wanted state.
    let _ = child.start_kill();
}

fn lock_tail(tail: &Mutex<VecDeque<String>>) -> MutexGuard<'_, VecDeque<String>> {
    tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Logs each line of one output stream, prefixed with the function name, and keeps the last
/// lines for init failure messages.
async fn forward_output<R: AsyncRead + Unpin>(
    reader: R,
    instance: Arc<Instance>,
    stream: &'static str,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(source) => {
                warn!(function = %instance.function, instance = instance.id, stream, "failed to read the instance's output: {source}");
                return;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        info!(target: "portkey_local::function", instance = instance.id, stream, "{}: {text}", instance.function);
        let mut tail = lock_tail(&tail);
        if tail.len() == OUTPUT_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text.to_string());
    }
}

/// Returns whether Lambda reserves the environment variable `name` for itself.
pub(crate) fn is_reserved_variable(name: &str) -> bool {
    RESERVED_VARIABLES.contains(&name)
}

fn with_output_tail(message: String, tail: &[String]) -> String {
    if tail.is_empty() {
        return message;
    }
    let start = tail.len().saturating_sub(QUOTED_TAIL_LINES);
    format!("{message}; its last output: {}", tail[start..].join(" | "))
}

fn micros_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}
