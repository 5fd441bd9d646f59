//! The query protocol's flattened parameters (`Tags.member.1.Key=...`) read as a tree:
//! [`Params::sub`] descends into a structure, [`Params::members`] into a list.

use std::collections::BTreeMap;

use super::error::{invalid, Elbv2Error};

/// The parameters of one request, or of one structure inside it.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params {
            map: pairs.into_iter().collect(),
        }
    }

    /// A scalar member.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required scalar member.
    pub fn required(&self, name: &str) -> Result<&str, Elbv2Error> {
        self.get(name)
            .ok_or_else(|| invalid(format!("A value for '{name}' must be given")))
    }

    pub fn has(&self, name: &str) -> bool {
        let dotted = format!("{name}.");
        self.map.keys().any(|k| k == name || k.starts_with(&dotted))
    }

    /// The members of structure `name`.
    pub fn sub(&self, name: &str) -> Params {
        let prefix = format!("{name}.");
        Params {
            map: self
                .map
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), v.clone())))
                .collect(),
        }
    }

    /// The indices of list `name` (`name.member.N`), in order.
    fn indices(&self, name: &str) -> Vec<u32> {
        let prefix = format!("{name}.member.");
        let mut out: Vec<u32> = self
            .map
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(&prefix)?;
                rest.split('.').next()?.parse().ok()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The structures of list `name`.
    pub fn members(&self, name: &str) -> Vec<Params> {
        self.indices(name)
            .into_iter()
            .map(|i| self.sub(&format!("{name}.member.{i}")))
            .collect()
    }

    /// The strings of list `name`.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.indices(name)
            .into_iter()
            .filter_map(|i| self.get(&format!("{name}.member.{i}")).map(String::from))
            .collect()
    }

    /// An integer member within `lo..=hi`.
    pub fn int(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, Elbv2Error> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "The value '{v}' of '{name}' must be an integer between {lo} and {hi}"
            ))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, Elbv2Error> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(invalid(format!(
                "The value '{v}' of '{name}' must be 'true' or 'false'"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn lists_and_structures_read_in_index_order() {
        let params = p(&[
            ("Tags.member.10.Key", "c"),
            ("Tags.member.2.Key", "b"),
            ("Tags.member.1.Key", "a"),
            ("Tags.member.1.Value", "1"),
            ("Names.member.1", "x"),
            ("Names.member.2", "y"),
        ]);
        let tags = params.members("Tags");
        let keys: Vec<_> = tags.iter().map(|t| t.get("Key").unwrap()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(tags[0].get("Value"), Some("1"));
        assert_eq!(params.strings("Names"), ["x", "y"]);
        assert!(params.has("Tags") && !params.has("Tag"));
    }

    proptest! {
        #[test]
        fn arbitrary_parameters_never_panic(pairs in proptest::collection::vec((".{0,40}", ".{0,20}"), 0..20)) {
            let params = Params::new(pairs);
            let _ = params.members("Tags");
            let _ = params.strings("Names");
            let _ = params.sub("Matcher").get("HttpCode");
            let _ = params.int("PageSize", 1, 400);
            let _ = params.bool("X");
        }
    }
}
