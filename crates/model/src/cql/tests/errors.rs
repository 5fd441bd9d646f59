//! Malformed input: each error names the position and what was expected there, and the
//! length and nesting bounds hold.

use super::super::*;
use crate::error::ErrorKind;

fn error(expr: &str) -> String {
    match parse(expr) {
        Ok(parsed) => panic!("{expr:?} parsed as {parsed:?}"),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::InvalidParameter);
            e.message
        }
    }
}

#[test]
fn bad_regular_expressions_fail_at_parse_time() {
    assert!(error("attribute:a =~ '(t2'").starts_with(
        "Invalid filter expression at position 16: expected a valid regular expression after '=~'"
    ));
    // Balanced on its own is required, so a pattern cannot escape the anchoring group.
    assert!(error("attribute:a =~ 'a)|(b'").contains("position 16"));
    assert!(error("attribute:a =~ 'a{1000}{1000}'").contains("regular expression"));
    assert!(error("attribute:a =~ '(?=x)'").contains("regular expression"));
}

#[test]
fn malformed_expressions_say_where_and_what_was_expected() {
    let p = "Invalid filter expression at position";
    let cases = [
        (
            "attribute:stack ==",
            format!("{p} 19: expected a value after '==', found the end of the expression."),
        ),
        (
            "attribute:stack equals )",
            format!("{p} 24: expected a value after 'equals', found ')'."),
        ),
        ("", format!("{p} 1: expected a subject (attribute:NAME, task:group, agentConnected, agentVersion, ec2InstanceId, registeredAt or runningTasksCount), found the end of the expression.")),
        ("stack == prod", format!("{p} 1: expected a subject (attribute:NAME, task:group, agentConnected, agentVersion, ec2InstanceId, registeredAt or runningTasksCount), found 'stack'.")),
        ("attribute:stack prod", format!("{p} 17: expected an operator (==, !=, >, >=, <, <=, exists, !exists, in, not_in, =~, !~) after attribute:stack, found 'prod'.")),
        ("attribute:a = b", format!("{p} 13: expected '==' or '=~', found '='.")),
        ("attribute:a == b & c", format!("{p} 18: expected '&&', found '&'.")),
        ("attribute:a == b | c", format!("{p} 18: expected '||', found '|'.")),
        ("attribute:a == 'b", format!("{p} 16: expected a closing ' for the string starting here.")),
        ("attribute:a == b#", format!("{p} 17: unexpected character '#'.")),
        ("attribute:a == b c", format!("{p} 18: expected 'and', 'or' or the end of the expression, found 'c'.")),
        ("(attribute:a exists", format!("{p} 20: expected ')' to close the '(' at position 1, found the end of the expression.")),
        ("attribute:a exists)", format!("{p} 19: expected 'and', 'or' or the end of the expression, found ')'.")),
        ("attribute:a in a, b", format!("{p} 16: expected a list such as [a, b] after 'in', found 'a'.")),
        ("attribute:a in []", format!("{p} 17: expected a value after '[', found ']'.")),
        ("attribute:a in [a b]", format!("{p} 19: expected ',' or ']' in the list, found 'b'.")),
        ("attribute:a in [a,]", format!("{p} 19: expected a value after ',', found ']'.")),
        ("attribute:a in (a]", format!("{p} 18: expected ',' or ')' in the list, found ']'.")),
        ("attribute:a ! equals b", format!("{p} 15: expected 'exists', 'in' or 'matches' after '!', found 'equals'.")),
        ("attribute: == b", format!("{p} 1: expected an attribute name of letters, digits, '-', '_', '.', '/', '\\', ':' or '@' after 'attribute:', found 'attribute:'.")),
        ("attribute:a* exists", format!("{p} 1: expected an attribute name of letters, digits, '-', '_', '.', '/', '\\', ':' or '@' after 'attribute:', found 'attribute:a*'.")),
        ("attribute:a exists and", format!("{p} 23: expected a subject (attribute:NAME, task:group, agentConnected, agentVersion, ec2InstanceId, registeredAt or runningTasksCount), found the end of the expression.")),
        ("task:group exists", format!("{p} 12: expected one of ==, !=, in, not_in, =~, !~ after task:group, found 'exists'.")),
        ("agentVersion =~ 1.*", format!("{p} 14: expected one of ==, !=, >, >=, <, <= after agentVersion, found '=~'.")),
        ("ec2InstanceId greater_than i-1", format!("{p} 15: expected one of ==, !=, in, not_in, =~, !~ after ec2InstanceId, found 'greater_than'.")),
        ("registeredAt < yesterday", format!("{p} 16: expected a date such as 2018-06-18T22:28:28Z, 2018-06-18 or epoch seconds after '<' for registeredAt, found 'yesterday'.")),
        ("runningTasksCount > many", format!("{p} 21: expected a whole number after '>' for runningTasksCount, found 'many'.")),
    ];
    for (input, expected) in cases {
        assert_eq!(error(input), expected, "{input}");
    }
}

#[test]
fn length_and_nesting_are_bounded() {
    let long = format!("attribute:a == {}", "x".repeat(MAX_LENGTH - 15));
    assert!(parse(&long).is_ok());
    let too_long = format!("{long}x");
    assert_eq!(
        error(&too_long),
        "Invalid filter expression: it is 2001 characters long; the maximum is 2000."
    );
    // Characters, not bytes, count.
    assert!(parse(&format!("attribute:a == '{}'", "é".repeat(1980))).is_ok());

    let nested = |n: usize| format!("{}attribute:a exists{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(MAX_DEPTH)).is_ok());
    assert!(error(&nested(MAX_DEPTH + 1)).contains("expected at most 64 nested"));
    assert!(error(&format!("{}attribute:a exists", "not ".repeat(100))).contains("at most 64"));
    assert!(error(&"(".repeat(MAX_LENGTH)).contains("at most 64"));
}
