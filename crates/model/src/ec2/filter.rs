//! EC2's `Filter.N.Name` / `Filter.N.Value.M` filters: a resource passes when, for every
//! filter, one of its values for the filter's name matches one of the filter's values.
//! Values may use `*` (any run of characters) and `?` (any one character); a backslash
//! makes the next character literal. Every resource type names the filters it knows
//! ([`Filterable::values`]); the tag filters (`tag:KEY`, `tag-key`, `tag-value`) are
//! common to all.

use super::Ec2Tag;

/// One filter of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// A resource EC2's filters apply to.
pub trait Filterable {
    /// The resource's values for filter `name` (apart from the tag filters); `None` when
    /// the resource type has no such filter.
    fn values(&self, name: &str) -> Option<Vec<String>>;

    /// The resource's tags.
    fn tags(&self) -> &[Ec2Tag];
}

/// Check every filter's name against what `T` knows, before anything is listed:
/// `Err(name)` names the first unknown one.
pub fn check<T: Filterable>(filters: &[Filter], sample: &T) -> Result<(), String> {
    for f in filters {
        if tag_values(&f.name, sample.tags()).is_none() && sample.values(&f.name).is_none() {
            return Err(f.name.clone());
        }
    }
    Ok(())
}

/// Whether `resource` passes every filter (an unknown filter name passes nothing).
pub fn passes<T: Filterable>(filters: &[Filter], resource: &T) -> bool {
    filters.iter().all(|f| {
        let have = tag_values(&f.name, resource.tags())
            .or_else(|| resource.values(&f.name))
            .unwrap_or_default();
        f.values
            .iter()
            .any(|want| have.iter().any(|v| matches(want, v)))
    })
}

fn tag_values(name: &str, tags: &[Ec2Tag]) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(
            tags.iter()
                .filter(|t| t.key == key)
                .map(|t| t.value.clone())
                .collect(),
        );
    }
    match name {
        "tag-key" => Some(tags.iter().map(|t| t.key.clone()).collect()),
        "tag-value" => Some(tags.iter().map(|t| t.value.clone()).collect()),
        _ => None,
    }
}

/// Whether `text` matches the EC2 filter value `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Char(char),
        One,
        Any,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '\\' => Tok::Char(chars.next().unwrap_or('\\')),
            '*' => Tok::Any,
            '?' => Tok::One,
            c => Tok::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with one backtrack point, linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Thing(Vec<Ec2Tag>, &'static str);

    impl Filterable for Thing {
        fn values(&self, name: &str) -> Option<Vec<String>> {
            (name == "name").then(|| vec![self.1.to_string()])
        }
        fn tags(&self) -> &[Ec2Tag] {
            &self.0
        }
    }

    fn f(name: &str, values: &[&str]) -> Filter {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(matches("web-*", "web-prod"));
        assert!(matches("w?b", "web"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYc"));
        assert!(!matches("a*b*c", "aXXbY"));
        assert!(matches("a\\*", "a*"));
        assert!(!matches("a\\*", "ab"));
        assert!(!matches("web", "web-prod"));
        assert!(!matches("?", ""));
    }

    #[test]
    fn every_filter_must_match_one_value() {
        let thing = Thing(
            vec![Ec2Tag {
                key: "Name".into(),
                value: "db".into(),
            }],
            "main",
        );
        assert!(passes(
            &[f("tag:Name", &["web", "d*"]), f("name", &["main"])],
            &thing
        ));
        assert!(!passes(&[f("tag:Name", &["web"])], &thing));
        assert!(passes(&[f("tag-key", &["Name"])], &thing));
        assert!(!passes(&[f("tag:Other", &["*"])], &thing));
        assert_eq!(check(&[f("bogus", &["x"])], &thing), Err("bogus".into()));
        assert_eq!(
            check(&[f("tag:Any", &["x"]), f("name", &[])], &thing),
            Ok(())
        );
    }

    proptest! {
        #[test]
        fn arbitrary_patterns_never_panic(p in ".{0,12}", t in ".{0,12}") {
            let _ = matches(&p, &t);
        }

        #[test]
        fn a_literal_matches_itself(t in "[a-z0-9-]{0,12}") {
            prop_assert!(matches(&t, &t));
            let star = format!("{t}*");
            prop_assert!(matches(&star, &t));
        }
    }
}
