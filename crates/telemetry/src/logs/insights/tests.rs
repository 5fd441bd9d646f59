//! Insights tests: each command on a handful of events, JSON field discovery, bins,
//! statistics, the errors a user sees, a run over a store, and arbitrary text thrown at
//! the parser.

use super::*;
use proptest::prelude::*;

/// 2026-12-03 06:10:00.000 UTC.
const T0: i64 = 1_796_278_200_000;

fn events() -> Vec<(i64, &'static str, &'static str)> {
    vec![
        (
            T0,
            "web/1",
            r#"{"level":"info","latency":120,"path":"/a","user":{"id":1}}"#,
        ),
        (
            T0 + 30_000,
            "web/1",
            r#"{"level":"error","latency":900,"path":"/b","user":{"id":2}}"#,
        ),
        (
            T0 + 61_000,
            "web/2",
            r#"{"level":"info","latency":80,"path":"/a","tags":["x","y"]}"#,
        ),
        (T0 + 62_000, "web/2", "GET /health HTTP/1.1 200"),
        (T0 + 125_000, "web/1", "GET /api/items?id=7 HTTP/1.1 404"),
    ]
}

fn run(query: &str) -> QueryResults {
    let q = parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut run = q.start(None);
    for (ts, stream, message) in events() {
        run.push(&Record {
            log: "123456789012:/ecs/web",
            stream,
            timestamp: ts,
            ingestion_time: ts + 5,
            message,
        });
    }
    run.finish()
}

/// The rows as `field=value` joined by spaces, for short assertions.
fn table(results: &QueryResults) -> Vec<String> {
    let cell = |f: &ResultField| format!("{}={}", f.field, f.value);
    results
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect::<Vec<_>>().join(" "))
        .collect()
}

fn error(query: &str) -> String {
    parse(query).map(|_| ()).expect_err(query).to_string()
}

#[test]
fn fields_filter_sort_and_limit() {
    let r = run("fields @timestamp, level, latency | filter latency > 100 | sort latency desc");
    assert_eq!(
        table(&r),
        [
            "@timestamp=2026-12-03 06:10:30.000 level=error latency=900",
            "@timestamp=2026-12-03 06:10:00.000 level=info latency=120",
        ]
    );
    assert_eq!(r.statistics.records_scanned, 5);
    assert_eq!(r.statistics.records_matched, 2);
    assert!(r.statistics.bytes_scanned > 100);
    let r = run("fields @logStream | limit 2");
    assert_eq!(
        table(&r),
        ["@logStream=web/1", "@logStream=web/2"],
        "newest first by default"
    );
    let r = run("filter level = 'info' and path like '/a' | display user.id, @log, tags.1");
    assert_eq!(
        table(&r),
        [
            "@log=123456789012:/ecs/web tags.1=y",
            "user.id=1 @log=123456789012:/ecs/web"
        ]
    );
}

#[test]
fn filters_like_in_not_and_functions() {
    let count = |q: &str| run(q).rows.len();
    assert_eq!(count("filter @message like /HTTP\\/1.1 4\\d\\d/"), 1);
    assert_eq!(count("filter @message =~ /health/"), 1);
    assert_eq!(count("filter @message not like 'GET'"), 3);
    assert_eq!(count("filter level in ['error', 'warn']"), 1);
    assert_eq!(count("filter level not in ['error']"), 2);
    assert_eq!(count("filter not ispresent(level)"), 2);
    assert_eq!(count("filter ispresent(user.id) or latency < 100"), 3);
    assert_eq!(
        count("filter (latency + 10) * 2 > 260 and strlen(path) = 2"),
        1
    );
    assert_eq!(count("filter tolower(level) = 'ERROR'"), 0);
    assert_eq!(count("filter toupper(level) = 'ERROR'"), 1);
    let r = run("fields concat(path, '!') as p, coalesce(path, 'none') as q | sort @timestamp asc | limit 1");
    assert_eq!(table(&r), ["p=/a! q=/a"]);
}

#[test]
fn stats_by_bins_and_fields() {
    let r = run("stats count(*) as n, avg(latency), max(latency), sum(latency) by bin(1m)");
    assert_eq!(
        table(&r),
        [
            "bin(1m)=2026-12-03 06:10:00.000 n=2 avg(latency)=510 max(latency)=900 sum(latency)=1020",
            "bin(1m)=2026-12-03 06:11:00.000 n=2 avg(latency)=80 max(latency)=80 sum(latency)=80",
            "bin(1m)=2026-12-03 06:12:00.000 n=1",
        ]
    );
    let r = run("filter ispresent(level) | stats count(level), min(latency) as fastest by level | sort fastest desc");
    assert_eq!(
        table(&r),
        [
            "level=error count(level)=1 fastest=900",
            "level=info count(level)=2 fastest=80"
        ]
    );
    let r =
        run("stats count(*), max(latency) by bin(1m) | sort count(*) desc, bin(1m) desc | limit 2");
    assert_eq!(
        table(&r),
        [
            "bin(1m)=2026-12-03 06:11:00.000 count(*)=2 max(latency)=80",
            "bin(1m)=2026-12-03 06:10:00.000 count(*)=2 max(latency)=900",
        ]
    );
    let r = run("stats count() as n");
    assert_eq!(table(&r), ["n=5"]);
    let r = run("stats count_distinct(path) as paths, count(*) by @logStream | filter paths > 1");
    assert_eq!(table(&r), ["@logStream=web/1 paths=2 count(*)=3"]);
    assert_eq!(r.statistics.records_matched, 5);
}

#[test]
fn parse_with_a_glob_or_named_groups() {
    let r = run("parse @message 'GET * HTTP/1.1 *' as path, status | filter ispresent(status) | sort status");
    assert_eq!(
        table(&r),
        ["path=/health status=200", "path=/api/items?id=7 status=404"]
    );
    let r = run(
        "# requests only\nparse @message /GET (?<url>\\S+) HTTP\\/1.1 (?<code>\\d+)/ # named groups\n| stats count(*) by code",
    );
    // Events without the field form a group of their own, as in Insights.
    assert_eq!(
        table(&r),
        ["code=200 count(*)=1", "code=404 count(*)=1", "count(*)=3"]
    );
}

/// Runs `query` over events stamped `times`, each with the message "m".
fn run_times(query: &str, limit: Option<usize>, times: impl Iterator<Item = i64>) -> QueryResults {
    let q = parse(query).unwrap();
    let mut run = q.start(limit);
    for t in times {
        run.push(&Record {
            log: "l",
            stream: "s",
            timestamp: t,
            ingestion_time: t,
            message: "m",
        });
    }
    run.finish()
}

#[test]
fn default_and_explicit_limits() {
    assert_eq!(
        run_times("fields @message", Some(3), 0..10_000).rows.len(),
        3
    );
    let r = run_times(
        "fields @timestamp | sort @timestamp asc | limit 2",
        None,
        (0..5_000).rev(),
    );
    let times: Vec<String> = r.rows.iter().map(|r| r[0].value.clone()).collect();
    assert_eq!(
        times,
        ["1970-01-01 00:00:00.000", "1970-01-01 00:00:00.001"]
    );
    let r = run_times("fields @message", None, 0..3_000);
    assert_eq!(r.rows.len(), DEFAULT_LIMIT);
}

#[test]
fn errors_say_what_and_where() {
    assert_eq!(
        error("fields a | frobnicate b"),
        "unknown command 'frobnicate' (expected fields, filter, stats, sort, limit, parse or display) at column 12"
    );
    assert!(error("").contains("expected a command"));
    assert_eq!(
        error("fields a\n| filter b >\n| limit 1"),
        "expected a field name, found '| limit 1' at line 3, column 1"
    );
    assert!(error("filter a = ").contains("expected a field name"));
    assert!(error("filter a like").contains("regular expression"));
    assert!(error("filter x not 3").contains("'like' or 'in'"));
    assert!(error("stats median(x)").contains("unknown aggregation"));
    assert!(error("stats count(*) by bin(5 parsecs)").contains("bin period"));
    assert!(error("fields nope(x)").contains("unknown function 'nope'"));
    assert!(error("limit 0").contains("limit must be 1 to 10000"));
    assert!(error("parse @message 'a * b *' as one").contains("2 '*' but 1 names"));
    assert!(error("parse @message /no groups/").contains("names no group"));
    assert!(error("fields a b").contains("'|' between commands"));
    assert!(error("filter a = 'open").contains("unterminated string"));
}

#[test]
fn a_query_runs_over_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let group = GroupId::new("eu-west-1", "/ecs/api");
    for (ts, stream, message) in events() {
        let id = group.stream(stream);
        let _ = store.create_stream(id, 0);
        let event = crate::logs::store::InputEvent {
            timestamp: ts,
            message: message.to_owned(),
        };
        store.append(id, &[event], ts, None).unwrap();
    }
    let q = parse("stats count(*) by @logStream").unwrap();
    let r = run_on_store(
        &store,
        &q,
        &[(group, "1:/ecs/api")],
        (T0, T0 + 100_000),
        None,
    )
    .unwrap();
    assert_eq!(
        table(&r),
        ["@logStream=web/1 count(*)=2", "@logStream=web/2 count(*)=2"]
    );
    assert_eq!(r.statistics.records_scanned, 4);
}

proptest! {
    #[test]
    fn arbitrary_queries_never_panic(source in "\\PC{0,60}") {
        if let Ok(q) = parse(&source) {
            let mut run = q.start(None);
            run.push(&Record { log: "l", stream: "s", timestamp: 1, ingestion_time: 1, message: r#"{"a":1}"# });
            run.finish();
        }
    }

    #[test]
    fn query_shaped_text_never_panics(
        source in "(fields|filter|stats|sort|limit|parse|display|by|as|and|or|not|like|in|count|bin|[a-c@.*/(),|'\"\\[\\]=<>!0-9 #\n-]){0,30}",
        message in "[{}\":a-c0-9 ,]{0,40}",
    ) {
        if let Ok(q) = parse(&source) {
            let mut run = q.start(Some(5));
            run.push(&Record { log: "l", stream: "s", timestamp: 1, ingestion_time: 1, message: &message });
            run.finish();
        }
    }
}
