//! What the deployer reports while it works; the CLI turns these into progress bars.

use std::time::Duration;

use crate::emulator::Adaptation;

/// What happens to one stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// How one stack's deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already current: same template, parameters and asset hashes.
    Unchanged,
    /// CloudFormation found nothing to change (the fingerprint tag was missing or stale).
    NoChanges,
    Created,
    Updated,
    /// Only code changed (a function's zip, a service's image), and it was updated in place
    /// without CloudFormation: the functions and services updated; none when an earlier
    /// hotswap had put the same code live already.
    Hotswapped(Vec<String>),
    Deleted,
    Failed(String),
}

/// One CloudFormation stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Progress {
    /// The whole run covers these stacks.
    Planned {
        stacks: Vec<String>,
    },
    /// A preparatory step (building, uploading) with a one-line description.
    Step(String),
    /// Something the operator should know and keep in the log: a wait for an operation an
    /// earlier run left running, a failed creation deleted to be created again, a stale lock
    /// taken over.
    Notice(String),
    /// An asset was uploaded, or found already present under its content address.
    Asset {
        name: String,
        uploaded: bool,
        bytes: u64,
    },
    /// The emulator profile changed this stack's template; always reported.
    Emulator {
        stack: String,
        adaptation: Adaptation,
    },
    Started {
        stack: String,
        action: Action,
    },
    Event {
        stack: String,
        event: ResourceEvent,
    },
    Finished {
        stack: String,
        outcome: Outcome,
        elapsed: Duration,
    },
}

/// Receives progress; must be cheap, as stacks report concurrently.
pub trait Reporter: Send + Sync {
    fn report(&self, progress: Progress);
}

/// Discards everything (for tests and benchmarks that only want the result).
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Progress) {}
}

/// Collects everything, for tests that assert on what was reported.
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Progress>>);

impl Reporter for Recorder {
    fn report(&self, progress: Progress) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(progress);
    }
}
