//! The Fargate rules: what a definition must satisfy to run on Fargate. [`validate`]
//! applies them when `requiresCompatibilities` contains `FARGATE`, and registration uses
//! them to decide whether `FARGATE` appears in `compatibilities`.
//!
//! Every failure is a ClientException: AWS's API reference says "A client exception is
//! returned if the task definition doesn't validate against the compatibilities
//! specified". Messages AWS is known to send are reused verbatim, with the container and
//! field added where AWS leaves them out.
//!
//! [`validate`]: super::validate

use super::container::ContainerDefinition;
use super::task::RegisterTaskDefinitionInput;
use super::units::{fargate_memory_values, parse_cpu, parse_memory};
use super::validate_container::container_error;
use crate::error::{ModelError, Result};

/// Log drivers Fargate supports.
const FARGATE_LOG_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens"];
/// Start and stop timeouts Fargate accepts, in seconds.
const FARGATE_TIMEOUTS: std::ops::RangeInclusive<i32> = 2..=120;

/// Check that `input` can run on Fargate; the first rule it breaks is the error.
pub fn check_fargate(input: &RegisterTaskDefinitionInput) -> Result<()> {
    check_fargate_task_size(input)?;
    if !input.placement_constraints.is_empty() {
        return Err(ModelError::client(
            "Task placement constraints aren't supported for tasks run on Fargate; remove \
             placementConstraints.",
        ));
    }
    if input.ipc_mode.is_some() {
        return Err(ModelError::client(
            "ipcMode is not supported for tasks run on Fargate.",
        ));
    }
    if input.pid_mode.as_deref().is_some_and(|m| m != "task") {
        return Err(ModelError::client(
            "pidMode 'host' is not supported on Fargate; the only valid value is 'task'.",
        ));
    }
    if !input.inference_accelerators.is_empty() {
        return Err(ModelError::client(
            "Inference accelerators are not supported for tasks run on Fargate.",
        ));
    }
    for v in &input.volumes {
        if v.host.as_ref().is_some_and(|h| h.source_path.is_some()) {
            return Err(ModelError::client(format!(
                "Volume '{}': host.sourcePath is not supported for tasks run on Fargate; use an \
                 EFS volume or a volume without a source path.",
                v.name()
            )));
        }
        if v.docker_volume_configuration.is_some() {
            return Err(ModelError::client(format!(
                "Volume '{}': Docker volumes (dockerVolumeConfiguration) are not supported for \
                 tasks run on Fargate.",
                v.name()
            )));
        }
    }
    for c in &input.container_definitions {
        check_container(input, c)?;
    }
    Ok(())
}

/// The network mode must be awsvpc; task cpu and memory are required and must be one of
/// the Fargate sizes; Windows needs at least 1 vCPU. Validation applies these before the
/// container rules, so a Fargate definition without task memory hears about that rather
/// than about container memory.
pub(super) fn check_fargate_task_size(input: &RegisterTaskDefinitionInput) -> Result<()> {
    if input.effective_network_mode() != "awsvpc" {
        return Err(ModelError::client(
            "Fargate only supports network mode ‘awsvpc’. Set \"networkMode\": \"awsvpc\".",
        ));
    }
    let Some(cpu_raw) = &input.cpu else {
        return Err(ModelError::client(
            "Fargate requires that 'cpu' be defined at the task level.",
        ));
    };
    let Some(memory_raw) = &input.memory else {
        return Err(ModelError::client(
            "Fargate requires that 'memory' be defined at the task level.",
        ));
    };
    let (Some(cpu), Some(memory)) = (parse_cpu(cpu_raw), parse_memory(memory_raw)) else {
        return Err(ModelError::client(
            "Invalid 'cpu' or 'memory' setting for task.",
        ));
    };
    let valid = fargate_memory_values(cpu);
    if !valid.contains(&memory) {
        let hint = if valid.is_empty() {
            "Fargate cpu values are 256, 512, 1024, 2048, 4096, 8192 and 16384.".to_string()
        } else {
            let list: Vec<String> = valid.iter().map(u32::to_string).collect();
            format!(
                "With {cpu} CPU, memory must be one of: {}.",
                list.join(", ")
            )
        };
        return Err(ModelError::client(format!(
            "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See \
             the Amazon ECS documentation for the valid values. {hint}"
        )));
    }
    let windows = input
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family.as_deref())
        .is_some_and(|os| os.starts_with("WINDOWS"));
    if windows && cpu < 1024 {
        return Err(ModelError::client(format!(
            "Windows containers on Fargate need at least 1 vCPU (1024 CPU units); {cpu} given."
        )));
    }
    Ok(())
}

/// The per-container Fargate rules.
fn check_container(input: &RegisterTaskDefinitionInput, c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    let unsupported = |what: &str| {
        Err(container_error(
            name,
            format_args!("{what} is not supported on Fargate."),
        ))
    };
    if c.privileged == Some(true) {
        return unsupported("privileged");
    }
    if !c.links.is_empty() {
        return unsupported("links");
    }
    if !c.docker_security_options.is_empty() {
        return unsupported("dockerSecurityOptions");
    }
    if c.resource_requirements
        .iter()
        .any(|r| r.kind != "InferenceAccelerator")
    {
        return unsupported("GPU and Neuron resourceRequirements");
    }
    for (field, value) in [
        ("startTimeout", c.start_timeout),
        ("stopTimeout", c.stop_timeout),
    ] {
        if let Some(v) = value.filter(|v| !FARGATE_TIMEOUTS.contains(v)) {
            return Err(container_error(
                name,
                format_args!(
                    "{field} {v} is out of range: the valid values for Fargate are 2-120 seconds."
                ),
            ));
        }
    }
    if let Some(lp) = &c.linux_parameters {
        if !lp.devices.is_empty() {
            return unsupported("linuxParameters.devices");
        }
        if lp.shared_memory_size.is_some() {
            return unsupported("linuxParameters.sharedMemorySize");
        }
        if lp.max_swap.is_some() || lp.swappiness.is_some() {
            return unsupported("linuxParameters.maxSwap/swappiness");
        }
        let adds = lp
            .capabilities
            .as_ref()
            .map(|k| k.add.as_slice())
            .unwrap_or_default();
        if let Some(cap) = adds.iter().find(|cap| cap.as_str() != "SYS_PTRACE") {
            return Err(container_error(
                name,
                format_args!("capability '{cap}' cannot be added on Fargate; only SYS_PTRACE can."),
            ));
        }
    }
    let no_role = input.execution_role_arn.as_deref().unwrap_or("").is_empty();
    if no_role && c.image.as_deref().is_some_and(|i| i.contains(".dkr.ecr.")) {
        return Err(ModelError::client(format!(
            "Fargate requires task definition to have execution role ARN to support ECR images \
             (container '{name}'). Set executionRoleArn."
        )));
    }
    if let Some(lc) = &c.log_configuration {
        if !FARGATE_LOG_DRIVERS.contains(&lc.log_driver.as_str()) {
            return Err(container_error(
                name,
                format_args!(
                    "{} is not a valid log driver for Fargate. Must be one of [awslogs,splunk,awsfirelens].",
                    lc.log_driver
                ),
            ));
        }
        if lc.log_driver == "awslogs" {
            if no_role {
                return Err(ModelError::client(format!(
                    "Fargate requires task definition to have execution role ARN to support log \
                     driver awslogs (container '{name}'). Set executionRoleArn."
                )));
            }
            if lc
                .option("awslogs-stream-prefix")
                .is_none_or(|p| p.is_empty())
            {
                return Err(ModelError::client(format!(
                    "Fargate requires log configuration options to include awslogs-stream-prefix \
                     to support log driver awslogs (container '{name}')."
                )));
            }
        }
    }
    Ok(())
}
