//! Bounded exponential backoff for the waits AWS imposes: a new role that Lambda cannot assume
//! yet, and a function whose update is still in progress. Each wait has a deadline; nothing
//! sleeps for a fixed time.

use std::time::Duration;

use tokio::time::Instant;

/// A backoff schedule: the first delay doubles up to `max_delay`, until `deadline` has passed.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    delay: Duration,
    max_delay: Duration,
    started: Instant,
    limit: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max_delay: Duration, limit: Duration) -> Backoff {
        Backoff {
            delay: first,
            max_delay,
            started: Instant::now(),
            limit,
        }
    }

    /// Sleeps before the next attempt; returns false, without sleeping, once the limit is spent.
    pub(crate) async fn wait(&mut self) -> bool {
        let elapsed = self.started.elapsed();
        if elapsed >= self.limit {
            return false;
        }
        let delay = self.delay.min(self.limit - elapsed);
        tokio::time::sleep(delay).await;
        self.delay = (self.delay * 2).min(self.max_delay);
        true
    }

    /// Returns the limit in whole seconds, for error messages.
    pub(crate) fn limit_secs(&self) -> u64 {
        self.limit.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn stops_at_the_limit() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400), Duration::from_secs(1));
        let mut attempts = 0;
        while backoff.wait().await {
            attempts += 1;
        }
        // 100 + 200 + 400 + 300 (cut to the limit) = 1 s.
        assert_eq!(attempts, 4);
    }
}
