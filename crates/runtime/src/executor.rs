//! A minimal executor for `async fn` handlers that need no reactor: it polls the future on the
//! calling thread and parks the thread until a waker unparks it. A future that waits for I/O or a
//! timer of an async runtime (tokio's, for example) needs that runtime instead. For that reason
//! the shim uses a current-thread tokio runtime when the function's crate depends on tokio.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Wakes the thread that runs [`block_on`]. The flag records the wake, because the thread's
/// single park token can be used up by code inside `poll` that parks the thread too (a blocking
/// channel receive, for example).
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` to completion on the current thread and returns its output.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let task_waker = Waker::from(Arc::clone(&waker));
    let mut context = Context::from_waker(&task_waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // Parking may return spuriously, so the flag decides when to poll again.
        while !waker.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn ready_future_returns_its_output() {
        assert_eq!(block_on(async { 40 + 2 }), 42);
    }

    /// A future that is pending until another thread sets its value and wakes it.
    struct Handoff {
        slot: Arc<Mutex<(Option<u32>, Option<Waker>)>>,
    }

    impl Future for Handoff {
        type Output = u32;

        fn poll(self: std::pin::Pin<&mut Self>, context: &mut Context<'_>) -> Poll<u32> {
            let mut slot = self.slot.lock().unwrap();
            match slot.0.take() {
                Some(value) => Poll::Ready(value),
                None => {
                    slot.1 = Some(context.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    #[test]
    fn pending_future_completes_when_woken_from_another_thread() {
        let slot: Arc<Mutex<(Option<u32>, Option<Waker>)>> = Arc::new(Mutex::new((None, None)));
        let producer = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let mut guard = slot.lock().unwrap();
                guard.0 = Some(7);
                if let Some(waker) = guard.1.take() {
                    waker.wake();
                }
            })
        };
        let doubled = block_on(async {
            let value = Handoff {
                slot: Arc::clone(&slot),
            }
            .await;
            value * 2
        });
        producer.join().unwrap();
        assert_eq!(doubled, 14);
    }
}
