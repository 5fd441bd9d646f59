//! Resource tags and the limits AWS puts on them.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// One tag, as the ECS API spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

/// Check tags as ECS does: at most 50, keys 1-128 characters and not starting with `aws:`,
/// values at most 256 characters.
pub fn validate_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(ModelError::invalid(format!(
            "Too many tags: {} given, at most {MAX_TAGS} are allowed per resource.",
            tags.len()
        )));
    }
    for tag in tags {
        let key = tag.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(ModelError::invalid(format!(
                "Tag key '{key}' must be 1 to 128 characters long."
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ModelError::invalid(format!(
                "Tag key '{key}' uses the reserved prefix 'aws:'."
            )));
        }
        if tag.value.as_deref().unwrap_or("").chars().count() > 256 {
            return Err(ModelError::invalid(format!(
                "The value of tag '{key}' must be at most 256 characters long."
            )));
        }
    }
    Ok(())
}

/// Merge `new` into `existing`: a tag with an existing key replaces its value.
pub fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) {
    for tag in new {
        match existing.iter_mut().find(|t| t.key == tag.key) {
            Some(t) => t.value = tag.value,
            None => existing.push(tag),
        }
    }
}

/// Remove every tag whose key is in `keys`.
pub fn remove_tags(existing: &mut Vec<Tag>, keys: &[String]) {
    existing.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: Some(k.into()),
            value: Some(v.into()),
        }
    }

    #[test]
    fn limits() {
        assert!(validate_tags(&[tag("team", "web")]).is_ok());
        assert!(validate_tags(&[tag("", "x")]).is_err());
        assert!(validate_tags(&[tag("aws:x", "x")]).is_err());
        assert!(validate_tags(&[tag(&"k".repeat(129), "x")]).is_err());
        assert!(validate_tags(&[tag("k", &"v".repeat(257))]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(validate_tags(&many).is_err());
    }

    #[test]
    fn merge_replaces_and_remove_drops() {
        let mut tags = vec![tag("a", "1"), tag("b", "2")];
        merge_tags(&mut tags, vec![tag("b", "3"), tag("c", "4")]);
        assert_eq!(tags, vec![tag("a", "1"), tag("b", "3"), tag("c", "4")]);
        remove_tags(&mut tags, &["a".into(), "zz".into()]);
        assert_eq!(tags, vec![tag("b", "3"), tag("c", "4")]);
    }
}
