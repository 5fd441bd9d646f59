//! The one `*` wildcard every pattern language here shares: ECR lifecycle rules' tag
//! patterns, the cluster query language's values, and CloudWatch Logs' filter pattern
//! values. `*` stands for any run of characters (none included); nothing else is special.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_stand_for_any_run() {
        assert!(matches("t2.*", "t2.micro"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(matches("*é*", "café!"));
        assert!(matches("prod-*-v*", "prod-web-v2"));
        assert!(!matches("t2.*", "t3.micro"));
        assert!(!matches("a*b", "aXbY"));
        assert!(!matches("abc", "ab"));
        assert!(!matches("a*b*b", "ab"));
    }

    proptest::proptest! {
        /// A pattern made by starring out parts of a text matches that text.
        #[test]
        fn a_starred_text_matches_itself(text in "[a-c]{0,12}", cuts in proptest::collection::vec(0usize..13, 0..4)) {
            let mut pattern = String::new();
            let mut skip = false;
            for (i, c) in text.chars().enumerate() {
                if cuts.contains(&i) {
                    pattern.push('*');
                    skip = !skip;
                }
                if !skip {
                    pattern.push(c);
                }
            }
            proptest::prop_assert!(matches(&pattern, &text), "{pattern} {text}");
        }
    }
}
