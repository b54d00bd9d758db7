//! Parsing of IRONFORGE's enhanced session files.
//!
//! Only the sections the pipeline reads are modelled; everything else is ignored. Every section except
//! `session_metadata` is optional, and so is every field inside an event, because the three schema variants (and
//! the hand-recovered files among them) disagree on what is present. A file that is not JSON, or whose present
//! fields have the wrong type, fails to parse as a whole and is reported by the pipeline.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// One session file as the pipeline reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionFile {
    /// Session type, date and window.
    pub session_metadata: SessionMetadata,
    /// Price events.
    #[serde(default)]
    pub price_movements: Vec<PriceMovement>,
    /// Liquidity events.
    #[serde(default)]
    pub session_liquidity_events: Vec<LiquidityEvent>,
    /// Higher-timeframe context (present in all 57 fixtures).
    #[serde(default)]
    pub contamination_analysis: Option<ContaminationAnalysis>,
    /// Expansion and consolidation phases with their time spans (absent from the short variant).
    #[serde(default)]
    pub phase_transitions: Option<Vec<PhaseTransition>>,
    /// Session high, low, open and close.
    #[serde(default)]
    pub relativity_stats: Option<RelativityStats>,
    /// Energy figures of the session.
    #[serde(default)]
    pub energy_state: Option<EnergyState>,
    /// Short variant: decontaminated HTF carry-over strength at the top level.
    #[serde(default)]
    pub htf_carryover_strength: Option<f64>,
    /// Short variant: energy density at the top level.
    #[serde(default)]
    pub energy_density: Option<f64>,
    /// Short variant: how the file was enhanced.
    #[serde(default)]
    pub enhancement_info: Option<IgnoredAny>,
    /// Long variants: present or not is all that matters.
    #[serde(default)]
    pub micro_timing_analysis: Option<IgnoredAny>,
    /// Long variants.
    #[serde(default)]
    pub behavioral_observations: Option<IgnoredAny>,
    /// Sections only some hand-recovered files carry.
    #[serde(default)]
    pub fvg_analysis: Option<IgnoredAny>,
    /// See [`fvg_analysis`](Self::fvg_analysis).
    #[serde(default)]
    pub liquidity_analysis: Option<IgnoredAny>,
    /// See [`fvg_analysis`](Self::fvg_analysis).
    #[serde(default)]
    pub news_context: Option<IgnoredAny>,
    /// See [`fvg_analysis`](Self::fvg_analysis).
    #[serde(default)]
    pub enhanced_data: Option<IgnoredAny>,
}

/// `session_metadata`.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionMetadata {
    /// e.g. `ny_am`.
    #[serde(default)]
    pub session_type: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub session_date: Option<String>,
    /// Window start, `HH:MM:SS` Eastern time.
    #[serde(default)]
    pub session_start: Option<String>,
    /// Window end (inclusive), `HH:MM:SS` Eastern time.
    #[serde(default)]
    pub session_end: Option<String>,
    /// Minutes.
    #[serde(default)]
    pub session_duration: Option<f64>,
}

/// One entry of `price_movements`.
///
/// 300 of the 1,287 price events in the fixtures carry no `movement_type`; they describe themselves with `action`
/// and free-text `context` instead.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PriceMovement {
    /// `HH:MM:SS`; `12:00:00` is often a placeholder.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Price.
    #[serde(default)]
    pub price_level: Option<f64>,
    /// e.g. `expansion_high`, `session_low`, `fpfvg_redelivery`.
    #[serde(default)]
    pub movement_type: Option<String>,
    /// `touch`, `delivery`, `break`, `sweep` on events without a movement type.
    #[serde(default)]
    pub action: Option<String>,
    /// Free text on events without a movement type.
    #[serde(default)]
    pub context: Option<String>,
    /// Relativity fields added by IRONFORGE's enhancement pass.
    #[serde(default)]
    pub normalized_price: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub pct_from_open: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub pct_from_high: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub pct_from_low: Option<f64>,
    /// Seconds.
    #[serde(default)]
    pub time_since_session_open: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub normalized_time: Option<f64>,
    /// Seconds; negative when the file's events are out of order.
    #[serde(default)]
    pub time_to_next_event: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub price_momentum: Option<f64>,
    /// See [`normalized_price`](Self::normalized_price).
    #[serde(default)]
    pub range_position: Option<f64>,
}

/// One entry of `session_liquidity_events`. Two shapes occur: `{intensity, price_level, impact_duration}` and
/// `{liquidity_type, target_level, magnitude, context}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LiquidityEvent {
    /// `HH:MM:SS`.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// e.g. `redelivery`, `rebalance`, `liquidity_sweep`, `level_break`.
    #[serde(default)]
    pub event_type: Option<String>,
    /// Price, when given; six events carry a placeholder `0`.
    #[serde(default)]
    pub price_level: Option<f64>,
    /// `0..1`.
    #[serde(default)]
    pub intensity: Option<f64>,
    /// Minutes.
    #[serde(default)]
    pub impact_duration: Option<f64>,
    /// `internal`, `fpfvg`, `cross_session`.
    #[serde(default)]
    pub liquidity_type: Option<String>,
    /// Free text naming the level.
    #[serde(default)]
    pub target_level: Option<String>,
    /// `low`, `medium`, `high`.
    #[serde(default)]
    pub magnitude: Option<String>,
    /// Free text; `generated_from_…` on events derived from price movements.
    #[serde(default)]
    pub context: Option<String>,
}

/// `contamination_analysis`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContaminationAnalysis {
    /// The higher-timeframe context.
    #[serde(default)]
    pub htf_contamination: Option<HtfContamination>,
}

/// `contamination_analysis.htf_contamination`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HtfContamination {
    /// `0..1`.
    #[serde(default)]
    pub htf_carryover_strength: Option<f64>,
    /// `0..1`.
    #[serde(default)]
    pub cross_session_inheritance: Option<f64>,
    /// Whether the session interacted with another one at once.
    #[serde(default)]
    pub immediate_cross_session_interaction: Option<bool>,
}

/// One entry of `phase_transitions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PhaseTransition {
    /// `expansion` or `consolidation`.
    #[serde(default)]
    pub phase_type: Option<String>,
    /// `HH:MM:SS`.
    #[serde(default)]
    pub start_time: Option<String>,
    /// `HH:MM:SS`.
    #[serde(default)]
    pub end_time: Option<String>,
}

/// `relativity_stats`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RelativityStats {
    /// Price.
    #[serde(default)]
    pub session_high: Option<f64>,
    /// Price.
    #[serde(default)]
    pub session_low: Option<f64>,
    /// Price.
    #[serde(default)]
    pub session_open: Option<f64>,
}

/// `energy_state`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EnergyState {
    /// `0..1`.
    #[serde(default)]
    pub energy_density: Option<f64>,
}

/// The schema variants found among the fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaVariant {
    /// The long form with `micro_timing_analysis` (19 fixtures).
    Full,
    /// The long form without `micro_timing_analysis` (10 fixtures).
    NoMicroTiming,
    /// The short form with top-level `htf_carryover_strength`, `energy_density`, `enhancement_info` (22 fixtures).
    Short,
    /// Anything else: long forms with extra sections, or with the short form's fields as well (6 fixtures).
    Mixed,
}

impl SchemaVariant {
    /// Every variant, in declaration order.
    pub const ALL: [SchemaVariant; 4] = [Self::Full, Self::NoMicroTiming, Self::Short, Self::Mixed];

    /// Lower-case name for logs and reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::NoMicroTiming => "no_micro_timing",
            Self::Short => "short",
            Self::Mixed => "mixed",
        }
    }
}

impl fmt::Display for SchemaVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SessionFile {
    /// Which schema variant the file follows, from the sections it holds.
    pub fn variant(&self) -> SchemaVariant {
        let long = self.behavioral_observations.is_some() || self.phase_transitions.is_some();
        let short_fields = self.htf_carryover_strength.is_some()
            && self.energy_density.is_some()
            && self.enhancement_info.is_some();
        let extras = self.fvg_analysis.is_some()
            || self.liquidity_analysis.is_some()
            || self.news_context.is_some()
            || self.enhanced_data.is_some();
        match (long, short_fields, extras) {
            (true, false, false) if self.micro_timing_analysis.is_some() => SchemaVariant::Full,
            (true, false, false) => SchemaVariant::NoMicroTiming,
            (false, true, false) => SchemaVariant::Short,
            _ => SchemaVariant::Mixed,
        }
    }

    /// The higher-timeframe carry-over strength: the decontaminated top-level value of the short variant when
    /// present, the one inside `contamination_analysis` otherwise.
    pub fn htf_carryover_strength(&self) -> Option<f64> {
        self.htf_carryover_strength.or_else(|| {
            self.htf_contamination()
                .and_then(|h| h.htf_carryover_strength)
        })
    }

    /// `contamination_analysis.htf_contamination`, if any.
    pub fn htf_contamination(&self) -> Option<&HtfContamination> {
        self.contamination_analysis
            .as_ref()
            .and_then(|c| c.htf_contamination.as_ref())
    }

    /// Whether the file carries higher-timeframe context, which switches node features from 45 to 51.
    pub fn has_htf_context(&self) -> bool {
        self.htf_contamination().is_some() || self.htf_carryover_strength.is_some()
    }

    /// Energy density: top-level (short variant) or from `energy_state`.
    pub fn energy_density(&self) -> Option<f64> {
        self.energy_density
            .or_else(|| self.energy_state.as_ref().and_then(|e| e.energy_density))
    }

    /// The session window in seconds since midnight, if both ends parse.
    pub fn window(&self) -> Option<Window> {
        let start = ClockTime::parse(self.session_metadata.session_start.as_deref()?)?;
        let end = ClockTime::parse(self.session_metadata.session_end.as_deref()?)?;
        Some(Window { start, end })
    }
}

/// Error parsing a session file.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// File name.
        file: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a session file.
    #[error("cannot parse {file}: {source}")]
    Json {
        /// File name.
        file: String,
        /// Cause, with line and column.
        source: serde_json::Error,
    },
}

/// Reads and parses one session file.
pub fn read_session(path: &Path) -> Result<SessionFile, ParseError> {
    let file = display_name(path);
    let text = std::fs::read_to_string(path).map_err(|source| ParseError::Read {
        file: file.clone(),
        source,
    })?;
    parse_session(&text).map_err(|source| ParseError::Json { file, source })
}

/// Parses the text of one session file.
pub fn parse_session(text: &str) -> Result<SessionFile, serde_json::Error> {
    serde_json::from_str(text)
}

/// The file name of a path, for messages.
pub fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A wall-clock time of day, in seconds since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(pub u32);

impl ClockTime {
    /// The placeholder IRONFORGE's legacy converter wrote where it had no time.
    pub const PLACEHOLDER: ClockTime = ClockTime(12 * 3600);

    /// Parses `HH:MM:SS` (hours 0..=23, minutes and seconds 0..=59).
    pub fn parse(text: &str) -> Option<ClockTime> {
        let mut parts = text.trim().split(':');
        let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let field = |p: &str, max: u32| -> Option<u32> {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok().filter(|v| *v <= max)
        };
        Some(ClockTime(
            field(h, 23)? * 3600 + field(m, 59)? * 60 + field(s, 59)?,
        ))
    }

    /// Seconds since midnight.
    pub const fn seconds(self) -> u32 {
        self.0
    }
}

/// A session window; `end` is inclusive (files give e.g. `09:30:00`..`11:59:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First second of the session.
    pub start: ClockTime,
    /// Last minute of the session.
    pub end: ClockTime,
}

impl Window {
    /// Whether the window runs past midnight (none of the fixtures does, but a session file may).
    pub fn wraps(self) -> bool {
        self.end < self.start
    }

    /// Whether a time of day lies in the window.
    pub fn contains(self, t: ClockTime) -> bool {
        if self.wraps() {
            t >= self.start || t <= self.end
        } else {
            t >= self.start && t <= self.end
        }
    }

    /// Seconds from the session start to `t`, on the session's own timeline: times before the start of a window
    /// that wraps past midnight belong to the next day.
    pub fn offset(self, t: ClockTime) -> i64 {
        let (t, start) = (i64::from(t.seconds()), i64::from(self.start.seconds()));
        if self.wraps() && t < start {
            t + 86_400 - start
        } else {
            t - start
        }
    }

    /// Length of the window in seconds (at least one, so ratios stay finite).
    pub fn length(self) -> i64 {
        self.offset(self.end).max(1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn clock_times_parse_strictly() {
        assert_eq!(
            ClockTime::parse("09:30:00"),
            Some(ClockTime(9 * 3600 + 30 * 60))
        );
        assert_eq!(ClockTime::parse("23:59:59"), Some(ClockTime(86_399)));
        assert_eq!(ClockTime::parse("12:00:00"), Some(ClockTime::PLACEHOLDER));
        for bad in [
            "24:00:00",
            "9:60:00",
            "ab:cd:ef",
            "09:30",
            "09:30:00:00",
            "",
            "-1:00:00",
        ] {
            assert_eq!(ClockTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_contain_their_ends_and_may_wrap() {
        let w = Window {
            start: ClockTime(100),
            end: ClockTime(200),
        };
        assert!(
            w.contains(ClockTime(100)) && w.contains(ClockTime(200)) && !w.contains(ClockTime(201))
        );
        let night = Window {
            start: ClockTime(82_800),
            end: ClockTime(3_600),
        };
        assert!(night.wraps() && night.contains(ClockTime(0)) && !night.contains(ClockTime(7_200)));
        assert_eq!(night.offset(ClockTime(0)), 3_600);
        assert_eq!(night.length(), 7_200);
    }

    #[test]
    fn a_minimal_file_parses_and_bad_ones_fail() {
        let file = parse_session(r#"{"session_metadata": {}}"#).unwrap();
        assert!(file.price_movements.is_empty());
        assert_eq!(file.variant(), SchemaVariant::Mixed);
        assert!(parse_session("{").is_err());
        assert!(
            parse_session(r#"{"price_movements": []}"#).is_err(),
            "metadata is required"
        );
        assert!(parse_session(r#"{"session_metadata": {}, "price_movements": 3}"#).is_err());
    }

    #[test]
    fn all_fixtures_parse_and_split_into_the_documented_variants() {
        let mut variants: BTreeMap<SchemaVariant, usize> = BTreeMap::new();
        let mut events = 0;
        for entry in std::fs::read_dir(crate::DEFAULT_SESSIONS_DIR).unwrap() {
            let path = entry.unwrap().path();
            let file = read_session(&path).unwrap_or_else(|e| panic!("{e}"));
            *variants.entry(file.variant()).or_default() += 1;
            events += file.price_movements.len() + file.session_liquidity_events.len();
            assert!(file.window().is_some(), "{}", path.display());
            assert!(file.has_htf_context(), "{}", path.display());
        }
        let expected = [
            (SchemaVariant::Full, 19),
            (SchemaVariant::NoMicroTiming, 10),
            (SchemaVariant::Short, 22),
            (SchemaVariant::Mixed, 6),
        ];
        assert_eq!(variants, BTreeMap::from(expected));
        assert_eq!(events, 2_111);
    }
}
