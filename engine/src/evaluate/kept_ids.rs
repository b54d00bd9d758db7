//! The ids of the spans a trace keeps, for idempotent ingest: positions in the trace's kept spans, hashed by
//! the span's id, so that the ids are not held twice.
//!
//! A position takes two bytes while the trace holds fewer than 65,535 spans (every run of the default limits),
//! four past that. The table has a bucket per position and a control byte, rounded up to a power of two: for
//! a run of a few hundred spans it was about a tenth of all the memory the trace held in flight.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::state::KeptSpan;
use crate::model::SpanId;

/// A position in the kept spans.
trait Position: Copy {
    fn of(index: usize) -> Option<Self>;
    fn index(self) -> usize;
}

impl Position for u16 {
    fn of(index: usize) -> Option<Self> {
        u16::try_from(index).ok()
    }
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Position for u32 {
    fn of(index: usize) -> Option<Self> {
        u32::try_from(index).ok()
    }
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
enum Table {
    Narrow(HashTable<u16>),
    Wide(HashTable<u32>),
}

/// The kept spans' ids, by position.
#[derive(Debug)]
pub(super) struct KeptIds {
    table: Table,
    hasher: RandomState,
}

impl Default for KeptIds {
    fn default() -> Self {
        Self {
            table: Table::Narrow(HashTable::new()),
            hasher: RandomState::default(),
        }
    }
}

impl KeptIds {
    /// Whether a kept span has this id.
    pub(super) fn contains(&self, span_id: SpanId, spans: &[KeptSpan]) -> bool {
        let hash = self.hasher.hash_one(span_id);
        match &self.table {
            Table::Narrow(table) => find(table, hash, span_id, spans),
            Table::Wide(table) => find(table, hash, span_id, spans),
        }
    }

    /// Notes the span just kept, the last of `spans`, whose id no kept span had.
    pub(super) fn insert_last(&mut self, spans: &[KeptSpan]) {
        let Some((last, kept)) = spans.len().checked_sub(1).zip(spans.last()) else {
            return;
        };
        let hash = self.hasher.hash_one(kept.span_id);
        let hasher = &self.hasher;
        if let Table::Narrow(table) = &mut self.table {
            match u16::of(last) {
                Some(at) => return insert(table, hash, at, spans, hasher),
                None => self.table = Table::Wide(widen(table, spans, hasher)),
            }
        }
        if let (Table::Wide(table), Some(at)) = (&mut self.table, u32::of(last)) {
            insert(table, hash, at, spans, hasher);
        }
    }
}

fn find<P: Position>(table: &HashTable<P>, hash: u64, span_id: SpanId, spans: &[KeptSpan]) -> bool {
    table
        .find(hash, |at| {
            spans
                .get(at.index())
                .is_some_and(|kept| kept.span_id == span_id)
        })
        .is_some()
}

fn insert<P: Position>(
    table: &mut HashTable<P>,
    hash: u64,
    at: P,
    spans: &[KeptSpan],
    hasher: &RandomState,
) {
    table.insert_unique(hash, at, |at| {
        spans
            .get(at.index())
            .map_or(0, |kept| hasher.hash_one(kept.span_id))
    });
}

/// The narrow table's positions in a wide one.
fn widen(narrow: &HashTable<u16>, spans: &[KeptSpan], hasher: &RandomState) -> HashTable<u32> {
    let mut wide = HashTable::with_capacity(narrow.len() * 2);
    for at in narrow.iter() {
        if let Some(kept) = spans.get(at.index()) {
            insert(
                &mut wide,
                hasher.hash_one(kept.span_id),
                u32::from(*at),
                spans,
                hasher,
            );
        }
    }
    wide
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> SpanId {
        SpanId(n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes())
    }

    #[test]
    fn ids_are_found_before_and_after_the_table_widens_past_two_byte_positions() {
        let mut spans = Vec::new();
        let mut ids = KeptIds::default();
        let count = usize::from(u16::MAX) + 2_000;
        for n in 0..count as u64 {
            assert!(!ids.contains(id(n), &spans), "{n} before it is kept");
            spans.push(KeptSpan::with_id(id(n)));
            ids.insert_last(&spans);
            if n == 1_000 {
                assert!(matches!(ids.table, Table::Narrow(_)));
            }
        }
        assert!(matches!(ids.table, Table::Wide(_)));
        for n in (0..count as u64).step_by(7) {
            assert!(ids.contains(id(n), &spans), "{n}");
        }
        assert!(!ids.contains(id(count as u64), &spans));
    }
}
