//! The state every handler of one server shares: its settings, the mount table, the registry
//! of running instances by Runtime API path prefix, and the shutdown signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::watch;

use crate::api::InstanceStatus;
use crate::ServerConfig;
use crate::instance::Instance;
use crate::mounts::MountTable;

pub(crate) struct Shared {
    pub config: ServerConfig,
    pub gateway_port: u16,
    /// The Runtime API emulator's address, always on 127.0.0.1.
    pub runtime_api: SocketAddr,
    mounts: RwLock<MountTable>,
    instances: Mutex<HashMap<String, Arc<Instance>>>,
    next_instance_id: AtomicU64,
    /// Serialises reloads, so two of them never interleave their diffs.
    pub reload_lock: tokio::sync::Mutex<()>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn new(config: ServerConfig, gateway_port: u16, runtime_api: SocketAddr) -> Arc<Shared> {
        Arc::new(Shared {
            config,
            gateway_port,
            runtime_api,
            mounts: RwLock::new(MountTable::default()),
            instances: Mutex::new(HashMap::new()),
            next_instance_id: AtomicU64::new(1),
            reload_lock: tokio::sync::Mutex::new(()),
            shutdown: watch::Sender::new(false),
        })
    }

    pub fn mounts(&self) -> RwLockReadGuard<'_, MountTable> {
        // A panic while the lock was held leaves a table that is still consistent, because
        // every change to it is a single assignment.
        self.mounts
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn mounts_mut(&self) -> RwLockWriteGuard<'_, MountTable> {
        self.mounts
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn instances(&self) -> MutexGuard<'_, HashMap<String, Arc<Instance>>> {
        self.instances
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn next_instance_id(&self) -> u64 {
        self.next_instance_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes an instance reachable under its Runtime API path prefix.
    pub fn register(&self, instance: &Arc<Instance>) {
        self.instances()
            .insert(instance.prefix.clone(), instance.clone());
    }

    pub fn unregister(&self, prefix: &str) {
        self.instances().remove(prefix);
    }

    /// Describes every running instance, ordered by function and id.
    pub fn instance_statuses(&self) -> Vec<InstanceStatus> {
        let mut statuses: Vec<InstanceStatus> =
            self.instances().values().map(|instance| instance.status()).collect();
        statuses.sort_by(|a, b| (&a.function, a.id).cmp(&(&b.function, b.id)));
        statuses
    }

    /// Finds the instance that owns a Runtime API path prefix.
    pub fn instance(&self, prefix: &str) -> Option<Arc<Instance>> {
        self.instances().get(prefix).cloned()
    }

    /// Returns every registered instance.
    pub fn instances_snapshot(&self) -> Vec<Arc<Instance>> {
        self.instances().values().cloned().collect()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Completes once shutdown has begun.
    pub async fn shutdown_requested(&self) {
        let mut receiver = self.shutdown.subscribe();
        // The sender lives in `self`, so the channel cannot close while this runs.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }

    /// Returns the gateway's base URL, with 127.0.0.1 in place of an unspecified bind address.
    pub fn base_url(&self) -> String {
        base_url(self.config.bind, self.gateway_port)
    }
}

/// Returns `http://HOST:PORT` for a gateway bound to `bind`.
pub(crate) fn base_url(bind: std::net::IpAddr, port: u16) -> String {
    if bind.is_unspecified() {
        return format!("http://127.0.0.1:{port}");
    }
    format!("http://{}", SocketAddr::new(bind, port))
}
