//! A size in bytes as people write it in sluice's configuration and on its command line:
//! plain bytes (`1048576`) or a whole number and a unit, `512k`, `256MB`, `1GiB`. Units are
//! binary whatever their spelling (`k`, `KB` and `KiB` are all 1024 bytes; `M`, `MB`, `MiB`
//! 1024²; `G`, `GB`, `GiB` 1024³; `T`, `TB`, `TiB` 1024⁴), as Iceberg's and most storage
//! engines' size settings mean them; case does not matter. Zero, negative and fractional
//! sizes, and unknown units, are errors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A positive number of bytes; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

/// Why a text is not a [`ByteSize`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {text:?}: {reason}")]
pub struct SizeError {
    pub text: String,
    pub reason: &'static str,
}

const FORM: &str = "expected a positive whole number of bytes, or one and a unit: k, MB, GiB \
                    (512k, 256MB, 1GiB; units are binary)";

impl ByteSize {
    /// A size of `bytes`; `None` for zero.
    pub fn new(bytes: u64) -> Option<Self> {
        (bytes > 0).then_some(ByteSize(bytes))
    }

    /// `n` MiB (at least one).
    pub const fn mib(n: u32) -> Self {
        let n = if n == 0 { 1 } else { n as u64 };
        ByteSize(n << 20)
    }

    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason| SizeError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (digits, unit) = trimmed.split_at(split);
        if digits.is_empty() {
            return Err(bad(FORM));
        }
        let number: u64 = digits.parse().map_err(|_| bad("too large"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return Err(bad(FORM)),
        };
        let bytes = number
            .checked_mul(1 << shift)
            .ok_or_else(|| bad("too large"))?;
        ByteSize::new(bytes).ok_or_else(|| bad("must be above zero"))
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit that divides it (`256MiB`), else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    /// A string in the module's form, or an integer of bytes.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Bytes(i64),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Bytes(n) => u64::try_from(n)
                .ok()
                .and_then(ByteSize::new)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid size {n}: {FORM}"))),
            Form::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Result<u64, SizeError> {
        text.parse::<ByteSize>().map(ByteSize::bytes)
    }

    #[test]
    fn plain_bytes_and_binary_units_in_any_spelling() {
        assert_eq!(size("1048576").unwrap(), 1 << 20);
        assert_eq!(size("512k").unwrap(), 512 << 10);
        assert_eq!(size("256MB").unwrap(), 256 << 20);
        assert_eq!(size("256 mb").unwrap(), 256 << 20);
        assert_eq!(size("1GiB").unwrap(), 1 << 30);
        assert_eq!(size("2T").unwrap(), 2 << 40);
    }

    #[test]
    fn zero_negative_fractions_and_unknown_units_are_refused() {
        for text in [
            "0",
            "0MB",
            "-5MB",
            "1.5GB",
            "12 parsecs",
            "MB",
            "",
            "99999999999999T",
        ] {
            assert!(size(text).is_err(), "{text}");
        }
        assert!(size("0").unwrap_err().to_string().contains("above zero"));
        assert!(size("5x")
            .unwrap_err()
            .to_string()
            .contains("512k, 256MB, 1GiB"));
    }

    #[test]
    fn prints_in_the_largest_unit_that_divides_it() {
        assert_eq!(ByteSize(256 << 20).to_string(), "256MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        assert_eq!(ByteSize(3 << 10).to_string(), "3KiB");
    }

    #[test]
    fn config_takes_a_string_or_an_integer() {
        #[derive(Deserialize)]
        struct T {
            s: ByteSize,
        }
        let t: T = toml::from_str("s = \"1GiB\"").unwrap();
        assert_eq!(t.s.bytes(), 1 << 30);
        let t: T = toml::from_str("s = 4096").unwrap();
        assert_eq!(t.s.bytes(), 4096);
        assert!(toml::from_str::<T>("s = 0").is_err());
        assert!(toml::from_str::<T>("s = -1").is_err());
    }
}
