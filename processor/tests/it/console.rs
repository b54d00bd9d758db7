//! The console log of `serve`: plain text when written to a file or a pipe, as a log collector reads it.

use std::io::{BufRead, BufReader};

use crate::e2e_support::processor_command_logging;

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

#[test]
fn the_start_up_line_names_the_html_overview_at_the_admin_address() {
    let mut child = processor_command_logging("text").spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("listening"));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("no start-up line");
    let admin = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("admin="))
        .expect("no admin field");
    assert!(
        line.contains(&format!("overview http://{admin}/,")),
        "{line}"
    );
}
