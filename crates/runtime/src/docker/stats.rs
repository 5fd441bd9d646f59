//! One-shot container statistics: the engine's stats endpoint with `stream=false` and
//! `one-shot=true` answers with the current counters at its collector's next tick (Docker
//! collects every second while anyone reads a container's statistics, and at once when
//! nobody was); without `one-shot` it would wait a tick more to fill in a previous sample
//! the agent does not need (it keeps its own). Each read costs the caller up to a second
//! of waiting and no work, so callers read many containers at once.
//!
//! Memory is reported as `docker stats` computes it: usage minus the inactive page cache
//! (`total_inactive_file` on cgroup v1, `inactive_file` on cgroup v2, `cache` on older
//! engines), since cache the kernel can drop is not memory the container needs.

use bollard::models::{ContainerMemoryStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use super::error::from_bollard;
use crate::{Result, RuntimeError, StatsSample};

/// Take one sample of container `id`.
pub(crate) async fn sample(docker: &Docker, id: &str) -> Result<StatsSample> {
    let options = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    let mut answers = docker.stats(id, Some(options));
    let answer = answers
        .next()
        .await
        .ok_or_else(|| RuntimeError::Unavailable(format!("no statistics for {id}")))?
        .map_err(from_bollard)?;
    from_answer(id, &answer)
}

/// The sample in an answer; `NotFound` for a container that is not running (the engine
/// answers with zeros and the zero time).
fn from_answer(id: &str, answer: &ContainerStatsResponse) -> Result<StatsSample> {
    let read_ns = answer
        .read
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .and_then(|t| t.timestamp_nanos_opt())
        .filter(|ns| *ns > 0)
        .ok_or_else(|| RuntimeError::NotFound(format!("container {id} is not running")))?;
    let cpu_total_ns = answer
        .cpu_stats
        .as_ref()
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage)
        .unwrap_or(0);
    let memory_used_bytes = answer
        .memory_stats
        .as_ref()
        .map(memory_without_cache)
        .unwrap_or(0);
    Ok(StatsSample {
        read_ns,
        cpu_total_ns,
        memory_used_bytes,
    })
}

/// Usage minus the inactive page cache, as the Docker CLI computes it.
fn memory_without_cache(m: &ContainerMemoryStats) -> u64 {
    let usage = m.usage.unwrap_or(0);
    let stats = m.stats.as_ref();
    let cache = ["total_inactive_file", "inactive_file", "cache"]
        .iter()
        .find_map(|k| stats.and_then(|s| s.get(*k)).copied());
    match cache {
        Some(c) if c < usage => usage - c,
        _ => usage,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerCpuStats, ContainerCpuUsage};

    use super::*;

    fn memory(usage: u64, stats: &[(&str, u64)]) -> ContainerMemoryStats {
        ContainerMemoryStats {
            usage: Some(usage),
            stats: Some(
                stats
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect::<HashMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn page_cache_is_left_out_on_both_cgroup_versions() {
        // cgroup v2
        assert_eq!(
            memory_without_cache(&memory(100, &[("inactive_file", 30)])),
            70
        );
        // cgroup v1 (its inactive_file is the container's own, total_ includes children)
        let v1 = memory(100, &[("total_inactive_file", 40), ("inactive_file", 10)]);
        assert_eq!(memory_without_cache(&v1), 60);
        // old engines
        assert_eq!(memory_without_cache(&memory(100, &[("cache", 25)])), 75);
        // never below zero
        assert_eq!(
            memory_without_cache(&memory(10, &[("inactive_file", 30)])),
            10
        );
        assert_eq!(memory_without_cache(&memory(10, &[])), 10);
    }

    #[test]
    fn a_stopped_container_has_no_sample() {
        let answer = ContainerStatsResponse {
            read: Some("0001-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(matches!(
            from_answer("x", &answer),
            Err(RuntimeError::NotFound(_))
        ));
    }

    #[test]
    fn a_running_container_sample_reads_the_counters() {
        let answer = ContainerStatsResponse {
            read: Some("2024-05-01T10:00:00.5Z".into()),
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(123_000),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(memory(4096, &[("inactive_file", 1024)])),
            ..Default::default()
        };
        assert_eq!(
            from_answer("x", &answer).unwrap(),
            StatsSample {
                read_ns: 1_714_557_600_500_000_000,
                cpu_total_ns: 123_000,
                memory_used_bytes: 3072,
            }
        );
    }
}
