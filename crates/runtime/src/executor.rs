//! A minimal executor for `async fn` handlers that need no reactor: it polls the future on the
//! calling thread and parks the thread until a waker unparks it. A future that waits for I/O or a
//! timer of an async runtime (tokio's, for example) needs that runtime instead. For that reason
//! the shim uses a current-thread tokio runtime when the function's crate depends on tokio.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Wakes the thread that runs [`block_on`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the current thread and returns its output.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // A wake that came before this park makes the park return at once, so none is lost.
        std::thread::park();
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
