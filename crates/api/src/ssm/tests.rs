//! SSM in-process: arbitrary input against every operation (an answer or a client error,
//! never a server error or a panic, and never a value echoed in an error), and the wire
//! shapes of parameters, pages and the decryption check.

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Context, Input, Output, Principal};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{may_decrypt, Ssm, OPERATIONS};
use crate::testing::ctx;

async fn ssm() -> Ssm {
    Ssm::new(crate::testing::state().await)
}

async fn call_as(ssm: &Ssm, ctx: &Context, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match ssm.call(ctx, op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn call(ssm: &Ssm, op: &str, body: Value) -> Result<Value, AwsError> {
    call_as(ssm, &ctx(), op, body).await
}

async fn ok(ssm: &Ssm, op: &str, body: Value) -> Value {
    call(ssm, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

async fn code(ssm: &Ssm, op: &str, body: Value) -> String {
    call(ssm, op, body).await.unwrap_err().code
}

const VALUE: &str = "s3cure-plaintext-value";

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0i64..60).prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("/app/db")),
        Just(json!("/app")),
        Just(json!("/app/db:1")),
        Just(json!(VALUE)),
        Just(json!("SecureString")),
        Just(json!("Advanced")),
        Just(json!("BeginsWith")),
        Just(json!("Name")),
        Just(json!("arn:aws:ssm:us-east-1:000000000000:parameter/app/db")),
    ];
    let member = prop::sample::select(vec![
        "Name",
        "Names",
        "Value",
        "Type",
        "KeyId",
        "Overwrite",
        "AllowedPattern",
        "Tags",
        "Key",
        "Values",
        "Option",
        "Tier",
        "DataType",
        "Description",
        "WithDecryption",
        "Path",
        "Recursive",
        "ParameterFilters",
        "Filters",
        "MaxResults",
        "NextToken",
    ]);
    crate::testing::nested_json(leaf, member, 6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic), and no error
    /// quotes the SecureString's value.
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ssm = ssm().await;
            ok(&ssm, "PutParameter", json!({"Name": "/app/db", "Value": VALUE, "Type": "SecureString"})).await;
            if let Err(e) = call(&ssm, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
                // An error may quote what the caller sent (a name), never the stored value.
                if !body.to_string().contains(VALUE) {
                    prop_assert!(!e.message.contains(VALUE), "{op} {body}: {e}");
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn parameters_on_the_wire() {
    let ssm = ssm().await;
    let put = ok(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/db/pass", "Value": VALUE, "Type": "SecureString"}),
    )
    .await;
    assert_eq!(put, json!({"Version": 1, "Tier": "Standard"}));
    let got = ok(&ssm, "GetParameter", json!({"Name": "/app/db/pass"})).await;
    let p = &got["Parameter"];
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/pass"
    );
    assert_eq!(p["Type"], "SecureString");
    assert_ne!(p["Value"], VALUE);
    let got = ok(
        &ssm,
        "GetParameter",
        json!({"Name": "/app/db/pass:1", "WithDecryption": true}),
    )
    .await;
    assert_eq!(got["Parameter"]["Value"], VALUE);
    assert_eq!(got["Parameter"]["Selector"], ":1");

    // An IAM user whose policies do not allow kms:Decrypt may not decrypt.
    let mut user = ctx();
    user.principal = Principal::User;
    user.principal_arn = "arn:aws:iam::000000000000:user/u".into();
    assert!(may_decrypt(&ssm.state, &ctx()) && !may_decrypt(&ssm.state, &user));
    let e = call_as(
        &ssm,
        &user,
        "GetParameter",
        json!({"Name": "/app/db/pass", "WithDecryption": true}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        call_as(&ssm, &user, "GetParameter", json!({"Name": "/app/db/pass"}))
            .await
            .is_ok()
    );

    for i in 0..3 {
        ok(
            &ssm,
            "PutParameter",
            json!({"Name": format!("/app/p{i}"), "Value": "v", "Type": "String"}),
        )
        .await;
    }
    let many = ok(
        &ssm,
        "GetParameters",
        json!({"Names": ["/app/p0", "/nope", "/app/p1:9"]}),
    )
    .await;
    assert_eq!(many["Parameters"].as_array().unwrap().len(), 1);
    assert_eq!(many["InvalidParameters"], json!(["/nope", "/app/p1:9"]));
    let first = ok(
        &ssm,
        "GetParametersByPath",
        json!({"Path": "/app", "MaxResults": 2}),
    )
    .await;
    assert_eq!(first["Parameters"].as_array().unwrap().len(), 2);
    let rest = ok(
        &ssm,
        "GetParametersByPath",
        json!({"Path": "/app", "MaxResults": 2, "NextToken": first["NextToken"]}),
    )
    .await;
    assert_eq!(rest["Parameters"].as_array().unwrap().len(), 1);
    assert!(rest.get("NextToken").is_none());
    assert_eq!(
        code(
            &ssm,
            "GetParametersByPath",
            json!({"Path": "/app", "MaxResults": 11})
        )
        .await,
        "ValidationException"
    );
    let filtered = ok(
        &ssm,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]}),
    )
    .await;
    let listed = filtered["Parameters"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["KeyId"], "alias/aws/ssm");
    assert_eq!(
        code(
            &ssm,
            "DescribeParameters",
            json!({"ParameterFilters": [{"Key": "Colour", "Values": ["x"]}]})
        )
        .await,
        "InvalidFilterKey"
    );
    assert_eq!(
        code(
            &ssm,
            "PutParameter",
            json!({"Name": "/app/p0", "Value": "v", "Type": "String"})
        )
        .await,
        "ParameterAlreadyExists"
    );
    let deep = format!("{}/x", "/l".repeat(15));
    assert_eq!(
        code(
            &ssm,
            "PutParameter",
            json!({"Name": deep, "Value": "v", "Type": "String"})
        )
        .await,
        "HierarchyLevelLimitExceededException"
    );
    let deleted = ok(
        &ssm,
        "DeleteParameters",
        json!({"Names": ["/app/p0", "/gone"]}),
    )
    .await;
    assert_eq!(
        deleted,
        json!({"DeletedParameters": ["/app/p0"], "InvalidParameters": ["/gone"]})
    );
    assert_eq!(
        code(&ssm, "DeleteParameter", json!({"Name": "/app/p0"})).await,
        "ParameterNotFound"
    );
}
