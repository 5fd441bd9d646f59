//! Image references as Docker reads them (`[host[:port]/]path[:tag][@algorithm:hex]`),
//! checked before `deploy` changes anything, so a misspelt image is refused with the
//! reason instead of failing on every host. Stricter than RegisterTaskDefinition, which
//! accepts anything ECS does (upper case, for one) and leaves the rest to the pull.

/// A reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`, when the first path part names a registry.
    pub domain: Option<String>,
    /// The repository path within the registry.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// The longest name (domain and path) Docker accepts.
const MAX_NAME: usize = 255;

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A path component: lower-case letters and digits, separated by one `.` or `_`, two `_`,
/// or any number of `-`.
fn path_component(s: &str) -> bool {
    let bytes: Vec<char> = s.chars().collect();
    if bytes.is_empty() || !is_lower_alnum(bytes[0]) || !is_lower_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_lower_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_lower_alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`: DNS labels of letters, digits and inner hyphens, then an optional port.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !host.is_empty()
        && host.split('.').all(label)
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))
}

/// Parse `s`, or say what is wrong with it.
pub fn parse(s: &str) -> Result<ImageRef, String> {
    if s.is_empty() {
        return Err("the image is empty".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => {
            let ok = d.split_once(':').is_some_and(|(algo, hex)| {
                !algo.is_empty()
                    && algo
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                    && hex.len() >= 32
                    && hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            });
            if !ok {
                return Err(format!(
                    "'{d}' is not a digest: expected an algorithm and lower-case hex, as in sha256:<64 hex digits>"
                ));
            }
            (r, Some(d.to_string()))
        }
        None => (s, None),
    };
    // A tag follows the last ':' that comes after the last '/'.
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !t.starts_with(['.', '-']);
        if !ok {
            return Err(format!(
                "tag '{t}' is invalid: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            ));
        }
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the repository name is longer than {MAX_NAME} characters"
        ));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let domain = if parts.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()))
    {
        if !is_domain(first) {
            return Err(format!("'{first}' is not a registry host[:port]"));
        }
        Some(parts.remove(0).to_string())
    } else {
        None
    };
    if let Some(bad) = parts.iter().find(|p| !path_component(p)) {
        let hint = if bad.chars().any(|c| c.is_ascii_uppercase()) {
            " (repository names are lower case)"
        } else {
            ""
        };
        return Err(format!(
            "'{bad}' is not a valid repository name part{hint}: lower-case letters and digits, separated by '.', '_', '__' or '-'"
        ));
    }
    Ok(ImageRef {
        domain,
        path: parts.join("/"),
        tag: tag.map(str::to_string),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn good_references() {
        let r = parse("127.0.0.1:4567/team/web:v2").unwrap();
        assert_eq!(r.domain.as_deref(), Some("127.0.0.1:4567"));
        assert_eq!(
            (r.path.as_str(), r.tag.as_deref()),
            ("team/web", Some("v2"))
        );
        let r = parse("flotilla-test/busybox").unwrap();
        assert_eq!((r.domain, r.tag), (None, None));
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("localhost:5000/app@{digest}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(digest.as_str()));
        assert!(parse("a__b.c-d---e:latest_1.2-x").is_ok());
    }

    #[test]
    fn bad_references_say_why() {
        assert!(parse("Web:v1").unwrap_err().contains("lower case"));
        assert!(parse("web:").unwrap_err().contains("tag"));
        assert!(parse("web:-x").unwrap_err().contains("tag"));
        assert!(parse("web@sha256:xyz").unwrap_err().contains("digest"));
        assert!(parse("we..b").unwrap_err().contains("repository name"));
        assert!(parse("host:99x/web").unwrap_err().contains("registry"));
        assert!(parse("").is_err());
        assert!(parse("web/").is_err());
    }

    proptest! {
        /// Any text gets an answer, and a reference that parses joins back into itself.
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            if let Ok(r) = parse(&s) {
                let mut back = r.domain.map(|d| format!("{d}/")).unwrap_or_default() + &r.path;
                if let Some(t) = r.tag { back = format!("{back}:{t}"); }
                if let Some(d) = r.digest { back = format!("{back}@{d}"); }
                prop_assert_eq!(back, s);
            }
        }
    }
}
