//! Record values in presentation form, checked per type as Route 53 checks them.
//!
//! Errors use Route 53's shape, `Invalid Resource Record: 'FATAL problem: CODE
//! (explanation) encountered with 'VALUE''`. These codes and explanations are Route 53's
//! own, as seen in its InvalidChangeBatch answers: `ARRDATAIllegalIPv4Address`,
//! `AAAARRDATAIllegalIPv6Address`, `InvalidCharacterString`, `TXTRDATATooLong`,
//! `MXRRDATANotTwoFields`, `DomainLabelEmpty`, `DomainLabelTooLong`, and so is
//! `Duplicate Resource Record: 'VALUE'` for a value given twice. The others
//! (`...NotFourFields`, `...IllegalNumber`, `CAARRDATA...`, `SOARRDATA...`,
//! `RRDATAIllegalWhitespace`, `RRDATATooManyValues`) are Flotilla's, in the same shape,
//! where no real message was found.
//!
//! TXT: Route 53's documented form is one or more double-quoted strings. It used to reject
//! every unquoted value with `InvalidCharacterString`; it now takes an unquoted value
//! without spaces as one string and rejects one with spaces (seen in client reports of
//! 2019 and 2024). Flotilla does the latter: an unquoted value with no whitespace and no
//! `"` is one string, which [`canonical`] stores quoted; any other unquoted value is
//! rejected.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::names;
use crate::dns::RecordType;

/// The longest character-string in a TXT value, in octets.
pub const MAX_CHARACTER_STRING: usize = 255;

/// Check the values of a record set of type `rtype` as Route 53 does: at least one value;
/// A dotted-quad IPv4; AAAA IPv6; CNAME exactly one value, a domain name; NS and PTR domain
/// names; MX `PRIORITY NAME` (0-65535); SRV `PRIORITY WEIGHT PORT NAME` (each 0-65535);
/// TXT one or more double-quoted strings per value, each at most 255 characters between
/// the quotes, `\"` and `\\` escapes allowed (an unquoted value without whitespace is one
/// string, see the module doc); CAA `FLAGS TAG "VALUE"` (flags 0-255, tag 1-15 letters
/// and digits: issue, issuewild, iodef, ...); SOA exactly one value of 7 fields
/// `MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM`; no value twice (compared as
/// [`comparison_key`] does). Err is the message Route 53 puts in InvalidChangeBatch for
/// the first bad value.
pub fn validate(rtype: RecordType, values: &[String]) -> Result<(), String> {
    if values.is_empty() {
        return Err(format!(
            "Invalid Resource Record: a record set of type {} needs at least one value",
            rtype.as_str()
        ));
    }
    if matches!(rtype, RecordType::Cname | RecordType::Soa) && values.len() > 1 {
        return Err(fatal(
            "RRDATATooManyValues",
            &format!(
                "A {} record set must have exactly one value",
                rtype.as_str()
            ),
            &values.join(", "),
        ));
    }
    values.iter().try_for_each(|value| check(rtype, value))?;
    let mut seen = std::collections::BTreeSet::new();
    match values
        .iter()
        .find(|value| !seen.insert(comparison_key(rtype, value)))
    {
        Some(duplicate) => Err(format!("Duplicate Resource Record: '{duplicate}'")),
        None => Ok(()),
    }
}

/// The form a valid value is stored in: an unquoted TXT value quoted, anything else as
/// given. Any string is taken; one that is not valid comes back unchanged.
pub fn canonical(rtype: RecordType, value: &str) -> String {
    let bare = !value.is_empty() && !value.bytes().any(|b| b == b'"' || b.is_ascii_whitespace());
    if rtype == RecordType::Txt && bare {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// What two values of type `rtype` are compared by, as when a DELETE must name the stored
/// values: addresses parsed, domain names normalized (so case and the final dot do not
/// matter), numbers parsed, other text as stored.
pub fn comparison_key(rtype: RecordType, value: &str) -> String {
    let value = canonical(rtype, value);
    let name = |s: &str| names::normalize(s).unwrap_or_else(|_| s.to_ascii_lowercase());
    let num = |s: &str| {
        s.parse::<u64>()
            .map_or_else(|_| s.to_string(), |n| n.to_string())
    };
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    match rtype {
        RecordType::A => Ipv4Addr::from_str(&value).map_or(value.clone(), |a| a.to_string()),
        RecordType::Aaaa => Ipv6Addr::from_str(&value).map_or(value.clone(), |a| a.to_string()),
        RecordType::Cname | RecordType::Ns | RecordType::Ptr => name(&value),
        RecordType::Mx if fields.len() == 2 => format!("{} {}", num(fields[0]), name(fields[1])),
        RecordType::Srv if fields.len() == 4 => format!(
            "{} {} {} {}",
            num(fields[0]),
            num(fields[1]),
            num(fields[2]),
            name(fields[3])
        ),
        RecordType::Soa if fields.len() == 7 => {
            let mut parts = vec![name(fields[0]), name(fields[1])];
            parts.extend(fields[2..].iter().map(|f| num(f)));
            parts.join(" ")
        }
        _ => value,
    }
}

fn fatal(code: &str, explanation: &str, value: &str) -> String {
    format!("Invalid Resource Record: 'FATAL problem: {code} ({explanation}) encountered with '{value}''")
}

fn check(rtype: RecordType, value: &str) -> Result<(), String> {
    match rtype {
        RecordType::A => Ipv4Addr::from_str(value).map(drop).map_err(|_| {
            fatal(
                "ARRDATAIllegalIPv4Address",
                "Value is not a valid IPv4 address",
                value,
            )
        }),
        RecordType::Aaaa => Ipv6Addr::from_str(value).map(drop).map_err(|_| {
            fatal(
                "AAAARRDATAIllegalIPv6Address",
                "Value is not a valid IPv6 address",
                value,
            )
        }),
        RecordType::Cname | RecordType::Ns | RecordType::Ptr => domain_name(value),
        RecordType::Mx => mx(value),
        RecordType::Srv => srv(value),
        RecordType::Txt => txt(value),
        RecordType::Caa => caa(value),
        RecordType::Soa => soa(value),
    }
}

/// A domain name as a whole field: no whitespace (it would be two fields), and a name
/// [`names::normalize`] takes.
fn domain_name(value: &str) -> Result<(), String> {
    if value.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(fatal(
            "RRDATAIllegalWhitespace",
            "A domain name cannot contain whitespace; write a space as \\040",
            value,
        ));
    }
    names::normalize(value)
        .map(drop)
        .map_err(|problem| format!("Invalid Resource Record: '{problem}'"))
}

/// A decimal number of type `T`, digits only (no sign, no spaces).
fn number<T: FromStr>(field: &str) -> Option<T> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

fn mx(value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [priority, exchange] = fields[..] else {
        return Err(fatal(
            "MXRRDATANotTwoFields",
            "MX record doesn't have 2 fields",
            value,
        ));
    };
    if number::<u16>(priority).is_none() {
        return Err(fatal(
            "MXRRDATAIllegalPriority",
            "MX priority must be a number from 0 to 65535",
            value,
        ));
    }
    domain_name(exchange)
}

fn srv(value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [priority, weight, port, target] = fields[..] else {
        return Err(fatal(
            "SRVRRDATANotFourFields",
            "SRV record doesn't have 4 fields",
            value,
        ));
    };
    if [priority, weight, port]
        .iter()
        .any(|f| number::<u16>(f).is_none())
    {
        return Err(fatal(
            "SRVRRDATAIllegalNumber",
            "SRV priority, weight and port must be numbers from 0 to 65535",
            value,
        ));
    }
    domain_name(target)
}

fn soa(value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    if fields.len() != 7 {
        return Err(fatal(
            "SOARRDATANotSevenFields",
            "SOA record doesn't have 7 fields",
            value,
        ));
    }
    if fields[2..].iter().any(|f| number::<u32>(f).is_none()) {
        return Err(fatal(
            "SOARRDATAIllegalNumber",
            "SOA serial, refresh, retry, expire and minimum must be numbers from 0 to 4294967295",
            value,
        ));
    }
    domain_name(fields[0])?;
    domain_name(fields[1])
}

fn txt(value: &str) -> Result<(), String> {
    let not_quoted = || {
        fatal(
            "InvalidCharacterString",
            "Value should be enclosed in quotation marks",
            value,
        )
    };
    let too_long = || {
        fatal(
            "TXTRDATATooLong",
            "Value is too long",
            &format!("a string longer than {MAX_CHARACTER_STRING} characters"),
        )
    };
    if !value.trim_start().starts_with('"') {
        // One unquoted string: nothing that would split or quote it.
        if canonical(RecordType::Txt, value) == value {
            return Err(not_quoted());
        }
        let (len, rest) = string_body(value.as_bytes(), None);
        return match (rest, len) {
            (Some(_), _) | (None, 0) => Err(not_quoted()),
            (None, len) if len > MAX_CHARACTER_STRING => Err(too_long()),
            _ => Ok(()),
        };
    }
    let mut rest = value.trim_start().as_bytes();
    while !rest.is_empty() {
        let Some(after_quote) = rest.strip_prefix(b"\"") else {
            return Err(not_quoted());
        };
        let (len, after) = string_body(after_quote, Some(b'"'));
        let Some(after) = after else {
            return Err(not_quoted());
        };
        if len > MAX_CHARACTER_STRING {
            return Err(too_long());
        }
        // A string ends at whitespace or at the end of the value.
        match after.first() {
            None => break,
            Some(b) if b.is_ascii_whitespace() => rest = after.trim_ascii_start(),
            Some(_) => return Err(not_quoted()),
        }
    }
    Ok(())
}

/// The length in octets of a character-string body (`\ddd` and `\X` escapes count as
/// one), and what follows its closing `close` (None: the string is not closed, or, with
/// no `close`, the body ends at the end of `bytes`; a body that runs into a stray `"`
/// or a final lone `\` is not closed either).
fn string_body(bytes: &[u8], close: Option<u8>) -> (usize, Option<&[u8]>) {
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let digits = bytes.get(i + 1..i + 4);
                if digits.is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
                    i += 4;
                } else if i + 1 < bytes.len() {
                    i += 2;
                } else {
                    return (len, Some(&bytes[i..]));
                }
            }
            b if Some(b) == close => return (len, Some(&bytes[i + 1..])),
            b'"' => return (len, Some(&bytes[i..])),
            _ => i += 1,
        }
        len += 1;
    }
    (len, None)
}

fn caa(value: &str) -> Result<(), String> {
    let mut fields = value
        .trim_start()
        .splitn(3, |c: char| c.is_ascii_whitespace());
    let (Some(flags), Some(tag), Some(quoted)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(fatal(
            "CAARRDATANotThreeFields",
            "CAA record doesn't have 3 fields: flags, tag and \"value\"",
            value,
        ));
    };
    if number::<u8>(flags).is_none() {
        return Err(fatal(
            "CAARRDATAIllegalFlags",
            "CAA flags must be a number from 0 to 255",
            value,
        ));
    }
    if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(fatal(
            "CAARRDATAIllegalTag",
            "CAA tag must be 1-15 letters and digits, such as issue, issuewild or iodef",
            value,
        ));
    }
    let quoted = quoted.trim_ascii();
    let closed = quoted
        .as_bytes()
        .strip_prefix(b"\"")
        .map(|body| string_body(body, Some(b'"')).1);
    if !matches!(closed, Some(Some(after)) if after.is_empty()) {
        return Err(fatal(
            "CAARRDATAIllegalValue",
            "CAA value must be enclosed in quotation marks",
            value,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
