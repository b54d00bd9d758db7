//! Runs one test of this binary again in a process of its own, for a test that changes what is the whole
//! process's: the resident memory's peak, which every replay run in the process reads into its verdict.

use std::process::Command;

/// Set in the child to the name of the test it runs.
const VARIABLE: &str = "IRONFORGE_TEST_OWN_PROCESS";

/// For the test at `module` (its `module_path!()`) named `test`: in the child this returns `true`, and the
/// test runs its body; otherwise this runs the test in a child (this test binary, filtered to that one test),
/// fails if it failed, and returns `false`.
pub(crate) fn run_apart(module: &str, test: &str) -> bool {
    // The binary's tests are named without the crate's own module.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let name = if module.is_empty() {
        test.to_owned()
    } else {
        format!("{module}::{test}")
    };
    if std::env::var_os(VARIABLE).is_some_and(|value| value == name.as_str()) {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(VARIABLE, &name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} in a process of its own: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    false
}
