//! How the differential tests' properties draw their cases.

use proptest::test_runner::{Config, FailurePersistence, FileFailurePersistence, RngSeed};

/// The seed of every run that does not ask for a random one.
const SEED: u64 = 0x1f0e_c0de_5eed;

/// `cases` cases drawn from a fixed seed, so that every run tests the same ones and a failure is the
/// change's, not the draw's; with `IRONFORGE_PROPTEST_RANDOM=1`, from a random seed, for longer runs that
/// look for new failures. proptest's own `PROPTEST_CASES`, `PROPTEST_RNG_SEED` and
/// `PROPTEST_DISABLE_FAILURE_PERSISTENCE` still take precedence.
///
/// A failure is saved next to the test's source (see [`kept_next_to_source`]) and replayed first by every
/// later run: commit the file with the fix.
pub(crate) fn config(cases: u32) -> Config {
    let defaults = Config::default();
    let random = std::env::var("IRONFORGE_PROPTEST_RANDOM").is_ok_and(|value| value == "1");
    let rng_seed = match defaults.rng_seed {
        RngSeed::Random if !random => RngSeed::Fixed(SEED),
        given => given,
    };
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        defaults.cases
    } else {
        cases
    };
    kept_next_to_source(Config {
        cases,
        rng_seed,
        ..defaults
    })
}

/// `config` with its failures kept next to the test's source, in `tests/it/<module>.proptest-regressions`,
/// where the checked-in ones are. proptest's default keeps them in a `proptest-regressions` folder beside
/// the nearest folder above the source with a `lib.rs` or `main.rs`, which for this binary is `tests/`.
pub(crate) fn kept_next_to_source(config: Config) -> Config {
    let failure_persistence = config.failure_persistence.as_ref().map(|_| {
        Box::new(FileFailurePersistence::WithSource("proptest-regressions"))
            as Box<dyn FailurePersistence>
    });
    Config {
        failure_persistence,
        ..config
    }
}
