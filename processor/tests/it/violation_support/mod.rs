//! A violation as the engine raises it, for the tests of what reports violations onward.

pub(crate) use ironforge_outputs::test_support::slow_session;
