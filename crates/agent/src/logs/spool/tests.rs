//! The spool alone: order through memory, file and overflow, the budget, both modes.

use super::*;

fn line(seq: u64, size: usize) -> Line {
    Line {
        seq,
        timestamp_ms: 1,
        key_ns: 1,
        message: "x".repeat(size),
        resume: Resume::default(),
    }
}

fn seqs(lines: &[Line]) -> Vec<u64> {
    lines.iter().map(|l| l.seq).collect()
}

#[test]
fn lines_overflow_to_the_file_and_come_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c1.spool");
    let budget = Budget::new(10 << 20);
    let mut s = Spool::new(path.clone());
    let n = (MEMORY_BYTES / 1000) as u64 * 3;
    for seq in 0..n {
        assert_eq!(
            s.push(line(seq, 1000 - EVENT_OVERHEAD), Mode::Blocking, &budget),
            Push::Queued
        );
    }
    assert!(s.backlog() && path.exists() && budget.used() > 0);
    let mut got = Vec::new();
    while !s.is_empty() {
        got.extend(s.take(1000, 256 * 1024, &budget));
    }
    assert_eq!(seqs(&got), (0..n).collect::<Vec<_>>());
    assert_eq!(budget.used(), 0);
    assert!(!path.exists(), "an empty spool leaves no file");
}

#[test]
fn blocking_gives_the_line_back_when_the_budget_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget::new(0);
    let mut s = Spool::new(dir.path().join("c1.spool"));
    let mut seq = 0;
    while s.push(line(seq, 1000), Mode::Blocking, &budget) == Push::Queued {
        seq += 1;
    }
    let first_refused = seq;
    let batch = s.take(10, usize::MAX, &budget);
    assert_eq!(batch.len(), 10);
    assert_eq!(
        s.push(line(first_refused, 1000), Mode::Blocking, &budget),
        Push::Queued
    );
}

#[test]
fn non_blocking_drops_the_oldest_beyond_its_buffer_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget::new(0);
    let mode = Mode::NonBlocking {
        max_buffer_bytes: 10 * 100,
    };
    let mut s = Spool::new(dir.path().join("c1.spool"));
    let mut seq = 0;
    while s.push(line(seq, 100 - EVENT_OVERHEAD), mode, &budget) == Push::Queued {
        seq += 1;
    }
    // Memory is full, the overflow holds 10 lines, and the 11th pushed out the oldest.
    assert_eq!(seq, MEMORY_BYTES.div_ceil(100) as u64 + 10);
    let mut dropped = 1;
    for more in 1..5 {
        match s.push(line(seq + more, 100 - EVENT_OVERHEAD), mode, &budget) {
            Push::Dropped(n, bytes) => {
                dropped += n;
                assert_eq!(bytes, 100 * n);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut got = Vec::new();
    while !s.is_empty() {
        got.extend(s.take(1000, usize::MAX, &budget));
    }
    assert_eq!(got.len() as u64, seq + 5 - dropped);
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq), "order kept");
    assert_eq!(got.last().unwrap().seq, seq + 4);
}

#[test]
fn batches_respect_both_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget::new(1 << 20);
    let mut s = Spool::new(dir.path().join("c1.spool"));
    for seq in 0..50 {
        s.push(line(seq, 10_000 - EVENT_OVERHEAD), Mode::Blocking, &budget);
    }
    assert_eq!(s.take(1000, 25_000, &budget).len(), 2);
    assert_eq!(s.take(3, usize::MAX, &budget).len(), 3);
    assert_eq!(s.ready().0, 45);
}
