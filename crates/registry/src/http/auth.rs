//! Reading `Authorization: Basic base64(user:password)`, what `docker login` sends (with
//! ECR's `AWS` and an authorization token's password) after the 401 challenge. Checking
//! the credentials is the catalog's business; this only takes the header apart.

/// The longest header value looked at: an ECR token is about 2 KB, so anything far longer
/// is not credentials of ours and is not decoded.
const MAX_HEADER: usize = 16 * 1024;

/// The username and password of a Basic `Authorization` header value; `None` for any
/// other scheme or anything malformed.
pub(crate) fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    if value.len() > MAX_HEADER {
        return None;
    }
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(decode_base64(token.trim())?).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 (RFC 4648 section 4), with or without padding; `None` on any byte
/// outside the alphabet or an impossible length.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s
        .strip_suffix("==")
        .or_else(|| s.strip_suffix('='))
        .unwrap_or(s);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        acc = (acc << 6) | u32::from(sextet(b)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The value of one base64 digit.
fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Standard base64 with padding, as clients send it (tests only).
    pub(crate) fn encode_base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn docker_login_credentials_are_read() {
        // "AWS:secret", as `docker login -u AWS -p secret` sends it.
        assert_eq!(
            basic_credentials(b"Basic QVdTOnNlY3JldA=="),
            Some(("AWS".into(), "secret".into()))
        );
        assert_eq!(
            basic_credentials(b"basic QVdTOnNlY3JldA"),
            Some(("AWS".into(), "secret".into()))
        );
        // The password may contain colons; the user may not.
        let header = format!("Basic {}", encode_base64(b"u:p:q"));
        assert_eq!(
            basic_credentials(header.as_bytes()),
            Some(("u".into(), "p:q".into()))
        );
        for bad in [
            &b"Bearer QVdTOnNlY3JldA=="[..],
            b"Basic",
            b"Basic !!!!",
            b"Basic QVdT",
            b"Basic Q",
            b"",
        ] {
            assert_eq!(basic_credentials(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_header_is_read_or_refused_without_panicking(
            value in proptest::collection::vec(any::<u8>(), 0..300),
            text in ".{0,200}",
        ) {
            let _ = basic_credentials(&value);
            let _ = basic_credentials(format!("Basic {text}").as_bytes());
        }

        #[test]
        fn credentials_read_back_as_they_were_encoded(
            user in "[^:]{0,40}",
            password in ".{0,80}",
        ) {
            let header = format!("Basic {}", encode_base64(format!("{user}:{password}").as_bytes()));
            prop_assert_eq!(basic_credentials(header.as_bytes()), Some((user, password)));
        }

        #[test]
        fn base64_decodes_what_it_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let encoded = encode_base64(&bytes);
            prop_assert_eq!(decode_base64(&encoded), Some(bytes.clone()));
            prop_assert_eq!(decode_base64(encoded.trim_end_matches('=')), Some(bytes));
        }
    }
}
