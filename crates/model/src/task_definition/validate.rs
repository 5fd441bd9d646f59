//! Registration-time validation of a task definition: the entry point [`validate`], the
//! task-level rules, and the helpers the container, port, reference and Fargate rules share.
//!
//! Error kinds, chosen to match what AWS answers (observed messages are reused verbatim
//! where known, e.g. `Container list cannot be empty.`):
//! - `InvalidParameterException` when a single member's value is not one of its enumerated
//!   values (network mode, protocol, log driver, ulimit name, ...) and for tags (as
//!   `TagResource` answers).
//! - `ClientException` for everything else about the definition's content: required members,
//!   names, ranges, cross-references, CPU and memory, network-mode and Fargate rules, and the
//!   64 KiB size limit. AWS answers RegisterTaskDefinition content errors this way, and its
//!   API reference says "A client exception is returned if the task definition doesn't
//!   validate against the compatibilities specified".
//!
//! Validation stops at the first problem, as AWS does.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::task::RegisterTaskDefinitionInput;
use super::units::{invalid_cpu, invalid_memory, parse_cpu, parse_memory};
use super::EphemeralStorage;
use super::{fargate, validate_container, validate_refs};
use crate::error::{ModelError, Result};

/// The largest RegisterTaskDefinition request body AWS accepts, in bytes (64 KiB).
pub const MAX_REQUEST_BYTES: usize = 65536;

/// At most this many containers per task definition.
const MAX_CONTAINERS: usize = 10;
/// At most this many placement constraints per task definition.
const MAX_PLACEMENT_CONSTRAINTS: usize = 10;

pub(super) const NETWORK_MODES: &[&str] = &["bridge", "host", "awsvpc", "none"];
const PID_MODES: &[&str] = &["host", "task"];
const IPC_MODES: &[&str] = &["host", "task", "none"];
const COMPATIBILITIES: &[&str] = &["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"];
const CPU_ARCHITECTURES: &[&str] = &["X86_64", "ARM64"];
const OS_FAMILIES: &[&str] = &[
    "WINDOWS_SERVER_2019_FULL",
    "WINDOWS_SERVER_2019_CORE",
    "WINDOWS_SERVER_2016_FULL",
    "WINDOWS_SERVER_2004_CORE",
    "WINDOWS_SERVER_2022_CORE",
    "WINDOWS_SERVER_2022_FULL",
    "WINDOWS_SERVER_2025_CORE",
    "WINDOWS_SERVER_2025_FULL",
    "WINDOWS_SERVER_20H2_CORE",
    "LINUX",
];
const ISOLATION_MODES: &[&str] = &["SHARED", "ISOLATED_SANDBOX", "CONFIDENTIAL_SANDBOX"];

/// Task CPU bounds outside Fargate: 0.125 to 192 vCPU.
const EC2_CPU_RANGE: std::ops::RangeInclusive<u32> = 128..=196_608;
/// Smallest memory, in MiB, Docker (20.10+) accepts for a container; also the task minimum.
pub const MIN_CONTAINER_MEMORY_MIB: i32 = 6;

static NAME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z0-9_-]{1,255}$").expect("the name pattern is a valid regex")
});

/// Whether `s` is a valid family, container or volume name: 1-255 letters, digits, hyphens
/// and underscores.
pub(super) fn is_valid_name(s: &str) -> bool {
    NAME_RE.is_match(s)
}

/// InvalidParameterException unless `value` is one of `allowed`.
pub(super) fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ModelError::invalid(format!(
        "Invalid {what} '{value}'. Valid values are: {}.",
        allowed.join(", ")
    )))
}

/// What the container, port and reference rules need to know about the task.
pub(super) struct TaskContext<'a> {
    /// The effective network mode (`bridge` when absent).
    pub network_mode: &'a str,
    /// Task CPU units, when given.
    pub cpu: Option<u32>,
    /// Task memory in MiB, when given.
    pub memory: Option<u32>,
    /// Whether `requiresCompatibilities` includes `FARGATE`.
    pub fargate: bool,
    /// The task's IPC mode, when given.
    pub ipc_mode: Option<&'a str>,
}

/// Check the size of a RegisterTaskDefinition request body against AWS's 64 KiB limit.
/// ClientException with AWS's message.
pub fn validate_size(raw_json_len: usize) -> Result<()> {
    if raw_json_len > MAX_REQUEST_BYTES {
        return Err(ModelError::client(format!(
            "Actual length: '{raw_json_len}'. Max allowed length is '{MAX_REQUEST_BYTES}' \
             bytes. Shrink the task definition, for example by moving environment variables \
             to environmentFiles or secrets."
        )));
    }
    Ok(())
}

/// Apply the validation AWS applies to a RegisterTaskDefinition request. The first problem
/// found is returned; see the module documentation for the error kinds.
pub fn validate(input: &RegisterTaskDefinitionInput) -> Result<()> {
    check_family(&input.family)?;
    check_enums(input)?;
    crate::tag::validate_tags(&input.tags)?;
    check_container_count(input)?;
    if input.requires("FARGATE") {
        fargate::check_fargate_task_size(input)?;
    }
    let ctx = TaskContext {
        network_mode: input.effective_network_mode(),
        cpu: task_cpu(input)?,
        memory: task_memory(input)?,
        fargate: input.requires("FARGATE"),
        ipc_mode: input.ipc_mode.as_deref(),
    };
    let mut names = HashSet::new();
    for (i, c) in input.container_definitions.iter().enumerate() {
        validate_container::check_container(c, i, &ctx)?;
        if !names.insert(c.name()) {
            return Err(ModelError::client(format!(
                "Duplicate container name '{}': container names must be unique within a task \
                 definition.",
                c.name()
            )));
        }
    }
    if !input.container_definitions.iter().any(|c| c.is_essential()) {
        return Err(ModelError::client(
            "Task definition doesn't have any essential container. Set \"essential\": true \
             (or leave it out) on at least one container.",
        ));
    }
    validate_container::check_task_resources(input, &ctx)?;
    super::validate_ports::check_task_ports(input, &ctx)?;
    validate_refs::check_volumes(input)?;
    validate_refs::check_references(input)?;
    validate_refs::check_dependencies(input)?;
    check_task_settings(input, &ctx)?;
    if ctx.fargate {
        fargate::check_fargate(input)?;
    }
    Ok(())
}

/// Family: required, 1-255 letters, digits, hyphens, underscores. ClientException.
fn check_family(family: &str) -> Result<()> {
    if family.is_empty() {
        return Err(ModelError::client("Family should not be null or empty."));
    }
    if !is_valid_name(family) {
        return Err(ModelError::client(format!(
            "Family '{family}' contains invalid characters or is too long: up to 255 letters \
             (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
        )));
    }
    Ok(())
}

/// Task-level enumerated members. InvalidParameterException.
fn check_enums(input: &RegisterTaskDefinitionInput) -> Result<()> {
    if let Some(mode) = &input.network_mode {
        one_of("networkMode", mode, NETWORK_MODES)?;
    }
    if let Some(mode) = &input.pid_mode {
        one_of("pidMode", mode, PID_MODES)?;
    }
    if let Some(mode) = &input.ipc_mode {
        one_of("ipcMode", mode, IPC_MODES)?;
    }
    for compat in &input.requires_compatibilities {
        one_of("requiresCompatibilities value", compat, COMPATIBILITIES)?;
    }
    if let Some(platform) = &input.runtime_platform {
        if let Some(arch) = &platform.cpu_architecture {
            one_of("runtimePlatform.cpuArchitecture", arch, CPU_ARCHITECTURES)?;
        }
        if let Some(os) = &platform.operating_system_family {
            one_of("runtimePlatform.operatingSystemFamily", os, OS_FAMILIES)?;
        }
    }
    for (i, pc) in input.placement_constraints.iter().enumerate() {
        let kind = pc.kind.as_deref().unwrap_or("");
        one_of(
            &format!("placementConstraints[{i}].type"),
            kind,
            &["memberOf"],
        )?;
    }
    if let Some(proxy) = &input.proxy_configuration {
        if let Some(kind) = &proxy.kind {
            one_of("proxyConfiguration.type", kind, &["APPMESH"])?;
        }
    }
    if let Some(te) = &input.trusted_execution_configuration {
        one_of(
            "trustedExecutionConfiguration.isolationMode",
            &te.isolation_mode,
            ISOLATION_MODES,
        )?;
    }
    Ok(())
}

/// 1 to 10 containers. ClientException.
fn check_container_count(input: &RegisterTaskDefinitionInput) -> Result<()> {
    let n = input.container_definitions.len();
    if n == 0 {
        return Err(ModelError::client("Container list cannot be empty."));
    }
    if n > MAX_CONTAINERS {
        return Err(ModelError::client(format!(
            "Too many containers: {n} given, a task definition can hold at most \
             {MAX_CONTAINERS}."
        )));
    }
    Ok(())
}

/// Parsed task CPU, if set (see [`task_cpu_units`]).
fn task_cpu(input: &RegisterTaskDefinitionInput) -> Result<Option<u32>> {
    input.cpu.as_deref().map(task_cpu_units).transpose()
}

/// A task-level `cpu` string (a task definition's or a RunTask override's) as CPU units.
/// Unparsable, or outside 128-196608 units: ClientException (AWS: `Invalid 'cpu' setting
/// for task.`). Fargate sizes are checked by the Fargate rules.
pub fn task_cpu_units(raw: &str) -> Result<u32> {
    let units = parse_cpu(raw).ok_or_else(|| invalid_cpu(raw))?;
    if !EC2_CPU_RANGE.contains(&units) {
        return Err(ModelError::client(format!(
            "Invalid 'cpu' setting for task. {units} CPU units is out of range: task cpu must \
             be between 128 (0.125 vCPU) and 196608 (192 vCPU) units."
        )));
    }
    Ok(units)
}

/// Ephemeral storage of 21-200 GiB (a task definition's or a RunTask override's).
/// ClientException.
pub fn check_ephemeral_storage(es: &EphemeralStorage) -> Result<()> {
    if !(21..=200).contains(&es.size_in_gib) {
        return Err(ModelError::client(format!(
            "Invalid ephemeralStorage.sizeInGiB {}: it must be between 21 and 200 GiB.",
            es.size_in_gib
        )));
    }
    Ok(())
}

/// Parsed task memory, if set (see [`task_memory_mib`]).
fn task_memory(input: &RegisterTaskDefinitionInput) -> Result<Option<u32>> {
    input.memory.as_deref().map(task_memory_mib).transpose()
}

/// A task-level `memory` string as MiB. Unparsable, below 6 MiB or above 2^31-1 MiB:
/// ClientException.
pub fn task_memory_mib(raw: &str) -> Result<u32> {
    let mib = parse_memory(raw).ok_or_else(|| invalid_memory(raw))?;
    if mib < MIN_CONTAINER_MEMORY_MIB as u32 || mib > i32::MAX as u32 {
        return Err(ModelError::client(format!(
            "Invalid 'memory' setting for task. {mib} MiB is out of range: task memory must be \
             at least {MIN_CONTAINER_MEMORY_MIB} MiB."
        )));
    }
    Ok(mib)
}

/// Placement constraints, ephemeral storage, proxy, trusted execution, EXTERNAL.
/// ClientException.
fn check_task_settings(input: &RegisterTaskDefinitionInput, ctx: &TaskContext) -> Result<()> {
    if input.placement_constraints.len() > MAX_PLACEMENT_CONSTRAINTS {
        return Err(ModelError::client(format!(
            "Too many placement constraints: {} given, at most {MAX_PLACEMENT_CONSTRAINTS} are \
             allowed.",
            input.placement_constraints.len()
        )));
    }
    for (i, pc) in input.placement_constraints.iter().enumerate() {
        if pc.expression.as_deref().unwrap_or("").trim().is_empty() {
            return Err(ModelError::client(format!(
                "placementConstraints[{i}]: a memberOf constraint needs an expression."
            )));
        }
    }
    if let Some(es) = &input.ephemeral_storage {
        check_ephemeral_storage(es)?;
    }
    if let Some(proxy) = &input.proxy_configuration {
        if ctx.network_mode != "awsvpc" {
            return Err(ModelError::client(
                "proxyConfiguration requires networkMode awsvpc.",
            ));
        }
        for (i, p) in proxy.properties.iter().enumerate() {
            if p.name.as_deref().unwrap_or("").is_empty() {
                return Err(ModelError::client(format!(
                    "proxyConfiguration.properties[{i}] needs a name."
                )));
            }
        }
    }
    if let Some(te) = &input.trusted_execution_configuration {
        if te.isolation_mode == "CONFIDENTIAL_SANDBOX"
            && te.attestation_policy.as_deref().unwrap_or("").is_empty()
        {
            return Err(ModelError::client(
                "trustedExecutionConfiguration.attestationPolicy is required when \
                 isolationMode is CONFIDENTIAL_SANDBOX.",
            ));
        }
    }
    if input.requires("EXTERNAL") && ctx.network_mode == "awsvpc" {
        return Err(ModelError::client(
            "Task definitions that require EXTERNAL compatibility do not support networkMode \
             awsvpc; use bridge, host or none.",
        ));
    }
    Ok(())
}
