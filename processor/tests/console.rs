//! The console log of `serve`: plain text when written to a file or a pipe, as a log collector reads it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e_support;

use std::io::{BufRead, BufReader};

use e2e_support::processor_command_logging;

#[test]
fn the_text_log_carries_no_colour_escapes_when_redirected() {
    let mut command = processor_command_logging("text");
    command.env_remove("NO_COLOR");
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("INFO"), "{first}");
    assert!(
        !first.contains('\u{1b}'),
        "escape codes in a piped log: {first:?}"
    );
}
