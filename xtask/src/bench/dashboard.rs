//! `cargo xtask bench dashboard`: Lighthouse over the built dashboard, served by a `cargo xtask
//! dev` of its own, in Debian's Chromium: the sign-in page of a first visit, and the orders page
//! signed in with its charts, on Lighthouse's mobile (simulated slow 4G) and desktop settings.
//! The user flow itself is `frontend/lighthouse/run.mjs`; its packages are installed apart from
//! the dashboard's, so the tests' `npm ci` does not download Lighthouse.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Deserialize;

use crate::dev_server::{self, DevServer, free_port};
use crate::frontend::Frontend;
use crate::process::{self, run};

#[derive(Args)]
pub struct DashboardBenchArgs {
    /// Replace the `## Dashboard` section of BENCHMARKS.md with the figures.
    #[arg(long)]
    pub record: bool,
}

/// What `run.mjs` prints: per form factor, per page.
#[derive(Debug, Deserialize)]
struct Report {
    lighthouse: String,
    mobile: BTreeMap<String, PageFigures>,
    desktop: BTreeMap<String, PageFigures>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageFigures {
    scores: Scores,
    fcp_ms: u64,
    lcp_ms: u64,
    tbt_ms: u64,
    cls: f64,
    script_bytes: u64,
    script_files: u64,
    failing_audits: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Scores {
    performance: u8,
    accessibility: u8,
    #[serde(rename = "best-practices")]
    best_practices: u8,
}

/// The pages in the order the flow visits them, with what each step downloads.
const PAGES: [(&str, &str); 2] = [
    ("sign-in", "sign-in page, first visit (empty cache)"),
    (
        "orders",
        "orders page after sign-in, with its charts (the sign-in page's script cached)",
    ),
];

pub fn run_benchmark(args: &DashboardBenchArgs) -> Result<String> {
    let root = process::workspace_root();
    let frontend = Frontend::new(root.join("frontend"));
    if frontend.is_stale() {
        frontend.build()?;
    }
    let lighthouse = root.join("frontend/lighthouse");
    if !lighthouse.join("node_modules/lighthouse").exists() {
        println!(
            "==> Lighthouse's packages (npm ci in {})",
            lighthouse.display()
        );
        run(Command::new("npm")
            .current_dir(&lighthouse)
            .args(["ci", "--no-audit", "--no-fund"]))
        .context("cannot install Lighthouse (is the npm registry reachable?)")?;
    }
    let chromium = dev_server::chromium();
    if !chromium.exists() {
        bail!(
            "Lighthouse needs Chromium at {}: install Debian's package (`apt-get install chromium`) \
             or name another binary in $EVENTFORGE_CHROMIUM",
            chromium.display()
        );
    }

    let data = tempfile::tempdir().context("cannot create a temporary directory")?;
    let port = free_port()?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dev = DevServer::start(port, &data.path().join("dev.db"), &path)?;
    dev.wait_until_healthy(port)?;
    println!("==> Lighthouse user flows (mobile, then desktop; about a minute)");
    let output = Command::new("node")
        .current_dir(&lighthouse)
        .arg("run.mjs")
        .env("EVENTFORGE_URL", format!("http://127.0.0.1:{port}"))
        .env("EVENTFORGE_CHROMIUM", &chromium)
        .output()
        .context("cannot run node (Node.js 20+ is needed)");
    dev.stop();
    let output = output?;
    if !output.status.success() {
        bail!(
            "the Lighthouse run failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: Report = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "unexpected output from run.mjs: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let section = section(&report, &super::provenance()?)?;
    if args.record {
        super::record_section(&root.join("BENCHMARKS.md"), &section)?;
        println!("recorded in BENCHMARKS.md");
    }
    Ok(section)
}

fn section(report: &Report, provenance: &str) -> Result<String> {
    let mut rows = String::new();
    for (form_factor, pages) in [("mobile", &report.mobile), ("desktop", &report.desktop)] {
        for (page, what) in PAGES {
            let figures = pages
                .get(page)
                .with_context(|| format!("run.mjs reported no {form_factor} step `{page}`"))?;
            let Scores {
                performance,
                accessibility,
                best_practices,
            } = figures.scores;
            rows.push_str(&format!(
                "| {form_factor} | {what} | **{performance}** | **{accessibility}** | **{best_practices}** | {} / {} / {} ms, CLS {} | {:.1} kB in {} file(s) |\n",
                figures.fcp_ms,
                figures.lcp_ms,
                figures.tbt_ms,
                figures.cls,
                figures.script_bytes as f64 / 1000.0,
                figures.script_files,
            ));
        }
    }
    let mut below_90: Vec<&str> = report
        .mobile
        .values()
        .chain(report.desktop.values())
        .flat_map(|figures| figures.failing_audits.iter().map(String::as_str))
        .collect();
    below_90.sort_unstable();
    below_90.dedup();
    Ok(format!(
        "## Dashboard\n\n\
         `cargo xtask bench dashboard` ({provenance}): Lighthouse {} in Debian's Chromium against \
         `cargo xtask dev` on 127.0.0.1 (2 cores). Mobile is Lighthouse's default (a mid-range \
         phone on simulated slow 4G), desktop its desktop preset. Targets: each score >= 95; the \
         first page's script under 100 kB gzipped.\n\n\
         | Form factor | Page | Performance | Accessibility | Best practices | FCP / LCP / TBT | Script transferred (gzip) |\n\
         |---|---|---|---|---|---|---|\n\
         {rows}\n\
         Audits under 0.9 on some page (the category scores above already weigh them): {}.\n",
        report.lighthouse,
        if below_90.is_empty() {
            "none".to_owned()
        } else {
            below_90
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"{"lighthouse":"12.2.3",
      "mobile":{"sign-in":{"scores":{"performance":99,"accessibility":100,"best-practices":100},"fcpMs":1415,"lcpMs":1568,"tbtMs":0,"cls":0,"scriptBytes":87491,"scriptFiles":1,"failingAudits":["robots-txt"]},
                "orders":{"scores":{"performance":100,"accessibility":100,"best-practices":100},"fcpMs":970,"lcpMs":1794,"tbtMs":65,"cls":0.03,"scriptBytes":55170,"scriptFiles":3,"failingAudits":["uses-long-cache-ttl","robots-txt"]}},
      "desktop":{"sign-in":{"scores":{"performance":100,"accessibility":100,"best-practices":100},"fcpMs":341,"lcpMs":392,"tbtMs":0,"cls":0,"scriptBytes":87498,"scriptFiles":1,"failingAudits":[]},
                 "orders":{"scores":{"performance":100,"accessibility":97,"best-practices":100},"fcpMs":252,"lcpMs":453,"tbtMs":0,"cls":0,"scriptBytes":55216,"scriptFiles":3,"failingAudits":[]}}}"#;

    #[test]
    fn the_section_has_a_row_per_form_factor_and_page_and_names_the_weak_audits_once() {
        let report: Report = serde_json::from_str(OUTPUT).expect("run.mjs's output");
        let section = section(&report, "2026-12-04, commit abc1234").expect("section");
        assert!(section.starts_with("## Dashboard\n"));
        assert!(section.contains("(2026-12-04, commit abc1234): Lighthouse 12.2.3"));
        assert!(section.contains(
            "| mobile | sign-in page, first visit (empty cache) | **99** | **100** | **100** | 1415 / 1568 / 0 ms, CLS 0 | 87.5 kB in 1 file(s) |"
        ));
        assert!(section.contains("| desktop | orders page after sign-in, with its charts (the sign-in page's script cached) | **100** | **97** |"));
        assert!(section.contains("on some page (the category scores above already weigh them): `robots-txt`, `uses-long-cache-ttl`.\n"));
    }

    #[test]
    fn a_missing_step_is_an_error_not_a_short_table() {
        let mut report: Report = serde_json::from_str(OUTPUT).expect("run.mjs's output");
        report.desktop.remove("orders");
        let error = section(&report, "today").expect_err("missing step");
        assert!(
            error.to_string().contains("no desktop step `orders`"),
            "{error}"
        );
    }
}
