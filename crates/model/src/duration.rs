//! A duration written the way people write them in config: `500ms`, `29s`, `5m`, `1h`, `7d`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration parsed from `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`,
/// or from a bare integer number of seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

// === impl Duration ===

impl Duration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }

    /// The standard-library value.
    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }

    /// Parses `<number><unit>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n: u64 =
            digits.parse().map_err(|_| format!("invalid duration `{text}`: expected e.g. `500ms`, `30s`, `5m`"))?;
        let ms = match unit {
            "ms" => Some(n),
            "" | "s" => n.checked_mul(1000),
            "m" => n.checked_mul(60_000),
            "h" => n.checked_mul(3_600_000),
            "d" => n.checked_mul(86_400_000),
            _ => return Err(format!("invalid duration unit `{unit}` in `{text}`: use ms, s, m, h or d")),
        };
        ms.map(Self::from_millis).ok_or_else(|| format!("duration `{text}` is too large"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| de::Error::custom("invalid duration: expected e.g. `500ms`, `30s`, `5m` or seconds"))?
        {
            Raw::Secs(s) => Ok(Self::from_secs(s)),
            Raw::Text(t) => Self::parse(&t).map_err(de::Error::custom),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A duration: `500ms`, `30s`, `5m`, `1h`, or a number of seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)?$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Duration;

    #[test]
    fn parses_units_and_refuses_garbage() {
        assert_eq!(Duration::parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(Duration::parse("29s"), Ok(Duration::from_secs(29)));
        assert_eq!(Duration::parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(Duration::parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(Duration::parse("7"), Ok(Duration::from_secs(7)));
        assert!(Duration::parse("s").is_err());
        assert!(Duration::parse("5 days").is_err());
        assert!(Duration::parse("99999999999999999999h").is_err());
        assert_eq!(Duration::from_millis(1500).to_string(), "1500ms");
    }
}
