//! ELBv2's resources (application load balancers): load balancers, listeners and rules,
//! target groups and their targets, with AWS's names, ARNs and validation, and the
//! contract with the load balancer's data plane (`plane`).

pub mod listener;
pub mod load_balancer;
pub mod plane;
pub mod target;
pub mod target_group;

pub use listener::{Action, Condition, ListenerProtocol, ListenerRecord, RuleRecord};
pub use load_balancer::{LbState, LoadBalancerRecord};
pub use target::TargetRecord;
pub use target_group::{HealthCheck, TargetGroupProtocol, TargetGroupRecord, TargetType};

use crate::error::{ModelError, Result};

/// A load balancer or target group name: 1–32 alphanumerics and hyphens, not starting or
/// ending with a hyphen; a load balancer's may not start with `internal-`.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(ModelError::invalid(format!(
            "{kind} name '{name}' must be 1-32 characters of a-z, A-Z, 0-9 and hyphens, and must not begin or end with a hyphen"
        )));
    }
    if kind == "Load balancer" && name.starts_with("internal-") {
        return Err(ModelError::invalid(format!(
            "Load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    Ok(())
}

/// Every attribute with its effective value: the stored one, else its default.
pub fn attribute_values(
    stored: &std::collections::BTreeMap<String, String>,
    defaults: &[(&str, &str)],
) -> Vec<(String, String)> {
    defaults
        .iter()
        .map(|(k, _)| ((*k).to_string(), attribute_value(stored, defaults, k)))
        .collect()
}

/// One attribute's effective value ("" for a key without a default).
pub fn attribute_value(
    stored: &std::collections::BTreeMap<String, String>,
    defaults: &[(&str, &str)],
    key: &str,
) -> String {
    stored.get(key).cloned().unwrap_or_else(|| {
        defaults
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, d)| (*d).to_string())
            .unwrap_or_default()
    })
}

/// The 16 lower-case hex digits that end ELBv2 ARNs.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// The id of a listener or rule ARN's parent path and its own id:
/// `.../listener/app/NAME/LBID/LID` → (`app/NAME/LBID`, `LID`).
pub fn listener_path(listener_arn: &str) -> Option<&str> {
    listener_arn.split_once(":listener/").map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_elbv2_rules() {
        assert!(validate_name("Load balancer", "web-1").is_ok());
        for bad in ["", "-web", "web-", "web_1", &"a".repeat(33), "internal-web"] {
            assert!(validate_name("Load balancer", bad).is_err(), "{bad}");
        }
        assert!(validate_name("Target group", "internal-web").is_ok());
    }
}
