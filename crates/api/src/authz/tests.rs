//! What each request needs permission for, and arbitrary bodies never panic.

use bytes::Bytes;
use flotilla_aws::{AuthRequest, Input};
use proptest::prelude::*;

use super::{targets, Target};
use crate::testing::state;
use crate::State;

fn request<'a>(service: &'a str, operation: &'a str, input: &'a Input) -> AuthRequest<'a> {
    AuthRequest {
        access_key: "AKIAEXAMPLE",
        principal_arn: "arn:aws:iam::000000000000:user/u",
        service,
        operation,
        region: "us-east-1",
        input,
    }
}

fn ecs(state: &State, operation: &str, body: serde_json::Value) -> Vec<Target> {
    let input = Input::Json(Bytes::from(body.to_string()));
    targets(
        state,
        &request("ecs", operation, &input),
        &format!("ecs:{operation}"),
    )
}

fn pairs(ts: &[Target]) -> Vec<(&str, &str)> {
    ts.iter()
        .map(|t| (t.action.as_str(), t.resource.as_str()))
        .collect()
}

#[tokio::test]
async fn ecs_operations_name_their_resources_and_roles() {
    let s = state().await;
    let cluster = "arn:aws:ecs:us-east-1:000000000000:cluster";
    assert_eq!(
        pairs(&ecs(
            &s,
            "DescribeClusters",
            serde_json::json!({"clusters": ["a", format!("{cluster}/b")]})
        )),
        vec![
            ("ecs:DescribeClusters", format!("{cluster}/a").as_str()),
            ("ecs:DescribeClusters", format!("{cluster}/b").as_str()),
        ]
    );
    let stop = ecs(
        &s,
        "StopTask",
        serde_json::json!({"cluster": "web", "task": "abc"}),
    );
    assert_eq!(
        pairs(&stop),
        vec![(
            "ecs:StopTask",
            "arn:aws:ecs:us-east-1:000000000000:task/web/abc"
        )]
    );
    assert_eq!(
        stop[0].context.get("ecs:cluster"),
        Some(&[format!("{cluster}/web")][..])
    );
    let register = ecs(
        &s,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "f", "taskRoleArn": "arn:aws:iam::000000000000:role/t"}),
    );
    assert_eq!(
        pairs(&register),
        vec![
            ("ecs:RegisterTaskDefinition", "*"),
            ("iam:PassRole", "arn:aws:iam::000000000000:role/t"),
        ]
    );
    let service = ecs(
        &s,
        "CreateService",
        serde_json::json!({"serviceName": "web", "role": "arn:aws:iam::000000000000:role/lb"}),
    );
    assert_eq!(
        pairs(&service),
        vec![
            (
                "ecs:CreateService",
                "arn:aws:ecs:us-east-1:000000000000:service/default/web"
            ),
            ("iam:PassRole", "arn:aws:iam::000000000000:role/lb"),
        ]
    );
    assert_eq!(
        pairs(&ecs(&s, "ListClusters", serde_json::json!({}))),
        vec![("ecs:ListClusters", "*")]
    );
}

#[tokio::test]
async fn other_services_name_theirs_or_star() {
    let s = state().await;
    let ssm = Input::Json(Bytes::from_static(br#"{"Name": "/db/password"}"#));
    assert_eq!(
        pairs(&targets(
            &s,
            &request("ssm", "GetParameter", &ssm),
            "ssm:GetParameter"
        )),
        vec![(
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:000000000000:parameter/db/password"
        )]
    );
    let elb = Input::Query(vec![(
        "LoadBalancerArn".into(),
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/x/1".into(),
    )]);
    let t = targets(
        &s,
        &request("elasticloadbalancing", "DeleteLoadBalancer", &elb),
        "elasticloadbalancing:DeleteLoadBalancer",
    );
    assert!(t[0].resource.starts_with("arn:aws:elasticloadbalancing:"));
    let route53 = Input::Json(Bytes::new());
    assert_eq!(
        pairs(&targets(
            &s,
            &request("route53", "ListHostedZones", &route53),
            "route53:ListHostedZones"
        )),
        vec![("route53:ListHostedZones", "*")]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any body, for any operation of the services whose resources are read from it,
    /// gives at least the request's own action (on `*` when nothing is named) and never
    /// panics.
    #[test]
    fn arbitrary_bodies_never_panic(
        service in proptest::sample::select(&["ecs", "ecr", "logs", "ssm", "secretsmanager"][..]),
        operation in proptest::sample::select(&[
            "RunTask", "DescribeClusters", "StopTask", "CreateService", "DescribeServices",
            "RegisterTaskDefinition", "PutLogEvents", "GetParameter", "GetSecretValue",
        ][..]),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let s = rt.block_on(state());
        let input = Input::Json(Bytes::from(body));
        let action = format!("{service}:{operation}");
        let t = targets(&s, &request(service, operation, &input), &action);
        prop_assert!(t.iter().any(|t| t.action == action));
    }
}
