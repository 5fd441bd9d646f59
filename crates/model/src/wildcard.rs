//! The one `*` wildcard every pattern language here shares: ECR lifecycle rules' tag
//! patterns, the cluster query language's values, and CloudWatch Logs' filter pattern
//! values. `*` stands for any run of characters (none included); nothing else is special.
//! [`glob`] is the wildcard with `?` as well, IAM's and ELBv2 rule conditions'.

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

/// AWS's other wildcard, IAM's and ELBv2 rule conditions': `*` stands for any run of
/// characters (none included), `?` for exactly one; everything else matches itself,
/// ignoring ASCII case when `fold` is set.
pub fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    // IAM evaluates hundreds of patterns per request: ASCII (almost always) is matched
    // byte by byte without allocating; anything else by characters.
    if pattern.is_ascii() && text.is_ascii() {
        return glob_in(pattern.as_bytes(), text.as_bytes(), |a, b| {
            a == b || (fold && a.eq_ignore_ascii_case(&b))
        });
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_in(&p, &t, |a, b| {
        a == b || (fold && a.eq_ignore_ascii_case(&b))
    })
}

/// Something a glob pattern is made of: a byte or a character.
trait Symbol: Copy + PartialEq {
    const STAR: Self;
    const ONE: Self;
}

impl Symbol for u8 {
    const STAR: u8 = b'*';
    const ONE: u8 = b'?';
}

impl Symbol for char {
    const STAR: char = '*';
    const ONE: char = '?';
}

/// The match itself: iterative, with one backtrack point (the last `*`), so linear in
/// practice and never exponential, whatever the pattern.
fn glob_in<S: Symbol>(p: &[S], t: &[S], same: impl Fn(S, S) -> bool) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == S::ONE || (p[pi] != S::STAR && same(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == S::STAR {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == S::STAR)
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
