//! Figures as people read them: the pages use the same formatting as the analysis they show.

pub(super) use ironforge_analysis::units::{bytes, duration, measured, number, rate, share};
