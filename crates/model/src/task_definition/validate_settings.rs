//! Rules for the container settings that have shapes of their own: health check, log
//! configuration, environment and secrets, ulimits, Linux parameters, system controls,
//! resource requirements, restart policy and FireLens. ClientException throughout, except
//! InvalidParameterException for values outside an enumeration (see `validate`).

use std::collections::HashSet;

use super::container::{ContainerDefinition, HealthCheck, LinuxParameters, LogConfiguration};
use super::validate::{one_of, TaskContext};
use super::validate_container::{container_error, is_absolute_path};
use crate::error::Result;

/// Log drivers in botocore's `LogDriver` enumeration.
pub(super) const LOG_DRIVERS: &[&str] = &[
    "json-file",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "awsfirelens",
];
const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];
const CAPABILITIES: &[&str] = &[
    "ALL",
    "AUDIT_CONTROL",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "SYSLOG",
    "WAKE_ALARM",
];
const TMPFS_OPTIONS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "unbindable",
    "runbindable",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];
/// IPC-namespace sysctls (besides `fs.mqueue.*`).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];
const MAX_ENVIRONMENT_FILES: usize = 10;
const MAX_IGNORED_EXIT_CODES: usize = 50;

/// Check that `value` lies in `range`, naming the field in the error.
fn in_range(
    name: &str,
    field: &str,
    value: i32,
    range: std::ops::RangeInclusive<i32>,
) -> Result<()> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(container_error(
        name,
        format_args!(
            "{field} must be between {} and {}; {value} was given.",
            range.start(),
            range.end()
        ),
    ))
}

/// Health check: `CMD` or `CMD-SHELL` and a command; interval 5-300 s, timeout 2-60 s,
/// retries 1-10, startPeriod 0-300 s (the ranges botocore's documentation states).
pub(super) fn check_health_check(name: &str, hc: &HealthCheck) -> Result<()> {
    match hc.command.first().map(String::as_str) {
        None => {
            return Err(container_error(
                name,
                "healthCheck.command must not be empty: start it with \"CMD\" or \"CMD-SHELL\", \
                 e.g. [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"].",
            ))
        }
        Some("CMD" | "CMD-SHELL") => {}
        Some(other) => {
            return Err(container_error(
                name,
                format_args!(
                    "healthCheck.command must start with \"CMD\" or \"CMD-SHELL\", not \"{other}\"."
                ),
            ))
        }
    }
    if hc.command.len() < 2 || hc.command[1..].iter().all(|a| a.trim().is_empty()) {
        return Err(container_error(
            name,
            format_args!(
                "healthCheck.command has no command after \"{}\".",
                hc.command[0]
            ),
        ));
    }
    let ranges = [
        ("healthCheck.interval", hc.interval, 5..=300),
        ("healthCheck.timeout", hc.timeout, 2..=60),
        ("healthCheck.retries", hc.retries, 1..=10),
        ("healthCheck.startPeriod", hc.start_period, 0..=300),
    ];
    for (field, value, range) in ranges {
        if let Some(v) = value {
            in_range(name, field, v, range)?;
        }
    }
    Ok(())
}

/// Log configuration: a known driver; awslogs needs `awslogs-group` and `awslogs-region`
/// (botocore documents both as required) and not both multiline options; secret options
/// need a name and a source.
pub(super) fn check_log_configuration(name: &str, lc: &LogConfiguration) -> Result<()> {
    one_of(
        &format!("logDriver of container '{name}'"),
        &lc.log_driver,
        LOG_DRIVERS,
    )?;
    if lc.log_driver == "awslogs" {
        let missing: Vec<&str> = ["awslogs-group", "awslogs-region"]
            .into_iter()
            .filter(|k| lc.option(k).is_none_or(|v| v.trim().is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(container_error(
                name,
                format_args!(
                    "Log driver awslogs requires options: {}. Add them to \
                     logConfiguration.options.",
                    missing.join(", ")
                ),
            ));
        }
        if lc.option("awslogs-datetime-format").is_some()
            && lc.option("awslogs-multiline-pattern").is_some()
        {
            return Err(container_error(
                name,
                "awslogs-datetime-format and awslogs-multiline-pattern cannot both be set.",
            ));
        }
    }
    for (i, s) in lc.secret_options.iter().enumerate() {
        if s.name.is_empty() || s.value_from.is_empty() {
            return Err(container_error(
                name,
                format_args!("logConfiguration.secretOptions[{i}] needs both name and valueFrom."),
            ));
        }
    }
    Ok(())
}

/// Environment variables need names; at most 10 environment files, of type `s3`; secrets
/// need a name and a source.
pub(super) fn check_environment(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    for (i, kv) in c.environment.iter().enumerate() {
        if kv.name.as_deref().unwrap_or("").is_empty() {
            return Err(container_error(
                name,
                format_args!("environment[{i}] has no name."),
            ));
        }
    }
    if c.environment_files.len() > MAX_ENVIRONMENT_FILES {
        return Err(container_error(
            name,
            format_args!(
                "{} environmentFiles given; at most {MAX_ENVIRONMENT_FILES} are allowed.",
                c.environment_files.len()
            ),
        ));
    }
    for (i, f) in c.environment_files.iter().enumerate() {
        one_of(
            &format!("environmentFiles[{i}].type of container '{name}'"),
            f.kind.as_deref().unwrap_or(""),
            &["s3"],
        )?;
        if f.value.as_deref().unwrap_or("").is_empty() {
            return Err(container_error(
                name,
                format_args!("environmentFiles[{i}].value must be the ARN of an S3 object."),
            ));
        }
    }
    for (i, s) in c.secrets.iter().enumerate() {
        if s.name.is_empty() || s.value_from.is_empty() {
            return Err(container_error(
                name,
                format_args!("secrets[{i}] needs both name and valueFrom."),
            ));
        }
    }
    Ok(())
}

/// Ulimits: known names, each once; limits -1 (unlimited) or more; soft not above hard.
pub(super) fn check_ulimits(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    let mut seen = HashSet::new();
    for (i, u) in c.ulimits.iter().enumerate() {
        one_of(
            &format!("ulimits[{i}].name of container '{name}'"),
            &u.name,
            ULIMIT_NAMES,
        )?;
        if !seen.insert(u.name.as_str()) {
            return Err(container_error(
                name,
                format_args!("ulimit '{}' is set twice.", u.name),
            ));
        }
        if u.soft_limit < -1 || u.hard_limit < -1 {
            return Err(container_error(
                name,
                format_args!("ulimit '{}' limits must be -1 (unlimited) or more.", u.name),
            ));
        }
        let unlimited = |v: i32| if v == -1 { i64::MAX } else { i64::from(v) };
        if unlimited(u.soft_limit) > unlimited(u.hard_limit) {
            return Err(container_error(
                name,
                format_args!(
                    "ulimit '{}' softLimit {} is greater than hardLimit {}.",
                    u.name, u.soft_limit, u.hard_limit
                ),
            ));
        }
    }
    Ok(())
}

/// Linux parameters: known capabilities; devices with a host path and valid permissions;
/// positive shared memory and tmpfs sizes at absolute paths; maxSwap >= 0; swappiness 0-100.
pub(super) fn check_linux_parameters(name: &str, lp: &LinuxParameters) -> Result<()> {
    if let Some(caps) = &lp.capabilities {
        for cap in caps.add.iter().chain(&caps.drop) {
            one_of(
                &format!("linuxParameters capability of container '{name}'"),
                cap,
                CAPABILITIES,
            )?;
        }
    }
    for (i, d) in lp.devices.iter().enumerate() {
        if d.host_path.is_empty() {
            return Err(container_error(
                name,
                format_args!("linuxParameters.devices[{i}].hostPath is required."),
            ));
        }
        for p in &d.permissions {
            one_of(
                &format!("linuxParameters.devices[{i}].permissions value of container '{name}'"),
                p,
                &["read", "write", "mknod"],
            )?;
        }
    }
    if let Some(size) = lp.shared_memory_size {
        in_range(name, "linuxParameters.sharedMemorySize", size, 1..=i32::MAX)?;
    }
    for (i, t) in lp.tmpfs.iter().enumerate() {
        if !is_absolute_path(&t.container_path) {
            return Err(container_error(
                name,
                format_args!("linuxParameters.tmpfs[{i}].containerPath must be an absolute path."),
            ));
        }
        in_range(
            name,
            &format!("linuxParameters.tmpfs[{i}].size"),
            t.size,
            1..=i32::MAX,
        )?;
        for opt in &t.mount_options {
            let key = opt.split_once('=').map_or(opt.as_str(), |(k, _)| k);
            one_of(
                &format!("tmpfs mount option of container '{name}'"),
                key,
                TMPFS_OPTIONS,
            )?;
        }
    }
    if let Some(v) = lp.max_swap {
        in_range(name, "linuxParameters.maxSwap", v, 0..=i32::MAX)?;
    }
    if let Some(v) = lp.swappiness {
        in_range(name, "linuxParameters.swappiness", v, 0..=100)?;
    }
    Ok(())
}

/// System controls need a namespace; network sysctls are not supported with the host
/// network mode, IPC sysctls not with the host IPC mode.
pub(super) fn check_system_controls(c: &ContainerDefinition, ctx: &TaskContext) -> Result<()> {
    let name = c.name();
    for (i, sc) in c.system_controls.iter().enumerate() {
        let ns = sc.namespace.as_deref().unwrap_or("");
        if ns.is_empty() {
            return Err(container_error(
                name,
                format_args!("systemControls[{i}].namespace is required."),
            ));
        }
        if ns.starts_with("net.") && ctx.network_mode == "host" {
            return Err(container_error(
                name,
                format_args!(
                    "systemControls[{i}] '{ns}': network namespace systemControls are not \
                     supported when networkMode=host."
                ),
            ));
        }
        let ipc = IPC_SYSCTLS.contains(&ns) || ns.starts_with("fs.mqueue.");
        if ipc && ctx.ipc_mode == Some("host") {
            return Err(container_error(
                name,
                format_args!(
                    "systemControls[{i}] '{ns}': IPC namespace systemControls are not supported \
                     when ipcMode=host."
                ),
            ));
        }
    }
    Ok(())
}

/// Resource requirements: known types, each once; GPU takes a count (or `ALL`) or a sharing
/// strategy but not both; Neuron devices take `ALL`; accelerators name a device (checked
/// against the task's accelerators in `validate_refs`).
pub(super) fn check_resource_requirements(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    let mut seen = HashSet::new();
    for (i, r) in c.resource_requirements.iter().enumerate() {
        let kinds = ["GPU", "InferenceAccelerator", "NeuronDevice"];
        one_of(
            &format!("resourceRequirements[{i}].type of container '{name}'"),
            &r.kind,
            &kinds,
        )?;
        if !seen.insert(r.kind.as_str()) && r.kind != "InferenceAccelerator" {
            return Err(container_error(
                name,
                format_args!("resourceRequirements type '{}' is set twice.", r.kind),
            ));
        }
        let value = r.value.as_deref().unwrap_or("");
        let bad = |msg: &str| {
            Err(container_error(
                name,
                format_args!("resourceRequirements[{i}] ({}): {msg}", r.kind),
            ))
        };
        match (r.kind.as_str(), value.is_empty(), &r.sharing_strategy) {
            ("GPU", true, None) => {
                return bad("set value (a GPU count or ALL) or sharingStrategy.")
            }
            ("GPU", false, Some(_)) => {
                return bad("set either value or sharingStrategy, not both.")
            }
            ("GPU", false, None)
                if value != "ALL" && value.parse::<u32>().map_or(true, |n| n == 0) =>
            {
                return bad("value must be a positive number of GPUs or ALL.")
            }
            ("GPU", true, Some(s)) => {
                let Some(mps) = &s.nvidia_mps else {
                    return bad("sharingStrategy needs nvidiaMps.");
                };
                if mps.memory <= 0 {
                    return bad(
                        "sharingStrategy.nvidiaMps.memory must be a positive number of MiB.",
                    );
                }
                if mps
                    .max_compute_percent
                    .is_some_and(|p| !(1..=100).contains(&p))
                {
                    return bad("sharingStrategy.nvidiaMps.maxComputePercent must be 1-100.");
                }
            }
            (_, _, Some(_)) if r.kind != "GPU" => {
                return bad("sharingStrategy is only valid for GPU.")
            }
            ("NeuronDevice", _, _) if value != "ALL" => return bad("value must be ALL."),
            ("InferenceAccelerator", true, _) => {
                return bad("value must name an inference accelerator.")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Restart policy, FireLens type, repository credentials and credential specs.
pub(super) fn check_misc(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    if let Some(rp) = &c.restart_policy {
        if rp.enabled.is_none() {
            return Err(container_error(name, "restartPolicy.enabled is required."));
        }
        if rp.ignored_exit_codes.len() > MAX_IGNORED_EXIT_CODES {
            return Err(container_error(
                name,
                format_args!("restartPolicy.ignoredExitCodes lists more than {MAX_IGNORED_EXIT_CODES} codes."),
            ));
        }
        if let Some(p) = rp.restart_attempt_period {
            in_range(name, "restartPolicy.restartAttemptPeriod", p, 60..=1800)?;
        }
    }
    if let Some(fl) = &c.firelens_configuration {
        one_of(
            &format!("firelensConfiguration.type of container '{name}'"),
            &fl.kind,
            &["fluentd", "fluentbit"],
        )?;
    }
    if let Some(rc) = &c.repository_credentials {
        if rc.credentials_parameter.is_empty() {
            return Err(container_error(
                name,
                "repositoryCredentials.credentialsParameter is required.",
            ));
        }
    }
    if c.credential_specs.len() > 1 {
        return Err(container_error(
            name,
            "credentialSpecs can hold at most one ARN.",
        ));
    }
    Ok(())
}
