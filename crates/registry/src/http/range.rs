//! Byte ranges in both directions: the `Range` a pull asks for (RFC 9110 section 14.2, one
//! range only), and the `Content-Range` an upload chunk says it is (the spec's
//! `<start>-<end>`, or RFC 9110's `bytes <start>-<end>/<size>` some clients send).

/// One range of a `Range: bytes=...` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The one range a `Range` header asks for. `None` when it is not a single range of
    /// bytes: RFC 9110 lets a server ignore such a header and send the whole blob, which
    /// is what a pull then gets (multipart answers are not worth their weight here).
    pub(crate) fn parse(header: &str) -> Option<ByteRange> {
        let (unit, spec) = header.trim().split_once('=')?;
        if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        match (first.trim(), last.trim()) {
            ("", n) => Some(ByteRange::Suffix(number(n)?)),
            (f, "") => Some(ByteRange::From {
                first: number(f)?,
                last: None,
            }),
            (f, l) => Some(ByteRange::From {
                first: number(f)?,
                last: Some(number(l)?),
            }),
        }
    }

    /// The first and last byte (inclusive) the range selects in a blob of `len` bytes, or
    /// `None` when it selects none (416). A last byte past the end means the end. `a-b`
    /// with b < a is unsatisfiable too rather than ignored: the conformance suite asks
    /// for 416 there.
    pub(crate) fn resolve(self, len: u64) -> Option<(u64, u64)> {
        match self {
            ByteRange::From { first, last } => {
                let last = last.map_or(len.checked_sub(1)?, |l| l.min(len.saturating_sub(1)));
                (first < len && first <= last).then_some((first, last))
            }
            ByteRange::Suffix(n) => (n > 0 && len > 0).then(|| (len - n.min(len), len - 1)),
        }
    }
}

/// The first and last byte (inclusive) an upload chunk's `Content-Range` gives.
pub(crate) fn parse_content_range(header: &str) -> Option<(u64, u64)> {
    let header = header.trim();
    let range = match header.split_once(' ') {
        None => header,
        Some((unit, rest)) if unit.eq_ignore_ascii_case("bytes") => {
            let (range, size) = rest.split_once('/')?;
            if size.trim() != "*" {
                number(size.trim())?;
            }
            range
        }
        Some(_) => return None,
    };
    let (start, end) = range.trim().split_once('-')?;
    let (start, end) = (number(start.trim())?, number(end.trim())?);
    (start <= end).then_some((start, end))
}

/// A decimal number of digits only (no sign, no spaces), that fits.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Content-Range` of a partial answer.
pub(crate) fn content_range(first: u64, last: u64, len: u64) -> String {
    format!("bytes {first}-{last}/{len}")
}

/// `Range` of an upload: the spec's `0-<last byte>`, and `0-0` while it is empty (what
/// distribution answers and Docker expects).
pub(crate) fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ranges_resolve_as_the_conformance_suite_expects() {
        let resolve = |h: &str, len| ByteRange::parse(h).and_then(|r| r.resolve(len));
        assert_eq!(resolve("bytes=500-1499", 3000), Some((500, 1499)));
        assert_eq!(resolve("bytes=500-", 3000), Some((500, 2999)));
        assert_eq!(resolve("bytes=-500", 3000), Some((2500, 2999)));
        assert_eq!(resolve("bytes=-5000", 3000), Some((0, 2999)));
        assert_eq!(resolve("bytes=2000-5000", 3000), Some((2000, 2999)));
        assert_eq!(resolve("bytes=500-0", 3000), None);
        assert_eq!(resolve("bytes=5000-10000", 3000), None);
        assert_eq!(resolve("bytes=-0", 3000), None);
        assert_eq!(resolve("bytes=0-", 0), None);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=1",
            "bytes=--1",
        ] {
            assert_eq!(ByteRange::parse(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn chunks_say_where_they_go_in_either_form() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((100, 199)));
        for bad in [
            "",
            "5-4",
            "-3",
            "1-",
            "bytes 1-2",
            "bytes 1-2/x",
            "octets 1-2/*",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
        assert_eq!(upload_range(0), "0-0");
        assert_eq!(upload_range(10), "0-9");
    }

    proptest! {
        #[test]
        fn any_header_parses_or_is_refused_without_panicking(s in ".{0,100}", len in any::<u64>()) {
            if let Some(r) = ByteRange::parse(&s) {
                if let Some((first, last)) = r.resolve(len) {
                    prop_assert!(first <= last && last < len);
                }
            }
            let _ = parse_content_range(&s);
        }

        #[test]
        fn ranges_read_back_and_stay_inside_the_blob(
            first in any::<u64>(), last in any::<u64>(), len in 0u64..1_000_000,
        ) {
            let r = ByteRange::parse(&format!("bytes={first}-{last}"));
            prop_assert_eq!(r, Some(ByteRange::From { first, last: Some(last) }));
            let suffix = ByteRange::parse(&format!("bytes=-{last}"));
            prop_assert_eq!(suffix, Some(ByteRange::Suffix(last)));
            for r in [r, suffix].into_iter().flatten() {
                if let Some((a, b)) = r.resolve(len) {
                    prop_assert!(a <= b && b < len);
                }
            }
        }

        #[test]
        fn content_ranges_read_back(start in any::<u64>(), extra in any::<u64>()) {
            let end = start.saturating_add(extra);
            prop_assert_eq!(parse_content_range(&format!("{start}-{end}")), Some((start, end)));
            prop_assert_eq!(parse_content_range(&format!("bytes {start}-{end}/*")), Some((start, end)));
        }
    }
}
