use super::*;

#[test]
fn counters_gauges_and_histograms_encode() {
    let r = Registry::default();
    let c = r.counter("reqs_total", "Requests.", &["op", "code"]);
    c.add(&["Run", "200"], 2.0);
    c.with(&["Run", "400"]).inc();
    c.with(&["Run", "400"]).add(-5.0);
    let g = r.gauge("queue", "Depth.", &[]);
    g.set(&[], 3.0);
    g.add(&[], -1.0);
    let h = r.histogram("lat_seconds", "Latency.", &["op"], &[0.1, 1.0]);
    h.observe(&["Run"], 0.05);
    h.observe(&["Run"], 0.5);
    h.observe(&["Run"], 5.0);
    r.collect(
        "tasks",
        "Tasks by status.",
        Box::new(|out| {
            out.push(Sample::new(vec![("status", "RUNNING".into())], 4.0));
        }),
    );
    let text = r.encode();
    for want in [
        "# TYPE reqs_total counter",
        "reqs_total{op=\"Run\",code=\"200\"} 2",
        "reqs_total{op=\"Run\",code=\"400\"} 1",
        "# TYPE queue gauge",
        "queue 2",
        "# TYPE lat_seconds histogram",
        "lat_seconds_bucket{op=\"Run\",le=\"0.1\"} 1",
        "lat_seconds_bucket{op=\"Run\",le=\"1\"} 2",
        "lat_seconds_bucket{op=\"Run\",le=\"+Inf\"} 3",
        "lat_seconds_sum{op=\"Run\"} 5.55",
        "lat_seconds_count{op=\"Run\"} 3",
        "# TYPE tasks gauge",
        "tasks{status=\"RUNNING\"} 4",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let r = Registry::default();
    r.counter("x_total", "X.", &["v"]).add(&["q\""], 1.0);
    assert!(r.encode().contains("x_total{v=\"q\\\"\"} 1"));
}
