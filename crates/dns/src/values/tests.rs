use flotilla_model::dns::RecordType;
use hickory_proto::rr::RData;
use proptest::prelude::*;

use super::*;

fn txt(value: &str) -> Vec<Vec<u8>> {
    match parse(RecordType::Txt, value) {
        Ok(RData::TXT(t)) => t.txt_data.iter().map(|s| s.to_vec()).collect(),
        other => panic!("{value}: {other:?}"),
    }
}

#[test]
fn addresses_parse_and_bad_ones_do_not() {
    assert_eq!(
        parse(RecordType::A, " 192.0.2.1 "),
        Ok(RData::A(A("192.0.2.1".parse().unwrap())))
    );
    assert_eq!(parse(RecordType::A, "192.0.2"), Err(ValueError::Ipv4));
    assert_eq!(parse(RecordType::A, "2001:db8::1"), Err(ValueError::Ipv4));
    assert_eq!(
        parse(RecordType::Aaaa, "2001:DB8::1"),
        Ok(RData::AAAA(AAAA("2001:db8::1".parse().unwrap())))
    );
    assert_eq!(parse(RecordType::Aaaa, "192.0.2.1"), Err(ValueError::Ipv6));
}

#[test]
fn names_are_fully_qualified_and_lower_case_with_or_without_the_dot() {
    let with = parse(RecordType::Cname, "WWW.Example.com.").unwrap();
    let without = parse(RecordType::Cname, "www.example.com").unwrap();
    assert_eq!(with, without);
    let RData::CNAME(n) = with else {
        panic!("not a CNAME");
    };
    assert!(n.0.is_fqdn());
    assert_eq!(n.0.to_ascii(), "www.example.com.");
    assert!(matches!(
        parse(RecordType::Ns, "ns1.example.com"),
        Ok(RData::NS(_))
    ));
    assert!(matches!(
        parse(RecordType::Ptr, "host.example.com."),
        Ok(RData::PTR(_))
    ));
    assert!(matches!(
        parse(RecordType::Cname, ""),
        Err(ValueError::Fields { .. })
    ));
    assert!(matches!(
        parse(RecordType::Cname, "a b"),
        Err(ValueError::Fields { .. })
    ));
    assert!(matches!(
        parse(RecordType::Cname, &format!("{}.com", "a".repeat(64))),
        Err(ValueError::Name(_))
    ));
    assert!(matches!(
        parse(RecordType::Cname, "a..b"),
        Err(ValueError::Name(_))
    ));
}

#[test]
fn mx_and_srv_have_their_fields() {
    let RData::MX(mx) = parse(RecordType::Mx, "10 mail.example.com").unwrap() else {
        panic!("not an MX");
    };
    assert_eq!(
        (mx.preference, mx.exchange.to_ascii().as_str()),
        (10, "mail.example.com.")
    );
    assert_eq!(
        parse(RecordType::Mx, "mail.example.com"),
        Err(ValueError::Fields {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        parse(RecordType::Mx, "70000 mail.example.com"),
        Err(ValueError::Number { max: 65535 })
    );
    assert_eq!(
        parse(RecordType::Mx, "-1 mail.example.com"),
        Err(ValueError::Number { max: 65535 })
    );
    let RData::SRV(srv) = parse(RecordType::Srv, "1 2 8080 host.example.com").unwrap() else {
        panic!("not an SRV");
    };
    assert_eq!((srv.priority, srv.weight, srv.port), (1, 2, 8080));
    assert_eq!(srv.target.to_ascii(), "host.example.com.");
    assert!(matches!(
        parse(RecordType::Srv, "1 2 host.example.com"),
        Err(ValueError::Fields { .. })
    ));
}

#[test]
fn txt_takes_one_or_more_strings_with_escapes() {
    assert_eq!(txt(r#""v=spf1 -all""#), [b"v=spf1 -all".to_vec()]);
    assert_eq!(
        txt(r#""part one" "part two""#),
        [b"part one".to_vec(), b"part two".to_vec()]
    );
    assert_eq!(txt(r#""say \"hi\"""#), [br#"say "hi""#.to_vec()]);
    assert_eq!(txt(r#""back\\slash""#), [br"back\slash".to_vec()]);
    assert_eq!(txt(r#""\065\066C""#), [b"ABC".to_vec()]);
    assert_eq!(txt(r#""""#), [Vec::<u8>::new()]);
    assert_eq!(txt("bare words"), [b"bare".to_vec(), b"words".to_vec()]);
    assert_eq!(txt(r#""a"b"#), [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(
        parse(RecordType::Txt, r#""open"#),
        Err(ValueError::Unterminated)
    );
    assert_eq!(parse(RecordType::Txt, r#""\256""#), Err(ValueError::Escape));
    assert_eq!(parse(RecordType::Txt, r#""\12""#), Err(ValueError::Escape));
    assert_eq!(parse(RecordType::Txt, r#""end\"#), Err(ValueError::Escape));
    assert!(matches!(
        parse(RecordType::Txt, "  "),
        Err(ValueError::Fields { .. })
    ));
    let long = format!("\"{}\"", "x".repeat(256));
    assert_eq!(parse(RecordType::Txt, &long), Err(ValueError::TooLong));
    let max = format!("\"{}\"", "x".repeat(255));
    assert_eq!(txt(&max)[0].len(), 255);
}

#[test]
fn caa_keeps_its_flags_tag_and_value() {
    let RData::CAA(caa) = parse(RecordType::Caa, r#"0 issue "letsencrypt.org""#).unwrap() else {
        panic!("not a CAA");
    };
    assert_eq!((caa.flags(), caa.tag.as_str()), (0, "issue"));
    assert_eq!(caa.value, b"letsencrypt.org");
    let RData::CAA(caa) = parse(
        RecordType::Caa,
        r#"128 iodef "mailto:security@example.com""#,
    )
    .unwrap() else {
        panic!("not a CAA");
    };
    assert!(caa.issuer_critical);
    assert_eq!(caa.value, b"mailto:security@example.com");
    assert_eq!(
        parse(RecordType::Caa, r#"0 is-sue "x""#),
        Err(ValueError::CaaTag)
    );
    assert_eq!(parse(RecordType::Caa, r#"0 "#), Err(ValueError::CaaTag));
    assert_eq!(
        parse(RecordType::Caa, r#"256 issue "x""#),
        Err(ValueError::Number { max: 255 })
    );
    assert!(matches!(
        parse(RecordType::Caa, r#"0 issue "a" "b""#),
        Err(ValueError::Fields { .. })
    ));
}

#[test]
fn soa_values_are_not_served() {
    assert_eq!(
        parse(
            RecordType::Soa,
            "ns1.example.com. hostmaster.example.com. 1 2 3 4 5"
        ),
        Err(ValueError::Unsupported("SOA"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_of_any_type_parses_or_errs_without_panicking(
        rtype in proptest::sample::select(RecordType::ALL.to_vec()),
        value in prop_oneof![
            any::<String>(),
            "[0-9a-zA-Z .:\"\\\\*_-]{0,80}",
            "[0-9]{1,6} [a-z.]{0,30}",
            "[0-9]{1,3} [a-z]{1,16} \"[ -~]{0,20}\"?",
        ],
    ) {
        let _ = parse(rtype, &value);
    }

    #[test]
    fn quoted_strings_come_back_as_written(strings in proptest::collection::vec("[ -~]{0,255}", 1..5)) {
        let written = strings
            .iter()
            .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(" ");
        let expected: Vec<Vec<u8>> = strings.iter().map(|s| s.as_bytes().to_vec()).collect();
        prop_assert_eq!(txt(&written), expected);
    }
}
