//! Secrets Manager in-process: arbitrary input against every operation (an answer or a
//! client error, never a server error or a panic, and never a value echoed in an error),
//! and the wire shapes of values, versions and lists.

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{SecretsManager, OPERATIONS};
use crate::testing::ctx;

async fn sm() -> SecretsManager {
    SecretsManager::new(crate::testing::state().await)
}

async fn call(sm: &SecretsManager, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match sm.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn ok(sm: &SecretsManager, op: &str, body: Value) -> Value {
    call(sm, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

async fn code(sm: &SecretsManager, op: &str, body: Value) -> String {
    call(sm, op, body).await.unwrap_err().code
}

const VALUE: &str = "pa55-w0rd-plaintext";

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0i64..40).prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("s")),
        Just(json!(VALUE)),
        Just(json!("AWSCURRENT")),
        Just(json!("aGVsbG8=")),
        Just(json!("0123456789abcdef0123456789abcdef")),
        Just(json!(
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:s"
        )),
    ];
    let member = prop::sample::select(vec![
        "Name",
        "SecretId",
        "SecretString",
        "SecretBinary",
        "ClientRequestToken",
        "Description",
        "KmsKeyId",
        "Tags",
        "Key",
        "Value",
        "Values",
        "TagKeys",
        "VersionId",
        "VersionStage",
        "VersionStages",
        "RecoveryWindowInDays",
        "ForceDeleteWithoutRecovery",
        "Filters",
        "MaxResults",
        "NextToken",
        "SortOrder",
        "SortBy",
        "IncludePlannedDeletion",
    ]);
    crate::testing::nested_json(leaf, member, 6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic), and no error
    /// quotes a value it was given.
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let sm = sm().await;
            ok(&sm, "CreateSecret", json!({"Name": "s", "SecretString": VALUE})).await;
            if let Err(e) = call(&sm, op, body.clone()).await {
                prop_assert!(!e.is_server_fault(), "{op} {body}: {e}");
                prop_assert!(!e.message.contains(VALUE), "{op} {body}: {e}");
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn values_versions_and_errors_on_the_wire() {
    let sm = sm().await;
    let made = ok(
        &sm,
        "CreateSecret",
        json!({"Name": "bin", "SecretBinary": "AAEC/w==", "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await;
    assert!(made["VersionId"].is_string());
    let got = ok(&sm, "GetSecretValue", json!({"SecretId": made["ARN"]})).await;
    assert_eq!(got["SecretBinary"], "AAEC/w==");
    assert!(got.get("SecretString").is_none());
    assert_eq!(got["VersionStages"], json!(["AWSCURRENT"]));

    // A secret made without a value has no version yet.
    ok(&sm, "CreateSecret", json!({"Name": "empty"})).await;
    let described = ok(&sm, "DescribeSecret", json!({"SecretId": "empty"})).await;
    assert_eq!(described["VersionIdsToStages"], json!({}));
    assert_eq!(
        code(&sm, "GetSecretValue", json!({"SecretId": "empty"})).await,
        "ResourceNotFoundException"
    );
    let both = json!({"SecretId": "empty", "SecretString": "a", "SecretBinary": "AA=="});
    assert_eq!(
        code(&sm, "PutSecretValue", both).await,
        "InvalidParameterException"
    );
    assert_eq!(
        code(&sm, "PutSecretValue", json!({"SecretId": "empty"})).await,
        "InvalidParameterException"
    );
    let big = json!({"SecretId": "empty", "SecretString": "x".repeat(65537)});
    assert_eq!(
        code(&sm, "PutSecretValue", big).await,
        "LimitExceededException"
    );
    assert_eq!(
        code(&sm, "CreateSecret", json!({"Name": "bad name!"})).await,
        "ValidationException"
    );
    // A wrong type is described without its value.
    let e = call(
        &sm,
        "CreateSecret",
        json!({"Name": "n", "SecretString": 31337}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "SerializationException");
    assert!(!e.message.contains("31337"), "{}", e.message);

    let listed = ok(&sm, "ListSecrets", json!({"MaxResults": 1})).await;
    assert_eq!(listed["SecretList"].as_array().unwrap().len(), 1);
    let next = ok(
        &sm,
        "ListSecrets",
        json!({"MaxResults": 1, "NextToken": listed["NextToken"]}),
    )
    .await;
    assert_eq!(next["SecretList"].as_array().unwrap().len(), 1);
    assert!(next.get("NextToken").is_none());
    assert_ne!(
        listed["SecretList"][0]["Name"],
        next["SecretList"][0]["Name"]
    );
    let by_tag = ok(
        &sm,
        "ListSecrets",
        json!({"Filters": [{"Key": "tag-key", "Values": ["k"]}]}),
    )
    .await;
    assert_eq!(by_tag["SecretList"][0]["Name"], "bin");
    assert_eq!(
        code(&sm, "ListSecrets", json!({"NextToken": "garbage!"})).await,
        "InvalidNextTokenException"
    );
    let deleted = ok(
        &sm,
        "DeleteSecret",
        json!({"SecretId": "bin", "RecoveryWindowInDays": 7}),
    )
    .await;
    assert!(deleted["DeletionDate"].is_number());
    let e = call(&sm, "GetSecretValue", json!({"SecretId": "bin"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidRequestException");
    assert_eq!(
        e.message,
        "You can't perform this operation on the secret because it was marked for deletion."
    );
    let described = ok(&sm, "DescribeSecret", json!({"SecretId": "bin"})).await;
    assert_eq!(described["DeletedDate"], deleted["DeletionDate"]);
}
