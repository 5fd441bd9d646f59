//! The store's tests: streams, appends and their durability, recovery from a torn tail,
//! sequence dedupe, GetLogEvents paging and following, FilterLogEvents paging while
//! events arrive, listing, retention and many streams behind a small file cache.

mod bench;
mod model;
mod reads;

use super::*;

pub(super) const G: GroupId<'static> = GroupId {
    region: "us-east-1",
    name: "/ecs/web",
};

pub(super) fn small() -> Limits {
    Limits {
        max_open_files: 8,
        segment_bytes: 4096,
        segment_records: 8,
        block_bytes: 512,
    }
}

pub(super) fn events(ts: &[i64], tag: &str) -> Vec<InputEvent> {
    ts.iter()
        .enumerate()
        .map(|(i, t)| InputEvent {
            timestamp: *t,
            message: format!("{tag}-{i} at {t}"),
        })
        .collect()
}

pub(super) fn messages(events: &[LogEvent]) -> Vec<String> {
    events.iter().map(|e| e.message.clone()).collect()
}

pub(super) fn all_forward(store: &LogStore, id: StreamId, limit: usize) -> Vec<LogEvent> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = GetEvents {
            start_from_head: true,
            limit: Some(limit),
            token: token.as_deref(),
            ..Default::default()
        };
        let page = store.get_events(id, &req).unwrap();
        if page.events.is_empty() {
            if let Some(t) = token {
                assert_eq!(t, page.next_forward_token, "the end gives the token back");
            }
            return out;
        }
        out.extend(page.events);
        token = Some(page.next_forward_token);
    }
}

#[test]
fn the_handle_is_cheap_to_share_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<LogStore>();
    shareable::<crate::logs::pattern::Pattern>();
    shareable::<crate::logs::insights::Query>();
}

#[test]
fn streams_are_created_once_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let s = G.stream("a");
    store.create_stream(s, 1000).unwrap();
    assert!(matches!(
        store.create_stream(s, 1000),
        Err(StoreError::StreamExists)
    ));
    store.append(s, &events(&[5], "x"), 10, None).unwrap();
    store.delete_stream(s).unwrap();
    assert!(matches!(
        store.delete_stream(s),
        Err(StoreError::StreamNotFound)
    ));
    assert!(matches!(
        store.append(s, &events(&[5], "x"), 10, None),
        Err(StoreError::StreamNotFound)
    ));
    store.create_stream(s, 2000).unwrap();
    assert!(all_forward(&store, s, 10).is_empty());
    assert_eq!(store.stream_info(s).unwrap().creation_time, 2000);
    store.create_stream(G.stream("b"), 1).unwrap();
    assert_eq!(store.delete_group(G).unwrap(), 2);
    assert_eq!(store.stored_bytes(G), 0);
}

#[test]
fn a_stream_created_by_racing_calls_is_created_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.create_stream(G.stream("a"), 0).is_ok())
        })
        .collect();
    let created = threads.into_iter().map(|t| t.join().unwrap());
    assert_eq!(created.filter(|ok| *ok).count(), 1);
    assert_eq!(fs::read_dir(dir.path().join("streams")).unwrap().count(), 1);
}

#[test]
fn events_read_in_timestamp_order_with_ties_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    let s = G.stream("a");
    store.create_stream(s, 0).unwrap();
    store
        .append(s, &events(&[30, 10, 20], "first"), 100, None)
        .unwrap();
    store
        .append(s, &events(&[10, 40], "second"), 101, None)
        .unwrap();
    let got = all_forward(&store, s, 2);
    let want = [
        "first-1 at 10",
        "second-0 at 10",
        "first-2 at 20",
        "first-0 at 30",
        "second-1 at 40",
    ];
    assert_eq!(messages(&got), want);
    assert_eq!(got[1].ingestion_time, 101);
    let info = store.stream_info(s).unwrap();
    assert_eq!(
        (info.first_event_timestamp, info.last_event_timestamp),
        (Some(10), Some(40))
    );
    assert_eq!(info.last_ingestion_time, Some(101));
    // A time range is [start, end).
    let req = GetEvents {
        start: Some(10),
        end: Some(30),
        start_from_head: true,
        ..Default::default()
    };
    assert_eq!(store.get_events(s, &req).unwrap().events.len(), 3);
}

#[test]
fn sequences_drop_resent_lines_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = G.stream("a");
    {
        let store = LogStore::open_with(dir.path(), small()).unwrap();
        store.create_stream(s, 0).unwrap();
        assert_eq!(store.next_sequence(s).unwrap(), 0);
        let done = store
            .append(s, &events(&[1, 2, 3], "a"), 1, Some(0))
            .unwrap();
        assert_eq!(
            done,
            Appended {
                stored: 3,
                next_sequence: 3
            }
        );
        let done = store
            .append(s, &events(&[1, 2, 3, 4, 5], "a"), 1, Some(0))
            .unwrap();
        assert_eq!(
            done,
            Appended {
                stored: 2,
                next_sequence: 5
            }
        );
        // Without a sequence nothing is deduplicated and the sequence stays.
        let done = store.append(s, &events(&[6], "free"), 1, None).unwrap();
        assert_eq!(
            done,
            Appended {
                stored: 1,
                next_sequence: 5
            }
        );
    }
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert_eq!(store.next_sequence(s).unwrap(), 5);
    let done = store
        .append(s, &events(&[4, 5, 6], "a"), 1, Some(3))
        .unwrap();
    assert_eq!(
        done,
        Appended {
            stored: 1,
            next_sequence: 6
        }
    );
    assert_eq!(all_forward(&store, s, 100).len(), 7);
    // Past a seal (8 records) the sequence is kept in the sealed segment.
    for i in 6..20 {
        store
            .append(s, &events(&[i], "b"), 1, Some(i as u64))
            .unwrap();
    }
    drop(store);
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert_eq!(store.next_sequence(s).unwrap(), 20);
    assert_eq!(all_forward(&store, s, 100).len(), 21);
}

fn active_file(dir: &Path) -> PathBuf {
    let streams = fs::read_dir(dir.join("streams")).unwrap();
    let stream = streams.map(|e| e.unwrap().path()).next().unwrap();
    let mut files = fs::read_dir(stream).unwrap().map(|e| e.unwrap().path());
    files
        .find(|p| p.to_string_lossy().ends_with(".log"))
        .unwrap()
}

#[test]
fn a_torn_tail_is_cut_on_open_and_acknowledged_events_stay() {
    let dir = tempfile::tempdir().unwrap();
    let s = G.stream("a");
    {
        let store = LogStore::open(dir.path()).unwrap();
        store.create_stream(s, 0).unwrap();
        store
            .append(s, &events(&[1, 2], "kept"), 1, Some(0))
            .unwrap();
        store
            .append(s, &events(&[3, 4], "torn"), 1, Some(2))
            .unwrap();
    }
    let path = active_file(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    // The second record loses its last bytes, as if the machine died while writing it.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(
        messages(&all_forward(&store, s, 10)),
        ["kept-0 at 1", "kept-1 at 2"]
    );
    assert_eq!(store.next_sequence(s).unwrap(), 2);
    store
        .append(s, &events(&[3, 4], "again"), 1, Some(2))
        .unwrap();
    drop(store);
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(all_forward(&store, s, 10).len(), 4);
    // A flipped byte inside a record fails its checksum: it and what follows are cut.
    let path = active_file(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    assert_eq!(all_forward(&store, s, 10).len(), 2);
}

#[test]
fn sealed_segments_read_like_the_active_one_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = G.stream("a");
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    store.create_stream(s, 0).unwrap();
    for i in 0..50i64 {
        store
            .append(s, &events(&[i * 10, i * 10 + 5], "x"), i, None)
            .unwrap();
    }
    let sealed = fs::read_dir(active_file(dir.path()).parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert!(sealed >= 5, "{sealed} sealed segments");
    let before = all_forward(&store, s, 7);
    assert_eq!(before.len(), 100);
    assert!(before.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let req = GetEvents {
        start: Some(200),
        end: Some(260),
        start_from_head: true,
        ..Default::default()
    };
    assert_eq!(store.get_events(s, &req).unwrap().events.len(), 12);
    drop(store);
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert_eq!(all_forward(&store, s, 1000), before);
}

#[test]
fn a_crash_between_sealing_and_removing_the_active_segment_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = G.stream("a");
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    store.create_stream(s, 0).unwrap();
    for i in 0..7 {
        store
            .append(s, &events(&[i], "x"), 1, Some(i as u64))
            .unwrap();
    }
    let active = active_file(dir.path());
    let copy = fs::read(&active).unwrap();
    // The eighth record fills the segment: it is sealed and a new one started.
    store.append(s, &events(&[7], "x"), 1, Some(7)).unwrap();
    drop(store);
    assert!(!active.exists());
    fs::write(&active, copy).unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert!(!active.exists(), "the stale active segment is removed");
    assert_eq!(all_forward(&store, s, 100).len(), 8);
    assert_eq!(store.next_sequence(s).unwrap(), 8);
}

#[test]
fn retention_drops_old_segments_and_hides_old_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = G.stream("a");
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    store.create_stream(s, 0).unwrap();
    for i in 0..40i64 {
        store.append(s, &events(&[i], "x"), i, None).unwrap();
    }
    let bytes = store.stored_bytes(G);
    let freed = store.expire(G, 25).unwrap();
    assert!(freed > 0);
    assert_eq!(store.stored_bytes(G), bytes - freed);
    let left = all_forward(&store, s, 100);
    assert_eq!(left.first().map(|e| e.timestamp), Some(25));
    assert_eq!(left.len(), 15);
    assert_eq!(
        store.stream_info(s).unwrap().first_event_timestamp,
        Some(25)
    );
    drop(store);
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert_eq!(all_forward(&store, s, 100).len(), 15);
    // Everything expired: the active segment goes too, and the ordinals continue.
    store.expire(G, 1000).unwrap();
    assert!(all_forward(&store, s, 100).is_empty());
    assert_eq!(store.stream_info(s).unwrap().last_event_timestamp, None);
    store.append(s, &events(&[2000], "new"), 1, None).unwrap();
    drop(store);
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    assert_eq!(messages(&all_forward(&store, s, 100)), ["new-0 at 2000"]);
}

#[test]
fn many_streams_share_a_few_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    let names: Vec<String> = (0..60).map(|i| format!("task/{i:03}")).collect();
    for round in 0..3i64 {
        for (i, name) in names.iter().enumerate() {
            let s = G.stream(name);
            if round == 0 {
                store.create_stream(s, 0).unwrap();
            }
            store
                .append(s, &events(&[round * 100 + i as i64; 4], name), 1, None)
                .unwrap();
        }
    }
    assert!(store.shared.files.len() <= 8);
    for name in &names {
        assert_eq!(all_forward(&store, G.stream(name), 5).len(), 12);
    }
    let req = FilterEvents {
        ..Default::default()
    };
    assert_eq!(store.filter_events(G, &req).unwrap().events.len(), 720);
}

#[test]
fn concurrent_appenders_share_syncs_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    for n in 0..4 {
        store.create_stream(G.stream(&n.to_string()), 0).unwrap();
    }
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let name = (t % 4).to_string();
                for i in 0..25 {
                    store
                        .append(G.stream(&name), &events(&[i, i + 1], "c"), 1, None)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for n in 0..4 {
        assert_eq!(all_forward(&store, G.stream(&n.to_string()), 33).len(), 100);
    }
}
