//! Interning of the strings spans repeat: names, session ids, service names, set members.
//!
//! One table per decoding thread, so receivers never contend for it, and one per engine, through which the
//! strings a trace keeps pass: a text decoded on two threads then takes one place in the trace's string
//! table. A trace in flight holds its strings through the `Arc`s; a table forgets strings no trace holds once
//! it grows, so a flood of distinct values cannot grow it without bound.
//!
//! String arrays repeat whole (IRONFORGE's event types and edge intents on every session span), so each
//! decoding thread also remembers the arrays it read by their encoded bytes, and a span carrying one it has
//! seen shares the array read before instead of reading and interning each member again.

use foldhash::{HashMap, HashSet};
use std::cell::RefCell;
use std::sync::Arc;

use crate::plan::AttributeLimits;

/// Strings longer than this are not worth sharing (and would pin memory): they are allocated as they come.
const MAX_INTERNED_BYTES: usize = 256;

/// Entries kept before the table first drops strings no one else holds.
const PRUNE_AT: usize = 16 * 1024;

/// A table of shared strings: each text has one copy while anyone holds it.
#[derive(Debug)]
pub(crate) struct Interner {
    table: HashSet<Arc<str>>,
    /// Entries at which strings no one else holds are dropped: twice what the last pruning kept, so a
    /// table whose strings are all held is not scanned again at every insertion.
    prune_at: usize,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            table: HashSet::default(),
            prune_at: PRUNE_AT,
        }
    }
}

impl Interner {
    /// The shared copy of `text`, allocated when it is new.
    pub(crate) fn intern(&mut self, text: &str) -> Arc<str> {
        self.shared(text, || Arc::from(text))
    }

    /// The shared copy of `text`'s content: `text` itself when the content is new. Strings interned by
    /// different tables have different addresses; passing them through one table gives one address per
    /// content again.
    pub(crate) fn share(&mut self, text: &Arc<str>) -> Arc<str> {
        self.shared(text, || Arc::clone(text))
    }

    fn shared(&mut self, text: &str, new: impl FnOnce() -> Arc<str>) -> Arc<str> {
        if text.len() > MAX_INTERNED_BYTES {
            return new();
        }
        if let Some(shared) = self.table.get(text) {
            return Arc::clone(shared);
        }
        if self.table.len() >= self.prune_at {
            self.table.retain(|shared| Arc::strong_count(shared) > 1);
            self.prune_at = PRUNE_AT.max(2 * self.table.len());
        }
        let shared = new();
        self.table.insert(Arc::clone(&shared));
        shared
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

thread_local! {
    static TABLE: RefCell<Interner> = RefCell::new(Interner::default());
}

/// The shared copy of `text` in this thread's table.
pub(crate) fn intern(text: &str) -> Arc<str> {
    TABLE.with(|table| table.borrow_mut().intern(text))
}

/// Encoded arrays longer than this are read each time: rarely repeated, and not worth keeping.
const MAX_REMEMBERED_ARRAY_BYTES: usize = 1024;

/// Arrays a thread remembers before it forgets them all and starts over.
const MAX_REMEMBERED_ARRAYS: usize = 256;

/// A string array as read under some attribute limits: its members and the values the limits cut.
pub(crate) type ReadArray = (Arc<[Arc<str>]>, u32);

/// The string arrays one thread read, by their encoded bytes, under the limits they were read with.
#[derive(Debug, Default)]
struct ArrayTable {
    limits: Option<AttributeLimits>,
    arrays: HashMap<Box<[u8]>, ReadArray>,
}

thread_local! {
    static ARRAYS: RefCell<ArrayTable> = RefCell::new(ArrayTable::default());
}

/// The string array `encoded` holds under `limits`: the one this thread read from the same bytes before,
/// or what `read` reads (remembered when it succeeds).
pub(crate) fn string_array<E>(
    encoded: &[u8],
    limits: &AttributeLimits,
    read: impl FnOnce() -> Result<ReadArray, E>,
) -> Result<ReadArray, E> {
    if encoded.len() > MAX_REMEMBERED_ARRAY_BYTES {
        return read();
    }
    let remembered = ARRAYS.with(|table| {
        let table = table.borrow();
        (table.limits.as_ref() == Some(limits))
            .then(|| table.arrays.get(encoded).cloned())
            .flatten()
    });
    if let Some(array) = remembered {
        return Ok(array);
    }
    let array = read()?;
    ARRAYS.with(|table| {
        let mut table = table.borrow_mut();
        if table.limits.as_ref() != Some(limits) || table.arrays.len() >= MAX_REMEMBERED_ARRAYS {
            table.arrays.clear();
            table.limits = Some(*limits);
        }
        table.arrays.insert(encoded.into(), array.clone());
    });
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_read_once_is_shared_while_the_limits_stay() {
        let limits = AttributeLimits::default();
        let read = |text: &'static str| move || Ok::<_, ()>((Arc::from([intern(text)]), 0));
        let (first, _) = string_array(b"encoded", &limits, read("fvg")).unwrap();
        let (again, _) = string_array(b"encoded", &limits, read("other")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let (other, _) = string_array(b"different", &limits, read("sweep")).unwrap();
        assert_eq!(&*other[0], "sweep");
        let tighter = AttributeLimits {
            max_array_length: 1,
            ..limits
        };
        let (reread, cut) =
            string_array(b"encoded", &tighter, || Ok::<_, ()>((Arc::from([]), 1))).unwrap();
        assert!(
            reread.is_empty() && cut == 1,
            "read again under other limits"
        );
        assert!(string_array(b"failed", &limits, || Err(())).is_err());
    }

    #[test]
    fn repeated_strings_share_one_allocation() {
        let a = intern("NY_AM_2025-08-04");
        let b = intern("NY_AM_2025-08-04");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn one_table_gives_one_address_to_strings_of_two() {
        let mut first = Interner::default();
        let mut second = Interner::default();
        let a = first.intern("NY_AM_2025-08-04");
        let b = second.intern("NY_AM_2025-08-04");
        assert!(!Arc::ptr_eq(&a, &b));
        let mut shard = Interner::default();
        assert!(Arc::ptr_eq(&shard.share(&a), &a));
        assert!(Arc::ptr_eq(&shard.share(&b), &a));
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

    #[test]
    fn a_table_of_held_strings_is_pruned_again_only_once_it_doubles() {
        let mut table = Interner::default();
        let held: Vec<Arc<str>> = (0..=PRUNE_AT)
            .map(|index| table.intern(&format!("held-{index}")))
            .collect();
        assert_eq!(table.len(), PRUNE_AT + 1, "nothing could be dropped");
        assert_eq!(table.prune_at, 2 * PRUNE_AT);
        drop(held);
        for index in 0..PRUNE_AT {
            let _ = table.intern(&format!("transient-{index}"));
        }
        assert!(table.len() < PRUNE_AT, "{} entries", table.len());
    }
}
