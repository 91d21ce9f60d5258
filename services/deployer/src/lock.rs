//! One deployer at a time per stage: a lock object in the stage's asset bucket, taken with a
//! conditional write (`If-None-Match: *`, which S3 answers 412 when the object exists), renewed
//! while its holder works, and deleted when it is done.
//!
//! A lock is stale, and the next deployer takes it over, when its holder stopped renewing it
//! for [`LEASE`] (the holder died, wherever it ran), or at once when its holder ran on this
//! machine and that process is gone (a deploy killed a moment ago need not wait out the lease).
//! Taking over is a conditional write too (`If-Match` the stale lock's ETag), so of two
//! deployers that find the same stale lock, one wins.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::error::DeployError;

/// Where the lock lives in the asset bucket.
pub const LOCK_KEY: &str = "eventforge/deploy-lock.json";
/// A lock not renewed for this long is stale.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the holder renews its lock: a few renewals fit in a lease, so one slow or
/// throttled request does not lose it.
const RENEWAL: Duration = Duration::from_secs(30);

/// Who holds a stage's lock, as written in the lock object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`.
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// What it is doing: `deploy`, `destroy`.
    pub command: String,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub renewed_at: u64,
}

impl Holder {
    fn this_process(command: &str) -> Self {
        let host = host_name();
        let user = std::env::var("USER").unwrap_or_else(|_| "someone".to_owned());
        let now = unix_now();
        Self {
            who: format!("{user}@{host}"),
            host,
            pid: std::process::id(),
            command: command.to_owned(),
            started_at: now,
            renewed_at: now,
        }
    }

    /// Why the lock may be taken over, if it may.
    fn staleness(&self, now: u64) -> Option<String> {
        let silent_for = now.saturating_sub(self.renewed_at);
        if silent_for >= LEASE.as_secs() {
            return Some(format!("not renewed for {silent_for} s"));
        }
        if self.host == host_name() && !process_runs(self.pid) {
            return Some(format!("process {} on this machine is gone", self.pid));
        }
        None
    }
}

/// A held lock, renewed in the background until [`StageLock::release`].
pub struct StageLock {
    s3: Client,
    bucket: String,
    /// The ETag of the lock object as last written; renewals and the release are conditional on it.
    etag: Arc<Mutex<String>>,
    renewals: tokio::task::JoinHandle<()>,
}

/// What taking the lock found.
pub enum Taken {
    /// Free: the lock is ours.
    Fresh(StageLock),
    /// Stale: ours now, and this was the holder and why it was stale.
    TakenOver(StageLock, Holder, String),
}

impl StageLock {
    /// Takes the stage's lock in `bucket` for `command`, or fails with [`DeployError::Locked`]
    /// naming the holder.
    pub async fn take(
        s3: &Client,
        bucket: &str,
        stage: &str,
        command: &str,
    ) -> Result<Taken, DeployError> {
        let holder = Holder::this_process(command);
        let body = serde_json::to_vec_pretty(&holder).unwrap_or_default();
        match put(s3, bucket, &body, Condition::Absent).await {
            Ok(etag) => return Ok(Taken::Fresh(Self::hold(s3, bucket, etag, holder))),
            Err(PutError::ConditionFailed) => {}
            Err(PutError::Other(error)) => return Err(error),
        }
        let (current, etag) = read(s3, bucket).await?;
        match current.staleness(unix_now()) {
            Some(why) => match put(s3, bucket, &body, Condition::Replaces(&etag)).await {
                Ok(etag) => Ok(Taken::TakenOver(
                    Self::hold(s3, bucket, etag, holder),
                    current,
                    why,
                )),
                // Another deployer took it over first.
                Err(PutError::ConditionFailed) => {
                    let (winner, _) = read(s3, bucket).await?;
                    Err(locked(stage, &winner))
                }
                Err(PutError::Other(error)) => Err(error),
            },
            None => Err(locked(stage, &current)),
        }
    }

    fn hold(s3: &Client, bucket: &str, etag: String, mut holder: Holder) -> Self {
        let etag = Arc::new(Mutex::new(etag));
        let renewals = {
            let (s3, bucket, etag) = (s3.clone(), bucket.to_owned(), etag.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEWAL).await;
                    holder.renewed_at = unix_now();
                    let body = serde_json::to_vec_pretty(&holder).unwrap_or_default();
                    let current = lock_etag(&etag);
                    match put(&s3, &bucket, &body, Condition::Replaces(&current)).await {
                        Ok(renewed) => *etag.lock().unwrap_or_else(|p| p.into_inner()) = renewed,
                        Err(PutError::ConditionFailed) => {
                            tracing::warn!(
                                "the deploy lock in {bucket} was taken over by another deployer \
                                 while this one still ran"
                            );
                            return;
                        }
                        // A failed renewal is retried at the next one; the lease has room.
                        Err(PutError::Other(error)) => tracing::warn!("{error}"),
                    }
                }
            })
        };
        Self {
            s3: s3.clone(),
            bucket: bucket.to_owned(),
            etag,
            renewals,
        }
    }

    /// Stops renewing and deletes the lock, if it is still this one. A lock that cannot be
    /// deleted goes stale within [`LEASE`]; that is reported, not an error.
    pub async fn release(self) {
        self.renewals.abort();
        let etag = lock_etag(&self.etag);
        let ours =
            matches!(read(&self.s3, &self.bucket).await, Ok((_, current)) if current == etag);
        if !ours {
            return;
        }
        if let Err(error) = self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(LOCK_KEY)
            .send()
            .await
        {
            tracing::warn!(
                "cannot release the deploy lock s3://{}/{LOCK_KEY} ({}); it goes stale in {} s",
                self.bucket,
                crate::error::sdk_message(&error),
                LEASE.as_secs()
            );
        }
    }
}

fn lock_etag(etag: &Mutex<String>) -> String {
    etag.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn locked(stage: &str, holder: &Holder) -> DeployError {
    let now = unix_now();
    DeployError::Locked {
        stage: stage.to_owned(),
        holder: format!(
            "{} (pid {}, `{}`), started {} s ago, lock renewed {} s ago",
            holder.who,
            holder.pid,
            holder.command,
            now.saturating_sub(holder.started_at),
            now.saturating_sub(holder.renewed_at)
        ),
        lease_seconds: LEASE.as_secs(),
    }
}

enum Condition<'a> {
    /// Only if there is no lock.
    Absent,
    /// Only if the lock is still the one with this ETag.
    Replaces(&'a str),
}

enum PutError {
    /// S3 answered 412: the condition did not hold.
    ConditionFailed,
    Other(DeployError),
}

async fn put(
    s3: &Client,
    bucket: &str,
    body: &[u8],
    condition: Condition<'_>,
) -> Result<String, PutError> {
    let request = s3
        .put_object()
        .bucket(bucket)
        .key(LOCK_KEY)
        .content_type("application/json")
        .body(ByteStream::from(body.to_vec()));
    let request = match condition {
        Condition::Absent => request.if_none_match("*"),
        Condition::Replaces(etag) => request.if_match(etag),
    };
    match request.send().await {
        Ok(written) => Ok(written.e_tag().unwrap_or_default().to_owned()),
        Err(error)
            if error.code() == Some("PreconditionFailed")
                || error.code() == Some("ConditionalRequestConflict")
                || error
                    .raw_response()
                    .is_some_and(|raw| raw.status().as_u16() == 412) =>
        {
            Err(PutError::ConditionFailed)
        }
        Err(error) => Err(PutError::Other(DeployError::api(
            "PutObject (deploy lock)",
            format!(
                "s3://{bucket}/{LOCK_KEY}: {}",
                crate::error::sdk_message(&error)
            ),
        ))),
    }
}

/// The lock as it is and its ETag.
async fn read(s3: &Client, bucket: &str) -> Result<(Holder, String), DeployError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(LOCK_KEY)
        .send()
        .await
        .map_err(|error| {
            DeployError::api(
                "GetObject (deploy lock)",
                format!(
                    "s3://{bucket}/{LOCK_KEY}: {}",
                    crate::error::sdk_message(&error)
                ),
            )
        })?;
    let etag = object.e_tag().unwrap_or_default().to_owned();
    let body = object
        .body
        .collect()
        .await
        .map_err(|error| DeployError::api("GetObject (deploy lock)", error.to_string()))?;
    // A lock that is not ours to read (another tool's object at this key) counts as stale at once.
    let holder = serde_json::from_slice(&body.into_bytes()).unwrap_or(Holder {
        who: "an unreadable lock".to_owned(),
        host: String::new(),
        pid: 0,
        command: String::new(),
        started_at: 0,
        renewed_at: 0,
    });
    Ok((holder, etag))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Whether a process of this id runs on this machine. Where that cannot be told (no `/proc`),
/// it is assumed to run, and only the lease frees its lock.
fn process_runs(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32, renewed_at: u64) -> Holder {
        Holder {
            who: "ci@elsewhere".to_owned(),
            host: host.to_owned(),
            pid,
            command: "deploy".to_owned(),
            started_at: renewed_at,
            renewed_at,
        }
    }

    #[test]
    fn a_lock_renewed_within_the_lease_by_a_process_elsewhere_is_held() {
        let now = 10_000;
        assert_eq!(holder("elsewhere", 1, now - 60).staleness(now), None);
    }

    #[test]
    fn a_lock_not_renewed_for_the_lease_is_stale_wherever_its_holder_ran() {
        let now = 10_000;
        let why = holder("elsewhere", 1, now - LEASE.as_secs()).staleness(now);
        assert!(why.is_some_and(|why| why.contains("not renewed for 120 s")));
    }

    #[test]
    fn a_lock_of_a_process_of_this_machine_that_is_gone_is_stale_at_once() {
        let now = unix_now();
        let running = holder(&host_name(), std::process::id(), now);
        assert_eq!(running.staleness(now), None);
        // Pids are below 2^22 on Linux.
        let gone = holder(&host_name(), 4_194_304 + 7, now);
        assert!(
            gone.staleness(now)
                .is_some_and(|why| why.contains("is gone"))
        );
    }
}
