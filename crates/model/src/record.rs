//! The persisted form of every record: a small envelope carrying the record kind and a
//! format version, so stored data can be migrated when a type changes.
//!
//! `{"kind":"cluster","v":1,"data":{...}}`. Decoding checks both; a record written by a newer
//! Flotilla (a higher version than this build knows) is refused rather than misread.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A type stored in the store under one kind name and format version.
pub trait Record: Serialize + DeserializeOwned {
    /// Stable kind name written into the envelope.
    const KIND: &'static str;
    /// The current format version; bump it (and add a migration) when the shape changes
    /// incompatibly.
    const VERSION: u32;
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    kind: &'a str,
    v: u32,
    data: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    kind: String,
    v: u32,
    data: serde_json::Value,
}

/// Serialise a record into its envelope.
pub fn encode<T: Record>(record: &T) -> Vec<u8> {
    // Serialising our own plain data types to JSON cannot fail (no maps with non-string
    // keys, no custom serialisers that error).
    serde_json::to_vec(&EnvelopeOut {
        kind: T::KIND,
        v: T::VERSION,
        data: record,
    })
    .unwrap_or_default()
}

/// Read a record from its envelope.
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, String> {
    let env: EnvelopeIn = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if env.kind != T::KIND {
        return Err(format!("expected a {} record, found {}", T::KIND, env.kind));
    }
    if env.v > T::VERSION {
        return Err(format!(
            "{} record has format version {}, newer than this build's {}",
            T::KIND,
            env.v,
            T::VERSION
        ));
    }
    serde_json::from_value(env.data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        name: String,
    }
    impl Record for Thing {
        const KIND: &'static str = "thing";
        const VERSION: u32 = 1;
    }

    #[test]
    fn round_trips_and_checks_kind_and_version() {
        let bytes = encode(&Thing { name: "a".into() });
        assert_eq!(decode::<Thing>(&bytes).unwrap(), Thing { name: "a".into() });
        assert!(decode::<Thing>(br#"{"kind":"other","v":1,"data":{"name":"a"}}"#).is_err());
        assert!(decode::<Thing>(br#"{"kind":"thing","v":2,"data":{"name":"a"}}"#).is_err());
    }
}
