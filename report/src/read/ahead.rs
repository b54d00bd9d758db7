//! Reading ahead: an input is read and decoded on a thread of its own while the engine judges, on the
//! calling thread, what was read before. Decoding OTLP/JSON costs about twice what judging does, so the
//! two overlap on two cores.
//!
//! What was read crosses over in batches through a channel of a few batches, so the memory held stays
//! bounded whatever the input's size, and in order, so problems are still reported in the input's order.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread;

use ironforge_engine::decode::Decoded;
use ironforge_engine::plan::ReadPlan;

use super::input;
use crate::input_error::InputError;

/// Batches waiting for the engine at most; the reader waits while the queue is full.
const QUEUE: usize = 2;

/// Spans gathered before a batch is handed over: enough that handing over costs little per span, few
/// enough that the batches in flight hold little memory.
const BATCH_SPANS: usize = 1024;

/// Documents or problems gathered at most before a batch is handed over, however few spans they hold.
const BATCH_ITEMS: usize = 64;

/// What the reader found, in the input's order.
enum Item {
    Decoded(Decoded),
    Error(InputError),
}

/// As [`input::read`], with the reading and decoding on another thread; `sink`, `errors` and `on_read`
/// are called on this one, in the order the input gives. Should no thread be had, reads on this one.
pub(super) fn read(
    path: &Path,
    plan: &ReadPlan,
    sink: &mut dyn FnMut(Decoded),
    errors: &mut dyn FnMut(InputError),
    on_read: &dyn Fn(u64),
) {
    let taken = AtomicU64::new(0);
    let (sender, receiver) = sync_channel::<Vec<Item>>(QUEUE);
    thread::scope(|scope| {
        let taken = &taken;
        let reader = thread::Builder::new()
            .name("check-reader".to_owned())
            .spawn_scoped(scope, move || {
                let batch = RefCell::new(Batch {
                    sender,
                    items: Vec::new(),
                    spans: 0,
                });
                input::read(
                    path,
                    plan,
                    &mut |decoded| batch.borrow_mut().push(Item::Decoded(decoded)),
                    &mut |error| batch.borrow_mut().push(Item::Error(error)),
                    &|bytes| {
                        taken.fetch_add(bytes, Ordering::Relaxed);
                    },
                );
                batch.borrow_mut().hand_over();
            });
        if reader.is_err() {
            return input::read(path, plan, sink, errors, on_read);
        }
        for batch in receiver {
            on_read(taken.swap(0, Ordering::Relaxed));
            for item in batch {
                match item {
                    Item::Decoded(decoded) => sink(decoded),
                    Item::Error(error) => errors(error),
                }
            }
        }
        on_read(taken.swap(0, Ordering::Relaxed));
    });
}

/// The items the reader has not handed over yet.
struct Batch {
    sender: SyncSender<Vec<Item>>,
    items: Vec<Item>,
    spans: usize,
}

impl Batch {
    fn push(&mut self, item: Item) {
        if let Item::Decoded(decoded) = &item {
            self.spans += decoded.spans.len();
        }
        self.items.push(item);
        if self.spans >= BATCH_SPANS || self.items.len() >= BATCH_ITEMS {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        if self.items.is_empty() {
            return;
        }
        self.spans = 0;
        // The receiver is gone only when the judging thread is unwinding; what is left is of no use then.
        let _ = self.sender.send(std::mem::take(&mut self.items));
    }
}
