//! The runtime on tokio's paused clock: one reconcile per key at a time, requeues and
//! error backoff on time, work only while leading, and shutdown.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;

/// A reconciler that records when each key was reconciled and answers from a script.
struct Recorder {
    keys: Vec<u32>,
    /// How long a reconcile takes.
    takes: Duration,
    /// What reconciles answer: an error when `fail`, else `action`.
    action: Action,
    fail: bool,
    log: Mutex<Vec<(u32, Instant)>>,
    in_flight: Mutex<HashMap<u32, u32>>,
    overlapped: Mutex<bool>,
}

impl Recorder {
    fn new(keys: &[u32], action: Action) -> Self {
        Recorder {
            keys: keys.to_vec(),
            takes: Duration::ZERO,
            action,
            fail: false,
            log: Mutex::default(),
            in_flight: Mutex::default(),
            overlapped: Mutex::default(),
        }
    }

    /// When `key` was reconciled, as offsets from `start`.
    fn times(&self, key: u32, start: Instant) -> Vec<Duration> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, at)| *at - start)
            .collect()
    }

    fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Reconciler for Recorder {
    type Key = u32;

    fn name(&self) -> &'static str {
        "recorder"
    }

    fn keys(&self) -> Vec<u32> {
        self.keys.clone()
    }

    async fn reconcile(&self, key: &u32) -> Result<Action, ControlError> {
        {
            let mut f = self.in_flight.lock().unwrap();
            let n = f.entry(*key).or_insert(0);
            *n += 1;
            if *n > 1 {
                *self.overlapped.lock().unwrap() = true;
            }
        }
        self.log.lock().unwrap().push((*key, Instant::now()));
        tokio::time::sleep(self.takes).await;
        *self.in_flight.lock().unwrap().get_mut(key).unwrap() -= 1;
        if self.fail {
            Err(ControlError::client("scripted failure"))
        } else {
            Ok(self.action)
        }
    }
}

/// A runtime over `r`, leading from the start; the senders drive it.
struct Harness {
    wakes: mpsc::UnboundedSender<Wake<u32>>,
    leader: watch::Sender<bool>,
    shutdown: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

fn start(r: Arc<Recorder>, leading: bool) -> Harness {
    let (wakes, rx) = mpsc::unbounded_channel();
    let (leader, leader_rx) = watch::channel(leading);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let handle = run(r, rx, leader_rx, shutdown_rx);
    Harness {
        wakes,
        leader,
        shutdown,
        handle,
    }
}

/// Let the paused clock run for `d` (tasks run whenever they can).
async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(start_paused = true)]
async fn a_key_is_never_reconciled_twice_at_once_and_runs_again_after_a_wake() {
    let mut r = Recorder::new(&[1, 2], Action::AwaitChange);
    r.takes = Duration::from_millis(100);
    let r = Arc::new(r);
    let start_at = Instant::now();
    let h = start(r.clone(), true);
    run_for(Duration::from_millis(10)).await;
    // Woken five times while its first reconcile runs: one more reconcile, after it.
    for _ in 0..5 {
        h.wakes.send(Wake::Key(1)).unwrap();
    }
    run_for(Duration::from_secs(1)).await;
    assert!(
        !*r.overlapped.lock().unwrap(),
        "two reconciles of one key at once"
    );
    let times = r.times(1, start_at);
    assert_eq!(times.len(), 2, "{times:?}");
    assert!(times[1] >= Duration::from_millis(100), "{times:?}");
    assert_eq!(r.times(2, start_at).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn requeue_after_reconciles_again_on_the_clock() {
    let r = Arc::new(Recorder::new(
        &[7],
        Action::Requeue(Duration::from_secs(10)),
    ));
    let start_at = Instant::now();
    let _h = start(r.clone(), true);
    run_for(Duration::from_secs(35)).await;
    let secs: Vec<u64> = r.times(7, start_at).iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, [0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn errors_back_off_per_key() {
    let mut r = Recorder::new(&[3], Action::AwaitChange);
    r.fail = true;
    let r = Arc::new(r);
    let start_at = Instant::now();
    let _h = start(r.clone(), true);
    run_for(Duration::from_secs(2)).await;
    let times = r.times(3, start_at);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let want: Vec<Duration> = (1..=gaps.len() as u32).map(backoff).collect();
    assert!(gaps.len() >= 3, "{times:?}");
    assert_eq!(gaps, want);
}

#[tokio::test(start_paused = true)]
async fn only_the_leader_reconciles() {
    let r = Arc::new(Recorder::new(
        &[1, 2, 3],
        Action::Requeue(Duration::from_secs(1)),
    ));
    let h = start(r.clone(), false);
    h.wakes.send(Wake::Key(1)).unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(r.count(), 0, "a follower reconciled");
    h.leader.send(true).unwrap();
    run_for(Duration::from_millis(500)).await;
    assert_eq!(r.count(), 3, "becoming leader reconciles every key");
    h.leader.send(false).unwrap();
    run_for(Duration::from_millis(10)).await;
    let when_lost = r.count();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(r.count(), when_lost, "requeues stop with leadership");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_runtime() {
    let r = Arc::new(Recorder::new(&[1], Action::Requeue(Duration::from_secs(1))));
    let h = start(r.clone(), true);
    run_for(Duration::from_millis(1500)).await;
    h.shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), h.handle)
        .await
        .expect("stopped")
        .unwrap();
}
