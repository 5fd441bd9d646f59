//! What Flotilla's agent cannot apply, refused at registration. [`validate`](super::validate)
//! holds a definition to AWS's rules; this holds a valid definition to what a Flotilla host
//! can do, so that no member is accepted and then silently ignored. Every refusal is a
//! `ClientException` naming the member and what to use instead. Members that need a
//! capability an instance may lack (EFS, secrets, App Mesh) are not refused here: they
//! make `requiresAttributes`, and placement answers `ATTRIBUTE`.

use super::container::ContainerDefinition;
use super::task::RegisterTaskDefinitionInput;
use super::validate_container::container_error;
use crate::error::{ModelError, Result};

/// Refuse the members of `input` Flotilla would otherwise ignore.
pub fn check_supported(input: &RegisterTaskDefinitionInput) -> Result<()> {
    for v in &input.volumes {
        let name = v.name();
        let refuse = |what: &str| {
            Err(ModelError::client(format!(
                "Volume '{name}': Flotilla does not support {what}; use a host bind mount \
                 (host.sourcePath) or a Docker volume (dockerVolumeConfiguration) instead."
            )))
        };
        if v.s3files_volume_configuration.is_some() {
            return refuse("S3 Files volumes (s3filesVolumeConfiguration)");
        }
        if v.fsx_windows_file_server_volume_configuration.is_some() {
            return refuse("FSx for Windows File Server volumes");
        }
        if v.configured_at_launch == Some(true) {
            return refuse("volumes configured at launch (configuredAtLaunch, Amazon EBS)");
        }
    }
    let task_memory = input.memory.is_some();
    for c in &input.container_definitions {
        check_container(c, task_memory)?;
    }
    Ok(())
}

fn check_container(c: &ContainerDefinition, task_memory: bool) -> Result<()> {
    let name = c.name();
    if c.firelens_configuration.is_some() {
        return Err(container_error(
            name,
            "Flotilla does not run FireLens log routers: remove firelensConfiguration and \
             send the logs with the awslogs log driver.",
        ));
    }
    if c.log_configuration
        .as_ref()
        .is_some_and(|l| l.log_driver == "awsfirelens")
    {
        return Err(container_error(
            name,
            "Flotilla does not run FireLens log routers: use the awslogs log driver instead \
             of awsfirelens.",
        ));
    }
    if !c.credential_specs.is_empty() {
        return Err(container_error(
            name,
            "credentialSpecs (Active Directory gMSA) need Windows containers, which Flotilla \
             does not run; remove credentialSpecs.",
        ));
    }
    if let Some(opt) = c
        .docker_security_options
        .iter()
        .find(|o| !security_option_supported(o))
    {
        return Err(container_error(
            name,
            format_args!(
                "dockerSecurityOptions '{opt}' is not supported: use no-new-privileges, \
                 apparmor:PROFILE, label:VALUE or seccomp:PROFILE."
            ),
        ));
    }
    let max_swap = c.linux_parameters.as_ref().and_then(|l| l.max_swap);
    if max_swap.is_some() && c.memory.is_none() && !task_memory {
        return Err(container_error(
            name,
            "linuxParameters.maxSwap needs a memory limit to add swap to: set memory on the \
             container or the task.",
        ));
    }
    Ok(())
}

/// The Docker security options a Linux host can apply (`key:value` or `key=value`, as
/// ECS and Docker spell them); credential specs are Windows-only.
fn security_option_supported(opt: &str) -> bool {
    if opt == "no-new-privileges" || opt == "no-new-privileges:true" {
        return true;
    }
    let key = opt.split([':', '=']).next().unwrap_or("");
    matches!(key, "apparmor" | "label" | "seccomp") && opt.len() > key.len() + 1
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::task_definition::{
        FirelensConfiguration, LinuxParameters, LogConfiguration, Volume,
    };

    fn input(c: ContainerDefinition) -> RegisterTaskDefinitionInput {
        RegisterTaskDefinitionInput {
            family: "f".into(),
            container_definitions: vec![ContainerDefinition {
                name: Some("app".into()),
                image: Some("busybox".into()),
                memory: Some(64),
                ..c
            }],
            ..Default::default()
        }
    }

    fn refusal(i: &RegisterTaskDefinitionInput) -> String {
        let e = check_supported(i).expect_err("refused");
        assert_eq!(e.kind, crate::error::ErrorKind::Client);
        e.message
    }

    #[test]
    fn firelens_is_refused_with_the_alternative() {
        let i = input(ContainerDefinition {
            firelens_configuration: Some(FirelensConfiguration {
                kind: "fluentbit".into(),
                options: None,
            }),
            ..Default::default()
        });
        let m = refusal(&i);
        assert!(
            m.contains("app") && m.contains("FireLens") && m.contains("awslogs"),
            "{m}"
        );
        let i = input(ContainerDefinition {
            log_configuration: Some(LogConfiguration {
                log_driver: "awsfirelens".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(refusal(&i).contains("awsfirelens"));
    }

    #[test]
    fn unsupported_volume_kinds_are_refused() {
        let mut i = input(ContainerDefinition::default());
        i.volumes = vec![Volume {
            name: Some("ebs".into()),
            configured_at_launch: Some(true),
            ..Default::default()
        }];
        assert!(refusal(&i).contains("configuredAtLaunch"));
        i.volumes = vec![Volume {
            name: Some("data".into()),
            ..Default::default()
        }];
        assert_eq!(check_supported(&i), Ok(()));
    }

    #[test]
    fn security_options_must_be_linux_ones() {
        for ok in [
            "no-new-privileges",
            "apparmor:docker-default",
            "label:disable",
            "seccomp=unconfined",
        ] {
            assert!(security_option_supported(ok), "{ok}");
        }
        for bad in ["credentialspec:file://x.json", "apparmor:", "bogus"] {
            assert!(!security_option_supported(bad), "{bad}");
        }
        let i = input(ContainerDefinition {
            docker_security_options: vec!["credentialspec:x".into()],
            ..Default::default()
        });
        assert!(refusal(&i).contains("credentialspec:x"));
    }

    #[test]
    fn swap_needs_a_memory_limit() {
        let mut i = input(ContainerDefinition {
            linux_parameters: Some(LinuxParameters {
                max_swap: Some(128),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(check_supported(&i), Ok(()));
        i.container_definitions[0].memory = None;
        i.container_definitions[0].memory_reservation = Some(64);
        assert!(refusal(&i).contains("maxSwap"));
        i.memory = Some("512".into());
        assert_eq!(check_supported(&i), Ok(()));
    }

    proptest! {
        #[test]
        fn any_security_option_is_judged_without_panic(opt in "\\PC{0,40}") {
            let i = input(ContainerDefinition {
                docker_security_options: vec![opt.clone()],
                ..Default::default()
            });
            let accepted = check_supported(&i).is_ok();
            prop_assert_eq!(accepted, security_option_supported(&opt));
            if accepted && opt != "no-new-privileges" && opt != "no-new-privileges:true" {
                let key = opt.split([':', '=']).next().unwrap_or("");
                prop_assert!(["apparmor", "label", "seccomp"].contains(&key));
            }
        }
    }
}
