//! Higher-timeframe (HTF) context features f45..f50, after IRONFORGE's `HTFContextProcessor`.
//!
//! The session's events are grouped into M15 and H1 candles aligned to the clock. Each candle gets a synthetic
//! volume (`0.5·events + 0.4·Σ|Δprice| + 0.1·liquidity events`), a z-score of that volume against the candles
//! before it (once ten exist) and a regime code from percentiles (0 consolidation, 1 transition, 2 expansion).
//! An event then reads these figures from the **last closed** candle of each timeframe: the candle that ended at
//! or before the event. Reading the candle the event lies in would leak the rest of that candle into the event's
//! features; every such read is counted in [`HtfContext::open_candle_reads`], which is normally 0 and is what the
//! HTF contract checks.
//!
//! | feature | meaning |
//! |---|---|
//! | f45 | synthetic-volume z-score of the last closed M15 candle (NaN with fewer than ten earlier candles) |
//! | f46 | the same for H1 |
//! | f47 | position of the event within its M15 candle, 0..1 (clock only, no candle data) |
//! | f48 | the same for H1 |
//! | f49 | distance of the price from the mid of the closed H1 candles' range, in ranges (NaN before one closes) |
//! | f50 | regime code of the last closed H1 candle (1 when unknown) |

use std::collections::BTreeMap;

/// Candle length of M15, seconds.
pub const M15: i64 = 15 * 60;
/// Candle length of H1, seconds.
pub const H1: i64 = 60 * 60;

/// Candles a z-score or regime needs behind it.
const MIN_HISTORY: usize = 10;
/// Candles the z-score and percentiles look back over.
const LOOKBACK: usize = 30;

/// One candle built from the events inside it.
#[derive(Debug, Clone, PartialEq)]
struct Candle {
    index: i64,
    end: i64,
    z_score: Option<f64>,
    regime: u8,
    high: f64,
    low: f64,
}

/// The candles of one timeframe, in time order.
#[derive(Debug, Clone)]
struct Timeframe {
    length: i64,
    candles: Vec<Candle>,
}

impl Timeframe {
    fn build(length: i64, points: &[HtfPoint]) -> Timeframe {
        let mut groups: BTreeMap<i64, Vec<&HtfPoint>> = BTreeMap::new();
        for p in points {
            groups.entry(p.t.div_euclid(length)).or_default().push(p);
        }

        let mut candles = Vec::with_capacity(groups.len());
        let mut volumes: Vec<f64> = Vec::new();
        let mut volatilities: Vec<f64> = Vec::new();
        for (index, members) in groups {
            let volatility: f64 = members
                .windows(2)
                .map(|w| (w[1].price - w[0].price).abs())
                .sum();
            let liquidity = members.iter().filter(|p| p.liquidity).count() as f64;
            let volume = 0.5 * members.len() as f64 + 0.4 * volatility + 0.1 * liquidity;
            let z_score = z_score(volume, &volumes);
            let regime = regime(volume, volatility, &volumes, &volatilities);
            let high = members
                .iter()
                .map(|p| p.price)
                .fold(f64::NEG_INFINITY, f64::max);
            let low = members
                .iter()
                .map(|p| p.price)
                .fold(f64::INFINITY, f64::min);
            candles.push(Candle {
                index,
                end: (index + 1) * length,
                z_score,
                regime,
                high,
                low,
            });
            volumes.push(volume);
            volatilities.push(volatility);
        }
        Timeframe { length, candles }
    }

    /// Position of the candle with `index`, if one was built.
    fn position(&self, index: i64) -> Option<usize> {
        self.candles.binary_search_by_key(&index, |c| c.index).ok()
    }
}

fn z_score(value: f64, history: &[f64]) -> Option<f64> {
    if history.len() < MIN_HISTORY {
        return None;
    }
    let recent = &history[history.len().saturating_sub(LOOKBACK)..];
    let n = recent.len() as f64;
    let mean = recent.iter().sum::<f64>() / n;
    let std = (recent.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    Some(if std == 0.0 {
        0.0
    } else {
        (value - mean) / std
    })
}

fn regime(volume: f64, volatility: f64, volumes: &[f64], volatilities: &[f64]) -> u8 {
    if volumes.len() < MIN_HISTORY {
        return 1;
    }
    let percentile = |v: f64, history: &[f64]| {
        let recent = &history[history.len().saturating_sub(LOOKBACK)..];
        recent.iter().filter(|h| **h < v).count() as f64 / recent.len() as f64
    };
    let (sv, vol) = (
        percentile(volume, volumes),
        percentile(volatility, volatilities),
    );
    if sv >= 0.7 || vol >= 0.7 {
        2
    } else if sv <= 0.3 && vol <= 0.3 {
        0
    } else {
        1
    }
}

/// One event as the HTF context sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HtfPoint {
    /// Seconds since midnight of the session's date (beyond 86,400 for windows that run past midnight).
    pub t: i64,
    /// Price.
    pub price: f64,
    /// Whether it is a liquidity event.
    pub liquidity: bool,
}

/// HTF context of one session.
#[derive(Debug, Clone)]
pub struct HtfContext {
    m15: Timeframe,
    h1: Timeframe,
    read_open_candle: bool,
    open_candle_reads: u64,
    reads: u64,
}

impl HtfContext {
    /// Builds the candles from the session's events (in time order). `read_open_candle` breaks the HTF rule on
    /// purpose: features are then read from the candle each event lies in (fault injection).
    pub fn new(points: &[HtfPoint], read_open_candle: bool) -> HtfContext {
        HtfContext {
            m15: Timeframe::build(M15, points),
            h1: Timeframe::build(H1, points),
            read_open_candle,
            open_candle_reads: 0,
            reads: 0,
        }
    }

    /// Features f45..f50 for an event at `t` with `price`.
    pub fn features(&mut self, t: i64, price: f64) -> [f32; 6] {
        let m15 = self.read(Tf::M15, t);
        let h1 = self.read(Tf::H1, t);
        let h1_candles = &self.h1.candles;
        let daily_mid_distance = h1.and_then(|pos| {
            let seen = &h1_candles[..=pos];
            let high = seen
                .iter()
                .map(|c| c.high)
                .fold(f64::NEG_INFINITY, f64::max);
            let low = seen.iter().map(|c| c.low).fold(f64::INFINITY, f64::min);
            (high > low).then(|| (price - (high + low) / 2.0) / (high - low))
        });
        let nan = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        [
            nan(m15.and_then(|pos| self.m15.candles[pos].z_score)),
            nan(h1.and_then(|pos| h1_candles[pos].z_score)),
            bar_position(t, M15),
            bar_position(t, H1),
            nan(daily_mid_distance),
            h1.map_or(1.0, |pos| f32::from(h1_candles[pos].regime)),
        ]
    }

    /// Looks up the candle an event at `t` may read, counting the read and whether that candle was still open.
    fn read(&mut self, tf: Tf, t: i64) -> Option<usize> {
        let frame = match tf {
            Tf::M15 => &self.m15,
            Tf::H1 => &self.h1,
        };
        let current = t.div_euclid(frame.length);
        let index = if self.read_open_candle {
            current
        } else {
            current - 1
        };
        let pos = frame.position(index)?;
        self.reads += 1;
        if frame.candles[pos].end > t {
            self.open_candle_reads += 1;
        }
        Some(pos)
    }

    /// Reads from a candle that had not closed at the reading event's time.
    pub fn open_candle_reads(&self) -> u64 {
        self.open_candle_reads
    }

    /// All candle reads.
    pub fn reads(&self) -> u64 {
        self.reads
    }
}

#[derive(Debug, Clone, Copy)]
enum Tf {
    M15,
    H1,
}

fn bar_position(t: i64, length: i64) -> f32 {
    (t.rem_euclid(length) as f64 / length as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(times: &[i64]) -> Vec<HtfPoint> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| HtfPoint {
                t,
                price: 100.0 + i as f64,
                liquidity: i % 2 == 1,
            })
            .collect()
    }

    #[test]
    fn events_read_only_closed_candles() {
        let pts = points(&[0, 60, 900, 1_000, 3_600, 3_700]);
        let mut ctx = HtfContext::new(&pts, false);
        for p in &pts {
            ctx.features(p.t, p.price);
        }
        assert_eq!(ctx.open_candle_reads(), 0);
        // M15 reads at 900 and 1,000 (candle 0); H1 read at 3,600 and 3,700 (candle 0).
        assert_eq!(ctx.reads(), 4);
    }

    #[test]
    fn reading_the_current_candle_is_counted() {
        let pts = points(&[0, 60, 900]);
        let mut ctx = HtfContext::new(&pts, true);
        for p in &pts {
            ctx.features(p.t, p.price);
        }
        assert_eq!(
            ctx.open_candle_reads(),
            6,
            "every event reads its own M15 and H1 candle"
        );
    }

    #[test]
    fn features_have_their_documented_shape() {
        let pts = points(&[0, 3_600, 3_700]);
        let mut ctx = HtfContext::new(&pts, false);
        let f = ctx.features(3_700, 50.0);
        assert!(
            f[0].is_nan() && f[1].is_nan(),
            "too little history for z-scores: {f:?}"
        );
        assert!((f[2] - 100.0 / 900.0).abs() < 1e-6);
        assert!((f[3] - 100.0 / 3_600.0).abs() < 1e-6);
        assert!(f[4].is_nan(), "a single-price candle has no range");
        assert_eq!(f[5], 1.0);
    }

    #[test]
    fn z_scores_appear_after_ten_candles() {
        let times: Vec<i64> = (0..12).map(|i| i * M15).collect();
        let pts = points(&times);
        let mut ctx = HtfContext::new(&pts, false);
        assert!(ctx.features(11 * M15, 0.0)[0].is_finite());
        assert!(ctx.features(5 * M15, 0.0)[0].is_nan());
    }
}
