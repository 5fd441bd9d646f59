//! ECR lifecycle policies: the JSON users put (rules with a priority, a selection by tag
//! status and tag prefixes or patterns, a count type, and the `expire` action), checked as
//! ECR checks it, and the pure evaluation of which images a policy expires.
//!
//! Evaluation follows ECR's documented semantics: rules are applied in ascending
//! `rulePriority`; each image is considered by the first rule whose selection matches it
//! (tag status, then every listed prefix or pattern matched by one of its tags), and by
//! no later rule, whether that first rule expires it or keeps it. Within a rule,
//! `imageCountMoreThan N` keeps the N most recently pushed images it selects and expires
//! the rest; `sinceImagePushed N days` expires those pushed more than N days ago.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::error::{ModelError, Result};

/// The shortest and longest policy text ECR accepts.
pub const MIN_TEXT: usize = 100;
pub const MAX_TEXT: usize = 30720;

/// Which images a rule selects by their tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSelection {
    /// Images with no tag.
    Untagged,
    /// Images with tags matching every prefix (`tagPrefixList`) or every pattern
    /// (`tagPatternList`, `*` matching any run of characters).
    Tagged {
        prefixes: Vec<String>,
        patterns: Vec<String>,
    },
    /// Every image.
    Any,
}

/// How a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Keep this many of the most recently pushed.
    MoreThan(u32),
    /// Expire those pushed more than this many days ago.
    SincePushedDays(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    pub description: Option<String>,
    pub selection: TagSelection,
    pub count: Count,
}

/// A checked policy, its rules in ascending priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// What evaluation needs of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: DateTime<Utc>,
}

/// An image a policy expires, and the rule that does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub digest: String,
    pub rule_priority: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    rules: Vec<RuleDocument>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleDocument {
    rule_priority: i64,
    description: Option<String>,
    selection: SelectionDocument,
    action: ActionDocument,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelectionDocument {
    tag_status: String,
    tag_prefix_list: Option<Vec<String>>,
    tag_pattern_list: Option<Vec<String>>,
    count_type: String,
    count_unit: Option<String>,
    count_number: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionDocument {
    #[serde(rename = "type")]
    kind: String,
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::invalid(format!(
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '{}'",
        message.into()
    ))
}

impl Policy {
    /// Parse and check a policy text (InvalidParameterException with what to fix).
    pub fn parse(text: &str) -> Result<Policy> {
        let len = text.chars().count();
        if !(MIN_TEXT..=MAX_TEXT).contains(&len) {
            return Err(invalid(format!(
                "the policy text must be {MIN_TEXT} to {MAX_TEXT} characters long, not {len}"
            )));
        }
        let doc: Document = serde_json::from_str(text)
            .map_err(|e| invalid(format!("the policy is not a valid lifecycle policy: {e}")))?;
        if doc.rules.is_empty() {
            return Err(invalid("a policy needs at least one rule"));
        }
        let mut rules = doc
            .rules
            .into_iter()
            .map(Rule::checked)
            .collect::<Result<Vec<Rule>>>()?;
        rules.sort_by_key(|r| r.priority);
        if let Some(w) = rules.windows(2).find(|w| w[0].priority == w[1].priority) {
            return Err(invalid(format!(
                "rulePriority {} is used by more than one rule",
                w[0].priority
            )));
        }
        let any = rules.iter().position(|r| r.selection == TagSelection::Any);
        if any.is_some_and(|i| i != rules.len() - 1) {
            return Err(invalid(
                "a rule with tagStatus 'any' must have the highest rulePriority",
            ));
        }
        Ok(Policy { rules })
    }

    /// The images this policy expires at `now`, in rule order.
    pub fn expired(&self, images: &[Candidate], now: DateTime<Utc>) -> Vec<Expiry> {
        let mut considered = vec![false; images.len()];
        let mut out = Vec::new();
        for rule in &self.rules {
            let mut selected: Vec<usize> = (0..images.len())
                .filter(|&i| !considered[i] && rule.selection.selects(&images[i].tags))
                .collect();
            for &i in &selected {
                considered[i] = true;
            }
            // Most recent first (ties by digest, so the outcome is stable).
            selected.sort_by(|&a, &b| {
                (images[b].pushed_at, &images[a].digest)
                    .cmp(&(images[a].pushed_at, &images[b].digest))
            });
            let expire = |(n, &i): (usize, &usize)| match rule.count {
                Count::MoreThan(keep) => n >= keep as usize,
                Count::SincePushedDays(days) => {
                    now - images[i].pushed_at > TimeDelta::days(i64::from(days))
                }
            };
            out.extend(
                selected
                    .iter()
                    .enumerate()
                    .filter(|e| expire(*e))
                    .map(|(_, &i)| Expiry {
                        digest: images[i].digest.clone(),
                        rule_priority: rule.priority,
                    }),
            );
        }
        out
    }
}

impl Rule {
    fn checked(doc: RuleDocument) -> Result<Rule> {
        let priority = u32::try_from(doc.rule_priority)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| invalid("rulePriority must be a positive integer"))?;
        if doc.action.kind != "expire" {
            return Err(invalid(format!(
                "rule {priority}: action type must be 'expire', not '{}'",
                doc.action.kind
            )));
        }
        let s = doc.selection;
        let prefixes = s.tag_prefix_list.unwrap_or_default();
        let patterns = s.tag_pattern_list.unwrap_or_default();
        let selection = match s.tag_status.as_str() {
            "tagged" if prefixes.is_empty() == patterns.is_empty() => {
                return Err(invalid(format!(
                    "rule {priority}: a 'tagged' selection needs either tagPrefixList or \
                     tagPatternList, not both or neither"
                )))
            }
            "tagged" => TagSelection::Tagged { prefixes, patterns },
            "untagged" | "any" if !prefixes.is_empty() || !patterns.is_empty() => {
                return Err(invalid(format!(
                    "rule {priority}: tagPrefixList and tagPatternList are only for 'tagged'"
                )))
            }
            "untagged" => TagSelection::Untagged,
            "any" => TagSelection::Any,
            other => {
                return Err(invalid(format!(
                    "rule {priority}: tagStatus must be tagged, untagged or any, not '{other}'"
                )))
            }
        };
        let number = u32::try_from(s.count_number)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid(format!("rule {priority}: countNumber must be at least 1")))?;
        let count = match (s.count_type.as_str(), s.count_unit.as_deref()) {
            ("imageCountMoreThan", None) => Count::MoreThan(number),
            ("sinceImagePushed", Some("days")) => Count::SincePushedDays(number),
            ("imageCountMoreThan", Some(_)) => {
                return Err(invalid(format!(
                    "rule {priority}: countUnit is not allowed with imageCountMoreThan"
                )))
            }
            ("sinceImagePushed", _) => {
                return Err(invalid(format!(
                    "rule {priority}: sinceImagePushed needs countUnit 'days'"
                )))
            }
            (other, _) => {
                return Err(invalid(format!(
                    "rule {priority}: countType must be imageCountMoreThan or \
                     sinceImagePushed, not '{other}'"
                )))
            }
        };
        Ok(Rule {
            priority,
            description: doc.description,
            selection,
            count,
        })
    }
}

impl TagSelection {
    fn selects(&self, tags: &[String]) -> bool {
        match self {
            TagSelection::Untagged => tags.is_empty(),
            TagSelection::Any => true,
            TagSelection::Tagged { prefixes, patterns } => {
                !tags.is_empty()
                    && prefixes
                        .iter()
                        .all(|p| tags.iter().any(|t| t.starts_with(p.as_str())))
                    && patterns
                        .iter()
                        .all(|p| tags.iter().any(|t| crate::wildcard::matches(p, t)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn policy(rules: &str) -> String {
        format!(r#"{{"rules": [{rules}]}}{}"#, " ".repeat(100))
    }

    fn rule(priority: u32, selection: &str, count: &str) -> String {
        format!(
            r#"{{"rulePriority": {priority}, "selection": {{{selection}, {count}}},
                "action": {{"type": "expire"}}}}"#
        )
    }

    fn image(digest: &str, tags: &[&str], days_ago: i64, now: DateTime<Utc>) -> Candidate {
        Candidate {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: now - TimeDelta::days(days_ago),
        }
    }

    #[test]
    fn count_rules_keep_the_newest_and_age_rules_expire_the_old() {
        let now = Utc::now();
        let text = policy(
            &[
                rule(
                    1,
                    r#""tagStatus": "untagged""#,
                    r#""countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1"#,
                ),
                rule(
                    2,
                    r#""tagStatus": "tagged", "tagPrefixList": ["v"]"#,
                    r#""countType": "imageCountMoreThan", "countNumber": 2"#,
                ),
            ]
            .join(","),
        );
        let p = Policy::parse(&text).unwrap();
        let images = [
            image("u-old", &[], 3, now),
            image("u-new", &[], 0, now),
            image("v1", &["v1"], 5, now),
            image("v2", &["v2"], 4, now),
            image("v3", &["v3", "latest"], 1, now),
            image("other", &["prod"], 9, now),
        ];
        let expired: Vec<String> = p
            .expired(&images, now)
            .into_iter()
            .map(|e| e.digest)
            .collect();
        assert_eq!(expired, ["u-old", "v1"]);
    }

    #[test]
    fn an_image_is_considered_by_its_first_matching_rule_only() {
        let now = Utc::now();
        let text = policy(
            &[
                rule(
                    1,
                    r#""tagStatus": "tagged", "tagPatternList": ["prod*"]"#,
                    r#""countType": "imageCountMoreThan", "countNumber": 5"#,
                ),
                rule(
                    2,
                    r#""tagStatus": "any""#,
                    r#""countType": "imageCountMoreThan", "countNumber": 1"#,
                ),
            ]
            .join(","),
        );
        let p = Policy::parse(&text).unwrap();
        let images = [
            image("p1", &["prod-1"], 3, now),
            image("p2", &["prod-2"], 2, now),
            image("a", &["dev"], 1, now),
            image("b", &[], 0, now),
        ];
        let expired: Vec<String> = p
            .expired(&images, now)
            .into_iter()
            .map(|e| e.digest)
            .collect();
        assert_eq!(expired, ["a"]);
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        let count = r#""countType": "imageCountMoreThan", "countNumber": 1"#;
        for (text, says) in [
            ("{}".to_string(), "100 to 30720"),
            (policy(""), "at least one rule"),
            (
                policy(&rule(1, r#""tagStatus": "tagged""#, count)),
                "tagPrefixList",
            ),
            (
                policy(
                    &[
                        rule(1, r#""tagStatus": "any""#, count),
                        rule(2, r#""tagStatus": "untagged""#, count),
                    ]
                    .join(","),
                ),
                "highest",
            ),
            (
                policy(
                    &[
                        rule(1, r#""tagStatus": "untagged""#, count),
                        rule(1, r#""tagStatus": "any""#, count),
                    ]
                    .join(","),
                ),
                "more than one",
            ),
            (
                policy(&rule(
                    1,
                    r#""tagStatus": "untagged""#,
                    r#""countType": "sinceImagePushed", "countNumber": 1"#,
                )),
                "days",
            ),
            (
                policy(&rule(0, r#""tagStatus": "untagged""#, count)),
                "positive",
            ),
        ] {
            let e = Policy::parse(&text).unwrap_err();
            assert!(e.message.contains(says), "{text}: {}", e.message);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = Policy::parse(&text);
        }
    }
}
