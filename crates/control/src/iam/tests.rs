//! IAM over the memory store: policies of the account's own with versions, groups,
//! roles and sessions, and what an identity is allowed.

use std::sync::Arc;

use flotilla_model::iam::eval::{Context, Decision};
use flotilla_model::iam::group::GroupRecord;
use flotilla_model::iam::role::RoleRecord;
use flotilla_model::iam::user::UserRecord;
use flotilla_store::MemoryStore;

use super::authorize::{acting, of_arn};
use super::identities::{put_inline, set_attached};
use super::roles::{self, Assumer, NewRole};
use super::{create_access_key, create_user, delete_user, groups, policies, IamError};
use crate::{ControlConfig, State};

const ACCOUNT: &str = "123456789012";

async fn state() -> State {
    State::new(Arc::new(MemoryStore::new()), ControlConfig::new(ACCOUNT))
        .await
        .unwrap()
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn deny(action: &str, resource: &str) -> String {
    allow(action, resource).replace("Allow", "Deny")
}

const ECS_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn account_trust() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

fn decide(state: &State, key: &str, action: &str, resource: &str) -> Decision {
    acting(state, key)
        .expect("a known key")
        .decide(action, resource, &Context::default())
}

#[tokio::test]
async fn policies_have_versions_and_refuse_deletion_while_attached() {
    let s = state().await;
    let p = policies::create(
        &s,
        "deploy",
        Some("/ci/"),
        &allow("ecs:*", "*"),
        None,
        vec![],
    )
    .await
    .unwrap();
    let arn = p.arn(ACCOUNT);
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:policy/ci/deploy"));
    let dup = policies::create(&s, "DEPLOY", None, &allow("ecs:*", "*"), None, vec![]).await;
    assert!(matches!(dup, Err(IamError::AlreadyExists(_))));
    let bad = policies::create(&s, "x", None, "{\"Statement\": [", None, vec![]).await;
    assert!(matches!(bad, Err(IamError::MalformedPolicy(m)) if m.contains("line 1")));
    let big = allow(&format!("ecs:{}", "A".repeat(6_200)), "*");
    let over = policies::create(&s, "big", None, &big, None, vec![]).await;
    assert!(matches!(over, Err(IamError::Limit(_))));

    for n in 2..=5 {
        let v = policies::create_version(&s, &arn, &allow("ecs:List*", "*"), n == 5)
            .await
            .unwrap();
        assert_eq!(v.version_id, format!("v{n}"));
    }
    let sixth = policies::create_version(&s, &arn, &allow("ecs:*", "*"), false).await;
    assert!(matches!(sixth, Err(IamError::Limit(_))));
    assert_eq!(policies::get(&s, &arn).unwrap().value.default_version, "v5");
    let default = policies::delete_version(&s, &arn, "v5").await;
    assert!(matches!(default, Err(IamError::DeleteConflict(_))));

    create_user(&s, "ci", None, vec![]).await.unwrap();
    set_attached::<UserRecord>(&s, "ci", &arn, true)
        .await
        .unwrap();
    assert_eq!(policies::get(&s, &arn).unwrap().value.attachment_count, 1);
    let attached = policies::delete(&s, &arn).await;
    assert!(matches!(attached, Err(IamError::DeleteConflict(m)) if m.contains("attached")));
    set_attached::<UserRecord>(&s, "ci", &arn, false)
        .await
        .unwrap();
    let versions = policies::delete(&s, &arn).await;
    assert!(matches!(versions, Err(IamError::DeleteConflict(m)) if m.contains("versions")));
    for v in ["v1", "v2", "v3", "v4"] {
        policies::delete_version(&s, &arn, v).await.unwrap();
    }
    policies::delete(&s, &arn).await.unwrap();
    assert!(policies::get(&s, &arn).is_err());
}

#[tokio::test]
async fn users_act_with_their_groups_policies_and_an_explicit_deny_wins() {
    let s = state().await;
    create_user(&s, "dev", None, vec![]).await.unwrap();
    let key = create_access_key(&s, "dev").await.unwrap().access_key_id;
    let prod = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod");
    assert_eq!(
        decide(&s, &key, "ecs:DeleteCluster", &prod),
        Decision::ImplicitDeny
    );

    groups::create(&s, "developers", None).await.unwrap();
    put_inline::<GroupRecord>(&s, "developers", "ecs", &allow("ecs:*", "*"))
        .await
        .unwrap();
    groups::set_member(&s, "developers", "dev", true)
        .await
        .unwrap();
    assert_eq!(
        decide(&s, &key, "ecs:DeleteCluster", &prod),
        Decision::Allow
    );

    put_inline::<UserRecord>(&s, "dev", "not-prod", &deny("ecs:*", &prod))
        .await
        .unwrap();
    assert_eq!(
        decide(&s, &key, "ecs:DeleteCluster", &prod),
        Decision::ExplicitDeny
    );
    let staging = prod.replace("prod", "staging");
    assert_eq!(
        decide(&s, &key, "ecs:DeleteCluster", &staging),
        Decision::Allow
    );

    // The group cannot go while it has members; the user not while in a group.
    assert!(matches!(
        groups::delete(&s, "developers").await,
        Err(IamError::DeleteConflict(_))
    ));
    let simulated = of_arn(&s, &format!("arn:aws:iam::{ACCOUNT}:user/dev")).unwrap();
    assert_eq!(
        simulated.decide("ecs:RunTask", &staging, &Context::default()),
        Decision::Allow
    );
    groups::set_member(&s, "developers", "dev", false)
        .await
        .unwrap();
    assert_eq!(
        decide(&s, &key, "ecs:DeleteCluster", &staging),
        Decision::ImplicitDeny
    );
    let in_use = delete_user(&s, "dev").await;
    assert!(matches!(in_use, Err(IamError::DeleteConflict(_))));
}

#[tokio::test]
async fn roles_are_assumed_only_as_their_trust_policy_allows() {
    let s = state().await;
    let task = roles::create(
        &s,
        NewRole {
            name: "app-task",
            path: None,
            trust_policy: ECS_TRUST,
            description: None,
            max_session_duration: None,
            tags: vec![],
        },
    )
    .await
    .unwrap();
    let arn = task.arn(ACCOUNT);
    put_inline::<RoleRecord>(&s, "app-task", "logs", &allow("logs:*", "*"))
        .await
        .unwrap();

    // ECS tasks may; the account root may not (the trust policy names only the service).
    let session = roles::assume(
        &s,
        Assumer::Service("ecs-tasks.amazonaws.com"),
        &arn,
        "t-1",
        None,
    )
    .await
    .unwrap();
    assert!(session.access_key_id.starts_with("ASIA"));
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let refused = roles::assume(&s, Assumer::Root { arn: &root }, &arn, "me", None).await;
    assert!(matches!(refused, Err(IamError::AccessDenied(m)) if m.contains("sts:AssumeRole")));
    let missing = arn.replace("app-task", "nope");
    let gone = roles::assume(&s, Assumer::Root { arn: &root }, &missing, "me", None).await;
    assert!(matches!(gone, Err(IamError::AccessDenied(_))));

    // The session acts with the role's policies.
    let key = &session.access_key_id;
    assert_eq!(decide(&s, key, "logs:PutLogEvents", "*"), Decision::Allow);
    assert_eq!(
        decide(&s, key, "ecs:DeleteCluster", "*"),
        Decision::ImplicitDeny
    );
    let who = acting(&s, key).unwrap();
    assert_eq!(
        who.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-task/t-1")
    );
    assert_eq!(who.user_id, format!("{}:t-1", task.role_id));

    // A user needs both the trust and a policy of its own.
    roles::create(
        &s,
        NewRole {
            name: "deployer",
            path: Some("/ci/"),
            trust_policy: &account_trust(),
            description: Some("deploys"),
            max_session_duration: Some(7_200),
            tags: vec![],
        },
    )
    .await
    .unwrap();
    let deployer = format!("arn:aws:iam::{ACCOUNT}:role/ci/deployer");
    create_user(&s, "ci", None, vec![]).await.unwrap();
    let ci_key = create_access_key(&s, "ci").await.unwrap().access_key_id;
    let ci_arn = format!("arn:aws:iam::{ACCOUNT}:user/ci");
    let as_ci = Assumer::Identity {
        arn: &ci_arn,
        access_key: &ci_key,
    };
    assert!(roles::assume(&s, as_ci, &deployer, "run", None)
        .await
        .is_err());
    put_inline::<UserRecord>(&s, "ci", "assume", &allow("sts:AssumeRole", &deployer))
        .await
        .unwrap();
    let long = roles::assume(&s, as_ci, &deployer, "run", Some(10_000)).await;
    assert!(matches!(long, Err(IamError::Validation(m)) if m.contains("MaxSessionDuration")));
    roles::assume(&s, as_ci, &deployer, "run", Some(7_200))
        .await
        .unwrap();

    // A malformed trust policy is refused with IAM's error; a role with policies stays.
    let bad = roles::create(
        &s,
        NewRole {
            name: "bad",
            path: None,
            trust_policy: &allow("sts:AssumeRole", "*"),
            description: None,
            max_session_duration: None,
            tags: vec![],
        },
    )
    .await;
    assert!(matches!(bad, Err(IamError::MalformedPolicy(_))));
    assert!(matches!(
        roles::delete(&s, "app-task").await,
        Err(IamError::DeleteConflict(_))
    ));
}

#[tokio::test]
async fn expired_sessions_sign_nothing_and_are_reaped() {
    let s = state().await;
    roles::create(
        &s,
        NewRole {
            name: "r",
            path: None,
            trust_policy: ECS_TRUST,
            description: None,
            max_session_duration: None,
            tags: vec![],
        },
    )
    .await
    .unwrap();
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/r");
    let session = roles::assume(
        &s,
        Assumer::Service("ecs-tasks.amazonaws.com"),
        &arn,
        "t2",
        Some(900),
    )
    .await
    .unwrap();
    assert!(roles::active_session(&s, &session.access_key_id).is_some());
    let later = chrono::Utc::now() + chrono::Duration::seconds(901);
    assert_eq!(roles::reap_sessions(&s, later).await.unwrap(), 1);
    assert!(roles::active_session(&s, &session.access_key_id).is_none());
}
