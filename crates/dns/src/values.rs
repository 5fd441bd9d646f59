//! Record values in presentation (zone file) form, as Route 53 stores them, parsed into
//! hickory's record data. Pure: no I/O, no panics on any input; a value that does not
//! parse is an error the compiler logs and skips (the control plane has validated it
//! already, so this is a second line of defence, not the place users learn of mistakes).
//!
//! Names may be written with or without the trailing dot; they are always taken as fully
//! qualified (Route 53 has no relative names in values) and lower-cased.

use std::net::{Ipv4Addr, Ipv6Addr};

use flotilla_model::dns::RecordType;
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData};

/// Why a value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueError {
    /// An A value that is not a dotted-quad IPv4 address.
    #[error("not an IPv4 address")]
    Ipv4,
    /// An AAAA value that is not an IPv6 address.
    #[error("not an IPv6 address")]
    Ipv6,
    /// A domain name that is empty, too long or has an empty or overlong label.
    #[error("not a domain name: {0}")]
    Name(String),
    /// The value has the wrong number of fields for its type.
    #[error("expected {expected} fields, found {found}")]
    Fields { expected: usize, found: usize },
    /// A numeric field that is not a number in range.
    #[error("not a number from 0 to {max}")]
    Number { max: u32 },
    /// A quoted string with no closing quote.
    #[error("unterminated quoted string")]
    Unterminated,
    /// A character string longer than the 255 bytes DNS allows.
    #[error("a character string is longer than 255 bytes")]
    TooLong,
    /// A backslash escape that is cut short or names a byte above 255.
    #[error("bad escape sequence")]
    Escape,
    /// A CAA tag that is not 1 to 15 ASCII letters and digits.
    #[error("bad CAA tag")]
    CaaTag,
    /// A value of a type that is not served from values (the SOA comes from the zone).
    #[error("{0} records are not served from values")]
    Unsupported(&'static str),
}

/// Parse one value of a record set of type `rtype`.
pub(crate) fn parse(rtype: RecordType, value: &str) -> Result<RData, ValueError> {
    let value = value.trim();
    Ok(match rtype {
        RecordType::A => RData::A(A(value
            .parse::<Ipv4Addr>()
            .map_err(|_| ValueError::Ipv4)?)),
        RecordType::Aaaa => RData::AAAA(AAAA(
            value.parse::<Ipv6Addr>().map_err(|_| ValueError::Ipv6)?,
        )),
        RecordType::Cname => RData::CNAME(CNAME(single_name(value)?)),
        RecordType::Ns => RData::NS(NS(single_name(value)?)),
        RecordType::Ptr => RData::PTR(PTR(single_name(value)?)),
        RecordType::Mx => {
            let [preference, exchange] = fields::<2>(value)?;
            RData::MX(MX::new(number(preference)?, name(exchange)?))
        }
        RecordType::Srv => {
            let [priority, weight, port, target] = fields::<4>(value)?;
            RData::SRV(SRV::new(
                number(priority)?,
                number(weight)?,
                number(port)?,
                name(target)?,
            ))
        }
        RecordType::Txt => {
            let strings = character_strings(value)?;
            if strings.is_empty() {
                return Err(ValueError::Fields {
                    expected: 1,
                    found: 0,
                });
            }
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        RecordType::Caa => RData::CAA(caa(value)?),
        RecordType::Soa => return Err(ValueError::Unsupported("SOA")),
    })
}

/// A fully qualified, lower-case name from its presentation form.
pub(crate) fn name(s: &str) -> Result<Name, ValueError> {
    if s.is_empty() {
        return Err(ValueError::Name("empty".to_string()));
    }
    let mut name = Name::from_ascii(s).map_err(|e| ValueError::Name(e.to_string()))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}

fn single_name(value: &str) -> Result<Name, ValueError> {
    let [n] = fields::<1>(value)?;
    name(n)
}

/// Exactly `N` whitespace-separated fields.
fn fields<const N: usize>(value: &str) -> Result<[&str; N], ValueError> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let found = parts.len();
    parts
        .try_into()
        .map_err(|_| ValueError::Fields { expected: N, found })
}

fn number<T: TryFrom<u64> + Bounded>(s: &str) -> Result<T, ValueError> {
    let max = T::MAX_U32;
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::Number { max });
    }
    s.parse::<u64>()
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or(ValueError::Number { max })
}

/// The largest value of a numeric field type, for error messages.
trait Bounded {
    const MAX_U32: u32;
}

impl Bounded for u8 {
    const MAX_U32: u32 = u8::MAX as u32;
}

impl Bounded for u16 {
    const MAX_U32: u32 = u16::MAX as u32;
}

/// CAA: `flags tag value`, the value quoted or a single bare word (RFC 8659 section 4.1.1).
fn caa(value: &str) -> Result<CAA, ValueError> {
    let mut rest = value;
    let mut next_field = || {
        rest = rest.trim_start();
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        rest = tail;
        field
    };
    let flags: u8 = number(next_field())?;
    let tag = next_field();
    if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ValueError::CaaTag);
    }
    let strings = character_strings(rest)?;
    let value = match strings.as_slice() {
        [one] => one.clone(),
        other => {
            return Err(ValueError::Fields {
                expected: 3,
                found: 2 + other.len(),
            })
        }
    };
    // The tag and value are kept as written, so that tags hickory has no type for
    // (`contactemail`, ...) are served too.
    let mut caa = CAA::new_issue(false, None, Vec::new());
    caa.issuer_critical = flags & 0x80 != 0;
    caa.reserved_flags = flags & 0x7f;
    caa.tag = tag.to_string();
    caa.value = value;
    Ok(caa)
}

/// A sequence of character strings: each quoted (`"a b"`, with `\"`, `\\` and `\DDD`
/// escapes) or a bare word (with the same escapes), separated by whitespace.
pub(crate) fn character_strings(s: &str) -> Result<Vec<Vec<u8>>, ValueError> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return Ok(out);
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        let mut current = Vec::new();
        loop {
            let Some(&b) = bytes.get(i) else {
                if quoted {
                    return Err(ValueError::Unterminated);
                }
                break;
            };
            if quoted && b == b'"' {
                i += 1;
                break;
            }
            if !quoted && b.is_ascii_whitespace() {
                break;
            }
            if b == b'\\' {
                let (byte, used) = escape(&bytes[i + 1..])?;
                current.push(byte);
                i += 1 + used;
            } else {
                current.push(b);
                i += 1;
            }
        }
        if current.len() > 255 {
            return Err(ValueError::TooLong);
        }
        out.push(current);
    }
}

/// The byte an escape stands for (after its backslash) and how many bytes it used.
fn escape(after: &[u8]) -> Result<(u8, usize), ValueError> {
    match after {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let n = u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0');
            u8::try_from(n)
                .map(|v| (v, 3))
                .map_err(|_| ValueError::Escape)
        }
        [d, ..] if d.is_ascii_digit() => Err(ValueError::Escape),
        [other, ..] => Ok((*other, 1)),
        [] => Err(ValueError::Escape),
    }
}

#[cfg(test)]
mod tests;
