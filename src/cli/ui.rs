//! What rsops says besides its output: progress, informational lines and colour. Progress and
//! colour appear only on a terminal, so logs and pipes stay plain; `--quiet` silences progress
//! and information, never errors or the questions a command must ask.

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::ffi::OsStr;
use std::io::IsTerminal;

/// Where progress and informational lines go (stderr), or nowhere with `--quiet`.
pub struct Reporter {
    bar: ProgressBar,
    quiet: bool,
}

impl Reporter {
    /// A bar over `len` steps; indicatif's stderr target draws nothing when stderr is no terminal,
    /// and one step needs no bar.
    pub fn bar(quiet: bool, len: usize) -> Reporter {
        let bar = ProgressBar::with_draw_target(Some(len as u64), target(quiet || len < 2));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        Reporter { bar, quiet }
    }

    /// A status line for work in phases of unknown length (calls to key services). It is redrawn
    /// only at each step, never by a timer, so a pinentry or passphrase prompt on the same
    /// terminal is not drawn over.
    pub fn status(quiet: bool) -> Reporter {
        let bar = ProgressBar::with_draw_target(None, target(quiet));
        bar.set_style(ProgressStyle::with_template("{wide_msg}").expect("static template"));
        Reporter { bar, quiet }
    }

    pub fn step(&self, message: String) {
        self.bar.set_message(message);
    }

    pub fn advance(&self) {
        self.bar.inc(1);
    }

    /// An informational line, unless `--quiet`; drawn above the bar, not through it.
    pub fn info(&self, line: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }

    /// Runs `f` (which prints or asks) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn target(quiet: bool) -> ProgressDrawTarget {
    if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// Colour for stdout: only on a terminal, and never when NO_COLOR is set (https://no-color.org).
pub fn stdout_colour() -> Palette {
    Palette::new(colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    ))
}

/// NO_COLOR counts when set to anything but the empty string, as the convention says.
fn colour_wanted(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// The few styles rsops uses; all plain when colour is off.
#[derive(Clone, Copy)]
pub struct Palette {
    on: bool,
}

impl Palette {
    fn new(on: bool) -> Palette {
        Palette { on }
    }

    pub fn added(self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }

    pub fn removed(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }

    pub fn question(self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// One `--verbose` line on stderr (the caller only passes public facts: rules, key identities).
pub fn verbose_line(line: &str) {
    eprintln!("[rsops] {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn a_plain_palette_writes_no_escape_codes() {
        let plain = Palette::new(false);
        for text in [plain.added("a"), plain.removed("b"), plain.question("c")] {
            assert!(!text.contains('\x1b'), "{text:?}");
        }
        assert!(Palette::new(true).added("a").contains("\x1b["));
    }
}
