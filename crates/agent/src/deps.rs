//! `dependsOn`: the order containers start in and whether a dependency's condition holds.
//!
//! Conditions as ECS defines them: `START` (the dependency has started), `COMPLETE` (it
//! exited, any code), `SUCCESS` (it exited 0), `HEALTHY` (its health check passes). A
//! condition that can no longer be met (a `SUCCESS` dependency exited non-zero, a
//! `HEALTHY` one exited or turned unhealthy) fails the task. A container's `links` and
//! `volumesFrom` targets are implicit `START` dependencies, as ECS makes them (Docker needs
//! them to exist first). Pure logic over observations.

use flotilla_model::task_definition::ContainerDefinition;
use flotilla_runtime::Health;

/// What the actor has seen of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    pub started: bool,
    pub exited: bool,
    pub exit_code: Option<i64>,
    pub health: Option<Health>,
}

/// Whether a container may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    Met,
    Waiting,
    /// Never: the reason names the dependency.
    Never(String),
}

/// One condition against one observed dependency.
pub(crate) fn condition(condition: &str, dependency: &str, o: &Observed) -> Readiness {
    let never = |why: String| {
        Readiness::Never(format!(
            "dependency {dependency} {why} (condition {condition})"
        ))
    };
    match condition {
        "COMPLETE" if o.exited => Readiness::Met,
        "SUCCESS" if o.exited => match o.exit_code {
            Some(0) => Readiness::Met,
            code => never(format!(
                "exited with code {}",
                code.map_or("unknown".into(), |c| c.to_string())
            )),
        },
        "HEALTHY" => match o.health {
            _ if o.exited => never("exited before it was healthy".into()),
            Some(Health::Healthy) => Readiness::Met,
            Some(Health::Unhealthy) => never("is unhealthy".into()),
            _ => Readiness::Waiting,
        },
        "START" if o.started => Readiness::Met,
        "START" | "COMPLETE" | "SUCCESS" => Readiness::Waiting,
        other => Readiness::Never(format!(
            "unknown dependency condition {other} on {dependency}"
        )),
    }
}

/// Every (container, condition) `c` depends on: its `dependsOn`, then its links' and
/// `volumesFrom` targets with `START`.
pub(crate) fn dependencies(c: &ContainerDefinition) -> Vec<(&str, &str)> {
    let explicit = c
        .depends_on
        .iter()
        .map(|d| (d.container_name.as_str(), d.condition.as_str()));
    let links = c
        .links
        .iter()
        .map(|l| (l.split_once(':').map_or(l.as_str(), |(n, _)| n), "START"));
    let volumes_from = c
        .volumes_from
        .iter()
        .filter_map(|v| Some((v.source_container.as_deref()?, "START")));
    explicit.chain(links).chain(volumes_from).collect()
}

/// Whether `c` may start, given what is observed of the task's containers.
pub(crate) fn readiness(
    c: &ContainerDefinition,
    observe: impl Fn(&str) -> Option<Observed>,
) -> Readiness {
    let mut waiting = false;
    for (name, cond) in dependencies(c) {
        let Some(o) = observe(name) else {
            return Readiness::Never(format!("dependency {name} is not a container of the task"));
        };
        match condition(cond, name, &o) {
            Readiness::Met => {}
            Readiness::Waiting => waiting = true,
            never => return never,
        }
    }
    if waiting {
        Readiness::Waiting
    } else {
        Readiness::Met
    }
}

/// Indices of `containers` in start order: every container after its dependencies,
/// otherwise in definition order. (Validation rejects cycles; should one get here, its
/// members keep definition order at the end.)
pub(crate) fn start_order(containers: &[ContainerDefinition]) -> Vec<usize> {
    let index = |name: &str| containers.iter().position(|c| c.name() == name);
    let mut placed = vec![false; containers.len()];
    let mut order = Vec::with_capacity(containers.len());
    while order.len() < containers.len() {
        let next = (0..containers.len()).find(|&i| {
            !placed[i]
                && dependencies(&containers[i])
                    .iter()
                    .all(|(name, _)| index(name).is_none_or(|j| placed[j] || j == i))
        });
        let Some(i) = next else {
            order.extend((0..containers.len()).filter(|&i| !placed[i]));
            break;
        };
        placed[i] = true;
        order.push(i);
    }
    order
}

/// Stop order: dependents before what they depend on.
pub(crate) fn stop_order(containers: &[ContainerDefinition]) -> Vec<usize> {
    let mut order = start_order(containers);
    order.reverse();
    order
}

#[cfg(test)]
mod tests {
    use flotilla_model::task_definition::ContainerDependency;

    use super::*;

    fn c(name: &str, deps: &[(&str, &str)]) -> ContainerDefinition {
        ContainerDefinition {
            name: Some(name.into()),
            depends_on: deps
                .iter()
                .map(|(n, cond)| ContainerDependency {
                    container_name: n.to_string(),
                    condition: cond.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn containers_start_after_their_dependencies() {
        let defs = vec![
            c("app", &[("db", "HEALTHY"), ("migrate", "SUCCESS")]),
            c("migrate", &[("db", "HEALTHY")]),
            c("db", &[]),
            c("sidecar", &[]),
        ];
        let names = |o: Vec<usize>| {
            o.into_iter()
                .map(|i| defs[i].name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(start_order(&defs)),
            ["db", "migrate", "app", "sidecar"]
        );
        assert_eq!(
            names(stop_order(&defs)),
            ["sidecar", "app", "migrate", "db"]
        );
    }

    #[test]
    fn links_and_volumes_from_are_start_dependencies() {
        let mut app = c("app", &[("init", "SUCCESS")]);
        app.links = vec!["db:database".into()];
        app.volumes_from = vec![flotilla_model::task_definition::VolumeFrom {
            source_container: Some("data".into()),
            read_only: None,
        }];
        assert_eq!(
            dependencies(&app),
            [("init", "SUCCESS"), ("db", "START"), ("data", "START")]
        );
        let defs = vec![app, c("data", &[]), c("db", &[]), c("init", &[])];
        assert_eq!(start_order(&defs), vec![1, 2, 3, 0]);
    }

    #[test]
    fn a_cycle_does_not_hang() {
        let defs = vec![
            c("a", &[("b", "START")]),
            c("b", &[("a", "START")]),
            c("z", &[]),
        ];
        assert_eq!(start_order(&defs), vec![2, 0, 1]);
    }

    #[test]
    fn conditions_follow_ecs() {
        let started = Observed {
            started: true,
            ..Default::default()
        };
        let exited = |code| Observed {
            started: true,
            exited: true,
            exit_code: Some(code),
            health: None,
        };
        let health = |h| Observed {
            started: true,
            health: Some(h),
            ..Default::default()
        };
        assert_eq!(
            condition("START", "d", &Observed::default()),
            Readiness::Waiting
        );
        assert_eq!(condition("START", "d", &started), Readiness::Met);
        assert_eq!(condition("COMPLETE", "d", &started), Readiness::Waiting);
        assert_eq!(condition("COMPLETE", "d", &exited(1)), Readiness::Met);
        assert_eq!(condition("SUCCESS", "d", &exited(0)), Readiness::Met);
        assert_eq!(
            condition("SUCCESS", "init", &exited(2)),
            Readiness::Never("dependency init exited with code 2 (condition SUCCESS)".into())
        );
        assert_eq!(
            condition("HEALTHY", "d", &health(Health::Starting)),
            Readiness::Waiting
        );
        assert_eq!(
            condition("HEALTHY", "d", &health(Health::Healthy)),
            Readiness::Met
        );
        assert!(matches!(
            condition("HEALTHY", "d", &health(Health::Unhealthy)),
            Readiness::Never(_)
        ));
        assert!(matches!(
            condition("HEALTHY", "d", &exited(0)),
            Readiness::Never(_)
        ));
    }

    #[test]
    fn readiness_waits_for_every_dependency() {
        let app = c("app", &[("db", "HEALTHY"), ("init", "SUCCESS")]);
        let healthy = Observed {
            started: true,
            health: Some(Health::Healthy),
            ..Default::default()
        };
        let done = Observed {
            started: true,
            exited: true,
            exit_code: Some(0),
            health: None,
        };
        let running = Observed {
            started: true,
            ..Default::default()
        };
        assert_eq!(
            readiness(&app, |n| Some(if n == "db" { healthy } else { running })),
            Readiness::Waiting
        );
        assert_eq!(
            readiness(&app, |n| Some(if n == "db" { healthy } else { done })),
            Readiness::Met
        );
        assert!(matches!(readiness(&app, |_| None), Readiness::Never(_)));
    }
}
