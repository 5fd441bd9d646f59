//! Reading tests: GetLogEvents paging both ways and following, FilterLogEvents paging
//! while events arrive and its stream selection, DescribeLogStreams, foreign tokens.

use super::super::*;
use super::{events, messages, small, G};
use std::collections::HashSet;

#[test]
fn paging_backward_from_the_end_then_forward_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    let s = G.stream("a");
    store.create_stream(s, 0).unwrap();
    let ts: Vec<i64> = (0..25).collect();
    for chunk in ts.chunks(3) {
        store.append(s, &events(chunk, "e"), 1, None).unwrap();
    }
    let last = store
        .get_events(
            s,
            &GetEvents {
                limit: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    let stamps = |p: &EventsPage| p.events.iter().map(|e| e.timestamp).collect::<Vec<_>>();
    assert_eq!(stamps(&last), (15..25).collect::<Vec<_>>());
    let back = GetEvents {
        limit: Some(10),
        token: Some(&last.next_backward_token),
        ..Default::default()
    };
    let earlier = store.get_events(s, &back).unwrap();
    assert_eq!(stamps(&earlier), (5..15).collect::<Vec<_>>());
    let back = GetEvents {
        limit: Some(10),
        token: Some(&earlier.next_backward_token),
        ..Default::default()
    };
    let first = store.get_events(s, &back).unwrap();
    assert_eq!(stamps(&first), (0..5).collect::<Vec<_>>());
    let back = GetEvents {
        limit: Some(10),
        token: Some(&first.next_backward_token),
        ..Default::default()
    };
    let none = store.get_events(s, &back).unwrap();
    assert!(none.events.is_empty());
    assert_eq!(none.next_backward_token, first.next_backward_token);
    let fwd = GetEvents {
        limit: Some(10),
        token: Some(&first.next_forward_token),
        ..Default::default()
    };
    assert_eq!(
        stamps(&store.get_events(s, &fwd).unwrap()),
        (5..15).collect::<Vec<_>>()
    );
    let fwd = GetEvents {
        limit: Some(10),
        token: Some(&last.next_forward_token),
        ..Default::default()
    };
    let end = store.get_events(s, &fwd).unwrap();
    assert!(end.events.is_empty());
    assert_eq!(end.next_forward_token, last.next_forward_token);
}

#[test]
fn a_follow_sees_every_new_event_once_late_ones_included() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    let s = G.stream("a");
    store.create_stream(s, 0).unwrap();
    store.append(s, &events(&[100, 200], "a"), 1, None).unwrap();
    let head = GetEvents {
        start_from_head: true,
        limit: Some(3),
        ..Default::default()
    };
    let page = store.get_events(s, &head).unwrap();
    assert_eq!(page.events.len(), 2);
    let mut token = page.next_forward_token;
    let mut seen: Vec<String> = messages(&page.events);
    // New events, some older than what was read already, some tied with it.
    for (round, batch) in [vec![300, 50], vec![200, 10, 400, 20, 30], vec![], vec![5]]
        .iter()
        .enumerate()
    {
        store
            .append(s, &events(batch, &format!("r{round}")), 2, None)
            .unwrap();
        loop {
            let req = GetEvents {
                token: Some(&token),
                limit: Some(2),
                ..Default::default()
            };
            let page = store.get_events(s, &req).unwrap();
            if page.events.is_empty() {
                assert_eq!(
                    page.next_forward_token, token,
                    "an idle follow keeps its token"
                );
                break;
            }
            seen.extend(messages(&page.events));
            token = page.next_forward_token;
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice: {seen:?}");
    assert_eq!(seen.len(), 10);
}

#[test]
fn filter_pages_never_repeat_or_skip_while_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open_with(dir.path(), small()).unwrap();
    let names = ["a", "b", "c"];
    for (i, n) in names.iter().enumerate() {
        store.create_stream(G.stream(n), 0).unwrap();
        let ts: Vec<i64> = (0..20).map(|t| t * 3 + i as i64 % 2).collect();
        store.append(G.stream(n), &events(&ts, n), 1, None).unwrap();
    }
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let req = FilterEvents {
            limit: Some(7),
            token: token.as_deref(),
            ..Default::default()
        };
        let page = store.filter_events(G, &req).unwrap();
        assert!(page
            .events
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp));
        seen.extend(
            page.events
                .iter()
                .map(|e| (e.stream.clone(), e.message.clone(), e.event_id.clone())),
        );
        pages += 1;
        // Events arrive between pages: some later than the cursor, some older.
        store
            .append(
                G.stream("b"),
                &events(&[pages * 5, 1000 + pages], "late"),
                2,
                None,
            )
            .unwrap();
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let ids: HashSet<_> = seen.iter().map(|s| s.2.clone()).collect();
    assert_eq!(ids.len(), seen.len(), "an event repeated");
    for n in names {
        for i in 0..20 {
            let m = format!("{n}-{i} at {}", i * 3 + i64::from(n == "b"));
            assert!(
                seen.iter().any(|s| s.0 == n && s.1 == m),
                "{m} of {n} skipped"
            );
        }
    }
}

#[test]
fn filter_reads_selected_streams_newest_first_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    for n in ["web/1", "web/2", "db/1"] {
        store.create_stream(G.stream(n), 0).unwrap();
        store
            .append(G.stream(n), &events(&[1, 2, 3], n), 1, None)
            .unwrap();
    }
    let req = FilterEvents {
        streams: StreamSelector::Prefix("web/"),
        limit: Some(4),
        newest_first: true,
        ..Default::default()
    };
    let page = store.filter_events(G, &req).unwrap();
    let stamps: Vec<_> = page
        .events
        .iter()
        .map(|e| (e.timestamp, e.stream.as_str()))
        .collect();
    assert_eq!(
        stamps,
        [(3, "web/2"), (3, "web/1"), (2, "web/2"), (2, "web/1")]
    );
    assert_eq!(page.searched_streams.len(), 2);
    let rest = FilterEvents {
        token: page.next_token.as_deref(),
        ..req
    };
    let page = store.filter_events(G, &rest).unwrap();
    assert_eq!(page.events.len(), 2);
    assert_eq!(page.next_token, None);
    let names = vec!["db/1".to_owned()];
    let req = FilterEvents {
        streams: StreamSelector::Names(&names),
        start: Some(2),
        end: Some(3),
        ..Default::default()
    };
    assert_eq!(store.filter_events(G, &req).unwrap().events.len(), 1);
    let pattern = crate::logs::pattern::parse(r#""web/2" ?"at 2" ?"at 3""#).unwrap();
    let req = FilterEvents {
        pattern: Some(&pattern),
        newest_first: true,
        ..Default::default()
    };
    let matched = store.filter_events(G, &req).unwrap().events;
    assert_eq!(
        matched.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
        [3, 2]
    );
    let bad = FilterEvents {
        token: Some("nope"),
        ..Default::default()
    };
    assert!(matches!(
        store.filter_events(G, &bad),
        Err(StoreError::InvalidToken)
    ));
}

#[test]
fn streams_list_by_name_or_last_event_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    for (n, t) in [("b", 30), ("a", 10), ("c", 20), ("x", 5)] {
        store.create_stream(G.stream(n), 0).unwrap();
        store
            .append(G.stream(n), &events(&[t], n), t, None)
            .unwrap();
    }
    let names = |p: &StreamPage| p.streams.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let req = ListStreams {
        limit: Some(2),
        prefix: Some("a"),
        ..Default::default()
    };
    assert_eq!(names(&store.list_streams(G, &req).unwrap()), ["a"]);
    let req = ListStreams {
        limit: Some(3),
        ..Default::default()
    };
    let page = store.list_streams(G, &req).unwrap();
    assert_eq!(names(&page), ["a", "b", "c"]);
    let next = ListStreams {
        token: page.next_token.as_deref(),
        ..req
    };
    let page = store.list_streams(G, &next).unwrap();
    assert_eq!(
        (names(&page), page.next_token),
        (vec!["x".to_owned()], None)
    );
    let req = ListStreams {
        order: StreamOrder::LastEventTime,
        descending: true,
        limit: Some(2),
        ..Default::default()
    };
    let page = store.list_streams(G, &req).unwrap();
    assert_eq!(names(&page), ["b", "c"]);
    let next = ListStreams {
        token: page.next_token.as_deref(),
        ..req
    };
    assert_eq!(names(&store.list_streams(G, &next).unwrap()), ["a", "x"]);
    let info = &page.streams[0];
    assert_eq!(
        (info.last_event_timestamp, info.last_ingestion_time),
        (Some(30), Some(30))
    );
    assert!(info.stored_bytes > 0);
}

#[test]
fn foreign_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let s = G.stream("a");
    store.create_stream(s, 0).unwrap();
    for bad in ["", "f/", "f/12", "b/1x", "x/1000", "s/10"] {
        let req = GetEvents {
            token: Some(bad),
            ..Default::default()
        };
        assert!(
            matches!(store.get_events(s, &req), Err(StoreError::InvalidToken)),
            "{bad}"
        );
    }
    let req = ListStreams {
        token: Some("s/1zz"),
        ..Default::default()
    };
    assert!(matches!(
        store.list_streams(G, &req),
        Err(StoreError::InvalidToken)
    ));
}

#[test]
fn a_page_stops_at_a_megabyte() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let s = G.stream("big");
    store.create_stream(s, 0).unwrap();
    let big: Vec<InputEvent> = (0..20)
        .map(|i| InputEvent {
            timestamp: i,
            message: format!("{i:02}{}", "x".repeat(100_000)),
        })
        .collect();
    store.append(s, &big, 1, None).unwrap();
    // 10 events of 100,028 bytes (as CloudWatch counts them) fit in 1 MiB, 11 do not.
    let last = store.get_events(s, &GetEvents::default()).unwrap();
    let stamps: Vec<i64> = last.events.iter().map(|e| e.timestamp).collect();
    assert_eq!(stamps, (10..20).collect::<Vec<_>>());
    let back = GetEvents {
        token: Some(&last.next_backward_token),
        ..Default::default()
    };
    assert_eq!(store.get_events(s, &back).unwrap().events.len(), 10);
    let page = store.filter_events(G, &FilterEvents::default()).unwrap();
    assert_eq!(page.events.len(), 10);
    let rest = FilterEvents {
        token: page.next_token.as_deref(),
        ..Default::default()
    };
    let page = store.filter_events(G, &rest).unwrap();
    assert_eq!((page.events.len(), page.next_token), (10, None));
}
