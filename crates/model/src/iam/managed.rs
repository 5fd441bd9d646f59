//! The AWS-managed policies ECS users attach, as Flotilla serves them: the same names,
//! paths and ARNs (`arn:aws:iam::aws:policy/...`), with statements covering the services
//! Flotilla serves. They exist in every account and cannot be changed or deleted.

use std::sync::LazyLock;

use super::policy::{parse, PolicyDocument, PolicyKind};

/// One AWS-managed policy.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub name: &'static str,
    /// `/` or `/service-role/`.
    pub path: &'static str,
    pub description: &'static str,
    /// The document's text, as GetPolicyVersion answers it.
    pub document: &'static str,
}

impl ManagedPolicy {
    /// `arn:aws:iam::aws:policy{path}{name}`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }

    /// The checked document.
    pub fn policy(&self) -> PolicyDocument {
        parse(self.document, PolicyKind::Identity)
            .unwrap_or_else(|e| unreachable!("built-in policy {} is malformed: {e}", self.name))
    }
}

/// The services Flotilla serves, by their IAM action prefix.
const SERVICES: &[&str] = &[
    "ecs",
    "ecr",
    "elasticloadbalancing",
    "acm",
    "route53",
    "servicediscovery",
    "logs",
    "cloudwatch",
    "application-autoscaling",
    "ec2",
    "iam",
    "sts",
    "secretsmanager",
    "ssm",
];

static READ_ONLY: LazyLock<String> = LazyLock::new(|| {
    // Reading the value of a secret or a parameter is not reading configuration.
    let actions: Vec<String> = SERVICES
        .iter()
        .flat_map(|s| {
            let reads: &[&str] = match *s {
                "secretsmanager" | "ssm" => &["Describe*", "List*"],
                _ => &["Describe*", "List*", "Get*", "BatchGet*"],
            };
            reads.iter().map(move |r| format!("\"{s}:{r}\""))
        })
        .collect();
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": [{}], "Resource": "*"}}]}}"#,
        actions.join(", ")
    )
});

/// Every AWS-managed policy Flotilla has.
pub fn all() -> Vec<ManagedPolicy> {
    vec![
        ManagedPolicy {
            name: "AdministratorAccess",
            path: "/",
            description: "Provides full access to every service and resource.",
            document: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        },
        ManagedPolicy {
            name: "ReadOnlyAccess",
            path: "/",
            description: "Provides read-only access to every service and resource.",
            document: READ_ONLY.as_str(),
        },
        ManagedPolicy {
            name: "AmazonECS_FullAccess",
            path: "/",
            description: "Provides administrative access to Amazon ECS resources and the resources an ECS deployment uses.",
            document: r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "ECS", "Effect": "Allow", "Action": ["ecs:*", "elasticloadbalancing:*", "application-autoscaling:*",
    "cloudwatch:*", "logs:*", "servicediscovery:*", "route53:*", "acm:Describe*", "acm:List*",
    "ec2:Describe*", "ecr:Describe*", "ecr:List*", "ecr:Get*", "ecr:BatchGet*", "iam:List*", "iam:Get*"],
   "Resource": "*"},
  {"Sid": "PassRoleToTasks", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
   "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]}"#,
        },
        ManagedPolicy {
            name: "AmazonEC2ContainerRegistryReadOnly",
            path: "/",
            description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
            document: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
  "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
  "ecr:GetRepositoryPolicy", "ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages",
  "ecr:BatchGetImage", "ecr:GetLifecyclePolicy", "ecr:GetLifecyclePolicyPreview",
  "ecr:ListTagsForResource", "ecr:DescribeImageScanFindings"], "Resource": "*"}]}"#,
        },
        ManagedPolicy {
            name: "AmazonECSTaskExecutionRolePolicy",
            path: "/service-role/",
            description: "Provides access to other AWS service resources that are required to run Amazon ECS tasks.",
            document: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
  "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
  "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}"#,
        },
        ManagedPolicy {
            name: "CloudWatchLogsFullAccess",
            path: "/",
            description: "Provides full access to CloudWatch Logs.",
            document: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}"#,
        },
    ]
}

/// The AWS-managed policy with this ARN.
pub fn by_arn(arn: &str) -> Option<ManagedPolicy> {
    all().into_iter().find(|p| p.arn() == arn)
}

/// The checked document of the AWS-managed policy with this ARN, read once per process
/// (what every request of a user is decided with).
pub fn document(arn: &str) -> Option<&'static PolicyDocument> {
    static DOCUMENTS: LazyLock<std::collections::HashMap<String, PolicyDocument>> =
        LazyLock::new(|| all().iter().map(|p| (p.arn(), p.policy())).collect());
    DOCUMENTS.get(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::eval::{evaluate, Context, Decision, Request};

    fn decide(policy: &str, action: &str) -> Decision {
        let p = by_arn(policy).unwrap().policy();
        let ctx = Context::default();
        evaluate(
            [&p],
            &Request {
                action,
                resource: "*",
                context: &ctx,
            },
        )
    }

    #[test]
    fn every_managed_policy_reads_and_grants_what_its_name_says() {
        for p in all() {
            p.policy();
            assert!(p.arn().starts_with("arn:aws:iam::aws:policy/"));
        }
        let ro = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        assert!(decide(ro, "ecs:DescribeClusters").allowed());
        assert!(decide(ro, "logs:GetLogEvents").allowed());
        assert!(!decide(ro, "ecs:RunTask").allowed());
        assert!(!decide(ro, "secretsmanager:GetSecretValue").allowed());
        let exec = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
        assert!(decide(exec, "ecr:BatchGetImage").allowed());
        assert!(!decide(exec, "ecr:PutImage").allowed());
        let ecs = "arn:aws:iam::aws:policy/AmazonECS_FullAccess";
        assert!(decide(ecs, "ecs:DeleteCluster").allowed());
        assert!(!decide(ecs, "iam:CreateUser").allowed());
        assert!(!decide(ecs, "iam:PassRole").allowed(), "only to ECS tasks");
        assert!(decide(
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "iam:CreateUser"
        )
        .allowed());
    }
}
