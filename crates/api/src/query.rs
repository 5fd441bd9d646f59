//! The query protocols' flattened parameters read as a tree: [`Params::sub`] descends into
//! a structure, [`Params::members`] into a list. The query protocol numbers a list's items
//! under `member` (`Tags.member.1.Key=...`, [`Params::new`]); EC2's numbers them directly
//! (`Tag.1.Key=...`, [`Params::ec2`]). A malformed or missing value is a [`ParamError`],
//! which each service turns into its own error code.

use std::collections::BTreeMap;

/// The form-encoded parameters of a request to `service` (which takes nothing else).
pub fn form(
    input: flotilla_aws::Input,
    service: &str,
) -> Result<Vec<(String, String)>, flotilla_aws::AwsError> {
    match input {
        flotilla_aws::Input::Query(pairs) => Ok(pairs),
        _ => Err(flotilla_aws::AwsError::client(
            "MalformedQueryString",
            format!("{service} takes form-encoded parameters"),
        )),
    }
}

/// A parameter that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    Missing(String),
    Invalid(String),
}

impl ParamError {
    pub fn message(&self) -> &str {
        match self {
            ParamError::Missing(m) | ParamError::Invalid(m) => m,
        }
    }
}

/// The parameters of one request, or of one structure inside it.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
    /// What comes between a list's name and an item's index (`.member.` or `.`).
    item: &'static str,
}

impl Params {
    /// The query protocol's parameters.
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params {
            map: pairs.into_iter().collect(),
            item: ".member.",
        }
    }

    /// EC2's parameters.
    pub fn ec2(pairs: Vec<(String, String)>) -> Params {
        Params {
            map: pairs.into_iter().collect(),
            item: ".",
        }
    }

    /// A scalar member.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required scalar member.
    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name)
            .ok_or_else(|| ParamError::Missing(format!("A value for '{name}' must be given")))
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
            item: self.item,
        }
    }

    /// The indices of list `name` (`name.member.N` or `name.N`), in order.
    fn indices(&self, name: &str) -> Vec<u32> {
        let prefix = format!("{name}{}", self.item);
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
            .map(|i| self.sub(&format!("{name}{}{i}", self.item)))
            .collect()
    }

    /// The strings of list `name`.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.indices(name)
            .into_iter()
            .filter_map(|i| {
                self.get(&format!("{name}{}{i}", self.item))
                    .map(String::from)
            })
            .collect()
    }

    /// An integer member within `lo..=hi`.
    pub fn int(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, ParamError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(ParamError::Invalid(format!(
                "The value '{v}' of '{name}' must be an integer between {lo} and {hi}"
            ))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ParamError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ParamError::Invalid(format!(
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

    #[test]
    fn ec2_lists_number_their_items_directly() {
        let params = Params::ec2(
            [
                ("Filter.2.Name", "vpc-id"),
                ("Filter.2.Value.1", "vpc-1"),
                ("Filter.1.Name", "tag:Name"),
                ("Filter.1.Value.2", "b"),
                ("Filter.1.Value.1", "a"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let filters = params.members("Filter");
        assert_eq!(filters[0].get("Name"), Some("tag:Name"));
        assert_eq!(filters[0].strings("Value"), ["a", "b"]);
        assert_eq!(filters[1].strings("Value"), ["vpc-1"]);
    }

    proptest! {
        #[test]
        fn arbitrary_parameters_never_panic(pairs in proptest::collection::vec((".{0,40}", ".{0,20}"), 0..20), ec2 in any::<bool>()) {
            let params = if ec2 { Params::ec2(pairs) } else { Params::new(pairs) };
            let _ = params.members("Tags");
            let _ = params.strings("Names");
            let _ = params.sub("Matcher").get("HttpCode");
            let _ = params.int("PageSize", 1, 400);
            let _ = params.bool("X");
        }
    }
}
