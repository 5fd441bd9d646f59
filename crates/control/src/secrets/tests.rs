//! Secrets Manager's and SSM's operations over the memory store: versions and labels,
//! idempotent retries, lookups by name and ARN, scheduled deletion in paused time,
//! hierarchies, tiers and versions of parameters, what the store holds (never a
//! plaintext), another key's refusal, and the resolution of a task's `valueFrom`.

use std::sync::Arc;

use flotilla_model::secrets::parameter::{ParameterFilter, ParameterType, Tier};
use flotilla_model::secrets::sealed::SecretValue;
use flotilla_model::secrets::secret::{AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use flotilla_model::Scope;
use flotilla_store::{MemoryStore, Store};

use super::crypto::CryptoError;
use super::manager::{self, NewSecret, NewVersion, SecretsError};
use super::parameters::{self, Put, SsmError, TierChoice};
use super::resolve::{resolve, resource_arn, ResolveError};
use super::SecretsKey;
use crate::{ControlConfig, State};

const ACCOUNT: &str = "123456789012";

async fn state_over(store: Arc<dyn Store>, key: Arc<SecretsKey>) -> State {
    let mut config = ControlConfig::new(ACCOUNT);
    config.secrets_key = key;
    State::new(store, config).await.unwrap()
}

async fn state() -> State {
    state_over(Arc::new(MemoryStore::new()), Arc::new(SecretsKey::random())).await
}

fn scope() -> Scope {
    Scope::new("us-east-1", ACCOUNT)
}

fn token(n: u8) -> String {
    format!("{:0>32}", n)
}

fn string(s: &str) -> SecretValue {
    SecretValue::String(s.to_string())
}

async fn create(state: &State, name: &str, value: &str) -> manager::Written {
    manager::create(
        state,
        &scope(),
        NewSecret {
            name: name.into(),
            client_token: Some(token(1)),
            value: Some(string(value)),
            ..NewSecret::default()
        },
    )
    .await
    .unwrap()
}

fn new_version(n: u8, value: &str) -> NewVersion {
    NewVersion {
        client_token: Some(token(n)),
        value: string(value),
        stages: vec![],
    }
}

fn value_of(state: &State, id: &str, version: Option<&str>, stage: Option<&str>) -> SecretValue {
    manager::get_value(state, &scope(), id, version, stage)
        .unwrap()
        .value
}

#[tokio::test]
async fn versions_move_labels_and_retries_change_nothing() {
    let s = state().await;
    let made = create(&s, "db/password", "first").await;
    assert!(made.arn.starts_with(&format!(
        "arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db/password-"
    )));
    assert_eq!(
        made.arn.len(),
        made.arn.find("db/password-").unwrap() + 12 + 6
    );
    assert_eq!(made.version_id.as_deref(), Some(token(1).as_str()));

    let put = manager::put_value(&s, &scope(), "db/password", new_version(2, "second"))
        .await
        .unwrap();
    assert_eq!(put.stages, vec![AWSCURRENT.to_string()]);
    assert_eq!(value_of(&s, "db/password", None, None), string("second"));
    assert_eq!(
        value_of(&s, "db/password", None, Some(AWSPREVIOUS)),
        string("first")
    );
    assert_eq!(
        value_of(&s, "db/password", Some(&token(1)), None),
        string("first")
    );

    // The same token and value again: nothing changes.
    manager::put_value(&s, &scope(), "db/password", new_version(2, "second"))
        .await
        .unwrap();
    let versions = manager::find(&s, &scope(), "db/password")
        .unwrap()
        .value
        .versions_to_stages();
    assert_eq!(versions.len(), 2);
    // The same token with another value is refused.
    let e = manager::put_value(&s, &scope(), "db/password", new_version(2, "other"))
        .await
        .unwrap_err();
    assert!(matches!(e, SecretsError::Exists(_)), "{e}");

    // A pending version leaves AWSCURRENT where it was.
    let pending = NewVersion {
        stages: vec![AWSPENDING.into()],
        ..new_version(3, "third")
    };
    manager::put_value(&s, &scope(), "db/password", pending)
        .await
        .unwrap();
    assert_eq!(value_of(&s, "db/password", None, None), string("second"));
    assert_eq!(
        value_of(&s, "db/password", None, Some(AWSPENDING)),
        string("third")
    );
    let e = manager::get_value(
        &s,
        &scope(),
        "db/password",
        Some(&token(3)),
        Some(AWSCURRENT),
    )
    .unwrap_err();
    assert!(matches!(e, SecretsError::NotFound(_)));

    // CreateSecret retried with its token and value answers the same; otherwise refused.
    let again = create(&s, "db/password", "first").await;
    assert_eq!(again.arn, made.arn);
    let e = manager::create(
        &s,
        &scope(),
        NewSecret {
            name: "db/password".into(),
            ..NewSecret::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SecretsError::Exists(_)));
}

#[tokio::test]
async fn secrets_are_found_by_name_full_arn_and_partial_arn() {
    let s = state().await;
    let made = create(&s, "app/key", "v").await;
    let partial = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/key");
    for id in ["app/key", made.arn.as_str(), partial.as_str()] {
        assert_eq!(
            manager::find(&s, &scope(), id).unwrap().value.arn,
            made.arn,
            "{id}"
        );
    }
    let other_suffix = format!("{}XXXXXX", &made.arn[..made.arn.len() - 6]);
    let other_region = made.arn.replace("us-east-1", "eu-west-1");
    for id in [
        "app/ke",
        "app/key-AbCdEf",
        other_suffix.as_str(),
        other_region.as_str(),
    ] {
        let e = manager::find(&s, &scope(), id).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Secrets Manager can't find the specified secret.",
            "{id}"
        );
    }
}

#[tokio::test]
async fn values_are_checked_and_never_stored_in_the_clear() {
    let s = state().await;
    let e = manager::create(
        &s,
        &scope(),
        NewSecret {
            name: "big".into(),
            value: Some(SecretValue::Binary(vec![1; 65537])),
            ..NewSecret::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SecretsError::Limit(_)), "{e}");
    let e = manager::create(
        &s,
        &scope(),
        NewSecret {
            name: "bad name".into(),
            ..NewSecret::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SecretsError::Validation(_)), "{e}");

    create(&s, "plain-check", "correct-horse-battery").await;
    parameters::put(
        &s,
        &scope(),
        put(
            "/app/token",
            "staple-9000",
            Some(ParameterType::SecureString),
        ),
    )
    .await
    .unwrap();
    let page = s
        .store()
        .range(flotilla_store::RangeRequest::prefix(b"/".to_vec()))
        .await
        .unwrap();
    assert!(!page.kvs.is_empty());
    for kv in page.kvs {
        for needle in [&b"correct-horse-battery"[..], b"staple-9000"] {
            assert!(
                !kv.value.windows(needle.len()).any(|w| w == needle),
                "{} holds a plaintext",
                String::from_utf8_lossy(&kv.key)
            );
        }
    }
}

#[tokio::test]
async fn another_key_refuses_clearly() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = state_over(store.clone(), Arc::new(SecretsKey::random())).await;
    create(&first, "k", "value").await;
    parameters::put(
        &first,
        &scope(),
        put("/p", "v", Some(ParameterType::SecureString)),
    )
    .await
    .unwrap();
    let second = state_over(store, Arc::new(SecretsKey::random())).await;
    let e = manager::get_value(&second, &scope(), "k", None, None).unwrap_err();
    match &e {
        SecretsError::Crypto(CryptoError::WrongKey { sealed_with, held }) => {
            assert_eq!(sealed_with, first.secrets_key().id());
            assert_eq!(held, second.secrets_key().id());
        }
        other => panic!("{other:?}"),
    }
    let found = parameters::get(&second, &scope(), "/p").unwrap();
    let e = parameters::value(&second, &scope(), &found.record, found.version(), true).unwrap_err();
    assert!(
        matches!(e, SsmError::Crypto(CryptoError::WrongKey { .. })),
        "{e}"
    );
    // Reading it still encrypted needs no key.
    assert!(parameters::value(&second, &scope(), &found.record, found.version(), false).is_ok());
}

#[tokio::test(start_paused = true)]
async fn deletion_waits_for_its_window_and_restore_cancels_it() {
    let s = state().await;
    create(&s, "old", "v").await;
    let e = manager::delete(&s, &scope(), "old", Some(6), false)
        .await
        .unwrap_err();
    assert!(matches!(e, SecretsError::InvalidParameter(_)));
    let e = manager::delete(&s, &scope(), "old", Some(7), true)
        .await
        .unwrap_err();
    assert!(matches!(e, SecretsError::InvalidParameter(_)));
    let (_, _, date) = manager::delete(&s, &scope(), "old", Some(7), false)
        .await
        .unwrap();
    assert_eq!((date - s.clock().now()).num_days(), 7);

    let e = manager::get_value(&s, &scope(), "old", None, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "You can't perform this operation on the secret because it was marked for deletion."
    );
    assert!(manager::find(&s, &scope(), "old").is_ok());
    assert!(manager::list(&s, &scope(), false).is_empty());
    assert_eq!(manager::list(&s, &scope(), true).len(), 1);
    let e = manager::create(
        &s,
        &scope(),
        NewSecret {
            name: "old".into(),
            ..NewSecret::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SecretsError::InvalidRequest(_)), "{e}");

    manager::restore(&s, &scope(), "old").await.unwrap();
    assert_eq!(value_of(&s, "old", None, None), string("v"));

    manager::delete(&s, &scope(), "old", Some(7), false)
        .await
        .unwrap();
    tokio::time::advance(std::time::Duration::from_secs(7 * 86400 + 1)).await;
    // Gone for every operation before the controller removes it...
    assert!(matches!(
        manager::find(&s, &scope(), "old"),
        Err(SecretsError::NotFound(_))
    ));
    assert_eq!(manager::reap(&s, s.clock().now()).await.unwrap(), 1);
    assert!(s.secrets().secrets.range(b"/").is_empty());
    // ... and its name free again.
    create(&s, "old", "new").await;

    let (_, _, _) = manager::delete(&s, &scope(), "old", None, true)
        .await
        .unwrap();
    assert!(manager::find(&s, &scope(), "old").is_err());
}

#[tokio::test]
async fn tags_are_added_replaced_and_removed() {
    let s = state().await;
    create(&s, "t", "v").await;
    let tags = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    manager::tag(&s, &scope(), "t", tags(&[("a", "1"), ("b", "2")]))
        .await
        .unwrap();
    manager::tag(&s, &scope(), "t", tags(&[("a", "3")]))
        .await
        .unwrap();
    manager::untag(&s, &scope(), "t", &["b".to_string()])
        .await
        .unwrap();
    assert_eq!(
        manager::find(&s, &scope(), "t").unwrap().value.tags,
        tags(&[("a", "3")])
    );
    let e = manager::tag(&s, &scope(), "t", tags(&[("aws:x", "1")]))
        .await
        .unwrap_err();
    assert!(matches!(e, SecretsError::InvalidParameter(_)));
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(matches!(
        manager::tag(&s, &scope(), "t", many).await,
        Err(SecretsError::Limit(_))
    ));
}

fn put(name: &str, value: &str, kind: Option<ParameterType>) -> Put {
    Put {
        name: name.into(),
        value: value.into(),
        kind,
        description: None,
        key_id: None,
        overwrite: false,
        allowed_pattern: None,
        tags: vec![],
        tier: None,
        data_type: None,
        modified_by: format!("arn:aws:iam::{ACCOUNT}:root"),
    }
}

fn overwrite(name: &str, value: &str) -> Put {
    Put {
        overwrite: true,
        ..put(name, value, None)
    }
}

#[tokio::test]
async fn parameters_count_versions_and_keep_a_hundred() {
    let s = state().await;
    let string = Some(ParameterType::String);
    assert_eq!(
        parameters::put(&s, &scope(), put("/app/url", "a", string))
            .await
            .unwrap(),
        (1, Tier::Standard)
    );
    let e = parameters::put(&s, &scope(), put("/app/url", "b", string))
        .await
        .unwrap_err();
    assert!(matches!(e, SsmError::AlreadyExists(_)));
    assert_eq!(
        parameters::put(&s, &scope(), overwrite("/app/url", "b"))
            .await
            .unwrap()
            .0,
        2
    );
    let found = parameters::get(&s, &scope(), "/app/url:1").unwrap();
    assert_eq!(found.version().version, 1);
    assert_eq!(found.selector.as_deref(), Some(":1"));
    let arn = format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/url");
    assert_eq!(
        parameters::get(&s, &scope(), &arn)
            .unwrap()
            .version()
            .version,
        2
    );
    assert!(matches!(
        parameters::get(&s, &scope(), "/app/url:7"),
        Err(SsmError::VersionNotFound(_))
    ));
    assert!(matches!(
        parameters::get(&s, &scope(), "/app/nope"),
        Err(SsmError::NotFound(_))
    ));
    for _ in 3..=101 {
        parameters::put(&s, &scope(), overwrite("/app/url", "c"))
            .await
            .unwrap();
    }
    let found = parameters::get(&s, &scope(), "/app/url").unwrap();
    assert_eq!(found.version().version, 101);
    assert_eq!(found.record.versions.len(), 100);
    assert!(parameters::get(&s, &scope(), "/app/url:1").is_err());
    assert!(parameters::get(&s, &scope(), "/app/url:2").is_ok());
}

#[tokio::test]
async fn parameters_follow_ssms_rules() {
    let s = state().await;
    let string = Some(ParameterType::String);
    let deep = format!("{}/x", "/l".repeat(15));
    assert!(matches!(
        parameters::put(&s, &scope(), put(&deep, "v", string)).await,
        Err(SsmError::TooDeep(_))
    ));
    assert!(matches!(
        parameters::put(&s, &scope(), put("/aws/x", "v", string)).await,
        Err(SsmError::Validation(_))
    ));
    assert!(matches!(
        parameters::put(&s, &scope(), put("new", "v", None)).await,
        Err(SsmError::Validation(_))
    ));
    let long = "x".repeat(4097);
    assert!(matches!(
        parameters::put(&s, &scope(), put("big", &long, string)).await,
        Err(SsmError::Validation(_))
    ));
    let advanced = Put {
        tier: Some(TierChoice::Advanced),
        ..put("big", &long, string)
    };
    assert_eq!(
        parameters::put(&s, &scope(), advanced).await.unwrap().1,
        Tier::Advanced
    );
    let down = Put {
        tier: Some(TierChoice::Standard),
        ..overwrite("big", "short")
    };
    assert!(matches!(
        parameters::put(&s, &scope(), down).await,
        Err(SsmError::Validation(_))
    ));
    let tagged = Put {
        tags: vec![("a".into(), "b".into())],
        ..overwrite("big", "short")
    };
    assert!(matches!(
        parameters::put(&s, &scope(), tagged).await,
        Err(SsmError::Validation(_))
    ));
    let patterned = Put {
        allowed_pattern: Some("^[0-9]+$".into()),
        ..put("port", "80", string)
    };
    parameters::put(&s, &scope(), patterned).await.unwrap();
    let e = parameters::put(&s, &scope(), overwrite("port", "eighty"))
        .await
        .unwrap_err();
    assert!(matches!(e, SsmError::PatternMismatch(_)));
    assert!(!e.to_string().contains("eighty"));
    let keyed = Put {
        key_id: Some("alias/mine".into()),
        ..put("k", "v", string)
    };
    assert!(matches!(
        parameters::put(&s, &scope(), keyed).await,
        Err(SsmError::Validation(_))
    ));
    let bad_key = Put {
        key_id: Some("not a key".into()),
        ..put("k", "v", Some(ParameterType::SecureString))
    };
    assert!(matches!(
        parameters::put(&s, &scope(), bad_key).await,
        Err(SsmError::InvalidKeyId(_))
    ));
}

#[tokio::test]
async fn secure_strings_come_back_encrypted_unless_asked() {
    let s = state().await;
    let secure = Some(ParameterType::SecureString);
    parameters::put(&s, &scope(), put("/db/pass", "s3cret", secure))
        .await
        .unwrap();
    let found = parameters::get(&s, &scope(), "/db/pass").unwrap();
    assert_eq!(found.version().key_id.as_deref(), Some("alias/aws/ssm"));
    let sealed = parameters::value(&s, &scope(), &found.record, found.version(), false).unwrap();
    assert_ne!(sealed, "s3cret");
    assert!(flotilla_model::secrets::sealed::Sealed::from_text(&sealed).is_ok());
    let plain = parameters::value(&s, &scope(), &found.record, found.version(), true).unwrap();
    assert_eq!(plain, "s3cret");
}

#[tokio::test]
async fn paths_filters_and_deletes() {
    let s = state().await;
    let string = Some(ParameterType::String);
    for name in ["/a/x", "/a/b/y", "/a/b/c/z", "/ab", "top"] {
        parameters::put(&s, &scope(), put(name, "v", string))
            .await
            .unwrap();
    }
    let names = |v: Vec<Arc<flotilla_model::secrets::parameter::ParameterRecord>>| {
        v.iter().map(|p| p.name.clone()).collect::<Vec<_>>()
    };
    let by = |path: &str, recursive: bool| {
        names(parameters::by_path(&s, &scope(), path, recursive, &[]).unwrap())
    };
    assert_eq!(by("/a", false), vec!["/a/x"]);
    assert_eq!(by("/a", true), vec!["/a/b/c/z", "/a/b/y", "/a/x"]);
    assert_eq!(by("/", false), vec!["/ab", "top"]);
    assert!(matches!(
        parameters::by_path(&s, &scope(), "a", false, &[]),
        Err(SsmError::Validation(_))
    ));
    let begins =
        ParameterFilter::new("Name", Some("BeginsWith"), vec!["/a/b".into()], false).unwrap();
    assert_eq!(
        names(parameters::list(&s, &scope(), &[begins])),
        vec!["/a/b/c/z", "/a/b/y"]
    );
    let (deleted, invalid) =
        parameters::delete_many(&s, &scope(), &["/ab".into(), "/nope".into(), "top".into()])
            .await
            .unwrap();
    assert_eq!(
        (deleted, invalid),
        (vec!["/ab".into(), "top".into()], vec!["/nope".to_string()])
    );
    assert!(matches!(
        parameters::delete(&s, &scope(), "/ab").await,
        Err(SsmError::NotFound(_))
    ));
}

#[tokio::test]
async fn value_from_resolves_as_ecs_does() {
    let s = state().await;
    let made = create(
        &s,
        "app/creds",
        r#"{"user":"admin","password":"pw-123","port":5432}"#,
    )
    .await;
    manager::put_value(
        &s,
        &scope(),
        "app/creds",
        new_version(2, r#"{"user":"root"}"#),
    )
    .await
    .unwrap();
    let r = |v: &str| resolve(&s, "us-east-1", v);
    assert_eq!(r(&made.arn).unwrap(), r#"{"user":"root"}"#);
    assert_eq!(r(&format!("{}:user::", made.arn)).unwrap(), "root");
    assert_eq!(
        r(&format!("{}:password:AWSPREVIOUS:", made.arn)).unwrap(),
        "pw-123"
    );
    assert_eq!(
        r(&format!("{}:port::{}", made.arn, token(1))).unwrap(),
        "5432"
    );
    let partial = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/creds");
    assert_eq!(r(&format!("{partial}:user::")).unwrap(), "root");

    let e = r(&format!("{}:missing::", made.arn)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unable to retrieve secret from asm: retrieved secret from Secrets Manager did not contain json key missing"
    );
    let e = r(&format!("{}:user", made.arn)).unwrap_err();
    assert!(matches!(e, ResolveError::InvalidSecretArn { .. }), "{e}");
    let e = r(&format!("{partial}-nope")).unwrap_err();
    assert!(e.to_string().contains("ResourceNotFoundException"), "{e}");
    manager::delete(&s, &scope(), "app/creds", None, false)
        .await
        .unwrap();
    let e = r(&made.arn).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("unable to retrieve secret from asm: failed to fetch secret"));
    assert!(e.to_string().ends_with(
        "InvalidRequestException: You can't perform this operation on the secret because it was marked for deletion."
    ));
    assert!(!e.to_string().contains("root") && !e.is_retriable());

    parameters::put(
        &s,
        &scope(),
        put("/svc/token", "tok-1", Some(ParameterType::SecureString)),
    )
    .await
    .unwrap();
    parameters::put(&s, &scope(), put("plain", "p", Some(ParameterType::String)))
        .await
        .unwrap();
    assert_eq!(r("/svc/token").unwrap(), "tok-1");
    assert_eq!(r("plain:1").unwrap(), "p");
    let arn = format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/svc/token");
    assert_eq!(r(&arn).unwrap(), "tok-1");
    assert_eq!(
        r("/svc/missing").unwrap_err().to_string(),
        "unable to retrieve secrets from ssm: invalid parameters: /svc/missing"
    );

    assert_eq!(
        resource_arn(&s, "us-east-1", &format!("{partial}:user::")).unwrap(),
        made.arn
    );
    assert_eq!(resource_arn(&s, "us-east-1", "/svc/token").unwrap(), arn);
    assert_eq!(
        resource_arn(&s, "eu-west-1", "plain:1").unwrap(),
        format!("arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/plain")
    );
}
