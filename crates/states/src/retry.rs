//! Retry delays: `IntervalSeconds × BackoffRate^n`, capped by `MaxDelaySeconds`, with `FULL`
//! jitter drawing uniformly between zero and that (the developer guide's "Retrying after an
//! error").

use std::time::Duration;

use crate::model::{Jitter, Retrier};

/// The delay before retry number `retry` (0 for the first retry) under `r`. `unit` is a
/// number in [0, 1) that FULL jitter scales the delay by; it is a parameter so tests can pin it.
pub fn delay(r: &Retrier, retry: u32, unit: f64) -> Duration {
    let base = r.interval_seconds as f64 * r.backoff_rate.powi(retry as i32);
    let capped = match r.max_delay_seconds {
        Some(max) => base.min(max as f64),
        None => base,
    };
    // A retry delay beyond a year is a definition mistake; cap it rather than overflow.
    let capped = capped.clamp(0.0, 31_536_000.0);
    let seconds = match r.jitter {
        Jitter::None => capped,
        Jitter::Full => capped * unit.clamp(0.0, 1.0),
    };
    Duration::from_secs_f64(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Developer guide, "Retrying after an error", retrier fields: IntervalSeconds 3,
    // BackoffRate 2 gives 3, 6, 12 s; MaxDelaySeconds caps it.
    #[test]
    fn exponential_backoff_with_cap() {
        let r = Retrier {
            interval_seconds: 3,
            backoff_rate: 2.0,
            max_delay_seconds: Some(10),
            ..Retrier::default()
        };
        let d: Vec<_> = (0..4).map(|n| delay(&r, n, 0.5).as_secs()).collect();
        assert_eq!(d, [3, 6, 10, 10]);
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_backoff() {
        let r = Retrier {
            interval_seconds: 4,
            backoff_rate: 2.0,
            jitter: Jitter::Full,
            ..Retrier::default()
        };
        assert_eq!(delay(&r, 1, 0.0), Duration::ZERO);
        assert_eq!(delay(&r, 1, 0.25), Duration::from_secs(2));
        assert!(delay(&r, 1, 0.999) < Duration::from_secs(8));
    }
}
