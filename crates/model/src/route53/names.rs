//! Domain names as Route 53 takes and shows them.
//!
//! Route 53 takes any octet in a name: printable ASCII as itself, anything else (and a `.`
//! inside a label) as a `\ddd` octal escape; it compares names case-insensitively and
//! stores letters in lower case ("DNS domain name format" in the Route 53 Developer Guide).
//! A `*` is a wildcard only as the whole leftmost label; anywhere else Route 53 takes it as
//! the character `*` (ASCII 42), so this module accepts it there too.
//!
//! A stored name has one canonical text form, the one [`normalize`] returns: lower case,
//! the final dot, every octet that is printable ASCII other than `.` and `\` written as
//! itself (so a wildcard is `*.example.com.`) and every other octet as `\ddd`. Every `\` in
//! a stored name starts an escape and every `.` ends a label. Responses show names with
//! [`display`], which escapes more, as ListResourceRecordSets does.

/// The longest label, in octets.
pub const MAX_LABEL: usize = 63;
/// The longest name in wire form: each label with its length octet, plus the root's.
pub const MAX_WIRE: usize = 255;

/// Route 53's reading of a domain name from the API: trailing dot optional (added),
/// case-insensitive (lower-cased), `\ddd` octal escapes decoded (`\052` is `*`); labels
/// 1-63 octets, whole name at most 255 octets in wire form (253 characters without the
/// final dot); `*` only as a whole leftmost label; characters outside letters, digits,
/// `-`, `_`, `*` and `.` are accepted as Route 53 does (it stores them escaped).
/// Err carries a message that says what is wrong.
///
/// A `*` elsewhere (`*prod.example.com`, `a.*.example.com`) is kept as the character `*`,
/// which is how Route 53 and DNS treat it, so it is not an error. A `\` that does not start
/// a three-digit octal escape of at most `\377` is the character `\`. Characters outside
/// ASCII are taken as their UTF-8 octets. `.` alone is the root.
pub fn normalize(name: &str) -> Result<String, String> {
    if name == "." {
        return Ok(".".to_string());
    }
    let labels = labels(name);
    let mut wire = 1;
    for label in &labels {
        if label.is_empty() {
            return Err(format!(
                "FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with '{name}'"
            ));
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "FATAL problem: DomainLabelTooLong (Domain label is too long) encountered with '{}'",
                encode(label, stored_plain)
            ));
        }
        wire += label.len() + 1;
    }
    if wire > MAX_WIRE {
        return Err(format!(
            "FATAL problem: DomainNameTooLong (Domain name is too long) encountered with '{name}'"
        ));
    }
    Ok(join(&labels, stored_plain))
}

/// How Route 53 shows a stored name in responses: lower case, trailing dot, `*` as
/// `\052`, and other characters that are not a-z 0-9 - _ . as `\ddd` octal escapes.
///
/// Takes any string (it never fails): a stored name, or one as a client typed it.
pub fn display(name: &str) -> String {
    if name == "." {
        return ".".to_string();
    }
    join(&labels(name), |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
    })
}

/// Whether normalized `name` is `zone` (normalized) or below it.
///
/// Both are normalized again first, so either may also be given as a client typed it; a
/// name that does not normalize is in no zone.
pub fn in_zone(name: &str, zone: &str) -> bool {
    let (Ok(name), Ok(zone)) = (normalize(name), normalize(zone)) else {
        return false;
    };
    if zone == "." || name == zone {
        return true;
    }
    // In a stored name every `.` ends a label, so a suffix that starts after a `.` is a
    // whole number of labels.
    name.len() > zone.len()
        && name.ends_with(&zone)
        && name.as_bytes()[name.len() - zone.len() - 1] == b'.'
}

/// Whether a stored name is a wildcard (`*.` then its parent).
pub fn is_wildcard(name: &str) -> bool {
    name.starts_with("*.")
}

/// The labels of `name` as octets, escapes decoded and letters lower-cased, without the
/// empty label a final unescaped `.` leaves. An empty string is one empty label.
fn labels(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.as_bytes();
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    let mut ended_with_dot = false;
    while i < bytes.len() {
        ended_with_dot = false;
        match bytes[i] {
            b'\\' => match octal_escape(&bytes[i + 1..]) {
                Some(octet) => {
                    label.push(octet.to_ascii_lowercase());
                    i += 4;
                }
                None => {
                    label.push(b'\\');
                    i += 1;
                }
            },
            b'.' => {
                labels.push(std::mem::take(&mut label));
                ended_with_dot = true;
                i += 1;
            }
            b => {
                label.push(b.to_ascii_lowercase());
                i += 1;
            }
        }
    }
    if !(ended_with_dot && label.is_empty()) {
        labels.push(label);
    }
    labels
}

/// The octet a `\ddd` escape names, given what follows the `\`: three octal digits of at
/// most `377`.
fn octal_escape(rest: &[u8]) -> Option<u8> {
    let digits = rest.get(..3)?;
    if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
    u8::try_from(value).ok()
}

/// Octets a stored name writes as themselves.
fn stored_plain(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'.' && b != b'\\'
}

fn encode(label: &[u8], plain: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(label.len());
    for &b in label {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

fn join(labels: &[Vec<u8>], plain: impl Fn(u8) -> bool + Copy) -> String {
    let mut out = String::new();
    for label in labels {
        out.push_str(&encode(label, plain));
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn adds_the_dot_and_lower_cases() {
        assert_eq!(normalize("WWW.Example.COM").unwrap(), "www.example.com.");
        assert_eq!(normalize("www.example.com.").unwrap(), "www.example.com.");
        assert_eq!(normalize(".").unwrap(), ".");
    }

    #[test]
    fn decodes_octal_escapes() {
        assert_eq!(normalize("\\052.example.com").unwrap(), "*.example.com.");
        // Letters given as escapes are stored in lower case too.
        assert_eq!(normalize("\\101b.example.com").unwrap(), "ab.example.com.");
        // A dot inside a label stays escaped, so it does not split the label.
        assert_eq!(
            normalize("a\\056b.example.com").unwrap(),
            "a\\056b.example.com."
        );
        // Not an escape: a literal backslash, stored escaped.
        assert_eq!(normalize("a\\9.com").unwrap(), "a\\1349.com.");
        assert_eq!(normalize("a\\400.com").unwrap(), "a\\134400.com.");
    }

    #[test]
    fn keeps_unusual_characters_escaped() {
        assert_eq!(normalize("f\u{fc}bar.com").unwrap(), "f\\303\\274bar.com.");
        assert_eq!(normalize("a b.com").unwrap(), "a\\040b.com.");
        assert_eq!(normalize("@.com").unwrap(), "@.com.");
    }

    #[test]
    fn a_star_elsewhere_is_a_character() {
        assert_eq!(
            normalize("*prod.example.com").unwrap(),
            "*prod.example.com."
        );
        assert_eq!(normalize("a.*.example.com").unwrap(), "a.*.example.com.");
        assert!(is_wildcard(&normalize("*.example.com").unwrap()));
        assert!(!is_wildcard(&normalize("*prod.example.com").unwrap()));
    }

    #[test]
    fn empty_labels_are_rejected() {
        for name in ["", "a..b", "..", ".a.com", "example.org.."] {
            let err = normalize(name).unwrap_err();
            assert_eq!(
                err,
                format!("FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with '{name}'")
            );
        }
    }

    #[test]
    fn label_and_name_lengths() {
        let label63 = "a".repeat(63);
        assert!(normalize(&format!("{label63}.com")).is_ok());
        let label64 = "a".repeat(64);
        assert_eq!(
            normalize(&format!("{label64}.com")).unwrap_err(),
            format!("FATAL problem: DomainLabelTooLong (Domain label is too long) encountered with '{label64}'")
        );
        // Escapes count as one octet.
        assert!(normalize(&format!("{}.com", "\\052".repeat(63))).is_ok());
        // 253 characters without the final dot is 255 octets on the wire.
        let name253 = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(name253.len(), 253);
        assert!(normalize(&name253).is_ok());
        let name254 = format!("{name253}e");
        assert!(normalize(&name254)
            .unwrap_err()
            .contains("DomainNameTooLong"));
    }

    #[test]
    fn display_escapes_like_list_resource_record_sets() {
        assert_eq!(display("*.example.com."), "\\052.example.com.");
        assert_eq!(display("@.Example.com"), "\\100.example.com.");
        assert_eq!(display("_sip._tcp.example.com."), "_sip._tcp.example.com.");
        assert_eq!(display("a\\056b.com."), "a\\056b.com.");
        assert_eq!(display("."), ".");
    }

    #[test]
    fn zones_contain_their_names() {
        assert!(in_zone("example.com.", "example.com."));
        assert!(in_zone("www.example.com.", "example.com."));
        assert!(in_zone("WWW.example.com", "Example.com."));
        assert!(in_zone("*.example.com.", "example.com."));
        assert!(!in_zone("badexample.com.", "example.com."));
        assert!(!in_zone("example.com.", "www.example.com."));
        assert!(!in_zone("x\\056example.com.", "example.com."));
        assert!(!in_zone("a..example.com", "example.com."));
        assert!(in_zone("anything.", "."));
    }

    fn name_like() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a".to_string()),
                Just("Z".to_string()),
                Just(".".to_string()),
                Just("*".to_string()),
                Just("\\".to_string()),
                Just("\\052".to_string()),
                Just("\\056".to_string()),
                Just("\\377".to_string()),
                Just(" ".to_string()),
                Just("-_".to_string()),
                Just("\u{e9}".to_string()),
                "[0-9]{1,3}",
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panic(name in any::<String>(), zone in any::<String>()) {
            let _ = normalize(&name);
            let _ = display(&name);
            let _ = in_zone(&name, &zone);
        }

        #[test]
        fn display_round_trips(name in prop_oneof![name_like(), any::<String>()]) {
            if let Ok(stored) = normalize(&name) {
                prop_assert_eq!(normalize(&stored), Ok(stored.clone()));
                prop_assert_eq!(normalize(&display(&stored)), Ok(stored.clone()));
                prop_assert!(in_zone(&stored, &stored));
            }
        }
    }
}
