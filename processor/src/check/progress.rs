//! A progress bar on standard error while a check reads, on a terminal only: bytes read of the total when
//! the files' sizes are known, and spans per second.

use std::cell::Cell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use ironforge_report::read::{self, STDIN};

/// How often the spans-per-second figure is worked out again: the bar redraws about as often.
const MESSAGE_EVERY: Duration = Duration::from_millis(200);

/// The bar, or nothing when standard error is not a terminal.
#[derive(Debug)]
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    spans: Cell<u64>,
    started: Instant,
    shown_at: Cell<Instant>,
}

impl Progress {
    /// A bar over `files`, sized when none is standard input and each one's size can be read.
    pub(super) fn new(files: &[PathBuf]) -> Self {
        let now = Instant::now();
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| bar(total_bytes(files)));
        Self {
            bar,
            spans: Cell::new(0),
            started: now,
            shown_at: Cell::new(now),
        }
    }
}

impl read::Progress for Progress {
    /// Counts bytes read from the files.
    fn read(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Counts spans decoded.
    fn spans(&self, spans: usize) {
        let Some(bar) = &self.bar else {
            return;
        };
        let total = self.spans.get() + spans as u64;
        self.spans.set(total);
        let now = Instant::now();
        if now.duration_since(self.shown_at.get()) >= MESSAGE_EVERY {
            self.shown_at.set(now);
            let seconds = now.duration_since(self.started).as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{total} spans, {:.0} spans/s",
                total as f64 / seconds
            ));
        }
    }

    /// Takes the bar off the terminal, so the report is printed on a clean line.
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn total_bytes(files: &[PathBuf]) -> Option<u64> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == STDIN {
                return None;
            }
            std::fs::metadata(path)
                .ok()
                .filter(|meta| meta.is_file())
                .map(|meta| meta.len())
        })
        .sum()
}

fn bar(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            "{bar:20} {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed} {wide_msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {bytes} {binary_bytes_per_sec} {elapsed} {wide_msg}",
        ),
    };
    // The message is cut to what is left of the terminal's width, so the line never wraps (a wrapped line
    // is redrawn as a new one at every tick) on terminals wider than the fixed parts, about 60 columns.
    // The templates are constants: a bad one falls back to the default style rather than failing the check.
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
