//! Interning of the strings spans repeat: names, session ids, service names, set members.
//!
//! One table per decoding thread, so receivers never contend for it. A trace in flight holds its strings
//! through the `Arc`s; the table forgets strings no trace holds once it grows, so a flood of distinct
//! values cannot grow it without bound.

use foldhash::HashSet;
use std::cell::RefCell;
use std::sync::Arc;

/// Strings longer than this are not worth sharing (and would pin memory): they are allocated as they come.
const MAX_INTERNED_BYTES: usize = 256;

/// Entries kept before the table drops strings no one else holds.
const PRUNE_AT: usize = 16 * 1024;

thread_local! {
    static TABLE: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::default());
}

/// The shared copy of `text`.
pub fn intern(text: &str) -> Arc<str> {
    if text.len() > MAX_INTERNED_BYTES {
        return Arc::from(text);
    }
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        if let Some(shared) = table.get(text) {
            return Arc::clone(shared);
        }
        if table.len() >= PRUNE_AT {
            table.retain(|shared| Arc::strong_count(shared) > 1);
        }
        let shared: Arc<str> = Arc::from(text);
        table.insert(Arc::clone(&shared));
        shared
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_strings_share_one_allocation() {
        let a = intern("NY_AM_2025-08-04");
        let b = intern("NY_AM_2025-08-04");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn long_strings_are_not_kept() {
        let long = "x".repeat(MAX_INTERNED_BYTES + 1);
        let a = intern(&long);
        let b = intern(&long);
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn the_table_forgets_strings_no_one_holds() {
        for index in 0..PRUNE_AT * 2 {
            let _ = intern(&format!("transient-{index}"));
        }
        let held = TABLE.with(|table| table.borrow().len());
        assert!(held <= PRUNE_AT, "{held} entries");
    }
}
