//! Tests of the cluster query language: every operator in every spelling, the AWS guide's
//! examples, the error messages, and properties (parse never panics; the printed form reads
//! back as the same tree).

use std::collections::HashMap;

use super::*;

mod errors;
mod props;

/// A container instance as the evaluator sees it.
#[derive(Default)]
struct Instance {
    attributes: HashMap<String, String>,
    builtins: HashMap<String, String>,
    groups: Vec<String>,
}

impl Instance {
    fn with(mut self, name: &str, value: &str) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
    fn builtin(mut self, name: &str, value: &str) -> Self {
        self.builtins.insert(name.into(), value.into());
        self
    }
    fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }
}

impl Subject for Instance {
    fn attribute(&self, name: &str) -> Option<String> {
        self.attributes.get(name).cloned()
    }
    fn builtin(&self, name: &str) -> Option<String> {
        self.builtins.get(name).cloned()
    }
    fn task_groups(&self) -> Vec<String> {
        self.groups.clone()
    }
}

/// A t2.small in us-east-1a running two tasks of `service:web`.
fn t2_small() -> Instance {
    Instance::default()
        .with("ecs.instance-type", "t2.small")
        .with("ecs.availability-zone", "us-east-1a")
        .with("ecs.ami-id", "ami-1a2b3c4d")
        .with("stack", "prod")
        .with("cpu", "1024")
        .with("team", "data science")
        .builtin("agentConnected", "true")
        .builtin("agentVersion", "1.14.5")
        .builtin("ec2InstanceId", "i-abcd1234")
        .builtin("registeredAt", "2016-01-05T08:30:00Z")
        .builtin("runningTasksCount", "2")
        .groups(&["service:web", "service:web"])
}

fn eval(expr: &str, on: &Instance) -> bool {
    match parse(expr) {
        Ok(parsed) => parsed.matches(on),
        Err(e) => panic!("{expr:?} did not parse: {e}"),
    }
}

/// Asserts each expression evaluates as listed against `on`.
fn check(on: &Instance, cases: &[(&str, bool)]) {
    for (expr, expected) in cases {
        assert_eq!(eval(expr, on), *expected, "{expr}");
    }
}

fn normal(expr: &str) -> String {
    parse(expr)
        .map(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn comparison_operators_in_symbol_and_word_form() {
    check(
        &t2_small(),
        &[
            ("attribute:stack == prod", true),
            ("attribute:stack equals prod", true),
            ("attribute:stack == dev", false),
            ("attribute:stack != dev", true),
            ("attribute:stack not_equals dev", true),
            ("attribute:stack != prod", false),
            ("attribute:cpu > 512", true),
            ("attribute:cpu greater_than 1024", false),
            ("attribute:cpu >= 1024", true),
            ("attribute:cpu greater_than_equal 1025", false),
            ("attribute:cpu < 2048", true),
            ("attribute:cpu less_than 1024", false),
            ("attribute:cpu <= 1024", true),
            ("attribute:cpu less_than_equal 1023", false),
        ],
    );
}

#[test]
fn exists_in_every_spelling() {
    check(
        &t2_small(),
        &[
            ("attribute:stack exists", true),
            ("attribute:gpu exists", false),
            ("attribute:gpu !exists", true),
            ("attribute:gpu ! exists", true),
            ("attribute:gpu not_exists", true),
            ("attribute:gpu not exists", true),
            ("attribute:stack not_exists", false),
        ],
    );
}

#[test]
fn in_and_not_in_with_brackets_or_parentheses() {
    check(
        &t2_small(),
        &[
            (
                "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
                true,
            ),
            (
                "attribute:ecs.availability-zone in (us-east-1b, us-east-1c)",
                false,
            ),
            ("attribute:ecs.availability-zone in [us-east-1a]", true),
            ("attribute:ecs.availability-zone not_in [us-east-1b]", true),
            (
                "attribute:ecs.availability-zone not in [us-east-1a, x]",
                false,
            ),
            ("attribute:ecs.availability-zone !in [us-east-1a]", false),
            ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", true),
            ("attribute:gpu in [a, b]", false),
            ("attribute:gpu not_in [a, b]", true),
        ],
    );
}

#[test]
fn regular_expressions_match_the_whole_value() {
    check(
        &t2_small(),
        &[
            ("attribute:ecs.instance-type =~ t2.*", true),
            ("attribute:ecs.instance-type matches t2.*", true),
            ("attribute:ecs.instance-type =~ g2.*", false),
            ("attribute:ecs.instance-type =~ t2", false),
            ("attribute:ecs.instance-type =~ small", false),
            (
                "attribute:ecs.instance-type =~ '(t2|m4)\\.(small|large)'",
                true,
            ),
            ("attribute:ecs.instance-type =~ \"t\\d\\.s.*\"", true),
            ("attribute:ecs.instance-type !~ t2.*", false),
            ("attribute:ecs.instance-type not_matches m4.*", true),
            ("attribute:ecs.instance-type not matches m4.*", true),
            ("attribute:gpu =~ .*", false),
            ("attribute:gpu !~ .*", true),
        ],
    );
}

#[test]
fn wildcards_in_bare_values_of_equality_and_lists() {
    check(
        &t2_small(),
        &[
            ("attribute:ecs.instance-type == t2.*", true),
            ("attribute:ecs.instance-type == *.small", true),
            ("attribute:ecs.instance-type == t*l", true),
            ("attribute:ecs.instance-type == *", true),
            ("attribute:ecs.instance-type == m4.*", false),
            ("attribute:ecs.instance-type != t2.*", false),
            ("attribute:ecs.instance-type in [m4.*, t2.*]", true),
            ("attribute:ecs.instance-type not_in [m4.*, c5.*]", true),
            // Quoted values are literal.
            ("attribute:ecs.instance-type == 't2.*'", false),
            ("attribute:gpu == *", false),
        ],
    );
    let star = Instance::default().with("glob", "t2.*");
    assert!(eval("attribute:glob == 't2.*'", &star));
    assert!(eval("attribute:glob in [\"t2.*\"]", &star));
}

#[test]
fn numbers_compare_numerically_and_other_values_lexicographically() {
    let on = Instance::default()
        .with("cpu", "1024")
        .with("ratio", "0.75")
        .with("name", "beta")
        .with("version", "1.10.0");
    check(
        &on,
        &[
            // As strings "1024" < "512"; as numbers it is the other way round.
            ("attribute:cpu > 512", true),
            ("attribute:cpu < 512", false),
            ("attribute:cpu > 1e3", true),
            ("attribute:ratio < 1", true),
            ("attribute:ratio >= 0.750", true),
            ("attribute:name > alpha", true),
            ("attribute:name < gamma", true),
            ("attribute:name > 100", true),
            ("attribute:version > 1.9.0", true),
            ("attribute:version <= 1.10", true),
            ("attribute:version > 1.10.0.1", false),
        ],
    );
}

#[test]
fn built_in_subjects() {
    check(
        &t2_small(),
        &[
            ("agentConnected == true", true),
            ("agentConnected != false", true),
            ("agentConnected in [false]", false),
            ("agentVersion > 1.9.0", true),
            ("agentVersion < 1.14.10", true),
            ("agentVersion == 1.14.5", true),
            ("ec2InstanceId == i-abcd1234", true),
            ("ec2InstanceId =~ i-.*", true),
            ("runningTasksCount == 2", true),
            ("runningTasksCount > 10", false),
            ("runningTasksCount <= 2", true),
            ("RUNNINGTASKSCOUNT >= 1", true),
        ],
    );
    // A built-in the subject does not know behaves like a missing attribute.
    check(
        &Instance::default(),
        &[
            ("agentConnected == true", false),
            ("agentConnected != true", true),
            ("runningTasksCount < 5", false),
            ("ec2InstanceId not_in [i-1]", true),
        ],
    );
}

#[test]
fn registered_at_compares_instants_in_any_format() {
    check(
        &t2_small(),
        &[
            ("registeredAt < 2016-02-10T12:00:00Z", true),
            ("registeredAt > 2016-02-10T12:00:00Z", false),
            ("registeredAt >= 2016-01-05", true),
            ("registeredAt < 2016-01-06", true),
            ("registeredAt == 2016-01-05T09:30:00+01:00", true),
            ("registeredAt == 2016-01-05T08:30:00", true),
            ("registeredAt == 1451982600", true),
            ("registeredAt > 1451982599.5", true),
            ("registeredAt != 2016-01-05T08:30:00Z", false),
        ],
    );
    let epoch = Instance::default().builtin("registeredAt", "1451982600");
    assert!(eval("registeredAt == 2016-01-05T08:30:00Z", &epoch));
    assert!(!eval("registeredAt < 2016-01-01", &epoch));
}

#[test]
fn task_group_holds_for_any_task_and_its_negation_for_none() {
    let on = Instance::default().groups(&["service:production", "family:batch"]);
    let idle = Instance::default();
    let cases = [
        ("task:group == service:production", true, false),
        ("task:group == service:staging", false, false),
        ("task:group != service:production", false, true),
        ("task:group != service:staging", true, true),
        ("task:group in [family:batch, x]", true, false),
        ("task:group not_in [family:batch]", false, true),
        ("task:group =~ service:.*", true, false),
        ("task:group !~ service:.*", false, true),
        ("task:group == service:*", true, false),
        ("not(task:group == database)", true, true),
    ];
    for (expr, busy, empty) in cases {
        assert_eq!(eval(expr, &on), busy, "{expr} on a busy instance");
        assert_eq!(eval(expr, &idle), empty, "{expr} on an idle instance");
    }
}

#[test]
fn missing_attributes_satisfy_only_negative_operators() {
    check(
        &Instance::default(),
        &[
            ("attribute:stack == prod", false),
            ("attribute:stack > 1", false),
            ("attribute:stack <= 1", false),
            ("attribute:stack in [prod]", false),
            ("attribute:stack =~ .*", false),
            ("attribute:stack exists", false),
            ("attribute:stack != prod", true),
            ("attribute:stack not_in [prod]", true),
            ("attribute:stack !~ prod", true),
            ("attribute:stack !exists", true),
        ],
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let on = Instance::default().with("a", "1");
    // `or` binds loosest: true or (false and false).
    assert!(eval(
        "attribute:a == 1 or attribute:a == 2 and attribute:a == 3",
        &on
    ));
    // Parentheses override it: (true or false) and false.
    assert!(!eval(
        "(attribute:a == 1 or attribute:a == 2) and attribute:a == 3",
        &on
    ));
    // `not` binds tightest: (not false) and true.
    assert!(eval("not attribute:a == 2 and attribute:a == 1", &on));
    assert!(!eval("not (attribute:a == 2 or attribute:a == 1)", &on));
    assert!(eval(
        "!attribute:a == 2 && (attribute:a == 9 || attribute:a == 1)",
        &on
    ));
    assert!(eval("not not attribute:a == 1", &on));

    let parsed = parse("attribute:a == 1 or attribute:b == 2 and not attribute:c exists");
    let Ok(Expr::Or(parts)) = parsed else {
        panic!("expected an Or, got {parsed:?}")
    };
    assert!(matches!(parts[0], Expr::Compare(_)));
    let Expr::And(right) = &parts[1] else {
        panic!("expected an And, got {:?}", parts[1])
    };
    assert!(matches!(right[1], Expr::Not(_)));
}

#[test]
fn chains_are_flattened() {
    let flat = parse("attribute:a exists and attribute:b exists and attribute:c exists");
    let grouped = parse("(attribute:a exists and attribute:b exists) and (attribute:c exists)");
    assert_eq!(flat, grouped);
    assert!(matches!(flat, Ok(Expr::And(ref parts)) if parts.len() == 3));
}

#[test]
fn quoted_values_may_hold_spaces_and_quotes() {
    let on = t2_small().with("motto", "it's \"fine\"");
    check(
        &on,
        &[
            ("attribute:team == 'data science'", true),
            ("attribute:team == \"data science\"", true),
            ("attribute:team in ['data science', ops]", true),
            ("attribute:motto == 'it''s \"fine\"'", true),
            ("attribute:motto == \"it's \"\"fine\"\"\"", true),
            ("attribute:team == ''", false),
        ],
    );
}

#[test]
fn keywords_are_case_insensitive() {
    check(
        &t2_small(),
        &[
            (
                "attribute:stack EQUALS prod AND attribute:cpu Greater_Than 1",
                true,
            ),
            (
                "NOT attribute:stack Exists OR attribute:stack IN [prod]",
                true,
            ),
            ("attribute:stack Not In [prod]", false),
            ("Attribute:stack == prod", true),
            ("TASK:GROUP == service:web", true),
            ("agentconnected == true", true),
        ],
    );
    // Attribute names and values are not.
    assert!(!eval("attribute:STACK == prod", &t2_small()));
    assert!(!eval("attribute:stack == PROD", &t2_small()));
}

#[test]
fn the_aws_guide_examples() {
    let on = t2_small().with("ecs.availability-zone", "us-east-1b");
    let busy = t2_small().groups(&["service:production"]);
    check(
        &on,
        &[
            ("attribute:ecs.instance-type == t2.small", true),
            ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", true),
            ("attribute:ecs.instance-type =~ g2.*", false),
            ("not(attribute:ecs.instance-type =~ t2.*)", false),
            ("attribute:ecs.ami-id != ami-1a2b3c4d", false),
            ("runningTasksCount == 1", false),
            ("registeredAt < 2016-02-10T12:00:00Z", true),
            ("agentConnected == false", false),
            ("agentVersion != 1.14.5", false),
            ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", true),
            (
                "attribute:stack == prod and attribute:ecs.availability-zone != us-east-1a",
                true,
            ),
            (
                "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d",
                true,
            ),
            (
                "(attribute:ecs.instance-type == t2.small or attribute:ecs.instance-type == t2.medium) \
                 and task:group != service:production",
                true,
            ),
        ],
    );
    check(
        &busy,
        &[
            ("task:group == service:production", true),
            ("not(task:group == service:production)", false),
        ],
    );
}

#[test]
fn display_is_a_normalised_form() {
    let cases = [
        ("attribute:stack equals prod", "attribute:stack == prod"),
        ("ATTRIBUTE:x NOT IN ( a,b )", "attribute:x not_in [a, b]"),
        ("attribute:x ! exists", "attribute:x !exists"),
        ("attribute:x not matches 'a b'", "attribute:x !~ 'a b'"),
        ("attribute:x matches t2.*", "attribute:x =~ t2.*"),
        ("attribute:x == 't2.*'", "attribute:x == 't2.*'"),
        ("attribute:x == 'it''s'", "attribute:x == \"it's\""),
        ("attribute:x == \"plain\"", "attribute:x == plain"),
        ("attribute:x > 't*'", "attribute:x > 't*'"),
        ("!(attribute:a exists)", "not (attribute:a exists)"),
        (
            "(attribute:a exists || attribute:b exists) && attribute:c exists",
            "(attribute:a exists or attribute:b exists) and attribute:c exists",
        ),
        (
            "attribute:a exists or attribute:b exists and attribute:c exists",
            "attribute:a exists or (attribute:b exists and attribute:c exists)",
        ),
        ("task:group == service:web", "task:group == service:web"),
        ("registeredat < 2016-02-10", "registeredAt < 2016-02-10"),
    ];
    for (input, expected) in cases {
        assert_eq!(normal(input), expected, "{input}");
    }
}
