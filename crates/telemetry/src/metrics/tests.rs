//! The metric store: resolutions and periods, units, listing, retention, durability across
//! a reopen, a torn tail after a crash, compaction, and GetMetricData's queries.

use flotilla_model::cloudwatch::{Dimension, MetricQuery, MetricRef, MetricStat, Statistic};

use super::*;

/// The wall clock: opening a store expires by it.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn metric(name: &str, host: &str) -> MetricRef {
    MetricRef::new(
        "App".into(),
        name.into(),
        vec![Dimension {
            name: "Host".into(),
            value: host.into(),
        }],
    )
}

fn datum(m: &MetricRef, ts: i64, v: f64, high: bool) -> Datum {
    Datum {
        metric: m.clone(),
        unit: Some("Count".into()),
        timestamp: ts,
        set: StatSet::one(v),
        high_resolution: high,
    }
}

fn sums(s: &Statistics) -> Vec<(i64, f64)> {
    s.points.iter().map(|p| (p.timestamp, p.set.sum)).collect()
}

#[tokio::test]
async fn resolutions_periods_and_units() {
    let store = MetricStore::in_memory();
    let m = metric("Requests", "a");
    let base = {
        let n = now();
        n - n % 60
    } - 600;
    let data = (0..60)
        .map(|i| datum(&m, base + i * 10, 1.0 + i as f64, true))
        .collect();
    store.put("us-east-1", data).await.unwrap();
    // Per 10 s: one point each; per minute: six each, from the 60-s buckets.
    let ten = store.statistics("us-east-1", &m, None, base, base + 600, 10, now());
    assert_eq!(ten.points.len(), 60);
    assert_eq!(ten.unit.as_deref(), Some("Count"));
    let minute = store.statistics("us-east-1", &m, Some("Count"), base, base + 600, 60, now());
    assert_eq!(minute.points.len(), 10);
    let first = minute.points[0].set;
    assert_eq!(
        (first.count, first.sum, first.min, first.max),
        (6.0, 21.0, 1.0, 6.0)
    );
    assert_eq!(
        store
            .statistics("us-east-1", &m, None, base, base + 600, 300, now())
            .points[1]
            .set
            .count,
        30.0
    );
    // Another unit, another region: nothing.
    assert!(store
        .statistics(
            "us-east-1",
            &m,
            Some("Seconds"),
            base,
            base + 600,
            60,
            now()
        )
        .points
        .is_empty());
    assert!(store
        .statistics("eu-west-1", &m, None, base, base + 600, 60, now())
        .points
        .is_empty());
    // Standard-resolution data has no per-second buckets.
    let s = metric("Standard", "a");
    store
        .put("us-east-1", vec![datum(&s, base + 5, 3.0, false)])
        .await
        .unwrap();
    assert!(store
        .statistics("us-east-1", &s, None, base, base + 60, 10, now())
        .points
        .is_empty());
    assert_eq!(
        sums(&store.statistics("us-east-1", &s, None, base, base + 60, 60, now())),
        vec![(base, 3.0)]
    );
}

#[tokio::test]
async fn listing_filters_by_namespace_name_dimensions_and_activity() {
    let store = MetricStore::in_memory();
    for (name, host, ts) in [
        ("A", "h1", now() - 60),
        ("A", "h2", now() - 4 * 3600),
        ("B", "h1", now() - 60),
    ] {
        store
            .put(
                "us-east-1",
                vec![datum(&metric(name, host), ts, 1.0, false)],
            )
            .await
            .unwrap();
    }
    let all = store.list("us-east-1", &ListFilter::default(), now());
    assert_eq!(all.len(), 3);
    let f = |name: Option<&str>, dims: Vec<(&str, Option<&str>)>, active: Option<i64>| ListFilter {
        namespace: Some("App".into()),
        metric_name: name.map(String::from),
        dimensions: dims
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.map(String::from)))
            .collect(),
        active_since: active,
    };
    assert_eq!(
        store
            .list("us-east-1", &f(Some("A"), vec![], None), now())
            .len(),
        2
    );
    assert_eq!(
        store
            .list(
                "us-east-1",
                &f(None, vec![("Host", Some("h1"))], None),
                now()
            )
            .len(),
        2
    );
    assert_eq!(
        store
            .list("us-east-1", &f(None, vec![("Host", None)], None), now())
            .len(),
        3
    );
    assert_eq!(
        store
            .list("us-east-1", &f(None, vec![("Zone", None)], None), now())
            .len(),
        0
    );
    assert_eq!(
        store
            .list("us-east-1", &f(None, vec![], Some(now() - 3 * 3600)), now())
            .len(),
        2
    );
    assert!(store
        .list("eu-west-1", &ListFilter::default(), now())
        .is_empty());
}

#[tokio::test]
async fn retention_drops_old_buckets_per_resolution() {
    let store = MetricStore::in_memory();
    let m = metric("Old", "a");
    let old = now() - 4 * 3600;
    store
        .put("r", vec![datum(&m, old, 1.0, true)])
        .await
        .unwrap();
    // Past 3 h, the second is gone (and not read even before it is expired) ...
    assert!(store
        .statistics("r", &m, None, old, old + 10, 10, now())
        .points
        .is_empty());
    store.expire(now());
    assert!(store
        .statistics("r", &m, None, old, old + 10, 1, old + 1)
        .points
        .is_empty());
    // ... the minute stays for 15 days.
    let minute = old - old % 60;
    assert_eq!(
        store
            .statistics("r", &m, None, minute, minute + 60, 60, now())
            .points
            .len(),
        1
    );
    store.expire(now() + STANDARD_RETENTION);
    assert!(store
        .statistics("r", &m, None, minute, minute + 60, 60, now())
        .points
        .is_empty());
    assert!(store
        .list("r", &ListFilter::default(), now() + STANDARD_RETENTION)
        .is_empty());
}

#[tokio::test]
async fn puts_survive_a_reopen_a_torn_tail_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let m = metric("Durable", "a");
    let base = {
        let n = now();
        n - n % 60
    } - 120;
    {
        let store = MetricStore::open(dir.path()).unwrap();
        store
            .put("r", vec![datum(&m, base, 1.0, true)])
            .await
            .unwrap();
        store
            .put("r", vec![datum(&m, base + 1, 2.0, true)])
            .await
            .unwrap();
    }
    let path = dir.path().join("metrics.log");
    let whole = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of the last write: a torn record at the end.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();
    let store = MetricStore::open(dir.path()).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        whole,
        "the torn tail is cut"
    );
    assert_eq!(
        sums(&store.statistics("r", &m, None, base, base + 60, 60, now())),
        vec![(base, 3.0)]
    );
    assert_eq!(
        store
            .statistics("r", &m, None, base, base + 60, 1, now())
            .points
            .len(),
        2
    );
    // Half of the last good record torn away loses that put only.
    let cut = std::fs::read(&path).unwrap();
    drop(store);
    std::fs::write(&path, &cut[..cut.len() - 10]).unwrap();
    let store = MetricStore::open(dir.path()).unwrap();
    assert_eq!(
        sums(&store.statistics("r", &m, None, base, base + 60, 60, now())),
        vec![(base, 1.0)]
    );
    // Compaction rewrites the same data; a reopen reads it back without double counting.
    store
        .put("r", vec![datum(&m, base + 70, 5.0, false)])
        .await
        .unwrap();
    store.compact().await.unwrap();
    store
        .put("r", vec![datum(&m, base + 71, 6.0, true)])
        .await
        .unwrap();
    drop(store);
    let store = MetricStore::open(dir.path()).unwrap();
    assert_eq!(
        sums(&store.statistics("r", &m, None, base, base + 120, 60, now())),
        vec![(base, 1.0), (base + 60, 11.0)]
    );
    assert_eq!(
        store
            .statistics("r", &m, None, base, base + 120, 1, now())
            .points
            .len(),
        2
    );
    // A log of a newer format is refused, not misread.
    drop(store);
    let mut newer = std::fs::read(&path).unwrap();
    newer[8] = 9;
    std::fs::write(&path, &newer).unwrap();
    assert!(MetricStore::open(dir.path()).is_err());
}

fn stat_query(id: &str, m: &MetricRef, stat: Statistic, ret: bool) -> MetricQuery {
    MetricQuery {
        id: id.into(),
        metric_stat: Some(MetricStat {
            metric: m.clone(),
            period: 60,
            stat,
            unit: None,
        }),
        expression: None,
        label: None,
        return_data: ret,
        period: None,
    }
}

fn expr_query(id: &str, e: &str) -> MetricQuery {
    MetricQuery {
        id: id.into(),
        metric_stat: None,
        expression: Some(e.into()),
        label: None,
        return_data: true,
        period: None,
    }
}

#[tokio::test]
async fn queries_run_metric_stats_and_expressions_in_any_order() {
    let store = MetricStore::in_memory();
    let (a, b) = (metric("Req", "a"), metric("Req", "b"));
    let base = {
        let n = now();
        n - n % 60
    } - 180;
    store
        .put(
            "r",
            vec![
                datum(&a, base, 4.0, false),
                datum(&b, base, 6.0, false),
                datum(&a, base + 60, 1.0, false),
            ],
        )
        .await
        .unwrap();
    let queries = vec![
        expr_query("total", "m1 + m2"),
        stat_query("m1", &a, Statistic::Sum, false),
        stat_query("m2", &b, Statistic::Sum, false),
        expr_query("avg", "AVG(METRICS(\"m\"))"),
        expr_query("each", "METRICS() * 10"),
    ];
    let req = query::Request {
        region: "r",
        queries: &queries,
        start: base + 7,
        end: now(),
        now: now(),
    };
    let out = query::run(&store, &req).unwrap();
    let by = |id: &str| {
        out.iter()
            .filter(|o| o.id == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(by("total")[0].points, vec![(base, 10.0)]);
    assert_eq!(by("total")[0].label, "total");
    assert_eq!(by("avg")[0].points, vec![(base, 5.0), (base + 60, 1.0)]);
    let each = by("each");
    assert_eq!(each.len(), 2);
    assert_eq!(
        (each[0].label.as_str(), each[0].points[0]),
        ("Req", (base, 40.0))
    );
    assert!(by("m1").is_empty(), "ReturnData false");

    let cyclic = vec![expr_query("x", "y + 1"), expr_query("y", "x * 2")];
    let req = query::Request {
        region: "r",
        queries: &cyclic,
        start: base,
        end: now(),
        now: now(),
    };
    assert!(query::run(&store, &req).unwrap_err().0.contains("Circular"));
    let bad = vec![expr_query("e1", "m1 +")];
    let req = query::Request {
        region: "r",
        queries: &bad,
        start: base,
        end: now(),
        now: now(),
    };
    assert!(query::run(&store, &req)
        .unwrap_err()
        .0
        .starts_with("Error in expression e1:"));
}

/// A day of data every `every` seconds for 1,000 series, put in batches of 60,000, then
/// read back per minute by one set of queries: how long the puts and the read took, and
/// the answer.
async fn a_day_for_a_thousand_series(
    every: i64,
) -> (std::time::Duration, std::time::Duration, Vec<query::Output>) {
    let store = MetricStore::in_memory();
    let n = now();
    let start = n - n % 60 - 86_400;
    let series: Vec<MetricRef> = (0..1000)
        .map(|i| metric("Load", &format!("h{i}")))
        .collect();
    let batches: Vec<Vec<Datum>> = (0..86_400)
        .step_by(every as usize)
        .collect::<Vec<i64>>()
        .chunks(60)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|&t| series.iter().map(move |m| datum(m, start + t, 1.0, false)))
                .collect()
        })
        .collect();
    let t = std::time::Instant::now();
    for data in batches {
        store.put("r", data).await.unwrap();
    }
    let put = t.elapsed();
    let queries: Vec<MetricQuery> = series
        .iter()
        .enumerate()
        .map(|(i, m)| stat_query(&format!("m{i}"), m, Statistic::Average, true))
        .collect();
    let req = query::Request {
        region: "r",
        queries: &queries,
        start,
        end: start + 86_400,
        now: n,
    };
    let t = std::time::Instant::now();
    let out = query::run(&store, &req).unwrap();
    (put, t.elapsed(), out)
}

/// A day of 10-minute data for 1,000 series: a smoke check of the layout's speed in a
/// debug build (the benchmark will measure it properly).
#[tokio::test]
async fn a_day_of_data_for_many_series_is_read_quickly() {
    let (_, read, out) = a_day_for_a_thousand_series(600).await;
    assert_eq!((out.len(), out[0].points.len()), (1000, 144));
    assert!(read < std::time::Duration::from_secs(5), "{read:?}");
}

/// The benchmark's shape at full size: a day of 10-second data for 1,000 series, read
/// back per minute. Ignored by default (it puts 8.64 million data points); run with
/// `cargo test --release -p flotilla-telemetry -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn a_day_of_ten_second_data_for_a_thousand_series() {
    let (put, read, out) = a_day_for_a_thousand_series(10).await;
    assert_eq!(out[0].points.len(), 1440);
    println!("put 8.64M data points in {put:?}; read 1,000 series × 1,440 minutes in {read:?}");
}
