//! Serde helpers for AWS JSON-protocol timestamps: a JSON number of seconds since the Unix
//! epoch with a fractional part (millisecond precision), e.g. `1718000000.123`.
//!
//! Use `#[serde(with = "timestamp")]` on a `DateTime<Utc>` and
//! `#[serde(default, with = "timestamp::option", skip_serializing_if = "Option::is_none")]`
//! on an `Option<DateTime<Utc>>`. Deserialising accepts integers and floats.

use chrono::{DateTime, Utc};
use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

/// Epoch seconds with millisecond precision, as AWS sends them.
pub fn to_epoch_seconds(t: &DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The instant `secs` seconds after the Unix epoch, if it is finite and in chrono's range.
pub fn from_epoch_seconds(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    let millis = (secs * 1000.0).round();
    if millis.abs() > 8.64e18 {
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

/// Serialise a timestamp as epoch seconds.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_epoch_seconds(t))
}

/// Deserialise a timestamp from epoch seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let secs = f64::deserialize(d)?;
    from_epoch_seconds(secs)
        .ok_or_else(|| D::Error::custom(format!("timestamp {secs} is out of range")))
}

/// The same encoding for `Option<DateTime<Utc>>`; `null` reads as `None`.
pub mod option {
    use super::*;

    /// Serialise an optional timestamp as epoch seconds (or `null`).
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_f64(to_epoch_seconds(t)),
            None => s.serialize_none(),
        }
    }

    /// Deserialise an optional timestamp from epoch seconds or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(secs) => from_epoch_seconds(secs)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("timestamp {secs} is out of range"))),
        }
    }
}
