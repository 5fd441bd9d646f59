//! Property tests: well-formed expressions in every spelling parse, and what `Display`
//! prints reads back as the same tree; token soup never panics the parser.

use proptest::prelude::*;

use super::super::*;

/// A string quoted so the lexer reads `text` back: either quote, the same one doubled inside.
fn quote(text: &str, double: bool) -> String {
    let q = if double { '"' } else { '\'' };
    format!("{q}{}{q}", text.replace(q, &format!("{q}{q}")))
}

/// A value: a bare word (maybe with wildcards) or any quoted text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9][a-zA-Z0-9.*:/_+-]{0,10}",
        (".{0,12}", any::<bool>()).prop_map(|(text, double)| quote(&text, double)),
    ]
}

fn list() -> impl Strategy<Value = String> {
    (prop::collection::vec(value(), 1..4), any::<bool>()).prop_map(|(values, round)| {
        let (open, close) = if round { ("(", ")") } else { ("[", "]") };
        format!("{open}{}{close}", values.join(", "))
    })
}

fn pattern() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "t2.*",
        "'^(t2|m4)\\.(small|large)$'",
        "\"i-[0-9a-f]{8}\"",
        "service:.*",
        "'it''s'",
        "''",
    ])
    .prop_map(str::to_owned)
}

fn one_of(options: &[&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(options.to_vec()).prop_map(str::to_owned)
}

/// `attribute:NAME` with any operator and a fitting argument.
fn attribute_comparison() -> impl Strategy<Value = String> {
    let name = "[a-zA-Z][a-zA-Z0-9._/:@-]{0,12}";
    let scalar = (
        one_of(&[
            "==",
            "equals",
            "!=",
            "NOT_EQUALS",
            ">",
            "greater_than",
            ">=",
            "greater_than_equal",
            "<",
            "less_than",
            "<=",
            "less_than_equal",
        ]),
        value(),
    )
        .prop_map(|(op, v)| format!("{op} {v}"));
    let exists = one_of(&["exists", "!exists", "! exists", "not_exists", "NOT EXISTS"]);
    let listed = (one_of(&["in", "not_in", "not in", "!in", "IN"]), list())
        .prop_map(|(op, l)| format!("{op} {l}"));
    let matched = (
        one_of(&["=~", "matches", "!~", "not_matches", "not matches"]),
        pattern(),
    )
        .prop_map(|(op, p)| format!("{op} {p}"));
    (
        name,
        prop_oneof![scalar, exists, listed, matched],
        any::<bool>(),
    )
        .prop_map(|(name, rest, upper)| {
            let prefix = if upper { "ATTRIBUTE:" } else { "attribute:" };
            format!("{prefix}{name} {rest}")
        })
}

/// The built-ins and `task:group`, with the operators the guide allows them.
fn builtin_comparison() -> impl Strategy<Value = String> {
    let set_subject = one_of(&["task:group", "agentConnected", "ec2InstanceId"]);
    let set_op = prop_oneof![
        (one_of(&["==", "!=", "equals"]), value()).prop_map(|(o, v)| format!("{o} {v}")),
        (one_of(&["in", "not_in", "!in"]), list()).prop_map(|(o, l)| format!("{o} {l}")),
        (one_of(&["=~", "!~"]), pattern()).prop_map(|(o, p)| format!("{o} {p}")),
    ];
    let order_op = || one_of(&["==", "!=", ">", ">=", "<", "<=", "less_than"]);
    let count = (order_op(), 0u32..1000).prop_map(|(o, n)| format!("runningTasksCount {o} {n}"));
    let date = (
        order_op(),
        one_of(&[
            "2016-02-10T12:00:00Z",
            "2016-02-10",
            "'2016-02-10T12:00:00+01:00'",
            "1455105600",
        ]),
    )
        .prop_map(|(o, d)| format!("registeredAt {o} {d}"));
    let version = (order_op(), "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}")
        .prop_map(|(o, v)| format!("agentVersion {o} {v}"));
    prop_oneof![
        (set_subject, set_op).prop_map(|(s, o)| format!("{s} {o}")),
        count,
        date,
        version,
    ]
}

/// Well-formed expressions combining comparisons in every spelling of the connectives.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![attribute_comparison(), builtin_comparison()];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), one_of(&["and", "&&", "AND"]), inner.clone())
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (inner.clone(), one_of(&["or", "||", "Or"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            (one_of(&["not ", "!", "NOT"]), inner.clone()).prop_map(|(op, e)| format!("{op}({e})")),
            inner.prop_map(|e| format!("( {e} )")),
        ]
    })
}

/// Tokens, valid and not, strung together in any order.
fn token_soup() -> impl Strategy<Value = String> {
    let token = one_of(&[
        "attribute:a",
        "attribute:ecs.instance-type",
        "task:group",
        "registeredAt",
        "runningTasksCount",
        "agentVersion",
        "==",
        "!=",
        ">",
        "<=",
        "=~",
        "!~",
        "!",
        "not",
        "in",
        "not_in",
        "exists",
        "and",
        "or",
        "&&",
        "||",
        "(",
        ")",
        "[",
        "]",
        ",",
        "t2.*",
        "'a b'",
        "\"x\"",
        "1",
        "2016-02-10",
        "'(t2'",
        "*",
        "=",
        "&",
        "#",
    ]);
    prop::collection::vec(token, 0..16).prop_map(|tokens| tokens.join(" "))
}

/// `parsed` printed and parsed again is the same tree, and printing is idempotent.
fn assert_round_trip(parsed: &Expr) -> Result<(), TestCaseError> {
    let printed = parsed.to_string();
    let reparsed = parse(&printed)
        .map_err(|e| TestCaseError::fail(format!("{printed:?} does not parse: {e}")))?;
    prop_assert_eq!(&reparsed, parsed, "printed as {}", printed);
    prop_assert_eq!(reparsed.to_string(), printed);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn well_formed_expressions_parse_and_print_back(input in expression()) {
        let parsed = parse(&input)
            .map_err(|e| TestCaseError::fail(format!("{input:?} does not parse: {e}")))?;
        assert_round_trip(&parsed)?;
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(input in any::<String>()) {
        let _ = parse(&input);
    }

    #[test]
    fn parse_never_panics_on_printable_text(input in "\\PC{0,120}") {
        let _ = parse(&input);
    }

    #[test]
    fn token_soup_never_panics_and_round_trips_when_valid(input in token_soup()) {
        if let Ok(parsed) = parse(&input) {
            assert_round_trip(&parsed)?;
        }
    }
}
