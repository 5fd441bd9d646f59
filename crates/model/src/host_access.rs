//! What of its host a task may reach, and the operator's say over it. An agent registers an
//! attribute for each kind of host access it allows; a task that needs access its instance
//! does not allow is not placed there (placement failure `ATTRIBUTE`, as ECS answers for a
//! missing capability). The names and the path rule live here, once, for the agent that
//! registers them, the control plane that asks for them and the scheduler that matches.

use crate::task_definition::TaskDefinition;

/// Registered unless the agent runs with `--disable-privileged` (ECS's
/// `ECS_DISABLE_PRIVILEGED`): a task with a privileged container needs it.
pub const PRIVILEGED: &str = "com.amazonaws.ecs.capability.privileged-container";
/// Registered unless the agent runs with `--disable-host-network`: a task in the `host`
/// network mode needs it.
pub const HOST_NETWORK: &str = "flotilla.capability.host-network";
/// Registered unless the agent runs with `--disable-host-pid`: a task with `pidMode: host`
/// needs it.
pub const HOST_PID: &str = "flotilla.capability.host-pid";
/// When registered, the host path prefixes bind mounts may use, comma-separated; without
/// it, any host path.
pub const ALLOWED_HOST_PATHS: &str = "flotilla.allowed-host-paths";
/// The longest attribute value ECS accepts.
pub const MAX_ATTRIBUTE_VALUE: usize = 128;

/// What a task definition needs of its host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostAccess {
    /// Capability attributes an instance must have ([`PRIVILEGED`], [`HOST_NETWORK`],
    /// [`HOST_PID`]).
    pub attributes: Vec<&'static str>,
    /// Host paths its volumes bind-mount.
    pub host_paths: Vec<String>,
}

impl HostAccess {
    pub fn of(d: &TaskDefinition) -> HostAccess {
        let mut attributes = Vec::new();
        if d.container_definitions
            .iter()
            .any(|c| c.privileged == Some(true))
        {
            attributes.push(PRIVILEGED);
        }
        if d.effective_network_mode() == "host" {
            attributes.push(HOST_NETWORK);
        }
        if d.pid_mode.as_deref() == Some("host") {
            attributes.push(HOST_PID);
        }
        let host_paths = d
            .volumes
            .iter()
            .filter_map(|v| v.host.as_ref()?.source_path.clone())
            .collect();
        HostAccess {
            attributes,
            host_paths,
        }
    }
}

/// Whether `path` may be bind-mounted under `allowed` (the value of
/// [`ALLOWED_HOST_PATHS`]; `None`: anything). A path is allowed when it is one of the
/// prefixes or below one; a path with `..` or `.` components never is, so it cannot climb
/// out of a prefix.
pub fn host_path_allowed(path: &str, allowed: Option<&str>) -> bool {
    let Some(allowed) = allowed else {
        return true;
    };
    if !path.starts_with('/') || path.split('/').any(|c| c == ".." || c == ".") {
        return false;
    }
    allowed
        .split(',')
        .map(|p| p.trim().trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .any(|prefix| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// An allow-list an operator gave: absolute paths, comma-separated, fitting in one
/// attribute value.
pub fn check_allowed_host_paths(prefixes: &[String]) -> Result<String, String> {
    for p in prefixes {
        if !p.starts_with('/') || p.contains(',') || p.split('/').any(|c| c == "..") {
            return Err(format!(
                "host path '{p}' must be an absolute path without ',' or '..'"
            ));
        }
    }
    let value = prefixes.join(",");
    if value.len() > MAX_ATTRIBUTE_VALUE {
        return Err(format!(
            "the allowed host paths take {} characters; an attribute holds at most {MAX_ATTRIBUTE_VALUE}",
            value.len()
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn paths_are_allowed_below_a_prefix_only() {
        let allowed = Some("/data,/srv/app/");
        assert!(host_path_allowed("/data", allowed));
        assert!(host_path_allowed("/data/x/y", allowed));
        assert!(host_path_allowed("/srv/app/logs", allowed));
        assert!(!host_path_allowed("/database", allowed));
        assert!(!host_path_allowed("/data/../etc", allowed));
        assert!(!host_path_allowed("/etc", allowed));
        assert!(!host_path_allowed("relative", allowed));
        assert!(!host_path_allowed("/", allowed));
        assert!(host_path_allowed("/etc", None));
        assert!(!host_path_allowed("/etc", Some("")));
    }

    #[test]
    fn an_allow_list_must_fit_an_attribute() {
        assert_eq!(
            check_allowed_host_paths(&["/data".into(), "/srv".into()]),
            Ok("/data,/srv".into())
        );
        assert!(check_allowed_host_paths(&["data".into()]).is_err());
        assert!(check_allowed_host_paths(&["/a,b".into()]).is_err());
        assert!(check_allowed_host_paths(&[format!("/{}", "x".repeat(200))]).is_err());
    }

    proptest! {
        #[test]
        fn an_allowed_path_is_always_under_a_prefix(path in "[/a-z.]{0,24}", list in "[/a-z,]{0,24}") {
            if host_path_allowed(&path, Some(&list)) {
                prop_assert!(!path.split('/').any(|c| c == ".."));
                let under = |p: &str| path == p || path.starts_with(&format!("{}/", p));
                let prefixes: Vec<&str> = list.split(',').map(|p| p.trim_end_matches('/')).collect();
                prop_assert!(prefixes.iter().filter(|p| !p.is_empty()).any(|p| under(p)));
            }
        }
    }
}
