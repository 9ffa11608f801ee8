//! The instances of one mount: which are idle, which are starting, how many live, and the
//! rules for handing them to requests. A request takes an idle instance, else claims one that
//! is starting, else starts a new one while fewer than the mount's maximum live, else waits for
//! one to come free. Each instance serves one invocation at a time. A retired pool (its mount
//! was removed or replaced) hands out nothing and kills each instance as soon as it is free.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{error, info};

use crate::api::InstanceCounts;
use crate::instance::{InitFailure, Instance, Lifecycle};
use crate::invoke::Outcome;
use crate::mounts::MountSpec;
use crate::shared::Shared;

pub(crate) struct Pool {
    pub spec: Arc<MountSpec>,
    max_instances: usize,
    init_timeout: Duration,
    state: Mutex<PoolState>,
    /// Wakes requests waiting for an instance whenever one comes free or exits.
    changed: Notify,
}

#[derive(Default)]
struct PoolState {
    /// Ready instances without an invocation.
    idle: Vec<Arc<Instance>>,
    /// Starting instances that no request has claimed yet.
    warming: Vec<Arc<Instance>>,
    /// Every instance whose process is running or about to run.
    live: usize,
    retired: bool,
}

enum Step {
    Take(Arc<Instance>),
    Claim(Arc<Instance>),
    Start(Arc<Instance>),
    Wait,
    Retired,
}

/// An instance handed to one request; `finish` gives it back.
pub(crate) struct Lease {
    pool: Arc<Pool>,
    instance: Arc<Instance>,
    finished: bool,
}

impl Lease {
    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    /// Returns the instance to the pool when `reusable`; otherwise it is killed.
    pub fn finish(mut self, reusable: Reuse) {
        self.finished = true;
        self.pool.give_back(&self.instance, reusable);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.finished {
            self.pool.give_back(&self.instance, Reuse::Discard);
        }
    }
}

/// Whether an instance can serve another invocation after its lease ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    Keep,
    Discard,
}

impl Pool {
    pub fn new(spec: Arc<MountSpec>, max_instances: usize, init_timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            spec,
            max_instances: max_instances.max(1),
            init_timeout,
            state: Mutex::new(PoolState::default()),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        // Each update is a few assignments that leave the state consistent even after a panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands out an instance for one invocation, starting one if needed. A request waits at most
    /// the mount's timeout for a busy instance to come free; the failure is the outcome to report.
    pub async fn acquire(self: &Arc<Self>, shared: &Arc<Shared>) -> Result<Lease, Outcome> {
        let started = Instant::now();
        let queue_limit = Duration::from_secs(u64::from(self.spec.record.timeout_secs));
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registering before looking at the state means no wake-up between the two is lost.
            notified.as_mut().enable();

            match self.next_step(shared) {
                Step::Take(instance) => return Ok(self.lease(instance)),
                Step::Claim(instance) => return self.await_ready(instance).await,
                Step::Start(instance) => {
                    if let Err(message) = instance.start(shared, &self.spec, self) {
                        self.forget_unstarted(&instance);
                        error!(function = %self.spec.record.function, "{message}");
                        return Err(Outcome::SpawnFailed { message });
                    }
                    return self.await_ready(instance).await;
                }
                Step::Retired => return Err(Outcome::Retired),
                Step::Wait => {
                    let Some(remaining) = queue_limit.checked_sub(started.elapsed()) else {
                        return Err(self.throttled(started));
                    };
                    if tokio::time::timeout(remaining, notified).await.is_err() {
                        return Err(self.throttled(started));
                    }
                }
            }
        }
    }

    fn next_step(self: &Arc<Self>, shared: &Shared) -> Step {
        let mut state = self.state();
        if state.retired {
            return Step::Retired;
        }
        if let Some(instance) = state.idle.pop() {
            return Step::Take(instance);
        }
        if let Some(instance) = state.warming.pop() {
            return Step::Claim(instance);
        }
        if state.live < self.max_instances {
            state.live += 1;
            return Step::Start(Instance::new(shared, self));
        }
        Step::Wait
    }

    fn throttled(&self, started: Instant) -> Outcome {
        Outcome::Throttled {
            waited: started.elapsed(),
            max_instances: self.max_instances,
        }
    }

    fn lease(self: &Arc<Self>, instance: Arc<Instance>) -> Lease {
        Lease {
            pool: self.clone(),
            instance,
            finished: false,
        }
    }

    /// Waits until a claimed instance has finished init.
    async fn await_ready(self: &Arc<Self>, instance: Arc<Instance>) -> Result<Lease, Outcome> {
        let mut lifecycle = instance.lifecycle();
        let waited = tokio::time::timeout(
            self.init_timeout,
            lifecycle.wait_for(|lifecycle| *lifecycle != Lifecycle::Starting),
        )
        .await;
        let settled = match waited {
            Err(_) => {
                let reason = format!("init did not finish within {:?}", self.init_timeout);
                instance.kill(&reason);
                return Err(Outcome::InitTimedOut {
                    message: format!(
                        "the bootstrap of `{}` was stopped: {reason}",
                        instance.function
                    ),
                });
            }
            Ok(Err(_)) => Lifecycle::Exited,
            Ok(Ok(lifecycle)) => lifecycle.clone(),
        };
        match settled {
            Lifecycle::Ready => Ok(self.lease(instance)),
            Lifecycle::InitFailed(failure) => Err(Outcome::InitFailed(failure)),
            Lifecycle::Starting | Lifecycle::Exited => Err(Outcome::InitFailed(InitFailure {
                error_type: "Runtime.ExitError".to_string(),
                message: format!(
                    "the bootstrap of `{}` exited during init",
                    instance.function
                ),
            })),
        }
    }

    /// Starts an instance that no request has claimed, so the next request finds it ready, and
    /// returns it. Returns `None` when the pool is retired or at its maximum, or when the process
    /// could not be started.
    pub fn spawn_warm(self: &Arc<Self>, shared: &Arc<Shared>) -> Option<Arc<Instance>> {
        let instance = {
            let mut state = self.state();
            if state.retired || state.live >= self.max_instances {
                return None;
            }
            state.live += 1;
            let instance = Instance::new(shared, self);
            // Listed before it starts, so becoming ready always finds it here.
            state.warming.push(instance.clone());
            instance
        };
        if let Err(message) = instance.start(shared, &self.spec, self) {
            error!(function = %self.spec.record.function, "{message}");
            self.forget_unstarted(&instance);
            return None;
        }
        Some(instance)
    }

    /// Undoes the bookkeeping of an instance whose process could not be started.
    fn forget_unstarted(&self, instance: &Arc<Instance>) {
        let mut state = self.state();
        state.warming.retain(|other| !Arc::ptr_eq(other, instance));
        state.live -= 1;
        drop(state);
        self.changed.notify_waiters();
    }

    /// Moves an unclaimed instance that finished init to the idle list.
    pub fn on_ready(&self, instance: &Arc<Instance>) {
        let mut state = self.state();
        let Some(position) = state
            .warming
            .iter()
            .position(|other| Arc::ptr_eq(other, instance))
        else {
            // A request claimed it and is waiting on its lifecycle.
            return;
        };
        state.warming.remove(position);
        if state.retired {
            drop(state);
            instance.kill("its mount was reloaded or removed");
            return;
        }
        state.idle.push(instance.clone());
        drop(state);
        self.changed.notify_waiters();
    }

    fn give_back(&self, instance: &Arc<Instance>, reuse: Reuse) {
        let mut state = self.state();
        let keep = reuse == Reuse::Keep && !state.retired && !instance.has_exited();
        if keep {
            state.idle.push(instance.clone());
        }
        let retired = state.retired;
        drop(state);
        if !keep {
            let reason = if retired {
                "its mount was reloaded or removed"
            } else {
                "its last invocation failed"
            };
            instance.kill(reason);
        }
        self.changed.notify_waiters();
    }

    /// Forgets an instance whose process has exited.
    pub fn on_exit(&self, instance: &Arc<Instance>) {
        let mut state = self.state();
        state.idle.retain(|other| !Arc::ptr_eq(other, instance));
        state.warming.retain(|other| !Arc::ptr_eq(other, instance));
        state.live = state.live.saturating_sub(1);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Stops handing out instances and kills the free ones; busy ones are killed when their
    /// invocation ends. `reason` is logged for each killed instance.
    pub fn retire(&self, reason: &str) {
        let mut guard = self.state();
        let state = &mut *guard;
        state.retired = true;
        let free: Vec<Arc<Instance>> = state
            .idle
            .drain(..)
            .chain(state.warming.drain(..))
            .collect();
        drop(guard);
        info!(function = %self.spec.record.function, instances = free.len(), "retiring the mount's instances: {reason}");
        for instance in free {
            instance.kill(reason);
        }
        self.changed.notify_waiters();
    }

    pub fn counts(&self) -> InstanceCounts {
        let state = self.state();
        InstanceCounts {
            starting: state.warming.len(),
            idle: state.idle.len(),
            busy: state
                .live
                .saturating_sub(state.warming.len() + state.idle.len()),
        }
    }

    pub fn live(&self) -> usize {
        self.state().live
    }
}
