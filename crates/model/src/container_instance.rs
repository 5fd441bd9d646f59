//! ECS container instances: hosts running the Flotilla agent. The stored record, the
//! resources shapes ECS reports, and the arithmetic of what remains free on an instance.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::tag::Tag;
use crate::task_definition::Attribute;
use crate::timestamp;

pub const ACTIVE: &str = "ACTIVE";
pub const DRAINING: &str = "DRAINING";
pub const INACTIVE: &str = "INACTIVE";

/// The agent and Docker versions an instance reports (ECS `VersionInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}

/// One resource of an instance (ECS `Resource`): CPU and MEMORY as integers, PORTS and
/// PORTS_UDP as string sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub double_value: f64,
    #[serde(default)]
    pub long_value: i64,
    #[serde(default)]
    pub integer_value: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub string_set_value: Vec<String>,
}

impl Resource {
    pub fn integer(name: &str, value: i64) -> Resource {
        Resource {
            name: name.into(),
            kind: "INTEGER".into(),
            double_value: 0.0,
            long_value: 0,
            integer_value: value,
            string_set_value: vec![],
        }
    }

    pub fn string_set(name: &str, values: Vec<String>) -> Resource {
        Resource {
            name: name.into(),
            kind: "STRINGSET".into(),
            double_value: 0.0,
            long_value: 0,
            integer_value: 0,
            string_set_value: values,
        }
    }
}

/// An instance's capacity in the units the scheduler uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacity {
    /// CPU units (1024 per core).
    pub cpu: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// TCP ports taken on the host.
    pub tcp_ports: BTreeSet<u16>,
    /// UDP ports taken on the host.
    pub udp_ports: BTreeSet<u16>,
}

impl Capacity {
    /// Read CPU, MEMORY, PORTS and PORTS_UDP from ECS resources.
    pub fn from_resources(resources: &[Resource]) -> Capacity {
        let mut c = Capacity::default();
        for r in resources {
            let ports = || r.string_set_value.iter().filter_map(|p| p.parse().ok());
            match r.name.as_str() {
                // Held to the API's Integer range, whatever an older record holds.
                "CPU" => c.cpu = r.integer_value.clamp(0, i64::from(i32::MAX)),
                "MEMORY" => c.memory = r.integer_value.clamp(0, i64::from(i32::MAX)),
                "PORTS" => c.tcp_ports = ports().collect(),
                "PORTS_UDP" => c.udp_ports = ports().collect(),
                _ => {}
            }
        }
        c
    }

    /// As ECS resources.
    pub fn to_resources(&self) -> Vec<Resource> {
        let ports = |set: &BTreeSet<u16>| set.iter().map(u16::to_string).collect();
        vec![
            Resource::integer("CPU", self.cpu),
            Resource::integer("MEMORY", self.memory),
            Resource::string_set("PORTS", ports(&self.tcp_ports)),
            Resource::string_set("PORTS_UDP", ports(&self.udp_ports)),
        ]
    }
}

/// The stored container instance. `agentConnected`, the task counts and the remaining
/// resources are derived when it is described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceRecord {
    pub container_instance_arn: String,
    /// The host's identity (ECS shows an EC2 instance id; Flotilla a stable host id).
    pub ec2_instance_id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub version: i64,
    #[serde(default)]
    pub version_info: VersionInfo,
    pub registered_resources: Vec<Resource>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(with = "timestamp")]
    pub registered_at: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Record for ContainerInstanceRecord {
    const KIND: &'static str = "container-instance";
    const VERSION: u32 = 1;
}

impl ContainerInstanceRecord {
    /// The instance id: the last part of the ARN.
    pub fn id(&self) -> &str {
        self.container_instance_arn.rsplit('/').next().unwrap_or("")
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_deref().unwrap_or(""))
    }

    /// Set or replace an attribute.
    pub fn put_attribute(&mut self, name: &str, value: Option<String>) {
        match self.attributes.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => self.attributes.push(Attribute {
                name: name.to_string(),
                value,
                target_type: None,
                target_id: None,
            }),
        }
    }
}
