//! Application load balancers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;

/// `State.Code`. A load balancer is `provisioning` until the data plane has bound its
/// listeners' address, then `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LbState {
    Provisioning,
    Active,
}

impl LbState {
    pub fn as_str(self) -> &'static str {
        match self {
            LbState::Provisioning => "provisioning",
            LbState::Active => "active",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerRecord {
    pub arn: String,
    pub name: String,
    /// The id in the ARN (16 hex digits), also in the DNS name.
    pub id: String,
    pub dns_name: String,
    /// The address its listeners are reachable at.
    pub address: IpAddr,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    pub ip_address_type: String,
    pub vpc_id: String,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub state: LbState,
    /// Only the attributes set away from their defaults.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub created_at: DateTime<Utc>,
}

impl Record for LoadBalancerRecord {
    const KIND: &'static str = "elbv2-load-balancer";
    const VERSION: u32 = 1;
}

/// The attributes DescribeLoadBalancerAttributes lists for an application load balancer.
pub const ATTRIBUTE_DEFAULTS: &[(&str, &str)] = &[
    ("access_logs.s3.enabled", "false"),
    ("access_logs.s3.bucket", ""),
    ("access_logs.s3.prefix", ""),
    ("client_keep_alive.seconds", "3600"),
    ("connection_logs.s3.enabled", "false"),
    ("connection_logs.s3.bucket", ""),
    ("connection_logs.s3.prefix", ""),
    ("deletion_protection.enabled", "false"),
    ("idle_timeout.timeout_seconds", "60"),
    ("routing.http.desync_mitigation_mode", "defensive"),
    ("routing.http.drop_invalid_header_fields.enabled", "false"),
    ("routing.http.preserve_host_header.enabled", "false"),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        "false",
    ),
    ("routing.http.xff_client_port.enabled", "false"),
    ("routing.http.xff_header_processing.mode", "append"),
    ("routing.http2.enabled", "true"),
    ("waf.fail_open.enabled", "false"),
    ("zonal_shift.config.enabled", "false"),
];

impl LoadBalancerRecord {
    pub fn attributes(&self) -> Vec<(String, String)> {
        super::attribute_values(&self.attributes, ATTRIBUTE_DEFAULTS)
    }

    pub fn attribute(&self, key: &str) -> String {
        super::attribute_value(&self.attributes, ATTRIBUTE_DEFAULTS, key)
    }

    pub fn deletion_protected(&self) -> bool {
        self.attribute("deletion_protection.enabled") == "true"
    }
}

/// Check one load balancer attribute against AWS's rules.
pub fn validate_attribute(key: &str, value: &str) -> Result<()> {
    let bool_ = || -> Result<()> {
        if value == "true" || value == "false" {
            Ok(())
        } else {
            Err(ModelError::invalid(format!(
                "The value of '{key}' must be 'true' or 'false', not '{value}'"
            )))
        }
    };
    match key {
        "idle_timeout.timeout_seconds" => match value.parse::<u32>() {
            Ok(n) if (1..=4000).contains(&n) => Ok(()),
            _ => Err(ModelError::invalid(format!(
                "The value of '{key}' must be an integer between 1 and 4000, not '{value}'"
            ))),
        },
        "client_keep_alive.seconds" => match value.parse::<u32>() {
            Ok(n) if (60..=604_800).contains(&n) => Ok(()),
            _ => Err(ModelError::invalid(format!(
                "The value of '{key}' must be an integer between 60 and 604800, not '{value}'"
            ))),
        },
        "routing.http.xff_header_processing.mode" => match value {
            "append" | "preserve" | "remove" => Ok(()),
            _ => Err(ModelError::invalid(format!(
                "The value of '{key}' must be one of append, preserve, remove, not '{value}'"
            ))),
        },
        "routing.http.desync_mitigation_mode" => match value {
            "monitor" | "defensive" | "strictest" => Ok(()),
            _ => Err(ModelError::invalid(format!(
                "The value of '{key}' must be one of monitor, defensive, strictest, not '{value}'"
            ))),
        },
        k if k.ends_with(".enabled") && ATTRIBUTE_DEFAULTS.iter().any(|(d, _)| *d == k) => bool_(),
        k if ATTRIBUTE_DEFAULTS.iter().any(|(d, _)| *d == k) => Ok(()),
        _ => Err(ModelError::invalid(format!(
            "Load balancer attribute key '{key}' is not recognized"
        ))),
    }
}
