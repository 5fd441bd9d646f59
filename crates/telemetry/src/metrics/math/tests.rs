//! Metric math: the parser's precedence and errors, every function, series matched by
//! timestamp, and arbitrary strings thrown at the parser.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

struct Fixed {
    values: HashMap<String, Value>,
    order: Vec<String>,
    range: (i64, i64),
}

impl Resolve for Fixed {
    fn id(&mut self, id: &str) -> Result<Option<Value>, MathError> {
        Ok(self.values.get(id).cloned())
    }
    fn metrics(&mut self, prefix: &str) -> Result<Vec<TimeSeries>, MathError> {
        Ok(self
            .order
            .iter()
            .filter(|id| id.starts_with(prefix))
            .filter_map(|id| match self.values.get(id) {
                Some(Value::Series(s)) => Some(s.clone()),
                _ => None,
            })
            .collect())
    }
    fn range(&self) -> (i64, i64) {
        self.range
    }
}

fn series(label: &str, points: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        label: label.into(),
        points: points.to_vec(),
        period: 60,
    }
}

fn fixture() -> Fixed {
    let m1 = series("m1", &[(0, 1.0), (60, 2.0), (120, 3.0)]);
    let m2 = series("m2", &[(0, 10.0), (120, 30.0)]);
    let other = series("other", &[(60, 100.0)]);
    Fixed {
        values: [
            ("m1".to_string(), Value::Series(m1)),
            ("m2".to_string(), Value::Series(m2)),
            ("other".to_string(), Value::Series(other)),
        ]
        .into(),
        order: vec!["m1".into(), "m2".into(), "other".into()],
        range: (0, 240),
    }
}

fn run(src: &str) -> Result<Value, MathError> {
    eval(&parse(src)?, &mut fixture())
}

fn points(src: &str) -> Vec<(i64, f64)> {
    match run(src).unwrap_or_else(|e| panic!("{src}: {e}")) {
        Value::Series(s) => s.points,
        v => panic!("{src}: not a series: {v:?}"),
    }
}

#[test]
fn arithmetic_follows_precedence_and_matches_timestamps() {
    assert_eq!(run("1 + 2 * 3 - -4 / 2").unwrap(), Value::Scalar(9.0));
    assert_eq!(run("(1 + 2) * 3").unwrap(), Value::Scalar(9.0));
    assert_eq!(points("m1 * 2"), vec![(0, 2.0), (60, 4.0), (120, 6.0)]);
    assert_eq!(
        points("m1 + m2"),
        vec![(0, 11.0), (120, 33.0)],
        "only shared timestamps"
    );
    assert_eq!(points("-m1")[0], (0, -1.0));
    assert_eq!(
        points("m1 / (m1 - 1)"),
        vec![(60, 2.0), (120, 1.5)],
        "x/0 is dropped"
    );
    assert_eq!(points("100 * m2 / m1"), vec![(0, 1000.0), (120, 1000.0)]);
}

#[test]
fn aggregates_metrics_and_series_functions() {
    assert_eq!(
        points("SUM([m1, m2])"),
        vec![(0, 11.0), (60, 2.0), (120, 33.0)]
    );
    assert_eq!(points("AVG(METRICS())")[1], (60, 51.0));
    assert_eq!(
        points("MAX(METRICS(\"m\"))"),
        vec![(0, 10.0), (60, 2.0), (120, 30.0)]
    );
    assert_eq!(points("MIN([m1, m2])")[2], (120, 3.0));
    assert_eq!(
        run("SUM(m1)").unwrap(),
        Value::Scalar(6.0),
        "one series: a scalar"
    );
    assert_eq!(points("ABS(-m1)")[2], (120, 3.0));
    assert_eq!(points("DIFF(m2)"), vec![(120, 20.0)]);
    assert_eq!(
        points("RATE(m1)"),
        vec![(60, 1.0 / 60.0), (120, 1.0 / 60.0)]
    );
    assert_eq!(
        points("FILL(m2, 0)"),
        vec![(0, 10.0), (60, 0.0), (120, 30.0), (180, 0.0)]
    );
    assert_eq!(points("FILL(m2, REPEAT)")[1], (60, 10.0));
    assert_eq!(points("FILL(m2, LINEAR)")[1], (60, 20.0));
    assert_eq!(points("FILL(m2, LINEAR)")[3], (180, 30.0));
    match run("METRICS()").unwrap() {
        Value::Array(a) => assert_eq!(a.len(), 3),
        v => panic!("{v:?}"),
    }
    match run("METRICS(\"m\") * 2").unwrap() {
        Value::Array(a) => assert_eq!(a[1].points[0], (0, 20.0)),
        v => panic!("{v:?}"),
    }
}

#[test]
fn errors_name_what_is_wrong() {
    for (src, words) in [
        ("m1 +", "ends where a value"),
        ("m1 $ 2", "Unexpected character '$'"),
        ("nope * 2", "Unrecognized metric id nope"),
        ("FOO(m1)", "Unknown function FOO"),
        ("ABS(m1, m2)", "takes 1 argument"),
        ("FILL(m1, m2)", "FILL must be a number"),
        ("(m1", "Expected ')'"),
        ("m1 m2", "should end there"),
        ("METRICS() + METRICS()", "two arrays"),
        ("\"x\"", "METRICS()"),
        ("", "empty"),
        ("REPEAT", "Unknown name REPEAT"),
    ] {
        let e = run(src).expect_err(src);
        assert!(e.0.contains(words), "{src}: {e}");
    }
    let deep = format!("{}m1{}", "(".repeat(100), ")".repeat(100));
    assert!(run(&deep).unwrap_err().0.contains("nests deeper"));
    assert!(run(&"-".repeat(10_000)).is_err());
}

proptest! {
    /// Any string is parsed or refused with a message, never a panic; what parses
    /// evaluates or fails cleanly.
    #[test]
    fn the_parser_takes_any_string(src in "\\PC{0,80}") {
        if let Ok(e) = parse(&src) {
            let _ = eval(&e, &mut fixture());
        }
    }

    /// Strings made of the language's own pieces, which reach deeper than random text.
    #[test]
    fn the_parser_takes_any_mix_of_its_tokens(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "m1", "m2", "x", "1", "2.5e3", "(", ")", "[", "]", ",", "+", "-", "*", "/",
                "SUM", "AVG", "MIN", "MAX", "METRICS", "FILL", "ABS", "RATE", "DIFF",
                "REPEAT", "LINEAR", "\"m\"", " ",
            ]),
            0..40,
        )
    ) {
        let src = parts.concat();
        if let Ok(e) = parse(&src) {
            let _ = eval(&e, &mut fixture());
        }
    }
}

#[test]
fn fill_of_an_empty_series_starts_on_whole_periods() {
    let mut f = fixture();
    f.values
        .insert("none".into(), Value::Series(series("none", &[])));
    f.range = (65, 250);
    match eval(&parse("FILL(none, 7)").unwrap(), &mut f).unwrap() {
        Value::Series(s) => assert_eq!(
            s.points,
            vec![(60, 7.0), (120, 7.0), (180, 7.0), (240, 7.0)]
        ),
        v => panic!("{v:?}"),
    }
}
