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

    /// Refuse an ARN of another partition, region or account than the request's `scope`:
    /// it never stands for the caller's own resource of the same name.
    pub fn within(&self, scope: &Scope) -> Result<(), crate::ModelError> {
        if self.partition == scope.partition
            && self.region == scope.region
            && self.account == scope.account
        {
            return Ok(());
        }
        Err(crate::ModelError::invalid(format!(
            "'{self}' is in {}:{}:{}, but the request acts in {}:{}:{}.",
            self.partition, self.region, self.account, scope.partition, scope.region, scope.account
        )))
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

/// The ECS resources a request parameter names by name, id or ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcsRef {
    Cluster,
    ContainerInstance,
    Service,
    Task,
    TaskDefinition,
}

impl EcsRef {
    /// The resource type in the ARN (`cluster/...`, `task/...`).
    fn resource_type(self) -> &'static str {
        match self {
            EcsRef::Cluster => "cluster",
            EcsRef::ContainerInstance => "container-instance",
            EcsRef::Service => "service",
            EcsRef::Task => "task",
            EcsRef::TaskDefinition => "task-definition",
        }
    }

    /// How a message names it, and whether people give it by name or by id.
    fn noun(self) -> (&'static str, &'static str) {
        match self {
            EcsRef::Cluster => ("cluster", "name"),
            EcsRef::ContainerInstance => ("container instance", "id"),
            EcsRef::Service => ("service", "name"),
            EcsRef::Task => ("task", "id"),
            EcsRef::TaskDefinition => ("task definition", "family"),
        }
    }
}

/// The one parser of name-or-ARN parameters, for a request acting in `scope`: what `input`
/// names, as the resource's name
/// or id (for a cluster and a task definition, everything after `cluster/` or
/// `task-definition/`, i.e. the name or `family:revision`; for the others, the last part of
/// the ARN, which may also carry the cluster). A malformed ARN, an empty name, or a task,
/// service or instance name with a `/`, is an
/// [`ErrorKind::InvalidParameter`](crate::ErrorKind) (a `ClientException` kind for task
/// definitions, as ECS answers). An ARN of another partition, region or account is refused:
/// it never stands for the caller's own resource of the same name.
pub fn ecs_name(input: &str, kind: EcsRef, scope: &Scope) -> Result<String, crate::ModelError> {
    let (noun, by) = kind.noun();
    let error = |m: String| match kind {
        EcsRef::TaskDefinition => crate::ModelError::client(m),
        _ => crate::ModelError::invalid(m),
    };
    if input.starts_with("arn:") {
        let arn = Arn::parse(input)
            .filter(|a| a.service == "ecs" && a.resource_parts().0 == kind.resource_type())
            .ok_or_else(|| error(format!("'{input}' is not a {noun} ARN.")))?;
        arn.within(scope)?;
        return Ok(match kind {
            EcsRef::Cluster | EcsRef::TaskDefinition => arn.resource_parts().1.to_string(),
            _ => arn.resource.rsplit('/').next().unwrap_or("").to_string(),
        });
    }
    // A cluster or family name with a '/' names nothing, which the caller reports as
    // "not found" (a MISSING failure in batch reads), as ECS does.
    let free = matches!(kind, EcsRef::Cluster | EcsRef::TaskDefinition);
    if input.is_empty() || (input.contains('/') && !free) {
        return Err(error(format!("'{input}' is not a {noun} {by} or ARN.")));
    }
    Ok(input.to_string())
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

    proptest::proptest! {
        /// Whatever a client sends, the parser answers without panicking, and what it
        /// accepts for a task, service or instance is one path segment.
        #[test]
        fn the_name_parser_takes_any_input(input in ".{0,80}", arn_like in "arn:[a-z:/0-9-]{0,60}") {
            for kind in [
                EcsRef::Cluster,
                EcsRef::ContainerInstance,
                EcsRef::Service,
                EcsRef::Task,
                EcsRef::TaskDefinition,
            ] {
                for i in [input.as_str(), arn_like.as_str()] {
                    if let Ok(name) = ecs_name(i, kind, &here()) {
                        if matches!(kind, EcsRef::Service | EcsRef::Task | EcsRef::ContainerInstance) {
                            proptest::prop_assert!(!name.contains('/'), "{i:?} -> {name:?}");
                        }
                    }
                }
            }
        }
    }

    fn here() -> Scope {
        Scope::new("us-east-1", "000000000000")
    }

    #[test]
    fn arns_of_another_region_account_or_partition_are_refused() {
        for other in [
            "arn:aws:ecs:eu-west-9:000000000000:cluster/prod",
            "arn:aws:ecs:us-east-1:111111111111:cluster/prod",
            "arn:aws-cn:ecs:us-east-1:000000000000:cluster/prod",
        ] {
            let e = ecs_name(other, EcsRef::Cluster, &here()).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidParameter, "{other}");
        }
        let mine = "arn:aws:ecs:us-east-1:000000000000:cluster/prod";
        assert_eq!(ecs_name(mine, EcsRef::Cluster, &here()).unwrap(), "prod");
    }

    #[test]
    fn one_parser_for_names_ids_and_arns() {
        let arn = "arn:aws:ecs:us-east-1:000000000000:service/c/web";
        assert_eq!(ecs_name(arn, EcsRef::Service, &here()).unwrap(), "web");
        assert_eq!(ecs_name("web", EcsRef::Service, &here()).unwrap(), "web");
        assert!(ecs_name(arn, EcsRef::Task, &here()).is_err());
        assert!(ecs_name("a/b", EcsRef::Task, &here()).is_err());
        assert!(ecs_name("", EcsRef::Service, &here()).is_err());
        let td = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3";
        assert_eq!(
            ecs_name(td, EcsRef::TaskDefinition, &here()).unwrap(),
            "web:3"
        );
        let e = ecs_name("arn:aws:s3:::x", EcsRef::TaskDefinition, &here()).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Client);
        let c = "arn:aws:ecs:us-east-1:000000000000:cluster/prod";
        assert_eq!(ecs_name(c, EcsRef::Cluster, &here()).unwrap(), "prod");
        let t = "arn:aws:ecs:us-east-1:000000000000:task/prod/abc";
        assert_eq!(ecs_name(t, EcsRef::Task, &here()).unwrap(), "abc");
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
