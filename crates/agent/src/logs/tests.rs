//! The shipper end to end against the fake runtime and the fake server, in paused time:
//! batching, numbering, re-sending, resuming after a restart, and the two modes.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::LogStreamRef;
use flotilla_runtime::ContainerSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::awslogs::Mode;
use super::*;
use crate::spec::LABEL_CONTAINER_NAME;
use crate::testutil::{FakeApi, FakeRuntime};

/// A second, in ns, in 2023.
const T0: i64 = 1_700_000_000 * 1_000_000_000;
const STREAM: &str = "app/web/t1";

struct Rig {
    rt: Arc<FakeRuntime>,
    api: Arc<FakeApi>,
    shipper: Arc<LogShipper>,
    stop: watch::Sender<bool>,
    run: JoinHandle<()>,
}

fn start(dir: &Path, rt: &Arc<FakeRuntime>, api: &Arc<FakeApi>, buffer_bytes: u64) -> Rig {
    let identity = Arc::new(Identity::new("default", "arn:instance/1"));
    let settings = LogSettings {
        region: "us-east-1".into(),
        buffer_bytes,
        drain_timeout: Duration::from_secs(10),
    };
    let shipper = LogShipper::open(dir, settings, rt.clone(), api.clone(), identity).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(shipper.clone().run(stop_rx));
    Rig {
        rt: rt.clone(),
        api: api.clone(),
        shipper,
        stop,
        run,
    }
}

impl Rig {
    /// A running container named `name`.
    fn container(&self, name: &str) -> String {
        let spec = ContainerSpec {
            name: name.into(),
            image: "app".into(),
            labels: BTreeMap::from([(LABEL_CONTAINER_NAME.to_string(), name.to_string())]),
            ..Default::default()
        };
        self.rt.insert(spec, true)
    }

    fn follow(&self, id: &str, mode: Mode) {
        self.shipper.follow(Target {
            container_id: id.into(),
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/t1".into(),
            stream: LogStreamRef {
                region: "us-east-1".into(),
                log_group_name: "/ecs/web".into(),
                log_stream_name: STREAM.into(),
            },
            create_group: false,
            mode,
        });
    }

    fn print(&self, id: &str, at_ns: i64, lines: std::ops::Range<usize>) {
        for i in lines {
            self.rt.logs.print(id, at_ns, &format!("line {i}"));
        }
    }

    fn stored(&self) -> Vec<String> {
        self.api.logs.stored(STREAM).messages
    }

    /// Stop as a shutdown does (positions saved).
    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.run.await.unwrap();
    }
}

fn lines(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

/// Wait (paused time) until `done`.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(start_paused = true)]
async fn lines_go_in_batches_of_a_thousand_numbered_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(
        dir.path(),
        &Arc::new(FakeRuntime::new()),
        &Arc::default(),
        1 << 20,
    );
    let id = rig.container("web");
    rig.print(&id, T0, 0..2500);
    rig.follow(&id, Mode::Blocking);
    until("all stored", || rig.stored().len() == 2500).await;
    assert_eq!(rig.stored(), lines(0..2500));
    let puts = rig.api.logs.puts.lock().unwrap().clone();
    let firsts: Vec<(u64, usize)> = puts
        .iter()
        .flat_map(|p| &p.batches)
        .map(|b| (b.first_sequence, b.events.len()))
        .collect();
    assert_eq!(firsts, [(0, 1000), (1000, 1000), (2000, 500)]);
    assert_eq!(rig.shipper.counts().lines_shipped, 2500);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_few_lines_wait_200_ms_then_go_together() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(
        dir.path(),
        &Arc::new(FakeRuntime::new()),
        &Arc::default(),
        1 << 20,
    );
    let id = rig.container("web");
    rig.follow(&id, Mode::Blocking);
    tokio::time::sleep(Duration::from_millis(50)).await;
    rig.print(&id, T0, 0..3);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(rig.stored().is_empty(), "held for the batch delay");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rig.stored(), lines(0..3));
    assert_eq!(rig.api.logs.puts.lock().unwrap().len(), 1);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_is_sent_again_with_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    api.logs.fail_puts.store(3, Ordering::SeqCst);
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 1 << 20);
    let id = rig.container("web");
    rig.print(&id, T0, 0..10);
    rig.follow(&id, Mode::Blocking);
    until("stored", || rig.stored().len() == 10).await;
    assert_eq!(rig.stored(), lines(0..10));
    assert_eq!(rig.api.logs.stored(STREAM).duplicates, 0);
    assert_eq!(rig.shipper.counts().batches_failed, 3);
    rig.stop().await;
}

/// Lines that all carry the same timestamp, shipped in part, then an agent restart: the
/// new agent resumes from the saved position and the server gets each line once.
#[tokio::test(start_paused = true)]
async fn a_restart_resumes_after_the_last_confirmed_line_even_within_one_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::new());
    let api = Arc::new(FakeApi::default());
    let rig = start(dir.path(), &rt, &api, 1 << 20);
    let id = rig.container("web");
    rig.print(&id, T0, 0..1500);
    rig.follow(&id, Mode::Blocking);
    until("first batches", || rig.stored().len() == 1500).await;
    rig.stop().await;
    let saved = checkpoint::load(dir.path()).unwrap().containers[&id].clone();
    assert_eq!(saved.next_sequence, 1500);
    assert_eq!(saved.resume.skip, 1500, "{saved:?}");
    // More lines in the same nanosecond and the next second while no agent runs.
    rt.logs.print(&id, T0, "line 1500");
    rt.logs.print(&id, T0 + 1_000_000_000, "line 1501");
    let rig = start(dir.path(), &rt, &api, 1 << 20);
    rig.follow(&id, Mode::Blocking);
    until("the rest", || rig.stored().len() == 1502).await;
    assert_eq!(rig.stored(), lines(0..1502));
    assert_eq!(api.logs.stored(STREAM).duplicates, 0);
    let follows = rt.logs.follows.lock().unwrap().clone();
    assert_eq!(follows.last().unwrap().1, T0 / 1_000_000_000 - 2);
    rig.stop().await;
}

/// A kill -9 loses the latest saves: the agent resumes from an older position, sends
/// lines the server has again with their old numbers, and the server drops them.
#[tokio::test(start_paused = true)]
async fn after_a_crash_an_older_position_resends_only_what_the_server_drops() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::new());
    let api = Arc::new(FakeApi::default());
    let rig = start(dir.path(), &rt, &api, 1 << 20);
    let id = rig.container("web");
    rig.follow(&id, Mode::Blocking);
    let mut old: Option<Vec<u8>> = None;
    for s in 0..5 {
        rig.print(
            &id,
            T0 + s * 1_000_000_000,
            (s as usize * 300)..(s as usize * 300 + 300),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        if s == 1 {
            rig.shipper.shared.positions.flush().unwrap();
            old = std::fs::read(dir.path().join(checkpoint::FILE_NAME)).ok();
        }
    }
    until("all", || rig.stored().len() == 1500).await;
    rig.stop().await;
    std::fs::write(dir.path().join(checkpoint::FILE_NAME), old.unwrap()).unwrap();
    assert_eq!(
        checkpoint::load(dir.path()).unwrap().containers[&id].next_sequence,
        600
    );
    let rig = start(dir.path(), &rt, &api, 1 << 20);
    rig.print(&id, T0 + 5_000_000_000, 1500..1510);
    rig.follow(&id, Mode::Blocking);
    until("the new lines", || rig.stored().len() == 1510).await;
    assert_eq!(rig.stored(), lines(0..1510));
    assert_eq!(
        api.logs.stored(STREAM).duplicates,
        900,
        "re-sent, dropped by the server"
    );
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn non_blocking_drops_the_oldest_lines_while_the_server_is_away_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    api.logs.unreachable.store(true, Ordering::SeqCst);
    // No spool at all: past memory, the 4 KiB buffer.
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 0);
    let id = rig.container("web");
    let n = 20_000;
    rig.print(&id, T0, 0..n);
    rig.follow(
        &id,
        Mode::NonBlocking {
            max_buffer_bytes: 4096,
        },
    );
    until("dropping", || rig.shipper.counts().lines_dropped > 0).await;
    rig.rt.exit("web", 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    api.logs.unreachable.store(false, Ordering::SeqCst);
    let counts = || rig.shipper.counts();
    until("the rest", || {
        counts().lines_shipped + counts().lines_dropped == n as u64
    })
    .await;
    let stored = rig.stored();
    assert_eq!(stored.len() as u64, n as u64 - counts().lines_dropped);
    assert_eq!(
        stored.last().unwrap(),
        &format!("line {}", n - 1),
        "the newest kept"
    );
    let numbers: Vec<usize> = stored
        .iter()
        .map(|m| m.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
    // Each batch is numbered consecutively: the server's numbers are the lines' own.
    for p in api.logs.puts.lock().unwrap().iter() {
        for b in &p.batches {
            for (i, e) in b.events.iter().enumerate() {
                assert_eq!(e.message, format!("line {}", b.first_sequence + i as u64));
            }
        }
    }
    assert!(counts().bytes_dropped > 0);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn blocking_stops_reading_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    api.logs.unreachable.store(true, Ordering::SeqCst);
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 64 * 1024);
    let id = rig.container("web");
    let n = 20_000;
    rig.print(&id, T0, 0..n);
    rig.follow(&id, Mode::Blocking);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(rig.shipper.shared.budget.used() <= 64 * 1024);
    api.logs.unreachable.store(false, Ordering::SeqCst);
    until("all", || rig.stored().len() == n).await;
    assert_eq!(rig.stored(), lines(0..n));
    assert_eq!(rig.shipper.counts().lines_dropped, 0);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn drained_waits_for_the_last_line_of_an_exited_container() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 1 << 20);
    let id = rig.container("web");
    rig.follow(&id, Mode::Blocking);
    rig.print(&id, T0, 0..5);
    rig.rt.logs.print_raw(&id, T0 + 1, b"no newline at the end");
    api.logs.unreachable.store(true, Ordering::SeqCst);
    rig.rt.exit("web", 0);
    let ids = [id.clone()];
    assert!(!rig.shipper.drained(&ids, Duration::from_secs(2)).await);
    api.logs.unreachable.store(false, Ordering::SeqCst);
    assert!(rig.shipper.drained(&ids, Duration::from_secs(30)).await);
    let mut expected = lines(0..5);
    expected.push("no newline at the end".into());
    assert_eq!(rig.stored(), expected);
    // Finished: a restarted agent does not read it again.
    rig.stop().await;
    assert!(checkpoint::load(dir.path()).unwrap().containers[&id].finished);
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 1 << 20);
    rig.follow(&id, Mode::Blocking);
    assert!(rig.shipper.drained(&ids, Duration::from_millis(1)).await);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_containers_read_lines_still_go_then_it_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    api.logs.unreachable.store(true, Ordering::SeqCst);
    let rig = start(dir.path(), &Arc::new(FakeRuntime::new()), &api, 1 << 20);
    let id = rig.container("web");
    rig.follow(&id, Mode::Blocking);
    rig.print(&id, T0, 0..50);
    rig.rt.exit("web", 0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The cleanup delay passed: the container is removed with its lines unconfirmed.
    rig.shipper.forget(&id);
    assert!(rig.shipper.shared.streams().contains_key(&id));
    api.logs.unreachable.store(false, Ordering::SeqCst);
    until("stored", || rig.stored().len() == 50).await;
    assert_eq!(rig.stored(), lines(0..50));
    until("forgotten", || {
        !rig.shipper.shared.streams().contains_key(&id)
    })
    .await;
    assert_eq!(rig.shipper.shared.positions.get(&id), None);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn many_streams_share_calls_of_at_most_64_batches() {
    let dir = tempfile::tempdir().unwrap();
    let rig = start(
        dir.path(),
        &Arc::new(FakeRuntime::new()),
        &Arc::default(),
        1 << 20,
    );
    for c in 0..100 {
        let id = rig.container(&format!("c{c}"));
        rig.print(&id, T0, 0..5);
        rig.shipper.follow(Target {
            container_id: id.clone(),
            task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/t1".into(),
            stream: LogStreamRef {
                region: "us-east-1".into(),
                log_group_name: "/ecs/web".into(),
                log_stream_name: format!("s{c}"),
            },
            create_group: false,
            mode: Mode::Blocking,
        });
    }
    until("all", || rig.shipper.counts().lines_shipped == 500).await;
    let puts = rig.api.logs.puts.lock().unwrap().clone();
    assert!(puts.iter().all(|p| p.batches.len() <= 64));
    assert!(puts.len() <= 4, "{} calls", puts.len());
    for c in 0..100 {
        assert_eq!(rig.api.logs.stored(&format!("s{c}")).messages, lines(0..5));
    }
    rig.stop().await;
}
