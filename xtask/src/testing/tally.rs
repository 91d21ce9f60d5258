//! The counts of every test runner `cargo xtask test` runs, read off their summary lines, so the
//! run ends with one line that covers all of them.

use std::fmt;

/// Tests passed, failed and skipped, added up over runners.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Tally {
    /// Adds a cargo test summary: `test result: ok. 14 passed; 0 failed; 2 ignored; ...`.
    pub fn cargo_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        self.passed += count_before(rest, " passed");
        self.failed += count_before(rest, " failed");
        self.skipped += count_before(rest, " ignored");
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

    /// Adds the browser tests' summary: `e2e: 17 passed, 1 failed`.
    pub fn e2e_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("e2e: ") else {
            return;
        };
        self.passed += count_before(rest, " passed");
        self.failed += count_before(rest, " failed");
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
        assert_eq!(
            tally,
            Tally {
                passed: 17,
                failed: 1,
                skipped: 2
            }
        );
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
    fn the_browser_tests_summary_is_read() {
        let mut tally = Tally::default();
        tally.e2e_line("e2e: 16 passed, 1 failed");
        assert_eq!((tally.passed, tally.failed), (16, 1));
    }

    #[test]
    fn the_closing_line_is_the_plain_form_ci_reads() {
        let tally = Tally {
            passed: 812,
            failed: 0,
            skipped: 3,
        };
        assert_eq!(tally.to_string(), "812 passed, 0 failed, 3 skipped");
    }
}
