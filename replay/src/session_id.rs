//! Session ids, derived from file names exactly as IRONFORGE's converter derives them.
//!
//! IRONFORGE strips the `enhanced_rel_` prefix, splits the rest on `_`, takes the first word as the session type
//! and the last three words as the date. The rule is reproduced here on purpose, flaws included:
//!
//! - `NY_AM_…` and `NY_PM_…` both become type `NY`, so an AM and a PM session of the same day share one id
//!   (five dates in the fixtures). The replay keeps the collision: duplicate session ids within one run are the
//!   first real defect the monitor is meant to catch, and tidying them here would hide it.
//! - `NYAM_Lvl-1_2025_08_07_FRESH` has `08`, `07`, `FRESH` as its last three words, which is no date. IRONFORGE
//!   drops the session. The replay keeps it and reports its id as-is (the file stem without the prefix), marked
//!   [`IdDerivation::AsIs`], so the session is still processed and visible.

use std::collections::BTreeMap;
use std::fmt;

/// The prefix IRONFORGE's enhanced session files carry.
pub const ENHANCED_REL_PREFIX: &str = "enhanced_rel_";
/// The older prefix IRONFORGE also accepts.
pub const ENHANCED_PREFIX: &str = "enhanced_";

/// How a session id was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdDerivation {
    /// IRONFORGE's rule succeeded: `<TYPE>_<YYYY-MM-DD>`.
    Ironforge {
        /// The first `_`-separated word after the prefix.
        session_type: String,
        /// The date assembled from the last three words.
        date: String,
    },
    /// The reference run's rule ([`derive_distinct_session_id`]): every word of the session type, and the date
    /// wherever it stands after the level word.
    Distinct {
        /// The words before the level word (`Lvl-…`), joined by `_`.
        session_type: String,
        /// The first three consecutive words after the level word that form a date.
        date: String,
    },
    /// IRONFORGE's rule fails for this name (IRONFORGE would skip the file); the id is the stem without its prefix.
    AsIs {
        /// Why IRONFORGE's rule does not apply.
        reason: String,
    },
}

/// A session id and how it was derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId {
    /// The id as it appears on spans, e.g. `NY_2025-08-05`.
    pub id: String,
    /// Whether IRONFORGE's rule produced it.
    pub derivation: IdDerivation,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Derives the session id of a session file from its name (with or without the `.json` extension and any
/// directory part).
pub fn derive_session_id(file_name: &str) -> SessionId {
    let rest = match name_without_prefix(file_name) {
        Ok(rest) => rest,
        Err(stem) => return as_is(stem, "the name lacks the `enhanced_` prefix"),
    };

    let parts: Vec<&str> = rest.split('_').collect();
    if parts.len() < 4 {
        return as_is(rest, "fewer than four `_`-separated words");
    }
    let session_type = parts[0];
    let [year, month, day] = [
        parts[parts.len() - 3],
        parts[parts.len() - 2],
        parts[parts.len() - 1],
    ];
    match valid_date(year, month, day) {
        Some(date) => SessionId {
            id: format!("{session_type}_{date}"),
            derivation: IdDerivation::Ironforge {
                session_type: session_type.to_owned(),
                date,
            },
        },
        None => as_is(
            rest,
            &format!("`{year}-{month}-{day}` is not a date (YYYY-MM-DD)"),
        ),
    }
}

/// The file name without directory, `.json` and `enhanced_(rel_)` prefix; `Err(stem)` when it has no prefix.
fn name_without_prefix(file_name: &str) -> Result<&str, &str> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base.strip_suffix(".json").unwrap_or(base);
    stem.strip_prefix(ENHANCED_REL_PREFIX)
        .or_else(|| stem.strip_prefix(ENHANCED_PREFIX))
        .ok_or(stem)
}

/// The session id of the reference run, which repairs two defects of IRONFORGE's rule:
///
/// - the session type keeps every word before the level word, so `NY_AM_…` and `NY_PM_…` of one day become
///   `NY_AM_2025-08-05` and `NY_PM_2025-08-05` instead of one `NY_2025-08-05` twice (the `unique_session_ids`
///   and `sessions_complete` contracts);
/// - the date is the first three consecutive words after the level word that form one, so
///   `NYAM_Lvl-1_2025_08_07_FRESH` becomes `NYAM_2025-08-07` instead of being skipped.
///
/// A name without a level word or a date falls back to [`derive_session_id`].
pub fn derive_distinct_session_id(file_name: &str) -> SessionId {
    let Ok(rest) = name_without_prefix(file_name) else {
        return derive_session_id(file_name);
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let Some(level) = parts.iter().position(|p| p.starts_with(LEVEL_WORD)) else {
        return derive_session_id(file_name);
    };
    let date = parts
        .get(level + 1..)
        .unwrap_or_default()
        .windows(3)
        .find_map(|w| valid_date(w[0], w[1], w[2]));
    match date {
        Some(date) if level > 0 => {
            let session_type = parts[..level].join("_");
            SessionId {
                id: format!("{session_type}_{date}"),
                derivation: IdDerivation::Distinct { session_type, date },
            }
        }
        _ => derive_session_id(file_name),
    }
}

/// The word that separates the session type from the date in the files' names, as in `NY_AM_Lvl-1_2025_08_05`.
const LEVEL_WORD: &str = "Lvl";

fn as_is(id: &str, reason: &str) -> SessionId {
    SessionId {
        id: id.to_owned(),
        derivation: IdDerivation::AsIs {
            reason: reason.to_owned(),
        },
    }
}

/// The same check as Python's `strptime(date, "%Y-%m-%d")` for the shapes that occur in file names: a four-digit
/// year and a month and day that exist (leap years included).
fn valid_date(year: &str, month: &str, day: &str) -> Option<String> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4
        || !all_digits(year)
        || !all_digits(month)
        || !all_digits(day)
        || month.len() > 2
        || day.len() > 2
    {
        return None;
    }
    let y: u32 = year.parse().ok()?;
    let m: u32 = month.parse().ok()?;
    let d: u32 = day.parse().ok()?;
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month)
        .contains(&d)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// Ids that occur more than once, with how often, in id order.
pub fn duplicate_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(id).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(id, n)| (id.to_owned(), n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_session_types_keep_their_name() {
        let id = derive_session_id("enhanced_rel_LONDON_Lvl-1_2025_07_24.json");
        assert_eq!(id.id, "LONDON_2025-07-24");
        assert_eq!(
            id.derivation,
            IdDerivation::Ironforge {
                session_type: "LONDON".into(),
                date: "2025-07-24".into()
            }
        );
    }

    #[test]
    fn ny_am_and_ny_pm_collide_on_the_same_date() {
        let am = derive_session_id("enhanced_rel_NY_AM_Lvl-1_2025_08_05.json");
        let pm = derive_session_id("enhanced_rel_NY_PM_Lvl-1_2025_08_05.json");
        assert_eq!(am.id, "NY_2025-08-05");
        assert_eq!(pm.id, "NY_2025-08-05");
        assert_eq!(
            duplicate_ids([am.id.as_str(), pm.id.as_str()]),
            vec![("NY_2025-08-05".to_owned(), 2)]
        );
    }

    #[test]
    fn nyam_and_nypm_without_underscore_stay_apart() {
        assert_eq!(
            derive_session_id("enhanced_rel_NYAM_Lvl-1_2025_08_06.json").id,
            "NYAM_2025-08-06"
        );
        assert_eq!(
            derive_session_id("enhanced_rel_NYPM_Lvl-1_2025_08_06.json").id,
            "NYPM_2025-08-06"
        );
    }

    #[test]
    fn distinct_ids_keep_am_and_pm_apart_and_find_the_fresh_date() {
        let distinct = |name: &str| derive_distinct_session_id(name).id;
        assert_eq!(
            distinct("enhanced_rel_NY_AM_Lvl-1_2025_08_05.json"),
            "NY_AM_2025-08-05"
        );
        assert_eq!(
            distinct("enhanced_rel_NY_PM_Lvl-1_2025_08_05.json"),
            "NY_PM_2025-08-05"
        );
        assert_eq!(
            distinct("enhanced_rel_NYAM_Lvl-1_2025_08_07_FRESH.json"),
            "NYAM_2025-08-07"
        );
        assert_eq!(
            distinct("enhanced_rel_LONDON_Lvl-1_2025_07_24.json"),
            "LONDON_2025-07-24"
        );
        assert_eq!(distinct("notes.json"), "notes");
        assert_eq!(
            distinct("enhanced_rel_Lvl-1_2025_07_24.json"),
            "Lvl-1_2025-07-24"
        );
        let dir = std::path::Path::new(crate::DEFAULT_SESSIONS_DIR);
        let ids: Vec<SessionId> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| derive_distinct_session_id(&e.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(ids.len(), 57);
        assert_eq!(duplicate_ids(ids.iter().map(|i| i.id.as_str())), []);
        assert!(
            ids.iter()
                .all(|i| matches!(i.derivation, IdDerivation::Distinct { .. })),
            "{ids:?}"
        );
    }

    #[test]
    fn the_fresh_file_is_reported_as_is() {
        let id = derive_session_id("enhanced_rel_NYAM_Lvl-1_2025_08_07_FRESH.json");
        assert_eq!(id.id, "NYAM_Lvl-1_2025_08_07_FRESH");
        assert!(matches!(id.derivation, IdDerivation::AsIs { .. }), "{id:?}");
    }

    #[test]
    fn directories_and_missing_extensions_are_tolerated() {
        assert_eq!(
            derive_session_id("/a/b/enhanced_rel_ASIA_Lvl-1_2025_07_24.json").id,
            "ASIA_2025-07-24"
        );
        assert_eq!(
            derive_session_id("enhanced_rel_ASIA_Lvl-1_2025_07_24").id,
            "ASIA_2025-07-24"
        );
        assert_eq!(
            derive_session_id("enhanced_ASIA_Lvl-1_2025_07_24.json").id,
            "ASIA_2025-07-24"
        );
    }

    #[test]
    fn impossible_dates_and_foreign_names_do_not_panic() {
        assert!(matches!(
            derive_session_id("enhanced_rel_ASIA_Lvl-1_2025_02_30.json").derivation,
            IdDerivation::AsIs { .. }
        ));
        assert!(matches!(
            derive_session_id("notes.json").derivation,
            IdDerivation::AsIs { .. }
        ));
        assert!(matches!(
            derive_session_id("enhanced_rel_.json").derivation,
            IdDerivation::AsIs { .. }
        ));
        assert_eq!(
            derive_session_id("enhanced_rel_X_Lvl-1_2024_02_29.json").id,
            "X_2024-02-29"
        );
    }

    #[test]
    fn all_fixture_names_give_five_collisions_and_one_as_is() {
        let dir = std::path::Path::new(crate::DEFAULT_SESSIONS_DIR);
        let ids: Vec<SessionId> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| derive_session_id(&e.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(ids.len(), 57);
        let dups = duplicate_ids(ids.iter().map(|i| i.id.as_str()));
        let names: Vec<&str> = dups.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            names,
            [
                "NY_2025-07-28",
                "NY_2025-07-29",
                "NY_2025-07-30",
                "NY_2025-08-04",
                "NY_2025-08-05"
            ]
        );
        assert!(dups.iter().all(|&(_, n)| n == 2));
        let as_is: Vec<&str> = ids
            .iter()
            .filter(|i| matches!(i.derivation, IdDerivation::AsIs { .. }))
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(as_is, ["NYAM_Lvl-1_2025_08_07_FRESH"]);
    }
}
