//! Property tests of the store against a model (a plain list of what was appended):
//! paging GetLogEvents and FilterLogEvents in either direction yields exactly the
//! model's events in order, and a follow interleaved with appends sees each event once.

use super::super::*;
use super::{all_forward, small, G};
use proptest::prelude::*;
use std::collections::HashSet;

const NAMES: [&str; 3] = ["a", "b", "c"];

/// Batches of (stream, timestamps).
fn batches() -> impl Strategy<Value = Vec<(usize, Vec<i64>)>> {
    prop::collection::vec((0..3usize, prop::collection::vec(0..40i64, 0..6)), 1..25)
}

/// Appends the batches; returns each event as (timestamp, stream, message) in arrival order.
fn load(store: &LogStore, batches: &[(usize, Vec<i64>)]) -> Vec<(i64, usize, String)> {
    for n in NAMES {
        store.create_stream(G.stream(n), 0).unwrap();
    }
    let mut model = Vec::new();
    for (b, (s, stamps)) in batches.iter().enumerate() {
        let events: Vec<InputEvent> = stamps
            .iter()
            .enumerate()
            .map(|(i, t)| InputEvent {
                timestamp: *t,
                message: format!("{b}.{i}"),
            })
            .collect();
        store
            .append(G.stream(NAMES[*s]), &events, b as i64, None)
            .unwrap();
        model.extend(events.into_iter().map(|e| (e.timestamp, *s, e.message)));
    }
    model
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn pages_give_exactly_the_model(batches in batches(), limit in 1..7usize, forward: bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open_with(dir.path(), small()).unwrap();
        let model = load(&store, &batches);
        // GetLogEvents of one stream: by timestamp, ties in arrival order (a stable sort).
        let mut want: Vec<_> = model.iter().filter(|e| e.1 == 0).collect();
        want.sort_by_key(|e| e.0);
        let got = all_forward(&store, G.stream("a"), limit);
        let got: Vec<_> = got.iter().map(|e| (e.timestamp, e.message.clone())).collect();
        prop_assert_eq!(got, want.iter().map(|e| (e.0, e.2.clone())).collect::<Vec<_>>());
        // FilterLogEvents of the group: by timestamp, then stream, then arrival.
        let mut want: Vec<_> = model.clone();
        want.sort_by_key(|e| (e.0, e.1));
        if !forward {
            // Newest first: the same order reversed, ties too.
            want.reverse();
        }
        let mut token: Option<String> = None;
        let mut got = Vec::new();
        loop {
            let req = FilterEvents { limit: Some(limit), token: token.as_deref(), newest_first: !forward, ..Default::default() };
            let page = store.filter_events(G, &req).unwrap();
            prop_assert!(page.events.len() <= limit);
            got.extend(page.events.into_iter().map(|e| (e.timestamp, e.stream, e.message)));
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let name = |s: usize| NAMES[s].to_owned();
        let want: Vec<_> = want.into_iter().map(|(t, s, m)| (t, name(s), m)).collect();
        let got_keys: Vec<_> = got.iter().map(|e| (e.0, e.1.clone())).collect();
        let want_keys: Vec<_> = want.iter().map(|e| (e.0, e.1.clone())).collect();
        prop_assert_eq!(got_keys, want_keys);
        let got_set: HashSet<_> = got.into_iter().collect();
        prop_assert_eq!(got_set, want.into_iter().collect::<HashSet<_>>());
    }

    #[test]
    fn a_follow_sees_each_event_once(batches in batches(), limit in 1..5usize) {
        // Each batch's stream number stands for how many polls follow it.
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open_with(dir.path(), small()).unwrap();
        let s = G.stream("a");
        store.create_stream(s, 0).unwrap();
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        let mut sent = 0;
        for (b, (polls, stamps)) in batches.iter().enumerate() {
            let events: Vec<InputEvent> = stamps
                .iter()
                .enumerate()
                .map(|(i, t)| InputEvent { timestamp: *t, message: format!("{b}.{i}") })
                .collect();
            sent += events.len();
            store.append(s, &events, 1, None).unwrap();
            for _ in 0..*polls {
                let req = GetEvents { token: token.as_deref(), start_from_head: true, limit: Some(limit), ..Default::default() };
                let page = store.get_events(s, &req).unwrap();
                seen.extend(page.events.into_iter().map(|e| e.message));
                token = Some(page.next_forward_token);
            }
        }
        loop {
            let req = GetEvents { token: token.as_deref(), start_from_head: true, limit: Some(limit), ..Default::default() };
            let page = store.get_events(s, &req).unwrap();
            if page.events.is_empty() {
                break;
            }
            seen.extend(page.events.into_iter().map(|e| e.message));
            token = Some(page.next_forward_token);
        }
        let unique: HashSet<_> = seen.iter().collect();
        prop_assert_eq!(unique.len(), seen.len());
        prop_assert_eq!(seen.len(), sent);
    }
}
