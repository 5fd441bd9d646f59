//! The cluster query language applied to container instances (ListContainerInstances'
//! `filter`; placement constraints use the same language).

use crate::ecs::error::EcsError;
use flotilla_model::container_instance::ContainerInstanceRecord;
use flotilla_model::cql::{self, Expr, Subject};
use flotilla_model::Scope;

use super::container_instances::Occupancy;
use crate::ecs::error::from_model;
use crate::State;

pub fn parse(expr: &str) -> Result<Expr, EcsError> {
    cql::parse(expr).map_err(from_model)
}

/// One instance as the query language sees it.
struct Instance<'a> {
    state: &'a State,
    scope: &'a Scope,
    cluster: &'a str,
    record: &'a ContainerInstanceRecord,
    occupancy: &'a Occupancy,
}

impl Subject for Instance<'_> {
    fn attribute(&self, name: &str) -> Option<String> {
        self.record.attribute(name).map(String::from)
    }

    fn builtin(&self, name: &str) -> Option<String> {
        let arn = &self.record.container_instance_arn;
        match name {
            "agentConnected" => Some(
                self.state
                    .agent_connected(&self.scope.region, self.cluster, self.record.id())
                    .to_string(),
            ),
            "agentVersion" => self.record.version_info.agent_version.clone(),
            "ec2InstanceId" => Some(self.record.ec2_instance_id.clone()),
            "registeredAt" => Some(self.record.registered_at.to_rfc3339()),
            "runningTasksCount" => Some(
                self.occupancy
                    .load(arn)
                    .map_or(0, |l| l.running)
                    .to_string(),
            ),
            _ => None,
        }
    }

    fn task_groups(&self) -> Vec<String> {
        let arn = &self.record.container_instance_arn;
        self.occupancy
            .load(arn)
            .map(|l| l.groups.keys().cloned().collect())
            .unwrap_or_default()
    }
}

pub fn matches(
    expr: &Expr,
    state: &State,
    scope: &Scope,
    cluster: &str,
    record: &ContainerInstanceRecord,
    occupancy: &Occupancy,
) -> bool {
    expr.matches(&Instance {
        state,
        scope,
        cluster,
        record,
        occupancy,
    })
}
