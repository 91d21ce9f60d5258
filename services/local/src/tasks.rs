//! The runtime's background tasks, in one set: a graceful stop waits for them, a crash (the
//! handle dropped without stopping) aborts them where they are.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

#[derive(Clone, Default)]
pub struct Tasks(Arc<Mutex<JoinSet<()>>>);

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Ok(mut set) = self.0.lock() {
            // Reap what finished so the set does not grow with every execution ever run.
            while set.try_join_next().is_some() {}
            set.spawn(task);
        }
    }

    /// Waits until every task has finished (tasks may spawn more while this waits).
    pub async fn join_all(&self) {
        loop {
            let next = {
                let Ok(mut set) = self.0.lock() else { return };
                if set.is_empty() {
                    return;
                }
                // Poll through a detached set: the lock must not be held across an await.
                std::mem::take(&mut *set)
            };
            let mut next = next;
            while next.join_next().await.is_some() {}
        }
    }

    /// Stops every task at its next await point.
    pub fn abort_all(&self) {
        if let Ok(mut set) = self.0.lock() {
            set.abort_all();
        }
    }
}
