//! Rules for one container definition taken on its own — name, image, memory and CPU,
//! network-mode features, mounts — plus the task-wide memory and CPU sums. The settings
//! with their own sub-shapes (health check, logging, ulimits, ...) are in
//! `validate_settings`; rules that relate containers to each other are in `validate_refs`.
//!
//! Every failure here is a ClientException except a value outside an enumeration, which is
//! an InvalidParameterException (see `validate`).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::container::ContainerDefinition;
use super::task::RegisterTaskDefinitionInput;
use super::validate::{is_valid_name, one_of, TaskContext, MIN_CONTAINER_MEMORY_MIB};
use super::{validate_ports, validate_settings};
use crate::error::{ModelError, Result};

/// Letters, digits, hyphens, underscores, colons, periods, slashes and number signs: the
/// characters AWS documents for the part of an image reference before any `@`.
static IMAGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[A-Za-z0-9_:./#-]+$").expect("the image pattern is a valid regex")
});
static DIGEST_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^sha256:[A-Fa-f0-9]{64}$").expect("the digest pattern is a valid regex")
});

/// Image references may be at most this long (before any `@digest`).
const MAX_IMAGE_LEN: usize = 255;

/// A ClientException about container `name`.
pub(super) fn container_error(name: &str, message: impl std::fmt::Display) -> ModelError {
    ModelError::client(format!("Container '{name}': {message}"))
}

/// Whether `path` is absolute: `/...` on Linux, `C:\...` or `C:/...` on Windows.
pub(super) fn is_absolute_path(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// Check one container on its own. `index` is its position in `containerDefinitions`.
pub(super) fn check_container(
    c: &ContainerDefinition,
    index: usize,
    ctx: &TaskContext,
) -> Result<()> {
    check_name(c, index)?;
    let name = c.name();
    check_image(c)?;
    check_memory(c, ctx)?;
    check_cpu_and_timeouts(c, ctx)?;
    validate_ports::check_container_ports(c, ctx)?;
    check_network_features(c, ctx)?;
    check_mounts(c)?;
    if let Some(hc) = &c.health_check {
        validate_settings::check_health_check(name, hc)?;
    }
    if let Some(lc) = &c.log_configuration {
        validate_settings::check_log_configuration(name, lc)?;
    }
    validate_settings::check_environment(c)?;
    validate_settings::check_ulimits(c)?;
    if let Some(lp) = &c.linux_parameters {
        validate_settings::check_linux_parameters(name, lp)?;
    }
    validate_settings::check_system_controls(c, ctx)?;
    validate_settings::check_resource_requirements(c)?;
    validate_settings::check_misc(c)?;
    Ok(())
}

/// Name: required, 1-255 letters, digits, hyphens, underscores.
fn check_name(c: &ContainerDefinition, index: usize) -> Result<()> {
    let name = c.name();
    if name.is_empty() {
        return Err(ModelError::client(format!(
            "Container.name should not be null or empty (containerDefinitions[{index}])."
        )));
    }
    if !is_valid_name(name) {
        return Err(ModelError::client(format!(
            "Invalid container name '{name}' (containerDefinitions[{index}]): up to 255 letters \
             (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
        )));
    }
    Ok(())
}

/// Image: required; `repository[:tag]` of at most 255 documented characters, or
/// `repository@sha256:<64 hex digits>`.
fn check_image(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    let image = c.image.as_deref().unwrap_or("");
    if image.trim().is_empty() {
        return Err(ModelError::client(format!(
            "Container.image should not be null or empty (container '{name}')."
        )));
    }
    let (reference, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if reference.chars().count() > MAX_IMAGE_LEN {
        return Err(container_error(
            name,
            format_args!("image is longer than {MAX_IMAGE_LEN} characters (before any '@')."),
        ));
    }
    if !IMAGE_RE.is_match(reference) {
        return Err(container_error(
            name,
            format_args!(
                "image '{image}' contains invalid characters: letters, numbers, hyphens, \
                 underscores, colons, periods, forward slashes and number signs are allowed."
            ),
        ));
    }
    if let Some(digest) = digest {
        if !DIGEST_RE.is_match(digest) {
            return Err(container_error(
                name,
                format_args!(
                    "image digest '{digest}' is invalid: it must be 'sha256:' followed by 64 \
                     hexadecimal characters."
                ),
            ));
        }
    }
    Ok(())
}

/// Memory: one of memory/memoryReservation unless the task sets memory; each at least
/// 6 MiB; reservation not above the limit; neither above the task's memory.
fn check_memory(c: &ContainerDefinition, ctx: &TaskContext) -> Result<()> {
    let name = c.name();
    if c.memory.is_none() && c.memory_reservation.is_none() && ctx.memory.is_none() {
        return Err(ModelError::client(format!(
            "Invalid setting for container '{name}'. At least one of 'memory' or \
             'memoryReservation' must be specified (or set memory at the task level)."
        )));
    }
    for (field, value) in [
        ("memory", c.memory),
        ("memoryReservation", c.memory_reservation),
    ] {
        let Some(v) = value else { continue };
        if v < MIN_CONTAINER_MEMORY_MIB {
            return Err(ModelError::client(format!(
                "Invalid '{field}' setting for container '{name}'. The container {field} must \
                 be at least {MIN_CONTAINER_MEMORY_MIB} MiB; {v} was given."
            )));
        }
        if let Some(task) = ctx.memory {
            if i64::from(v) > i64::from(task) {
                return Err(ModelError::client(format!(
                    "The '{field}' setting for container '{name}' is greater than for the task \
                     ({v} MiB > {task} MiB)."
                )));
            }
        }
    }
    if let (Some(m), Some(r)) = (c.memory, c.memory_reservation) {
        if r > m {
            return Err(ModelError::client(format!(
                "Invalid setting for container '{name}'. 'memoryReservation' ({r} MiB) must not \
                 be greater than 'memory' ({m} MiB)."
            )));
        }
    }
    Ok(())
}

/// CPU not negative and not above the task's; timeouts not negative (Fargate limits them
/// further).
fn check_cpu_and_timeouts(c: &ContainerDefinition, ctx: &TaskContext) -> Result<()> {
    let name = c.name();
    if let Some(cpu) = c.cpu {
        if cpu < 0 {
            return Err(container_error(
                name,
                format_args!("cpu must not be negative; {cpu} was given."),
            ));
        }
        if let Some(task) = ctx.cpu {
            if i64::from(cpu) > i64::from(task) {
                return Err(ModelError::client(format!(
                    "The 'cpu' setting for container '{name}' is greater than for the task \
                     ({cpu} > {task} CPU units)."
                )));
            }
        }
    }
    for (field, value) in [
        ("startTimeout", c.start_timeout),
        ("stopTimeout", c.stop_timeout),
    ] {
        if let Some(v) = value {
            if v < 0 {
                return Err(container_error(
                    name,
                    format_args!("{field} must not be negative; {v} was given."),
                ));
            }
        }
    }
    Ok(())
}

/// Links only in bridge mode; hostname and extraHosts not in awsvpc mode.
fn check_network_features(c: &ContainerDefinition, ctx: &TaskContext) -> Result<()> {
    let name = c.name();
    let mode = ctx.network_mode;
    if !c.links.is_empty() && mode != "bridge" {
        return Err(ModelError::client(format!(
            "Links are not supported when networkMode={mode} (container '{name}'). Remove \
             links; containers in the task reach each other over localhost in awsvpc mode."
        )));
    }
    for link in &c.links {
        let (target, alias) = match link.split_once(':') {
            Some((t, a)) => (t, Some(a)),
            None => (link.as_str(), None),
        };
        if !is_valid_name(target) || alias.is_some_and(|a| !is_valid_name(a)) {
            return Err(container_error(
                name,
                format_args!("invalid link '{link}': use 'name' or 'name:alias'."),
            ));
        }
    }
    if c.hostname.is_some() && mode == "awsvpc" {
        return Err(ModelError::client(format!(
            "hostname is not supported on container when networkMode=awsvpc (container \
             '{name}')."
        )));
    }
    if !c.extra_hosts.is_empty() && mode == "awsvpc" {
        return Err(ModelError::client(format!(
            "extraHosts is not supported on container when networkMode=awsvpc (container \
             '{name}')."
        )));
    }
    for (i, h) in c.extra_hosts.iter().enumerate() {
        if h.hostname.is_empty() || h.ip_address.is_empty() {
            return Err(container_error(
                name,
                format_args!("extraHosts[{i}] needs both hostname and ipAddress."),
            ));
        }
    }
    Ok(())
}

/// Mount points need a source volume and an absolute, unique container path; volumesFrom
/// needs a source container. Whether the names exist is checked in `validate_refs`.
fn check_mounts(c: &ContainerDefinition) -> Result<()> {
    let name = c.name();
    let mut paths = HashSet::new();
    for (i, mp) in c.mount_points.iter().enumerate() {
        if mp.source_volume.as_deref().unwrap_or("").is_empty() {
            return Err(container_error(
                name,
                format_args!("mountPoints[{i}].sourceVolume is required."),
            ));
        }
        let path = mp.container_path.as_deref().unwrap_or("");
        if path.is_empty() {
            return Err(container_error(
                name,
                format_args!("mountPoints[{i}].containerPath is required."),
            ));
        }
        if !is_absolute_path(path) {
            return Err(container_error(
                name,
                format_args!("mountPoints[{i}].containerPath '{path}' must be an absolute path."),
            ));
        }
        if !paths.insert(path) {
            return Err(container_error(
                name,
                format_args!("mountPoints[{i}].containerPath '{path}' is mounted twice."),
            ));
        }
    }
    for (i, vf) in c.volumes_from.iter().enumerate() {
        if vf.source_container.as_deref().unwrap_or("").is_empty() {
            return Err(container_error(
                name,
                format_args!("volumesFrom[{i}].sourceContainer is required."),
            ));
        }
    }
    if let Some(v) = &c.version_consistency {
        one_of(
            &format!("versionConsistency of container '{name}'"),
            v,
            &["enabled", "disabled"],
        )?;
    }
    Ok(())
}

/// The containers' memory reservations and CPU must fit the task's memory and CPU.
/// A container reserves `memoryReservation`, or `memory` when that is its only setting.
pub(super) fn check_task_resources(
    input: &RegisterTaskDefinitionInput,
    ctx: &TaskContext,
) -> Result<()> {
    if let Some(task) = ctx.memory {
        let reserved: i64 = input
            .container_definitions
            .iter()
            .map(|c| i64::from(c.memory_reservation.or(c.memory).unwrap_or(0)))
            .sum();
        if reserved > i64::from(task) {
            return Err(ModelError::client(format!(
                "The containers reserve {reserved} MiB of memory in total (memoryReservation, or \
                 memory where no reservation is set), more than the task memory of {task} MiB."
            )));
        }
    }
    if let Some(task) = ctx.cpu {
        let total: i64 = input
            .container_definitions
            .iter()
            .map(|c| i64::from(c.cpu.unwrap_or(0).max(0)))
            .sum();
        if total > i64::from(task) {
            return Err(ModelError::client(format!(
                "The containers reserve {total} CPU units in total, more than the task cpu of \
                 {task} units."
            )));
        }
    }
    Ok(())
}
