//! AWS reads that plans naming the same resources share. At most one read per key is in
//! flight; callers that arrive while it runs wait for it, and its result is reused while it is
//! fresh. A thousand plans on one topology then cost one read of the world, not a thousand,
//! and the standby checks of that topology run once per interval.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Slot<T> = Arc<tokio::sync::Mutex<Option<(Instant, T)>>>;

/// Results of one kind of read, by the resources it reads.
pub struct SharedReads<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
}

impl<T> Default for SharedReads<T> {
    fn default() -> Self {
        SharedReads {
            slots: Mutex::default(),
        }
    }
}

impl<T: Clone> SharedReads<T> {
    /// The result of `read` for `key`: a result younger than `fresh_for`, else a new read.
    /// Failures are not kept: the next caller reads again.
    pub async fn get<E, F, Fut>(&self, key: String, fresh_for: Duration, read: F) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < fresh_for
        {
            return Ok(value.clone());
        }

        let value = read().await?;
        *slot = Some((Instant::now(), value.clone()));
        Ok(value)
    }

    /// Drops every kept result, so that the next reads see AWS as it is now: called when this
    /// process changed the world.
    pub fn forget(&self) {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn counted(reads: &AtomicUsize) -> Result<usize, String> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn concurrent_callers_of_one_key_share_one_read() {
        let shared = SharedReads::<usize>::default();
        let reads = AtomicUsize::new(0);

        let results = futures::future::join_all(
            (0..50).map(|_| shared.get("zone".into(), Duration::from_secs(60), || counted(&reads))),
        )
        .await;

        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(results.iter().all(|r| r == &Ok(1)));
    }

    #[tokio::test]
    async fn a_stale_result_or_another_key_is_read_again() {
        let shared = SharedReads::<usize>::default();
        let reads = AtomicUsize::new(0);

        let first = shared
            .get("a".into(), Duration::ZERO, || counted(&reads))
            .await;
        let stale = shared
            .get("a".into(), Duration::ZERO, || counted(&reads))
            .await;
        let other = shared
            .get("b".into(), Duration::from_secs(60), || counted(&reads))
            .await;

        assert_eq!((first, stale, other), (Ok(1), Ok(2), Ok(3)));
    }

    #[tokio::test]
    async fn failures_are_not_kept_and_forget_drops_results() {
        let shared = SharedReads::<usize>::default();
        let reads = AtomicUsize::new(0);
        let long = Duration::from_secs(60);

        let failed: Result<usize, String> = shared
            .get("a".into(), long, || async { Err("throttled".to_string()) })
            .await;
        let read = shared.get("a".into(), long, || counted(&reads)).await;
        let kept = shared.get("a".into(), long, || counted(&reads)).await;
        shared.forget();
        let after_forget = shared.get("a".into(), long, || counted(&reads)).await;

        assert_eq!(failed, Err("throttled".to_string()));
        assert_eq!((read, kept, after_forget), (Ok(1), Ok(1), Ok(2)));
    }
}
