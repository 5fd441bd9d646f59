//! Task-level CPU and memory strings and the Fargate size table.
//!
//! AWS accepts task `cpu` as CPU units (`"1024"`) or vCPUs (`"1 vCPU"`, `"0.25 vcpu"`,
//! 1 vCPU = 1024 units) and task `memory` as MiB (`"2048"`) or GB (`"2 GB"`, `"0.5GB"`,
//! 1 GB = 1024 MiB), and stores both as integer strings. Parsing is exact decimal
//! arithmetic: a value that does not come to a whole number of units is invalid.

use crate::error::{ModelError, Result};

/// Parse a decimal like `2`, `0.25` or `.5` into (digits, number of fractional digits).
fn parse_decimal(s: &str) -> Option<(u128, u32)> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if int.len() + frac.len() > 18 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: u128 = format!("{int}{frac}").parse().ok()?;
    Some((digits, frac.len() as u32))
}

/// `number * multiplier` if the result is a whole number that fits in `u32`.
fn scaled(number: &str, multiplier: u128) -> Option<u32> {
    let (digits, frac_len) = parse_decimal(number)?;
    let divisor = 10u128.pow(frac_len);
    let product = digits.checked_mul(multiplier)?;
    if product % divisor != 0 {
        return None;
    }
    u32::try_from(product / divisor).ok()
}

/// Split `raw` into its number and a lower-cased unit suffix (possibly empty).
fn split_unit(raw: &str) -> (&str, String) {
    let trimmed = raw.trim();
    let unit_start = trimmed
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(unit_start);
    (number.trim_end(), unit.trim().to_ascii_lowercase())
}

/// CPU units from a task `cpu` string: `"256"`, `"1 vCPU"`, `"0.5vcpu"`. `None` if the
/// string is not a whole number of CPU units in either notation.
pub fn parse_cpu(raw: &str) -> Option<u32> {
    let (number, unit) = split_unit(raw);
    match unit.as_str() {
        // Plain CPU units must be an integer.
        "" if !number.contains('.') => scaled(number, 1),
        "vcpu" | "vcpus" => scaled(number, 1024),
        _ => None,
    }
}

/// MiB from a task `memory` string: `"512"`, `"1 GB"`, `"0.5GB"`, `"2GiB"`, `"512 MiB"`.
/// `None` if the string is not a whole number of MiB in any of those notations.
pub fn parse_memory(raw: &str) -> Option<u32> {
    let (number, unit) = split_unit(raw);
    match unit.as_str() {
        "" if !number.contains('.') => scaled(number, 1),
        "mb" | "mib" if !number.contains('.') => scaled(number, 1),
        "gb" | "gib" => scaled(number, 1024),
        _ => None,
    }
}

/// Normalise a task `cpu` string to CPU units as AWS stores it: `"1 vCPU"` → `"1024"`.
/// ClientException, as AWS answers `Invalid 'cpu' setting for task.`
pub fn normalize_cpu(raw: &str) -> Result<String> {
    parse_cpu(raw)
        .map(|u| u.to_string())
        .ok_or_else(|| invalid_cpu(raw))
}

/// The error for a task `cpu` string that does not parse.
pub(super) fn invalid_cpu(raw: &str) -> ModelError {
    ModelError::client(format!(
        "Invalid 'cpu' setting for task. '{raw}' is neither a whole number of CPU units \
         (for example \"1024\") nor vCPUs (for example \"1 vCPU\")."
    ))
}

/// Normalise a task `memory` string to MiB as AWS stores it: `"2 GB"` → `"2048"`.
/// ClientException, as AWS answers `Invalid 'memory' setting for task.`
pub fn normalize_memory(raw: &str) -> Result<String> {
    parse_memory(raw)
        .map(|m| m.to_string())
        .ok_or_else(|| invalid_memory(raw))
}

/// The error for a task `memory` string that does not parse.
pub(super) fn invalid_memory(raw: &str) -> ModelError {
    ModelError::client(format!(
        "Invalid 'memory' setting for task. '{raw}' is neither a whole number of MiB \
         (for example \"2048\") nor GB (for example \"2 GB\")."
    ))
}

/// The Fargate task sizes: for each CPU value, the memory range (MiB) and its step.
const FARGATE_SIZES: [(u32, u32, u32, u32); 7] = [
    // (cpu, min memory, max memory, step)
    (256, 512, 2048, 512), // 512, 1024, 2048 (1536 is excluded below)
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// The memory values (MiB) Fargate accepts with `cpu` units; empty when `cpu` is not a
/// Fargate CPU value.
pub fn fargate_memory_values(cpu: u32) -> Vec<u32> {
    FARGATE_SIZES
        .iter()
        .filter(|(c, ..)| *c == cpu)
        .flat_map(|&(_, min, max, step)| (min..=max).step_by(step as usize))
        // 0.25 vCPU takes 0.5, 1 or 2 GB: there is no 1.5 GB size.
        .filter(|m| !(cpu == 256 && *m == 1536))
        .collect()
}

/// Whether `cpu` units with `memory` MiB is one of the Fargate task sizes.
pub fn is_valid_fargate_size(cpu: u32, memory: u32) -> bool {
    fargate_memory_values(cpu).contains(&memory)
}
