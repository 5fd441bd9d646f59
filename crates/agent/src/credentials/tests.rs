//! The endpoint against the fake server: ids and tokens per task, renewal, refusals.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;

use super::{CredentialsEndpoint, Refusal};
use crate::api::Identity;
use crate::testutil::FakeApi;

fn endpoint(port: u16, secret: &str) -> (Arc<CredentialsEndpoint>, Arc<FakeApi>) {
    let api = Arc::new(FakeApi::default());
    let identity = Arc::new(Identity::new(
        "default",
        "arn:aws:ecs:us-east-1:0:container-instance/default/i",
    ));
    let e = CredentialsEndpoint::new(
        SocketAddrV4::new(Ipv4Addr::new(169, 254, 170, 2), port),
        secret,
        api.clone(),
        identity,
    );
    (e, api)
}

fn var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn id_of(env: &[(String, String)]) -> String {
    let uri = var(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI").unwrap();
    uri.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn each_task_has_its_own_id_and_token_and_they_survive_a_restart() {
    let (e, _) = endpoint(40123, "secret-1");
    let a = e.env_for("arn:task/a");
    let b = e.env_for("arn:task/b");
    let uri = var(&a, "AWS_CONTAINER_CREDENTIALS_FULL_URI").unwrap();
    assert!(
        uri.starts_with("http://169.254.170.2:40123/v2/credentials/"),
        "{uri}"
    );
    assert!(var(&a, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_none());
    assert_ne!(id_of(&a), id_of(&b));
    assert_ne!(
        var(&a, "AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        var(&b, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
    );
    // The same secret (a restarted agent) gives the same values; another does not.
    let (again, _) = endpoint(40123, "secret-1");
    assert_eq!(again.env_for("arn:task/a"), a);
    let (other, _) = endpoint(40123, "secret-2");
    assert_ne!(other.env_for("arn:task/a"), a);
    // On port 80 the relative form is given too, as on ECS.
    let (on_80, _) = endpoint(80, "secret-1");
    let env = on_80.env_for("arn:task/a");
    assert_eq!(
        var(&env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        Some(format!("/v2/credentials/{}", id_of(&env)).as_str())
    );
}

#[tokio::test]
async fn credentials_need_the_tasks_token_and_are_kept_until_renewal_is_due() {
    let (e, api) = endpoint(40123, "s");
    let a = e.env_for("arn:task/a");
    let b = e.env_for("arn:task/b");
    let token_a = var(&a, "AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap();
    let token_b = var(&b, "AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap();

    let first = e.credentials(&id_of(&a), Some(token_a)).await.unwrap();
    assert!(first.role_arn.ends_with("arn:task/a"));
    let again = e.credentials(&id_of(&a), Some(token_a)).await.unwrap();
    assert_eq!(again.access_key_id, first.access_key_id, "kept while fresh");
    assert_eq!(api.credentials_issued.load(Ordering::SeqCst), 1);

    // Another task's token, none, or an unknown id: refused.
    let wrong = e.credentials(&id_of(&a), Some(token_b)).await;
    assert!(matches!(wrong, Err(Refusal(StatusCode::UNAUTHORIZED, _))));
    assert!(matches!(
        e.credentials(&id_of(&a), None).await,
        Err(Refusal(StatusCode::UNAUTHORIZED, _))
    ));
    assert!(matches!(
        e.credentials("nope", Some(token_a)).await,
        Err(Refusal(StatusCode::NOT_FOUND, _))
    ));

    // Forgotten with its task.
    e.forget("arn:task/a");
    assert!(matches!(
        e.credentials(&id_of(&a), Some(token_a)).await,
        Err(Refusal(StatusCode::NOT_FOUND, _))
    ));
}

#[tokio::test]
async fn credentials_are_renewed_once_a_third_of_their_lifetime_is_left() {
    let (e, _) = endpoint(40123, "s");
    let a = e.env_for("arn:task/a");
    let token = var(&a, "AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap();
    let id = id_of(&a);
    let first = e.credentials(&id, Some(token)).await.unwrap();
    // Pretend they were issued five minutes before they expire: less than a third is left.
    {
        let mut tasks = e.lock();
        let entry = tasks.get_mut(&id).unwrap();
        let (c, _, expires) = entry.cached.clone().unwrap();
        entry.cached = Some((c, expires - chrono::Duration::seconds(300), expires));
    }
    let renewed = e.credentials(&id, Some(token)).await.unwrap();
    assert_ne!(renewed.access_key_id, first.access_key_id);
}
