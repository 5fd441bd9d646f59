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

/// What an instance identity document (EC2's, or the one Flotilla's agent writes) says
/// about its host; every field is optional, and a document that is not a JSON object
/// says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityDocument {
    pub instance_id: Option<String>,
    pub availability_zone: Option<String>,
    pub instance_type: Option<String>,
    pub architecture: Option<String>,
    pub image_id: Option<String>,
}

impl IdentityDocument {
    /// Read a RegisterContainerInstance `instanceIdentityDocument`.
    pub fn parse(doc: &str) -> IdentityDocument {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_default();
        let field = |name: &str| {
            v.get(name)
                .and_then(|f| f.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        IdentityDocument {
            instance_id: field("instanceId"),
            availability_zone: field("availabilityZone"),
            instance_type: field("instanceType"),
            architecture: field("architecture"),
            image_id: field("imageId"),
        }
    }

    /// The `ecs.*` attributes ECS gives every instance it registers, from what the document
    /// says (Linux, and `x86_64` when it names no architecture); those the registration
    /// gives itself win.
    pub fn builtin_attributes(&self) -> Vec<Attribute> {
        let attribute = |name: &str, value: Option<&str>| {
            value.map(|v| Attribute {
                name: name.to_string(),
                value: Some(v.to_string()),
                target_type: None,
                target_id: None,
            })
        };
        [
            attribute("ecs.os-type", Some("linux")),
            attribute("ecs.os-family", Some("LINUX")),
            attribute(
                "ecs.cpu-architecture",
                Some(self.architecture.as_deref().unwrap_or("x86_64")),
            ),
            attribute("ecs.availability-zone", self.availability_zone.as_deref()),
            attribute("ecs.instance-type", self.instance_type.as_deref()),
            attribute("ecs.ami-id", self.image_id.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `given` with the built-in attributes it lacks added after it.
pub fn with_builtin_attributes(
    mut given: Vec<Attribute>,
    doc: &IdentityDocument,
) -> Vec<Attribute> {
    for b in doc.builtin_attributes() {
        if !given.iter().any(|a| a.name == b.name) {
            given.push(b);
        }
    }
    given
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builtins_come_from_the_document_and_yield_to_given_ones() {
        let doc = IdentityDocument::parse(
            r#"{"instanceId":"i-1","availabilityZone":"us-east-1b","instanceType":"m5.large","architecture":"arm64"}"#,
        );
        assert_eq!(doc.instance_id.as_deref(), Some("i-1"));
        let given = vec![Attribute {
            name: "ecs.os-type".into(),
            value: Some("windows".into()),
            target_type: None,
            target_id: None,
        }];
        let all = with_builtin_attributes(given, &doc);
        let get = |n: &str| {
            all.iter()
                .find(|a| a.name == n)
                .and_then(|a| a.value.clone())
        };
        assert_eq!(get("ecs.os-type").as_deref(), Some("windows"));
        assert_eq!(get("ecs.availability-zone").as_deref(), Some("us-east-1b"));
        assert_eq!(get("ecs.instance-type").as_deref(), Some("m5.large"));
        assert_eq!(get("ecs.cpu-architecture").as_deref(), Some("arm64"));
        assert_eq!(get("ecs.ami-id"), None);
        let none = IdentityDocument::parse("not json");
        assert_eq!(none, IdentityDocument::default());
        assert_eq!(none.builtin_attributes().len(), 3);
    }

    proptest! {
        #[test]
        fn any_document_parses_without_panic(doc in ".{0,200}", field in "[a-zA-Z]{0,12}", value in ".{0,20}") {
            let _ = IdentityDocument::parse(&doc).builtin_attributes();
            let json = serde_json::json!({ field: value, "availabilityZone": [1, 2] }).to_string();
            let parsed = IdentityDocument::parse(&json);
            prop_assert_eq!(parsed.availability_zone, None);
        }
    }
}
