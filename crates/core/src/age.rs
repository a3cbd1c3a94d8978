//! A span of time as people write it in sluice's configuration and on its command line: a
//! whole number and one unit, `30s`, `15m`, `1h`, `2d`. One form only, so that the CDK app
//! (`cdk/lib/config.ts`, which reads the same `sluice.toml`) parses exactly what Rust does.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds, minutes, hours or days; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Age {
    seconds: u64,
    /// The unit it was written in, so it prints back as written (`90m`, not `5400s`).
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3600,
            Unit::Days => 86_400,
        }
    }

    fn suffix(self) -> char {
        match self {
            Unit::Seconds => 's',
            Unit::Minutes => 'm',
            Unit::Hours => 'h',
            Unit::Days => 'd',
        }
    }
}

/// Why a text is not an [`Age`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid age {text:?}: {reason}")]
pub struct AgeError {
    pub text: String,
    pub reason: &'static str,
}

impl Age {
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    pub fn as_secs(self) -> u64 {
        self.seconds
    }

    pub fn is_zero(self) -> bool {
        self.seconds == 0
    }
}

impl FromStr for Age {
    type Err = AgeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason| AgeError {
            text: text.to_string(),
            reason,
        };
        const FORM: &str = "expected a whole number and a unit, s, m, h or d (30s, 15m, 1h, 2d)";
        let trimmed = text.trim();
        let Some(last) = trimmed.chars().last() else {
            return Err(bad(FORM));
        };
        let unit = match last {
            's' => Unit::Seconds,
            'm' => Unit::Minutes,
            'h' => Unit::Hours,
            'd' => Unit::Days,
            _ => return Err(bad(FORM)),
        };
        let number = &trimmed[..trimmed.len() - 1];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(FORM));
        }
        let n: u64 = number.parse().map_err(|_| bad("too large"))?;
        let seconds = n
            .checked_mul(unit.seconds())
            .ok_or_else(|| bad("too large"))?;
        Ok(Age { seconds, unit })
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.seconds / self.unit.seconds(),
            self.unit.suffix()
        )
    }
}

impl Serialize for Age {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `elapsed` as a person reads it: the largest unit that keeps it a whole number or nearly
/// (`45s`, `12m`, `3h 5m`, `2d 4h`).
pub fn human(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 if s % 3600 / 60 == 0 => format!("{}h", s / 3600),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ if s % 86_400 / 3600 == 0 => format!("{}d", s / 86_400),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_form_parses_and_prints_back_as_written() {
        for (text, seconds) in [
            ("30s", 30),
            ("15m", 900),
            ("90m", 5400),
            ("1h", 3600),
            ("2d", 172_800),
            ("0s", 0),
        ] {
            let age: Age = text.parse().unwrap();
            assert_eq!(age.as_secs(), seconds, "{text}");
            assert_eq!(age.to_string(), text);
        }
        assert_eq!(" 1h ".parse::<Age>().unwrap().as_secs(), 3600);
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for text in [
            "", "h", "1", "1x", "1.5h", "-1h", "1h30m", "1 h", "1H", "²h", "1é",
        ] {
            let e = text.parse::<Age>().unwrap_err();
            assert!(e.to_string().contains("30s, 15m, 1h, 2d"), "{text:?}: {e}");
        }
        let e = "99999999999999999999d".parse::<Age>().unwrap_err();
        assert_eq!(e.reason, "too large");
        let e = format!("{}d", u64::MAX / 10).parse::<Age>().unwrap_err();
        assert_eq!(e.reason, "too large");
    }

    #[test]
    fn it_reads_and_writes_as_a_string_in_toml() {
        #[derive(Debug, Serialize, Deserialize, PartialEq)]
        struct T {
            age: Age,
        }
        let t: T = toml::from_str("age = \"45m\"").unwrap();
        assert_eq!(t.age.as_duration(), Duration::from_secs(2700));
        assert_eq!(toml::to_string(&t).unwrap().trim(), "age = \"45m\"");
        let e = toml::from_str::<T>("age = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid age \"soon\""), "{e}");
        assert!(toml::from_str::<T>("age = 45").is_err());
    }

    #[test]
    fn elapsed_time_reads_in_the_largest_fitting_unit() {
        let d = Duration::from_secs;
        assert_eq!(human(d(0)), "0s");
        assert_eq!(human(d(59)), "59s");
        assert_eq!(human(d(61)), "1m");
        assert_eq!(human(d(3600)), "1h");
        assert_eq!(human(d(3600 + 5 * 60 + 7)), "1h 5m");
        assert_eq!(human(d(2 * 86_400)), "2d");
        assert_eq!(human(d(2 * 86_400 + 4 * 3600)), "2d 4h");
    }
}
