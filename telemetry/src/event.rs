//! The contract every event of the processor's own keeps: one call writes its log line and moves its
//! counter.

/// An event the processor reports about itself, raised by the component it concerns and kept next to it.
///
/// `emit` does both halves of the report, the log line and the counter (a metric, or a component's own
/// figures), so that no call site can do one and forget the other: an operator reading the log and one reading
/// a dashboard see the same events. An event that counts carries a reference to its counters, which is why
/// `emit` needs nothing else.
pub trait InternalEvent {
    fn emit(self);
}
