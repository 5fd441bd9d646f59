//! The gateway's Prometheus metrics: every verified request by service, operation and
//! outcome (`OK` or the AWS error code it was answered with), and how long the service
//! took to answer, by service and operation.

use std::time::Duration;

use flotilla_prom::{global, LATENCY_BUCKETS};

/// Count one call of `operation` (empty for REST-XML services, which route by path:
/// counted as `rest`) answered with `error` (`None`: success). Operations a service does
/// not know are counted as `unknown`, so a client cannot grow the label set.
pub(crate) fn record(service: &str, operation: &str, error: Option<&str>, took: Duration) {
    let operation = match (operation, error) {
        (_, Some("UnknownOperationException")) => "unknown",
        ("", _) => "rest",
        (op, _) => op,
    };
    let code = error.unwrap_or("OK");
    global()
        .counter(
            "flotilla_api_requests_total",
            "AWS API requests by service, operation and outcome (OK or the error code).",
            &["service", "operation", "code"],
        )
        .add(&[service, operation, code], 1.0);
    global()
        .histogram(
            "flotilla_api_request_duration_seconds",
            "How long AWS API operations took to answer, by service and operation.",
            &["service", "operation"],
            LATENCY_BUCKETS,
        )
        .observe(&[service, operation], took.as_secs_f64());
}
