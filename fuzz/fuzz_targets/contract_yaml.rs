//! Contract files: YAML parsing, validation with file/line/field errors, and compilation to a read plan.
#![no_main]

use ironforge_engine::ContractSet;
use ironforge_engine::config::ContractFile;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    match ContractFile::parse(text, "fuzz.yaml") {
        Ok(file) => {
            let set = ContractSet::new(file, None);
            let _ = set.plan();
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
