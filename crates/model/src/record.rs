//! The persisted form of every record: a small envelope carrying the record kind and a
//! format version, so stored data can be migrated when a type changes.
//!
//! `{"kind":"cluster","v":1,"data":{...}}`. Decoding checks both; a record written by a newer
//! Flotilla (a higher version than this build knows) is refused rather than misread, and
//! one written by an older Flotilla is brought forward one version at a time by
//! [`Record::upgrade`] (v1 → v2 → ...), then read as the current version; the next write
//! stores the current version. A document with no envelope at all is version 0 (what the
//! first builds wrote for a few kinds, such as RunTask client tokens).

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A type stored in the store under one kind name and format version.
pub trait Record: Serialize + DeserializeOwned {
    /// Stable kind name written into the envelope.
    const KIND: &'static str;
    /// The current format version; bump it (and add a step to [`Record::upgrade`]) when
    /// the shape changes incompatibly.
    const VERSION: u32;

    /// The `data` of format version `from` turned into the data of version `from + 1`.
    /// Each kind that has older versions answers one step per version, so a record of any
    /// age walks every step in order; the default knows none.
    fn upgrade(from: u32, data: serde_json::Value) -> Result<serde_json::Value, String> {
        let _ = data;
        Err(format!(
            "{} record format version {from} is not one this build can read",
            Self::KIND
        ))
    }
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

/// Read a record from its envelope, upgrading an older format version.
pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let env = if doc.get("kind").is_some() && doc.get("v").is_some() {
        serde_json::from_value::<EnvelopeIn>(doc).map_err(|e| e.to_string())?
    } else {
        EnvelopeIn {
            kind: T::KIND.to_string(),
            v: 0,
            data: doc,
        }
    };
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
    let mut data = env.data;
    for from in env.v..T::VERSION {
        data = T::upgrade(from, data)?;
    }
    serde_json::from_value(data).map_err(|e| e.to_string())
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
        assert!(
            decode::<Thing>(br#"{"name":"a"}"#).is_err(),
            "no version 0 known"
        );
    }

    /// v1 had `name`; v2 split it into `first` and `last`; v3 added `age`.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Person {
        first: String,
        last: String,
        age: u32,
    }
    impl Record for Person {
        const KIND: &'static str = "person";
        const VERSION: u32 = 3;
        fn upgrade(from: u32, mut data: serde_json::Value) -> Result<serde_json::Value, String> {
            match from {
                1 => {
                    let name = data["name"].as_str().unwrap_or("").to_string();
                    let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
                    Ok(serde_json::json!({ "first": first, "last": last }))
                }
                2 => {
                    let obj = data.as_object_mut().ok_or("person v2 is not an object")?;
                    obj.insert("age".into(), 0.into());
                    Ok(data)
                }
                _ => Err(format!("person v{from} is unknown")),
            }
        }
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// A stored value of any bytes is an error or a record, never a panic, whatever
        /// envelope and version it claims.
        #[test]
        fn decoding_takes_any_bytes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            v in 0u32..6,
            data in proptest::prop_oneof![
                "[ -~]{0,60}",
                proptest::sample::select(vec![
                    "1", "\"x\"", "[]", "{}", "null", r#"{"name":"A B"}"#, r#"{"name":7}"#,
                    r#"{"stopCode":"ServiceSchedulerInitiated","stoppedReason":"Task failed container health checks."}"#,
                ]).prop_map(String::from),
            ],
        ) {
            let _ = decode::<Person>(&bytes);
            let _ = decode::<crate::task::TaskRecord>(&bytes);
            for kind in ["person", "task"] {
                let claimed = format!(r#"{{"kind":"{kind}","v":{v},"data":{data}}}"#);
                let _ = decode::<Person>(claimed.as_bytes());
                let _ = decode::<crate::task::TaskRecord>(claimed.as_bytes());
                let _ = decode::<crate::run_token::RunTokenRecord>(data.as_bytes());
            }
        }
    }

    #[test]
    fn older_versions_walk_every_step_in_order() {
        let v1 = br#"{"kind":"person","v":1,"data":{"name":"Ada Lovelace"}}"#;
        let want = Person {
            first: "Ada".into(),
            last: "Lovelace".into(),
            age: 0,
        };
        assert_eq!(decode::<Person>(v1).unwrap(), want);
        let v2 = br#"{"kind":"person","v":2,"data":{"first":"Ada","last":"Lovelace"}}"#;
        assert_eq!(decode::<Person>(v2).unwrap(), want);
        assert!(
            decode::<Person>(br#"{"name":"Ada"}"#).is_err(),
            "v0 unknown"
        );
        let back = encode(&want);
        assert!(String::from_utf8(back).unwrap().contains(r#""v":3"#));
    }
}
