//! A closed-loop HTTP load generator: a fixed number of connections, each sending its next request
//! as soon as the previous answer arrived, for a fixed time. Every latency is kept, so percentiles
//! are exact rather than bucketed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::{Client, RequestBuilder, StatusCode};

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub warm_up: Duration,
    pub measure: Duration,
}

/// What one scenario achieved.
#[derive(Debug, Clone)]
pub struct Figures {
    pub requests: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Figures {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Result<Self> {
        if latencies.is_empty() {
            bail!("no request completed within {} s", elapsed.as_secs());
        }
        latencies.sort_unstable();
        Ok(Self {
            requests: latencies.len(),
            elapsed,
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            max: latencies[latencies.len() - 1],
        })
    }
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `request` (given the connection's client and a sequence number) on every connection,
/// first for the warm-up (not counted), then for the measured time. Any answer other than
/// `expected` stops the run with an error naming the status and body.
pub async fn run<F>(load: Load, expected: StatusCode, request: F) -> Result<Figures>
where
    F: Fn(&Client, u64) -> RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    drive(
        load.warm_up,
        load.connections,
        expected,
        Arc::clone(&request),
    )
    .await?;
    let started = Instant::now();
    let latencies = drive(load.measure, load.connections, expected, request).await?;
    Figures::from_latencies(latencies, started.elapsed())
}

async fn drive<F>(
    duration: Duration,
    connections: usize,
    expected: StatusCode,
    request: Arc<F>,
) -> Result<Vec<Duration>>
where
    F: Fn(&Client, u64) -> RequestBuilder + Send + Sync + 'static,
{
    let deadline = Instant::now() + duration;
    let mut workers = tokio::task::JoinSet::new();
    for connection in 0..connections {
        let request = Arc::clone(&request);
        workers.spawn(async move {
            // One client per worker: one keep-alive connection each, as a real client pool has.
            let client = Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .context("cannot build an HTTP client")?;
            let mut latencies = Vec::new();
            let mut sequence = (connection as u64) << 32;
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = request(&client, sequence).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                if status != expected {
                    bail!(
                        "expected {expected}, got {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                latencies.push(started.elapsed());
                sequence += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.context("a load worker panicked")??);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let samples = millis(&[7]);
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(7));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(7));
    }

    #[test]
    fn figures_from_unsorted_latencies() {
        let figures =
            Figures::from_latencies(millis(&[30, 10, 20, 40]), Duration::from_secs(2)).unwrap();
        assert_eq!(figures.requests, 4);
        assert_eq!(figures.p50, Duration::from_millis(20));
        assert_eq!(figures.max, Duration::from_millis(40));
        assert!((figures.requests_per_second() - 2.0).abs() < f64::EPSILON);
    }

    #[test]
    fn no_completed_request_is_an_error() {
        assert!(Figures::from_latencies(Vec::new(), Duration::from_secs(1)).is_err());
    }
}
