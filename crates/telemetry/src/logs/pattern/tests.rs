//! Filter pattern tests: each language on messages that match and that do not, the
//! errors a user sees, and arbitrary text thrown at the parser and the matcher.

use super::*;
use proptest::prelude::*;

fn check(pattern: &str, yes: &[&str], no: &[&str]) {
    let p = parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    for m in yes {
        assert!(p.matches(m), "{pattern} should match {m}");
    }
    for m in no {
        assert!(!p.matches(m), "{pattern} should not match {m}");
    }
}

fn error(pattern: &str) -> String {
    parse(pattern).map(|_| ()).expect_err(pattern).to_string()
}

#[test]
fn terms_phrases_alternatives_and_exclusions() {
    check("", &["anything", ""], &[]);
    check("   ", &["anything"], &[]);
    check(
        "ERROR",
        &["an ERROR here", "[ERROR] x", "ERROR:"],
        &["error", "ERR", "ERRORS", "_ERROR"],
    );
    check(
        "\"ERROR:\"",
        &["ERROR: x", "(ERROR:)"],
        &["ERRORS:", "xERROR:"],
    );
    check("é", &["café é"], &["café"]);
    check("\"a a\"", &["ba a a"], &["ba ab"]);
    check(
        "ERROR Exception",
        &["ERROR: Exception"],
        &["ERROR only", "Exception only"],
    );
    check(
        "\"Failed to start\"",
        &["x Failed to start y"],
        &["Failed  to start"],
    );
    check("?ERROR ?WARN", &["WARN a", "ERROR b"], &["INFO c"]);
    check("ERROR -Retry", &["ERROR now"], &["ERROR Retry", "INFO"]);
    check(
        "ERROR ?db ?cache -\"timed out\"",
        &["ERROR db"],
        &["ERROR", "ERROR db timed out"],
    );
    check("%5\\d\\d%", &["status 503"], &["status 404"]);
    check("\"say \\\"hi\\\"\"", &["they say \"hi\""], &["say hi"]);
}

#[test]
fn json_comparisons_and_logic() {
    let ok = r#"{"level":"error","latency":150,"user":{"id":7,"name":"ann"},"tags":["a","b"],"gone":null,"ok":true}"#;
    let slow = r#"{"level":"info","latency":1200,"user":{"id":8}}"#;
    check(
        r#"{ $.level = "error" }"#,
        &[ok],
        &[slow, "not json", "[1]"],
    );
    check("{ $.level = error }", &[ok], &[slow]);
    check("{ $.level = err* }", &[ok], &[slow]);
    check("{ $.level != \"error\" }", &[slow], &[ok]);
    check("{ $.latency > 1000 }", &[slow], &[ok]);
    check("{ $.latency <= 150 && $.latency >= 150 }", &[ok], &[slow]);
    check("{ $.latency = 150 }", &[ok], &[slow]);
    check("{ $.user.id = 7 || $.user.id = 8 }", &[ok, slow], &[]);
    check(
        "{ ($.user.id = 8 || $.level = error) && $.latency < 500 }",
        &[ok],
        &[slow],
    );
    check("{ $.tags[1] = \"b\" }", &[ok], &[slow]);
    check("{ $.user[\"name\"] = ann }", &[ok], &[slow]);
    check("{ $.gone IS NULL }", &[ok], &[slow]);
    check("{ $.ok IS TRUE }", &[ok], &[slow]);
    check("{ $.ok is false }", &[], &[ok, slow]);
    check("{ $.user.name NOT EXISTS }", &[slow], &[ok]);
    check("{ $.level = %^err% }", &[ok], &[slow]);
    check("{ $.missing != 3 }", &[], &[ok]);
}

#[test]
fn space_delimited_fields() {
    let line = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a.gif HTTP/1.0" 404 1534"#;
    check(
        "[ip, id, user, time, request, status, size]",
        &[line],
        &["a b c"],
    );
    check(
        "[ip, id, user, time, request, status = 404, size > 1000]",
        &[line],
        &[],
    );
    check("[ip, ..., status = 4*, size]", &[line], &["1 2 500 4"]);
    check("[ip = 127.*, ...]", &[line], &["10.0.0.1 x"]);
    check("[..., status = 200 || status = 404, size]", &[line], &[]);
    check("[ip, id, user = frank && user != bob, ...]", &[line], &[]);
    check(
        "[ip, id, user, time, request = \"GET /a.gif HTTP/1.0\", ...]",
        &[line],
        &[],
    );
    check("[a, b]", &["x y"], &["x", "x y z"]);
    check("[...]", &["", "x"], &[]);
}

#[test]
fn errors_say_what_and_where() {
    assert_eq!(
        error("{ $.level = }"),
        "Invalid filter pattern: expected a value, found '}' at column 13"
    );
    assert!(
        error("{ $.a = 1").contains("closing '}'"),
        "{}",
        error("{ $.a = 1")
    );
    assert!(error("{ level = 1 }").contains("expected a selector"));
    assert!(error("{ $.a > abc }").contains("only a number"));
    assert!(error("\"unterminated").contains("unterminated string"));
    assert!(error("ERROR x\"y").contains("double quotes"));
    assert!(error("%(%").contains("invalid regular expression"));
    assert!(error("[a, b").contains("',' or ']'"));
    assert!(error("{ $.a IS MAYBE }").contains("NULL, TRUE or FALSE"));
    assert!(error("{ $.a = 1 } extra").contains("after the pattern"));
}

proptest! {
    #[test]
    fn arbitrary_patterns_never_panic(source in "\\PC{0,40}", message in "\\PC{0,60}") {
        if let Ok(p) = parse(&source) {
            p.matches(&message);
        }
    }

    #[test]
    fn pattern_shaped_text_never_panics(
        source in "[\\[\\]{}()$.a-c0-9 =!<>&|?\"%*,-]{0,40}",
        message in "[{}\":a-c0-9 ,\\[\\]]{0,60}",
    ) {
        if let Ok(p) = parse(&source) {
            p.matches(&message);
        }
    }

    #[test]
    fn a_quoted_term_matches_text_that_holds_it_as_words(
        term in "[a-zA-Z0-9 ]{1,10}",
        pre in "\\PC{0,10}",
        post in "\\PC{0,10}",
    ) {
        let p = parse(&format!("\"{term}\"")).unwrap();
        let message = format!("{pre} {term} {post}");
        prop_assert!(p.matches(&message));
    }
}
