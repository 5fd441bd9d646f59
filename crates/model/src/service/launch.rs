//! What a service is launched with besides its task definition: the Fargate platform
//! version and family it reports, and the IAM role it names for its load balancers.
//!
//! Flotilla runs every task on Docker hosts; a Fargate service's platform is recorded and
//! echoed as ECS answers it, so tools that read `platformVersion` find what they expect.

use crate::error::{ModelError, Result};

/// The platform version a Fargate service gets when it names none.
pub const LATEST: &str = "LATEST";
/// The version `LATEST` resolves to in a deployment (Fargate's current Linux platform).
pub const LATEST_RESOLVED: &str = "1.4.0";
/// The platform versions a Fargate service or task can name.
pub const PLATFORM_VERSIONS: &[&str] = &[LATEST, "1.4.0", "1.3.0"];
/// The platform family of every Fargate task Flotilla runs.
pub const PLATFORM_FAMILY: &str = "Linux";

/// The platform version a service or task of `launch_type` records: `LATEST` for Fargate
/// when none is given; none for other launch types, which may not name one.
pub fn platform_version(launch_type: &str, given: Option<&str>) -> Result<Option<String>> {
    match (launch_type, given.filter(|v| !v.is_empty())) {
        ("FARGATE", None) => Ok(Some(LATEST.into())),
        ("FARGATE", Some(v)) if PLATFORM_VERSIONS.contains(&v) => Ok(Some(v.into())),
        ("FARGATE", Some(v)) => Err(ModelError::invalid(format!(
            "platformVersion '{v}' is invalid: use {}.",
            PLATFORM_VERSIONS.join(", ")
        ))),
        (_, None) => Ok(None),
        (other, Some(_)) => Err(ModelError::invalid(format!(
            "platformVersion can only be given for the FARGATE launch type, not {other}."
        ))),
    }
}

/// The version a deployment or task runs: `LATEST` resolved.
pub fn resolved(version: &str) -> &str {
    if version == LATEST {
        LATEST_RESOLVED
    } else {
        version
    }
}

/// The name of the role ECS creates for itself, which a service uses when it names none.
const SERVICE_LINKED_ROLE: &str = "aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS";

/// The `roleArn` of a service: the role it was given (a name becomes the account's role
/// ARN; a path such as `service/ecs` is kept), else the service-linked role.
pub fn role_arn(account: &str, role: Option<&str>) -> String {
    match role.filter(|r| !r.is_empty()) {
        Some(arn) if arn.starts_with("arn:") => arn.to_string(),
        Some(name) => format!(
            "arn:aws:iam::{account}:role/{}",
            name.trim_start_matches('/')
        ),
        None => format!("arn:aws:iam::{account}:role/{SERVICE_LINKED_ROLE}"),
    }
}

/// Whether a service may name a `role`: only with load balancers and outside `awsvpc`
/// mode (where ECS uses its service-linked role); AWS's own sentence otherwise.
pub fn check_role(role: Option<&str>, has_load_balancers: bool, awsvpc: bool) -> Result<()> {
    match role.filter(|r| !r.is_empty()) {
        Some(_) if !has_load_balancers || awsvpc => Err(ModelError::invalid(
            "You cannot specify an IAM role for services that require a service linked role.",
        )),
        Some(r) if r.len() > 2048 => Err(ModelError::invalid(
            "role can be at most 2048 characters long.",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_defaults_to_latest_and_others_take_none() {
        assert_eq!(
            platform_version("FARGATE", None).unwrap().as_deref(),
            Some("LATEST")
        );
        assert_eq!(
            platform_version("FARGATE", Some("1.4.0"))
                .unwrap()
                .as_deref(),
            Some("1.4.0")
        );
        assert!(platform_version("FARGATE", Some("9.9.9")).is_err());
        assert_eq!(platform_version("EC2", None).unwrap(), None);
        assert!(platform_version("EC2", Some("LATEST")).is_err());
        assert_eq!(resolved("LATEST"), "1.4.0");
        assert_eq!(resolved("1.3.0"), "1.3.0");
    }

    #[test]
    fn roles_become_arns_and_need_load_balancers() {
        assert_eq!(
            role_arn("123456789012", Some("ecsServiceRole")),
            "arn:aws:iam::123456789012:role/ecsServiceRole"
        );
        assert_eq!(
            role_arn("123456789012", None),
            "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
        );
        assert!(check_role(Some("r"), false, false).is_err());
        assert!(check_role(Some("r"), true, true).is_err());
        assert!(check_role(Some("r"), true, false).is_ok());
        assert!(check_role(None, false, false).is_ok());
    }
}
