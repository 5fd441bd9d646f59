//! The Logs service in-process: arbitrary input against every operation (an answer or a
//! client error, never a server error or a panic), and the agent's log shipping (streams
//! prepared as ECS prepares them, batches sent twice stored once).

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use flotilla_model::agent_protocol::{LogBatch, LogLine, LogStreamRef, PrepareLogStream};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::testing::ctx;

async fn logs() -> (Logs, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let logs = Logs::new(crate::testing::state().await, store);
    ok(&logs, "CreateLogGroup", json!({"logGroupName": "g"})).await;
    ok(
        &logs,
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "s"}),
    )
    .await;
    (logs, dir)
}

async fn call(logs: &Logs, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match logs.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn ok(logs: &Logs, op: &str, body: Value) -> Value {
    call(logs, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0i64..4_000_000_000_000).prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("g")),
        Just(json!("s")),
        Just(json!("arn:aws:logs:us-east-1:000000000000:log-group:g")),
        Just(json!("{ $.a = 1 }")),
    ];
    let member = prop::sample::select(vec![
        "logGroupName",
        "logGroupIdentifier",
        "logStreamName",
        "logStreamNames",
        "logStreamNamePrefix",
        "logGroupNamePrefix",
        "logGroupNamePattern",
        "logEvents",
        "timestamp",
        "message",
        "startTime",
        "endTime",
        "nextToken",
        "limit",
        "startFromHead",
        "filterPattern",
        "orderBy",
        "descending",
        "retentionInDays",
        "tags",
        "tagKeys",
        "resourceArn",
        "logGroupClass",
        "logGroupIdentifiers",
    ]);
    crate::testing::nested_json(leaf, member, 5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic).
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (logs, _dir) = logs().await;
            if let Err(e) = call(&logs, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}

fn stream(group: &str) -> LogStreamRef {
    LogStreamRef {
        region: "us-east-1".into(),
        log_group_name: group.into(),
        log_stream_name: "ecs/web/0123".into(),
    }
}

#[tokio::test]
async fn prepared_streams_and_batches_sent_twice() {
    let (logs, _dir) = logs().await;
    let account = logs.state.account().to_string();
    let ask = |group: &str, create_group| PrepareLogStream {
        stream: stream(group),
        create_group,
    };
    let out = shipping::prepare(
        &logs.state,
        &logs.store,
        &account,
        vec![ask("missing", false)],
    )
    .await;
    assert_eq!(
        out[0].error.as_deref(),
        Some("ResourceNotFoundException: The specified log group does not exist.")
    );
    let out = shipping::prepare(&logs.state, &logs.store, &account, vec![ask("made", true)]).await;
    assert_eq!((out[0].next_sequence, out[0].error.as_deref()), (0, None));

    let now = logs.state.clock().now().timestamp_millis();
    let batch = |first: u64, lines: &[&str]| LogBatch {
        stream: stream("made"),
        create_group: true,
        first_sequence: first,
        events: lines
            .iter()
            .enumerate()
            .map(|(i, m)| LogLine {
                timestamp: now + i as i64,
                message: m.to_string(),
            })
            .collect(),
    };
    let out = shipping::put(
        &logs.state,
        &logs.store,
        &account,
        vec![batch(0, &["a", "b"])],
    )
    .await;
    assert_eq!(out[0].next_sequence, 2);
    // The same batch again, and one overlapping it: only "c" is new.
    let again = vec![batch(0, &["a", "b"]), batch(1, &["b", "c"])];
    let out = shipping::put(&logs.state, &logs.store, &account, again).await;
    assert_eq!((out[0].next_sequence, out[1].next_sequence), (2, 3));
    let got = ok(
        &logs,
        "GetLogEvents",
        json!({"logGroupName": "made", "logStreamName": "ecs/web/0123", "startFromHead": true}),
    )
    .await;
    let messages: Vec<&str> = got["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["a", "b", "c"]);
    let bad = LogStreamRef {
        region: "../x".into(),
        ..stream("made")
    };
    let out = shipping::prepare(
        &logs.state,
        &logs.store,
        &account,
        vec![PrepareLogStream {
            stream: bad,
            create_group: true,
        }],
    )
    .await;
    assert!(out[0].error.as_deref().unwrap().contains("region"));
}
