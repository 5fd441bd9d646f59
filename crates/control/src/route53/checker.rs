//! The health checker every server runs (each serves DNS, so each decides for itself
//! which record sets are healthy), and [`HealthChecks`], the one owner of its results.
//!
//! [`run`] probes each health check when it is created and then every RequestInterval
//! seconds after the last probe ended, at most [`MAX_PROBES`] at once, each bounded by the
//! probe's own deadlines. Results go through the check's [`Tracker`] (FailureThreshold,
//! Inverted, Disabled) and are published on a `watch` channel the DNS feed selects on.
//! They live in memory only: a restarted server starts every check unknown (healthy).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::route53::health_checks::{HealthCheckConfig, Observation, Outcome, Tracker};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::State;

/// At most this many probes run at once; the others wait for their turn.
pub const MAX_PROBES: usize = 32;

/// What this server knows of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckState {
    /// As record sets naming the check should take it.
    pub healthy: bool,
    /// The last probe, if any has finished.
    pub last: Option<Observation>,
}

/// Every check's state, by id; a check with no entry is not known yet (healthy).
pub type Snapshot = BTreeMap<String, CheckState>;

/// The checker's results, shared through the control plane's state.
pub struct HealthChecks {
    results: watch::Sender<Arc<Snapshot>>,
}

impl Default for HealthChecks {
    fn default() -> Self {
        HealthChecks {
            results: watch::channel(Arc::new(Snapshot::new())).0,
        }
    }
}

impl HealthChecks {
    /// The latest results.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.results.borrow().clone()
    }

    /// Wakes when the results change.
    pub fn changes(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.results.subscribe()
    }

    /// Whether a record set naming `id` is healthy (unknown and deleted checks are).
    pub fn healthy(&self, id: &str) -> bool {
        self.results.borrow().get(id).is_none_or(|c| c.healthy)
    }

    pub(crate) fn publish(&self, snapshot: Snapshot) {
        self.results.send_if_modified(|s| {
            if **s == snapshot {
                false
            } else {
                *s = Arc::new(snapshot);
                true
            }
        });
    }
}

/// One check as the checker tracks it.
struct Tracked {
    config: HealthCheckConfig,
    tracker: Tracker,
    /// When the next probe is due.
    due: Instant,
    /// A probe is running; its generation.
    running: Option<u64>,
    /// Grows when the endpoint changes, so a probe of the old one is not counted.
    generation: u64,
}

/// Bring the tracked checks in line with the stored ones: new checks are due at once,
/// a changed endpoint starts over, deleted checks are dropped.
fn sync(state: &State, tracked: &mut HashMap<String, Tracked>, now: Instant) {
    let checks = super::health_checks::all(state);
    tracked.retain(|id, _| checks.iter().any(|c| &c.id == id));
    for check in checks {
        match tracked.get_mut(&check.id) {
            Some(t) if t.config == check.config => {}
            Some(t) => {
                if !t.config.same_endpoint(&check.config) {
                    t.tracker = Tracker::default();
                    t.generation += 1;
                    t.due = now;
                }
                t.config = check.config.clone();
            }
            None => {
                tracked.insert(
                    check.id.clone(),
                    Tracked {
                        config: check.config.clone(),
                        tracker: Tracker::default(),
                        due: now,
                        running: None,
                        generation: 0,
                    },
                );
            }
        }
    }
}

fn snapshot(tracked: &HashMap<String, Tracked>) -> Snapshot {
    tracked
        .iter()
        .map(|(id, t)| {
            (
                id.clone(),
                CheckState {
                    healthy: t.tracker.healthy(&t.config),
                    last: t.tracker.last().cloned(),
                },
            )
        })
        .collect()
}

type ProbeResult = (String, u64, Outcome, Option<IpAddr>);

/// Probe every health check until `shutdown`.
pub async fn run(state: State, mut shutdown: watch::Receiver<bool>) {
    let tls = super::probe::tls_config();
    let mut changes = state.route53().health_checks.key_changes();
    let mut tracked: HashMap<String, Tracked> = HashMap::new();
    let mut probes: JoinSet<ProbeResult> = JoinSet::new();
    let mut running_ids: HashMap<tokio::task::Id, String> = HashMap::new();
    loop {
        let now = Instant::now();
        sync(&state, &mut tracked, now);
        // Start what is due, oldest first, while there is room.
        let mut due: Vec<(&String, &mut Tracked)> = tracked
            .iter_mut()
            .filter(|(_, t)| t.running.is_none() && !t.config.disabled && t.due <= now)
            .collect();
        due.sort_by_key(|(_, t)| t.due);
        for (id, t) in due {
            if probes.len() >= MAX_PROBES {
                break;
            }
            let (config, generation) = (t.config.clone(), t.generation);
            let (tls, probe_id) = (tls.clone(), id.clone());
            t.running = Some(generation);
            let task = probes.spawn(async move {
                let (outcome, source) = super::probe::probe(&config, &tls).await;
                (probe_id, generation, outcome, source)
            });
            running_ids.insert(task.id(), id.clone());
        }
        state.route53_health().publish(snapshot(&tracked));
        let next = tracked
            .values()
            .filter(|t| t.running.is_none() && !t.config.disabled)
            .map(|t| t.due)
            .min();
        let room = probes.len() < MAX_PROBES;
        let sleep = async move {
            match next {
                // Nothing to start until a probe ends (no room) or a check changes.
                Some(at) if room => tokio::time::sleep_until(at).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            c = changes.next() => if c.is_none() { return },
            Some(done) = probes.join_next_with_id(), if !probes.is_empty() => {
                let (task, result) = match done {
                    Ok((task, r)) => (task, Some(r)),
                    Err(e) => (e.id(), None),
                };
                let id = running_ids.remove(&task);
                finish(&state, &mut tracked, id, result);
            }
            _ = sleep => {}
        }
    }
}

/// Count a finished probe (`result` is `None` if it panicked) and schedule the next one a
/// RequestInterval later.
fn finish(
    state: &State,
    tracked: &mut HashMap<String, Tracked>,
    id: Option<String>,
    result: Option<ProbeResult>,
) {
    let Some(t) = id.and_then(|id| tracked.get_mut(&id)) else {
        return;
    };
    let generation = t.running.take();
    t.due = Instant::now() + Duration::from_secs(u64::from(t.config.request_interval));
    let Some((_, probed, outcome, source)) = result else {
        return;
    };
    if Some(probed) != generation || probed != t.generation {
        // The endpoint changed while this probe ran: the new one is due at once.
        t.due = Instant::now();
        return;
    }
    let observation = Observation {
        source,
        checked_at: state.clock().now(),
        status: outcome.status(),
    };
    t.tracker
        .observe(outcome.success(), t.config.failure_threshold, observation);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_model::dns::RecordType;
    use flotilla_model::route53::changes::{Action, Change};
    use flotilla_model::route53::health_checks::CheckType;
    use flotilla_model::route53::RecordSet;
    use flotilla_store::MemoryStore;

    use crate::route53::{self as r53, NewZone};
    use crate::ControlConfig;

    fn weighted(id: &str, value: &str, check: Option<String>) -> Change {
        Change {
            action: Action::Create,
            set: RecordSet {
                name: "www.example.test.".into(),
                rtype: RecordType::A,
                set_identifier: Some(id.into()),
                weight: Some(1),
                multi_value_answer: None,
                ttl: Some(60),
                values: vec![value.into()],
                alias: None,
                health_check_id: check,
            },
        }
    }

    fn healthy_sets(state: &State) -> Vec<(String, bool)> {
        let config = crate::dns::build(state);
        let zone = config
            .zones
            .iter()
            .find(|z| z.origin == "example.test.")
            .unwrap();
        zone.records
            .iter()
            .filter(|r| r.rtype == RecordType::A)
            .map(|r| (r.values[0].clone(), r.healthy))
            .collect()
    }

    #[tokio::test]
    async fn record_sets_take_their_checks_state_and_unknown_is_healthy() {
        let state = State::new(Arc::new(MemoryStore::new()), ControlConfig::new("1"))
            .await
            .unwrap();
        let mut config = HealthCheckConfig::new(CheckType::Tcp);
        config.ip_address = Some("127.0.0.1".parse().unwrap());
        config.port = Some(9);
        let (check, _) = r53::health_checks::create(&state, "ref".into(), config)
            .await
            .unwrap();
        let (zone, _) = r53::create_zone(
            &state,
            NewZone {
                name: "example.test".into(),
                caller_reference: "z".into(),
                ..NewZone::default()
            },
        )
        .await
        .unwrap();
        r53::change_record_sets(
            &state,
            &zone.id,
            vec![
                weighted("a", "192.0.2.1", Some(check.id.clone())),
                weighted("b", "192.0.2.2", None),
            ],
            None,
        )
        .await
        .unwrap();
        let both = vec![
            ("192.0.2.1".to_string(), true),
            ("192.0.2.2".to_string(), true),
        ];
        assert_eq!(healthy_sets(&state), both, "no result yet: healthy");

        let failing = CheckState {
            healthy: false,
            last: None,
        };
        state
            .route53_health()
            .publish(Snapshot::from([(check.id.clone(), failing)]));
        assert_eq!(
            healthy_sets(&state),
            vec![
                ("192.0.2.1".to_string(), false),
                ("192.0.2.2".to_string(), true)
            ]
        );
        let e = r53::health_checks::delete(&state, &check.id)
            .await
            .unwrap_err();
        assert!(matches!(e, r53::Route53Error::HealthCheckInUse(_)), "{e:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tracker_follows_probes_of_a_changed_endpoint_only() {
        let state = State::new(Arc::new(MemoryStore::new()), ControlConfig::new("1"))
            .await
            .unwrap();
        let mut config = HealthCheckConfig::new(CheckType::Tcp);
        config.ip_address = Some("127.0.0.1".parse().unwrap());
        config.port = Some(9);
        let (check, _) = r53::health_checks::create(&state, "ref".into(), config)
            .await
            .unwrap();
        let mut tracked = HashMap::new();
        let now = Instant::now();
        sync(&state, &mut tracked, now);
        let t = tracked.get_mut(&check.id).unwrap();
        assert_eq!(t.due, now, "a new check is due at once");
        t.running = Some(0);
        t.config.failure_threshold = 1;
        // The endpoint changes while the probe runs: its result is not counted.
        t.generation = 1;
        finish(
            &state,
            &mut tracked,
            Some(check.id.clone()),
            Some((check.id.clone(), 0, Outcome::Refused, None)),
        );
        let t = &tracked[&check.id];
        assert!(t.tracker.last().is_none());
        assert_eq!(t.due, Instant::now());
        // A current probe counts, and the next is due an interval later.
        tracked.get_mut(&check.id).unwrap().running = Some(1);
        finish(
            &state,
            &mut tracked,
            Some(check.id.clone()),
            Some((check.id.clone(), 1, Outcome::Refused, None)),
        );
        let t = &tracked[&check.id];
        assert!(!t.tracker.healthy(&t.config));
        assert_eq!(
            t.tracker.last().unwrap().status,
            "Failure: Connection refused"
        );
        assert_eq!(t.due, Instant::now() + Duration::from_secs(30));
        assert!(!snapshot(&tracked)[&check.id].healthy);
    }
}
