//! The counts of every test runner `cargo xtask test` runs, read off their summary lines, so the
//! run ends with one line that covers all of them; and how long each cargo test binary ran.

use std::fmt;
use std::time::Duration;

/// Tests passed, failed and skipped, added up over runners.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// The cargo test binary whose output is being read (`Running ...` names it).
    running: Option<String>,
    /// Each cargo test binary that finished, with its test time.
    binaries: Vec<(String, Duration)>,
}

impl Tally {
    /// Adds a cargo test summary: `test result: ok. 14 passed; 0 failed; 2 ignored; ...
    /// finished in 3.31s`, timed against the binary the last `Running` line named.
    pub fn cargo_line(&mut self, line: &str) {
        let line = line.trim();
        if let Some(binary) = line
            .strip_prefix("Running ")
            .or_else(|| line.strip_prefix("Doc-tests "))
        {
            self.running = Some(binary_name(binary));
            return;
        }
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        self.passed += count_before(rest, " passed");
        self.failed += count_before(rest, " failed");
        self.skipped += count_before(rest, " ignored");
        let seconds = rest
            .rsplit_once("finished in ")
            .and_then(|(_, time)| time.trim_end_matches('s').parse::<f64>().ok());
        if let (Some(binary), Some(seconds)) = (self.running.take(), seconds) {
            self.binaries
                .push((binary, Duration::from_secs_f64(seconds)));
        }
    }

    /// Adds nextest's summary: `Summary [ 9.1s] 412 tests run: 410 passed, 2 failed, 3 skipped`.
    pub fn nextest_line(&mut self, line: &str) {
        let plain = strip_ansi(line);
        let Some((_, rest)) = plain.trim().split_once(" tests run: ") else {
            return;
        };
        self.passed += count_before(rest, " passed");
        self.failed += count_before(rest, " failed");
        self.skipped += count_before(rest, " skipped");
    }

    /// The `count` cargo test binaries that ran longest, slowest first, as lines to print.
    pub fn slowest_binaries(&self, count: usize) -> String {
        let mut binaries = self.binaries.clone();
        binaries.sort_by_key(|(_, time)| std::cmp::Reverse(*time));
        let mut lines = String::new();
        if binaries.is_empty() {
            return lines;
        }
        lines.push_str(&format!(
            "\nslowest {} test binaries:\n",
            count.min(binaries.len())
        ));
        for (binary, time) in binaries.iter().take(count) {
            lines.push_str(&format!("  {:>8.1} s  {binary}\n", time.as_secs_f64()));
        }
        lines
    }

    /// Adds Vitest's summary: `Tests  2 failed | 37 passed (39)` (also `skipped`).
    pub fn vitest_line(&mut self, line: &str) {
        let plain = strip_ansi(line);
        let Some(rest) = plain.trim().strip_prefix("Tests ") else {
            return;
        };
        self.passed += count_before(rest, " passed");
        self.failed += count_before(rest, " failed");
        self.skipped += count_before(rest, " skipped");
    }

    /// Adds a line of the summary Playwright's list reporter ends with, one count a line:
    /// `  20 passed (2.2m)`, `  1 failed`, `  2 skipped`, `  1 flaky`, `  3 did not run`,
    /// `  1 interrupted`. A flaky test failed before it passed, so it counts as failed, and so
    /// does an interrupted one; tests that did not run count as skipped.
    pub fn playwright_line(&mut self, line: &str) {
        let plain = strip_ansi(line);
        let text = plain.trim();
        let text = text.split_once(" (").map_or(text, |(counts, _)| counts);
        let Some((count, outcome)) = text.split_once(' ') else {
            return;
        };
        let Ok(count) = count.parse::<u64>() else {
            return;
        };
        match outcome {
            "passed" => self.passed += count,
            "failed" | "flaky" | "interrupted" => self.failed += count,
            "skipped" | "did not run" => self.skipped += count,
            _ => {}
        }
    }
}

impl fmt::Display for Tally {
    /// The plain closing line CI reads: `N passed, N failed, N skipped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// `tests/api/main.rs (target/debug/deps/api-5f3a)` -> `api (tests/api/main.rs)`: the binary's
/// name without cargo's hash, and its source, since unit test binaries share names with crates.
fn binary_name(running: &str) -> String {
    let Some((source, path)) = running.split_once(" (") else {
        return running.to_owned();
    };
    let file = path
        .trim_end_matches(')')
        .rsplit('/')
        .next()
        .unwrap_or(path);
    let name = file.rsplit_once('-').map_or(file, |(name, _)| name);
    format!("{name} ({source})")
}

/// The number right before `word` in `text` (`"14 passed"` -> 14), or 0.
fn count_before(text: &str, word: &str) -> u64 {
    let Some(end) = text.find(word) else {
        return 0;
    };
    let digits: String = text[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

/// `text` without ANSI escape sequences (colours), which runners add even when piped.
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequences end with a letter.
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_summaries_add_up_and_other_lines_are_ignored() {
        let mut tally = Tally::default();
        tally.cargo_line("test result: ok. 14 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 3.31s");
        tally.cargo_line("test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured");
        tally.cargo_line("test a_test_that_passed ... ok");
        tally.cargo_line("running 17 tests");
        assert_eq!((tally.passed, tally.failed, tally.skipped), (17, 1, 2));
    }

    #[test]
    fn each_cargo_binary_is_timed_and_the_slowest_come_first() {
        let mut tally = Tally::default();
        for line in [
            "     Running unittests src/lib.rs (/t/debug/deps/eventforge_core-0a1b2c)",
            "test result: ok. 40 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.52s",
            "     Running tests/api/main.rs (/t/debug/deps/api-5f3a9e)",
            "test result: ok. 90 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 12.05s",
            "   Doc-tests eventforge_stacks",
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s",
        ] {
            tally.cargo_line(line);
        }
        let slowest = tally.slowest_binaries(2);
        let lines: Vec<&str> = slowest.lines().filter(|l| l.contains(" s ")).collect();
        assert_eq!(lines.len(), 2, "{slowest}");
        assert!(
            lines[0].contains("12.1 s  api (tests/api/main.rs)"),
            "{slowest}"
        );
        assert!(lines[1].contains("1.0 s  eventforge_stacks"), "{slowest}");
        assert_eq!(tally.passed, 133);
    }

    #[test]
    fn nextest_summaries_add_up() {
        let mut tally = Tally::default();
        tally.nextest_line("     Starting 412 tests across 30 binaries (9 binaries skipped)");
        tally.nextest_line(
            "     Summary [   9.102s] 412 tests run: 410 passed, 2 failed, 3 skipped",
        );
        assert_eq!((tally.passed, tally.failed, tally.skipped), (410, 2, 3));
    }

    #[test]
    fn vitest_summaries_are_read_through_their_colours() {
        let mut tally = Tally::default();
        tally.vitest_line("\u{1b}[2m      Tests \u{1b}[22m \u{1b}[1m\u{1b}[32m39 passed\u{1b}[39m\u{1b}[22m\u{1b}[90m (39)\u{1b}[39m");
        tally.vitest_line(" Test Files  7 passed (7)");
        assert_eq!(tally.passed, 39);
        tally.vitest_line("      Tests  2 failed | 37 passed | 1 skipped (40)");
        assert_eq!((tally.passed, tally.failed, tally.skipped), (76, 2, 1));
    }

    #[test]
    fn playwrights_summary_is_read_and_nothing_else() {
        let mut tally = Tally::default();
        for line in [
            "  \u{1b}[32m✓\u{1b}[39m  10 e2e/orders.spec.ts:19:1 › a new shopper has no orders (887ms)",
            "  1) e2e/orders.spec.ts:25:1 › the form says what is missing ──────",
            "    Expected: > 1",
            "  5 failed",
            "    e2e/orders.spec.ts:25:1 › 2 passed through the form ─────",
            "  1 flaky",
            "  \u{1b}[32m20 passed\u{1b}[39m\u{1b}[2m (2.2m)\u{1b}[22m",
            "  2 skipped",
            "  3 did not run",
        ] {
            tally.playwright_line(line);
        }
        assert_eq!((tally.passed, tally.failed, tally.skipped), (20, 6, 5));
    }

    #[test]
    fn the_closing_line_is_the_plain_form_ci_reads() {
        let tally = Tally {
            passed: 812,
            skipped: 3,
            ..Tally::default()
        };
        assert_eq!(tally.to_string(), "812 passed, 0 failed, 3 skipped");
    }
}
