//! In-process tests of the CloudWatch operations over the memory store and an in-memory
//! metric store: metrics ([`metrics`]), alarms ([`alarms`]) and arbitrary input against
//! every operation ([`arbitrary`]).

mod alarms;
mod arbitrary;
mod metrics;

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use flotilla_telemetry::metrics::MetricStore;
use serde_json::Value;

use super::CloudWatch;
use crate::testing::ctx;
use crate::State;

async fn cw() -> (CloudWatch, State) {
    let state = crate::testing::state().await;
    (
        CloudWatch::new(state.clone(), MetricStore::in_memory()),
        state,
    )
}

async fn call(cw: &CloudWatch, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match cw.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn ok(cw: &CloudWatch, op: &str, body: Value) -> Value {
    call(cw, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

/// The query code (what the CLI shows) of a call that must fail with a client error.
async fn code(cw: &CloudWatch, op: &str, body: Value) -> String {
    let e = call(cw, op, body.clone())
        .await
        .expect_err(&format!("{op} {body} should fail"));
    assert!(!e.is_server_fault(), "{e}");
    e.query_code.clone().unwrap_or(e.code)
}

/// The wall clock in epoch seconds (the control plane's clock starts from it).
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
