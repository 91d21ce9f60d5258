//! HTTP load from `wrk` (Debian's `wrk`): a separate process, written in C, that keeps a fixed
//! number of connections busy, each sending its next request as soon as the previous answer
//! arrived. It costs the server's cores far less than a load generator inside the benchmark's
//! own process would, so the figures are the server's. Latency percentiles are wrk's own.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub warm_up: Duration,
    pub measure: Duration,
}

/// One request, sent over and over.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

/// What one scenario achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// The nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs wrk with `request` for the warm-up (not counted), then for the measured time. Any
/// answer that is not a success, or any socket error, fails the run.
pub fn run(load: Load, request: &Request) -> Result<Figures> {
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    let script = scratch.path().join("request.lua");
    std::fs::write(&script, lua_script(request)?)
        .with_context(|| format!("cannot write {}", script.display()))?;
    wrk(load.connections, load.warm_up, &script, &request.url)?;
    parse(&wrk(load.connections, load.measure, &script, &request.url)?)
}

fn wrk(connections: usize, duration: Duration, script: &Path, url: &str) -> Result<String> {
    // One thread: wrk's event loop keeps many connections busy, and the server keeps the cores.
    let output = Command::new("wrk")
        .args(["--threads", "1", "--latency", "--connections"])
        .arg(connections.to_string())
        .arg("--duration")
        .arg(format!("{}s", duration.as_secs().max(1)))
        .arg("--script")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow::anyhow!("wrk is not installed: `apt-get install wrk` (Debian's package)")
            }
            _ => anyhow::Error::new(error).context("cannot run wrk"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// The request as wrk's Lua configuration. Values go into long brackets, which need no escaping.
fn lua_script(request: &Request) -> Result<String> {
    let quote = |text: &str| -> Result<String> {
        if text.contains("]==]") {
            bail!("cannot put {text:?} in a Lua long bracket");
        }
        Ok(format!("[==[{text}]==]"))
    };
    let mut script = format!("wrk.method = {}\n", quote(request.method)?);
    if let Some(body) = &request.body {
        script.push_str(&format!("wrk.body = {}\n", quote(body)?));
    }
    for (name, value) in &request.headers {
        script.push_str(&format!(
            "wrk.headers[ {} ] = {}\n",
            quote(name)?,
            quote(value)?
        ));
    }
    Ok(script)
}

/// Reads wrk's report (`--latency`).
fn parse(report: &str) -> Result<Figures> {
    let mut figures = Figures {
        requests: 0,
        requests_per_second: 0.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        max: Duration::ZERO,
    };
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _average, _deviation, max, ..] => figures.max = duration(max)?,
            ["50%", value] => figures.p50 = duration(value)?,
            ["99%", value] => figures.p99 = duration(value)?,
            [count, "requests", "in", ..] => figures.requests = count.parse()?,
            ["Requests/sec:", rate] => figures.requests_per_second = rate.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                bail!("{count} answers were not a success:\n{report}")
            }
            ["Socket", "errors:", ..] => bail!("wrk saw socket errors ({line}):\n{report}"),
            _ => {}
        }
    }
    if figures.requests == 0 {
        bail!("no request completed:\n{report}");
    }
    Ok(figures)
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.00s`, `1.50m`.
fn duration(text: &str) -> Result<Duration> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("not a number: {text:?}"))?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => bail!("unknown unit in {text:?}"),
    };
    Ok(Duration::from_secs_f64(seconds))
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

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:4000/api/orders
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.21ms  340.10us   9.87ms   91.20%
    Req/Sec     6.61k   210.00     7.01k    70.00%
  Latency Distribution
     50%    1.12ms
     75%    1.30ms
     90%    1.52ms
     99%    2.48ms
  33050 requests in 5.00s, 20.11MB read
Requests/sec:   6609.84
Transfer/sec:      4.02MB
";

    #[test]
    fn a_report_gives_rate_percentiles_and_maximum() {
        let figures = parse(REPORT).unwrap();
        assert_eq!(figures.requests, 33050);
        assert!((figures.requests_per_second - 6609.84).abs() < 1e-9);
        assert_eq!(figures.p50, Duration::from_micros(1120));
        assert_eq!(figures.p99, Duration::from_micros(2480));
        assert_eq!(figures.max, Duration::from_micros(9870));
    }

    #[test]
    fn failed_answers_or_socket_errors_fail_the_run() {
        let failed = REPORT.replace(
            "Requests/sec:",
            "  Non-2xx or 3xx responses: 12\nRequests/sec:",
        );
        assert!(
            parse(&failed)
                .unwrap_err()
                .to_string()
                .contains("12 answers")
        );
        let broken = REPORT.replace(
            "Requests/sec:",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec:",
        );
        assert!(parse(&broken).is_err());
        assert!(parse("Running 5s test\n").is_err(), "no requests at all");
    }

    #[test]
    fn durations_carry_wrks_units() {
        assert_eq!(duration("812.00us").unwrap(), Duration::from_micros(812));
        assert_eq!(duration("2.00s").unwrap(), Duration::from_secs(2));
        assert!(duration("12").is_err());
        assert!(duration("3.0h").is_err());
    }

    #[test]
    fn the_request_becomes_a_lua_script() {
        let script = lua_script(&Request {
            method: "POST",
            url: "http://127.0.0.1/".into(),
            headers: vec![("Content-Type", "application/json".into())],
            body: Some(r#"{"items":[]}"#.into()),
        })
        .unwrap();
        assert_eq!(
            script,
            "wrk.method = [==[POST]==]\nwrk.body = [==[{\"items\":[]}]==]\n\
             wrk.headers[ [==[Content-Type]==] ] = [==[application/json]==]\n"
        );
    }
}
