//! ARNs and the scope (partition, region, account) every resource lives in.
//!
//! ARNs have the AWS shapes, e.g. `arn:aws:ecs:us-east-1:000000000000:cluster/default`. One
//! function builds each kind so the shape is written down once.

use std::fmt;

/// Where a resource lives: state is partitioned by region; the account id is configured
/// per deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Scope {
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Scope {
            partition: "aws".into(),
            region: region.into(),
            account: account.into(),
        }
    }

    /// An ARN of `service` in this scope with the given resource part.
    pub fn arn(&self, service: &str, resource: impl Into<String>) -> Arn {
        Arn {
            partition: self.partition.clone(),
            service: service.into(),
            region: self.region.clone(),
            account: self.account.clone(),
            resource: resource.into(),
        }
    }

    pub fn cluster_arn(&self, name: &str) -> String {
        self.arn("ecs", format!("cluster/{name}")).to_string()
    }

    pub fn task_definition_arn(&self, family: &str, revision: i64) -> String {
        self.arn("ecs", format!("task-definition/{family}:{revision}"))
            .to_string()
    }

    /// The ARN of the root identity every request is made as.
    pub fn root_user_arn(&self) -> String {
        format!("arn:{}:iam::{}:root", self.partition, self.account)
    }
}

/// A parsed ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    /// Everything after the fifth colon, e.g. `cluster/default`.
    pub resource: String,
}

impl Arn {
    /// Parse `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`; `None` when malformed.
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }

    /// The resource type and the rest: `cluster/default` → `("cluster", "default")`.
    pub fn resource_parts(&self) -> (&str, &str) {
        match self.resource.split_once('/') {
            Some((kind, rest)) => (kind, rest),
            None => (self.resource.as_str(), ""),
        }
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_cluster_arns() {
        let scope = Scope::new("eu-west-1", "123456789012");
        let arn = scope.cluster_arn("web");
        assert_eq!(arn, "arn:aws:ecs:eu-west-1:123456789012:cluster/web");
        let parsed = Arn::parse(&arn).unwrap();
        assert_eq!(parsed.resource_parts(), ("cluster", "web"));
        assert_eq!(parsed.to_string(), arn);
    }

    #[test]
    fn task_definition_arn_keeps_colon_in_resource() {
        let scope = Scope::new("us-east-1", "000000000000");
        let arn = scope.task_definition_arn("web", 3);
        let parsed = Arn::parse(&arn).unwrap();
        assert_eq!(parsed.resource_parts(), ("task-definition", "web:3"));
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "arn",
            "arn:aws",
            "notarn:aws:ecs:r:a:x",
            "arn:aws:ecs:r:a:",
        ] {
            assert!(Arn::parse(s).is_none(), "{s}");
        }
    }
}
