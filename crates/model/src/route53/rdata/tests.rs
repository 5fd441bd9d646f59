//! Tests of `rdata`: every rule with Route 53's message, and arbitrary input.

use super::*;
use proptest::prelude::*;

fn ok(rtype: RecordType, values: &[&str]) {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    assert_eq!(validate(rtype, &values), Ok(()), "{rtype:?} {values:?}");
}

fn err(rtype: RecordType, values: &[&str]) -> String {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    validate(rtype, &values).expect_err(&format!("{rtype:?} {values:?} should fail"))
}

#[test]
fn at_least_one_value_and_no_duplicates() {
    assert!(err(RecordType::A, &[]).contains("needs at least one value"));
    assert_eq!(
        err(RecordType::A, &["192.0.2.1", "192.0.2.2", "192.0.2.1"]),
        "Duplicate Resource Record: '192.0.2.1'"
    );
    assert!(err(RecordType::Ns, &["ns.example.com", "NS.example.com."]).starts_with("Duplicate"));
}

#[test]
fn addresses() {
    ok(RecordType::A, &["192.0.2.1", "10.0.0.255"]);
    assert_eq!(
        err(RecordType::A, &["1.2.3"]),
        "Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '1.2.3''"
    );
    for bad in [
        "256.1.1.1",
        "2001:db8::1",
        "",
        " 1.2.3.4",
        "www.example.com",
    ] {
        assert!(err(RecordType::A, &[bad]).contains("ARRDATAIllegalIPv4Address"));
    }
    ok(
        RecordType::Aaaa,
        &["2001:db8::1", "::ffff:192.0.2.1", "2001:0DB8:0:0:0:0:0:2"],
    );
    for bad in ["192.0.2.1", "fe80::1%eth0", "2001:db8:::1"] {
        assert_eq!(
            err(RecordType::Aaaa, &[bad]),
            format!("Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '{bad}''")
        );
    }
}

#[test]
fn domain_names() {
    ok(RecordType::Cname, &["target.example.net"]);
    ok(RecordType::Cname, &["Target.Example.NET."]);
    ok(RecordType::Ns, &["ns-1.example.com.", "ns-2.example.com"]);
    ok(RecordType::Ptr, &["host.example.com"]);
    assert!(err(RecordType::Cname, &["a.example.com", "b.example.com"])
        .contains("RRDATATooManyValues (A CNAME record set must have exactly one value)"));
    assert_eq!(
        err(RecordType::Cname, &["a..b"]),
        "Invalid Resource Record: 'FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with 'a..b''"
    );
    assert!(err(RecordType::Ns, &["bad host"]).contains("RRDATAIllegalWhitespace"));
    assert!(err(RecordType::Ptr, &[&"a".repeat(64)]).contains("DomainLabelTooLong"));
}

#[test]
fn mx_and_srv() {
    ok(
        RecordType::Mx,
        &["10 mail.example.com", "0 .", "65535 mx.example.com."],
    );
    assert_eq!(
        err(RecordType::Mx, &["mail.example.com"]),
        "Invalid Resource Record: 'FATAL problem: MXRRDATANotTwoFields (MX record doesn't have 2 fields) encountered with 'mail.example.com''"
    );
    for bad in [
        "65536 mail.example.com",
        "ten mail.example.com",
        "-1 mail.example.com",
        "+1 m.com",
    ] {
        assert!(err(RecordType::Mx, &[bad]).contains("MXRRDATAIllegalPriority"));
    }
    assert!(err(RecordType::Mx, &["10 a..b"]).contains("DomainLabelEmpty"));
    ok(RecordType::Srv, &["1 10 5269 xmpp.example.com", "0 0 0 ."]);
    assert!(err(RecordType::Srv, &["1 10 xmpp.example.com"]).contains("SRVRRDATANotFourFields"));
    assert!(
        err(RecordType::Srv, &["1 10 70000 xmpp.example.com"]).contains("SRVRRDATAIllegalNumber")
    );
    assert!(err(RecordType::Srv, &["1 x 80 xmpp.example.com"]).contains("SRVRRDATAIllegalNumber"));
}

#[test]
fn txt_strings() {
    ok(RecordType::Txt, &["\"v=spf1 -all\""]);
    ok(RecordType::Txt, &["\"part one\" \"part two\"", "\"\""]);
    ok(
        RecordType::Txt,
        &["\"a \\\"quoted\\\" word and a \\\\ backslash\""],
    );
    ok(RecordType::Txt, &["\"octal \\065 escape\""]);
    ok(RecordType::Txt, &[&format!("\"{}\"", "a".repeat(255))]);
    ok(
        RecordType::Txt,
        &[&format!("\"{}\" \"{}\"", "a".repeat(255), "b".repeat(255))],
    );
    // An escape is one character of the 255.
    ok(RecordType::Txt, &[&format!("\"{}\"", "\\\"".repeat(255))]);
    // An unquoted value without spaces is one string.
    ok(
        RecordType::Txt,
        &["cVlzlmT8gQxdHd2mx1mMIG4-zkwdAaPIarqg0yHreyg"],
    );
    assert_eq!(
        err(RecordType::Txt, &["Coo coo"]),
        "Invalid Resource Record: 'FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with 'Coo coo''"
    );
    for bad in [
        "\"unterminated",
        "\"ok\" trailing",
        "\"ok\"x",
        "a\"b",
        "\"a\\\"",
        "  ",
        "",
    ] {
        assert!(
            err(RecordType::Txt, &[bad]).contains("InvalidCharacterString"),
            "{bad}"
        );
    }
    assert_eq!(
        err(RecordType::Txt, &[&format!("\"{}\"", "a".repeat(256))]),
        "Invalid Resource Record: 'FATAL problem: TXTRDATATooLong (Value is too long) encountered with 'a string longer than 255 characters''"
    );
    assert!(err(RecordType::Txt, &[&"a".repeat(256)]).contains("TXTRDATATooLong"));
}

#[test]
fn caa() {
    ok(
        RecordType::Caa,
        &[
            "0 issue \"letsencrypt.org\"",
            "128 issuewild \";\"",
            "0 iodef \"mailto:a@example.com\"",
        ],
    );
    ok(
        RecordType::Caa,
        &["0 issue \"ca.example.net; account=230123\""],
    );
    assert!(err(RecordType::Caa, &["0 issue"]).contains("CAARRDATANotThreeFields"));
    assert!(
        err(RecordType::Caa, &["256 issue \"ca.example.net\""]).contains("CAARRDATAIllegalFlags")
    );
    assert!(err(RecordType::Caa, &["0 is-sue \"ca.example.net\""]).contains("CAARRDATAIllegalTag"));
    assert!(err(RecordType::Caa, &["0 issue ca.example.net"]).contains("CAARRDATAIllegalValue"));
    assert!(err(RecordType::Caa, &["0 issue \"a\" \"b\""]).contains("CAARRDATAIllegalValue"));
}

#[test]
fn soa() {
    ok(
        RecordType::Soa,
        &["ns-1.flotilla.internal. hostmaster.example.com. 1 7200 900 1209600 86400"],
    );
    let soa = "ns. host. 1 2 3 4 5";
    assert!(err(RecordType::Soa, &[soa, soa]).contains("RRDATATooManyValues"));
    assert!(err(RecordType::Soa, &["ns. host. 1 2 3 4"]).contains("SOARRDATANotSevenFields"));
    assert!(
        err(RecordType::Soa, &["ns. host. 1 2 3 4 4294967296"]).contains("SOARRDATAIllegalNumber")
    );
    assert!(err(RecordType::Soa, &["ns.. host. 1 2 3 4 5"]).contains("DomainLabelEmpty"));
}

#[test]
fn canonical_forms_and_comparison() {
    assert_eq!(canonical(RecordType::Txt, "token"), "\"token\"");
    assert_eq!(canonical(RecordType::Txt, "\"quoted\""), "\"quoted\"");
    assert_eq!(
        canonical(RecordType::Cname, "a.example.com"),
        "a.example.com"
    );
    let same = |t, a, b| comparison_key(t, a) == comparison_key(t, b);
    assert!(same(RecordType::Cname, "A.example.com", "a.example.com."));
    assert!(same(
        RecordType::Mx,
        "10 MAIL.example.com",
        "10 mail.example.com."
    ));
    assert!(same(RecordType::Aaaa, "2001:DB8:0::1", "2001:db8::1"));
    assert!(same(RecordType::Txt, "token", "\"token\""));
    assert!(!same(RecordType::Txt, "\"A\"", "\"a\""));
    assert!(!same(RecordType::A, "192.0.2.1", "192.0.2.2"));
}

fn any_type() -> impl Strategy<Value = RecordType> {
    proptest::sample::select(RecordType::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics(rtype in any_type(), values in proptest::collection::vec(any::<String>(), 0..4)) {
        let _ = validate(rtype, &values);
        for v in &values {
            let _ = canonical(rtype, v);
            let _ = comparison_key(rtype, v);
        }
    }

    #[test]
    fn never_panics_on_near_misses(
        rtype in any_type(),
        value in "[0-9a-z \"\\\\.:;]{0,40}",
    ) {
        let values = vec![value];
        if validate(rtype, &values).is_ok() {
            // A valid value stays valid once stored in canonical form.
            let stored = vec![canonical(rtype, &values[0])];
            prop_assert_eq!(validate(rtype, &stored), Ok(()));
        }
    }
}
