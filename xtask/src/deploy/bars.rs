//! Progress bars: one per stack with its latest CloudFormation event, one overall with the
//! elapsed time. Lines that matter afterwards (emulator adaptations, assets, dashboard files,
//! failures) are printed above the bars so they stay in the scrollback.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use eventforge_deployer::progress::{Action, Outcome, Progress, Reporter};
use eventforge_platform_deploy::site::{SiteProgress, SiteReporter};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    stacks: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} stacks {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        Self {
            multi,
            overall,
            stacks: Mutex::new(HashMap::new()),
        }
    }

    /// Removes the bars, leaving the printed lines.
    pub fn clear(&self) {
        for bar in self.lock().values() {
            bar.finish();
        }
        self.overall.finish();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.stacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bar(&self, stack: &str) -> ProgressBar {
        self.lock()
            .entry(stack.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {spinner} {prefix:<32} {elapsed:>4} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(stack.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    /// Prints above the bars, or plainly when there are no bars (output is not a terminal,
    /// as in CI), so logs keep every line.
    fn println(&self, line: String) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }
}

impl Reporter for Bars {
    fn report(&self, progress: Progress) {
        match progress {
            Progress::Planned { stacks } => self.overall.set_length(stacks.len() as u64),
            Progress::Step(step) => self.overall.set_message(step),
            Progress::Notice(notice) => self.println(format!("  {notice}")),
            Progress::Asset {
                name,
                uploaded,
                bytes,
            } => self.println(format!(
                "  asset {name} ({:.1} KiB) {}",
                bytes as f64 / 1024.0,
                if uploaded {
                    "uploaded"
                } else {
                    "already there"
                }
            )),
            Progress::Emulator { stack, adaptation } => {
                if !adaptation.skipped.is_empty() {
                    let skipped: Vec<String> = adaptation
                        .skipped
                        .iter()
                        .map(|(id, resource_type)| format!("{id} ({resource_type})"))
                        .collect();
                    self.println(format!(
                        "  emulator: {stack}: NOT CREATED (type not implemented by the emulator): {}",
                        skipped.join(", ")
                    ));
                }
                for rewrite in adaptation.rewrites {
                    self.println(format!("  emulator: {stack}: {rewrite}"));
                }
                for ignored in adaptation.ignored {
                    self.println(format!(
                        "  emulator: {stack}: dropped by the emulator: {ignored}"
                    ));
                }
            }
            Progress::Started { stack, action } => {
                let verb = match action {
                    Action::Create => "creating",
                    Action::Update => "updating",
                    Action::Delete => "deleting",
                };
                self.bar(&stack).set_message(verb);
            }
            Progress::Event { stack, event } => {
                let reason = event
                    .reason
                    .map(|reason| format!(": {reason}"))
                    .unwrap_or_default();
                let line = format!(
                    "{} {} {}{reason}",
                    event.logical_id, event.resource_type, event.status
                );
                if event.status.ends_with("_FAILED") {
                    self.println(format!("  {stack}: {line}"));
                }
                self.bar(&stack).set_message(line);
            }
            Progress::Finished {
                stack,
                outcome,
                elapsed,
            } => {
                let text = match &outcome {
                    Outcome::Unchanged => "unchanged".to_owned(),
                    Outcome::NoChanges => "no changes".to_owned(),
                    Outcome::Created => "created".to_owned(),
                    Outcome::Updated => "updated".to_owned(),
                    Outcome::Hotswapped(updated) if updated.is_empty() => {
                        "code live already (an earlier hotswap)".to_owned()
                    }
                    Outcome::Hotswapped(updated) => {
                        format!("hotswapped {}", updated.join(", "))
                    }
                    Outcome::Deleted => "deleted".to_owned(),
                    Outcome::Failed(reason) => format!("FAILED: {reason}"),
                };
                let bar = self.bar(&stack);
                bar.finish_and_clear();
                let mark = if matches!(outcome, Outcome::Failed(_)) {
                    '✗'
                } else {
                    '✓'
                };
                self.println(format!(
                    "{mark} {stack:<32} {text} ({:.1} s)",
                    elapsed.as_secs_f64()
                ));
                self.overall.inc(1);
            }
        }
    }
}

impl SiteReporter for Bars {
    fn report(&self, progress: SiteProgress) {
        match progress {
            SiteProgress::Started { files, bucket } => self.overall.set_message(format!(
                "publishing the dashboard ({files} files) to {bucket}"
            )),
            SiteProgress::Uploaded { key, bytes } => self.println(format!(
                "  dashboard {key} ({:.1} KiB) uploaded",
                bytes as f64 / 1024.0
            )),
            SiteProgress::Deleted { key } => {
                self.println(format!("  dashboard {key} deleted (no longer built)"));
            }
            // The summary after the run says what became of the cache.
            SiteProgress::Invalidation(_) => {}
        }
    }
}
