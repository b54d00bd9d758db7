//! Runs one test of a test binary again in a child process, for a test that would otherwise share what
//! is the whole process's (the global subscriber, tracing's callsite cache, the peak of resident memory)
//! with the binary's other tests.

use std::process::Command;

/// Set in the child to the name of the test it runs.
const VARIABLE: &str = "IRONFORGE_TEST_OWN_PROCESS";

/// For test `test` of the module at `module` (its `module_path!()`): `true` in the child, where the test
/// runs its body; elsewhere this runs the test in a child (this binary, filtered to that one test), fails
/// if it failed there, and returns `false`.
pub(crate) fn run_apart(module: &str, test: &str) -> bool {
    // Test names leave out the binary's own crate.
    let path = module.split_once("::").map_or("", |(_, path)| path);
    let name = format!("{path}::{test}");
    if std::env::var_os(VARIABLE).is_some_and(|apart| apart == name.as_str()) {
        return true;
    }
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args([&name, "--exact", "--test-threads=1"]);
    let output = child.env(VARIABLE, &name).output().unwrap();
    let report = String::from_utf8_lossy(&[output.stdout, output.stderr].concat()).into_owned();
    assert!(
        output.status.success() && report.contains("1 passed"),
        "{name} in a process of its own: {}\n{report}",
        output.status
    );
    false
}
