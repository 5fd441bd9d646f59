//! Repository names and image tags. A repository name is what both ECR
//! (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/...)*`, 2-256 characters) and the distribution
//! spec accept, since it is also the path in `/v2/NAME/...`; a tag is what the distribution
//! spec accepts (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`), which is within ECR's 1-300.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{ModelError, Result};

static COMPONENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$").expect("a valid pattern")
});

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("a valid pattern"));

/// A repository name: 2-256 characters of `/`-separated components of lowercase letters and
/// digits joined by `.`, `_`, `__` or runs of `-`. InvalidParameterException.
pub fn validate_repository_name(name: &str) -> Result<()> {
    let ok = (2..=256).contains(&name.len()) && name.split('/').all(|c| COMPONENT.is_match(c));
    if ok {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy \
             regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' \
             and be 2 to 256 characters long' (got '{}')",
            name.chars().take(300).collect::<String>()
        )))
    }
}

/// An image tag: a letter, digit or `_`, then up to 127 letters, digits, `.`, `_` or `-`.
/// InvalidParameterException (the registry answers TAG_INVALID).
pub fn validate_tag(tag: &str) -> Result<()> {
    if TAG.is_match(tag) {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "Invalid image tag '{}': a tag is 1 to 128 letters, digits, '_', '.' or '-', not \
             starting with '.' or '-'.",
            tag.chars().take(300).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn repository_names_follow_ecr_and_the_distribution_spec() {
        for ok in [
            "ab",
            "web",
            "team/web-app",
            "a__b/c.d/e---f",
            "my_repo/v1.2",
        ] {
            assert!(validate_repository_name(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "",
            "a",
            "Web",
            "web/",
            "/web",
            "a//b",
            "a..b",
            "-web",
            "web-",
            "a___b",
            "a b",
            "web:latest",
            "../etc",
            &"a".repeat(257),
        ] {
            assert!(validate_repository_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tags_follow_the_distribution_spec() {
        for ok in ["latest", "v1.2.3", "_x", "A-b_c.d", &"t".repeat(128)] {
            assert!(validate_tag(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "a:b",
            &"t".repeat(129),
            "sha256:abc",
        ] {
            assert!(validate_tag(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn a_valid_name_is_a_safe_path(name in ".{0,64}") {
            if validate_repository_name(&name).is_ok() {
                prop_assert!(!name.split('/').any(|c| c.is_empty() || c == "." || c == ".."));
                prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b)));
            }
        }

        #[test]
        fn any_tag_is_accepted_or_refused_without_panicking(tag in ".{0,200}") {
            if validate_tag(&tag).is_ok() {
                prop_assert!(!tag.contains('/') && !tag.contains(':') && tag.len() <= 128);
            }
        }
    }
}
