//! The fast selector: the rank stage's answer in logarithmic time per task, for chains
//! whose `spread(attribute:...)` strategies all come before the per-instance keys (the
//! usual shapes: `spread(zone)`, `spread(zone), spread(instanceId)`, `spread(zone),
//! binpack(memory)`, `binpack(memory)`, `random`).
//!
//! Candidates are grouped into *cells*, one per combination of spread buckets, since every
//! instance of a cell shares the bucket keys. Each cell keeps its instances in a min-heap by
//! the per-instance keys (built in linear time), or, when only `random` follows the
//! buckets, in a plain list to draw from. Choosing a task scans the non-empty cells (few:
//! zones times instance types, say) and pops one instance. Only the chosen instance
//! changes, so it alone is re-filtered and pushed back; no other entry ever goes stale.
//!
//! It picks exactly what [`crate::rank::Scan`] picks for chains without `random`, and a
//! choice from the same distribution for chains with it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::Rng;

use crate::filter::Work;
use crate::rank::{Level, Ranker, TAIL};

/// Per-instance keys, then the shuffle (which ends in the instance index).
type Entry = ([i64; TAIL], u64);

const NO_CELL: u32 = u32::MAX;

/// The instance index inside a shuffle value.
fn index(shuffle: u64) -> u32 {
    (shuffle & 0xFFFF_FFFF) as u32
}

/// Candidates grouped by their spread buckets.
pub(crate) struct Cells {
    /// How many leading bucket levels the cells stand for.
    prefix: usize,
    /// The per-instance keys after them.
    tail: Vec<Level>,
    random: bool,
    cells: Vec<Cell>,
    cell_of: Vec<u32>,
    tied: Vec<usize>,
    scratch: Vec<(usize, Entry)>,
}

struct Cell {
    /// The instance's bucket at each bucket level.
    path: Vec<u32>,
    members: Members,
}

enum Members {
    /// Min-heap by per-instance keys.
    Heap(BinaryHeap<Reverse<Entry>>),
    /// Unordered; drawn from uniformly.
    Uniform(Vec<u32>),
}

impl Members {
    fn len(&self) -> usize {
        match self {
            Members::Heap(h) => h.len(),
            Members::Uniform(v) => v.len(),
        }
    }
}

impl Cells {
    /// Indexes `candidates` (instance indices), `prefix` being
    /// [`Chain::bucket_prefix`](crate::rank::Chain::bucket_prefix).
    pub fn new(
        ranker: &Ranker,
        works: &[Work],
        candidates: &[usize],
        prefix: usize,
        instances: usize,
    ) -> Self {
        let tail = ranker.chain.levels[prefix..].to_vec();
        let random = ranker.chain.random;
        let uniform = random && tail.is_empty();
        let mut cells = Cells {
            prefix,
            tail,
            random,
            cells: Vec::new(),
            cell_of: vec![NO_CELL; instances],
            tied: Vec::new(),
            scratch: Vec::new(),
        };
        let mut by_bucket: Vec<u32> = Vec::new(); // with at most one bucket level
        let mut by_path: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut parts: Vec<Vec<Entry>> = Vec::new();
        for &i in candidates {
            let path = || -> Vec<u32> { (0..prefix).map(|n| ranker.bucket_of[n][i]).collect() };
            let slot = if prefix <= 1 {
                let b = if prefix == 1 {
                    ranker.bucket_of[0][i] as usize
                } else {
                    0
                };
                if by_bucket.len() <= b {
                    by_bucket.resize(b + 1, NO_CELL);
                }
                &mut by_bucket[b]
            } else {
                by_path.entry(path()).or_insert(NO_CELL)
            };
            if *slot == NO_CELL {
                *slot = u32::try_from(parts.len()).unwrap_or(NO_CELL - 1);
                cells.cells.push(Cell {
                    path: path(),
                    members: Members::Uniform(Vec::new()),
                });
                parts.push(Vec::new());
            }
            let cell = *slot;
            cells.cell_of[i] = cell;
            let entry = cells.entry(ranker, works, i);
            parts[cell as usize].push(entry);
        }
        for (cell, part) in cells.cells.iter_mut().zip(parts) {
            cell.members = if uniform {
                Members::Uniform(part.into_iter().map(|e| index(e.1)).collect())
            } else {
                Members::Heap(part.into_iter().map(Reverse).collect())
            };
        }
        cells
    }

    fn entry(&self, ranker: &Ranker, works: &[Work], i: usize) -> Entry {
        let mut key = [0i64; TAIL];
        for (k, level) in key.iter_mut().zip(&self.tail) {
            *k = ranker.key(*level, i, &works[i]);
        }
        (key, ranker.shuffle(i))
    }

    /// The best entry of a cell (its head), if it is a heap.
    fn head(&self, c: usize) -> Option<&Entry> {
        match &self.cells[c].members {
            Members::Heap(h) => h.peek().map(|r| &r.0),
            Members::Uniform(_) => None,
        }
    }

    /// Orders two non-empty cells by bucket counts, then by their heads.
    fn compare(&self, ranker: &Ranker, a: usize, b: usize) -> Ordering {
        let (pa, pb) = (&self.cells[a].path, &self.cells[b].path);
        for n in 0..self.prefix {
            let count = |p: &[u32]| ranker.counts[n][p[n] as usize];
            match count(pa).cmp(&count(pb)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (self.head(a), self.head(b)) {
            (Some(x), Some(y)) if self.random => x.0.cmp(&y.0),
            (Some(x), Some(y)) => x.cmp(y),
            _ => Ordering::Equal,
        }
    }

    /// Takes the best candidate out of its cell.
    pub fn pick(&mut self, ranker: &Ranker, rng: &mut StdRng) -> Option<usize> {
        let mut tied = std::mem::take(&mut self.tied);
        tied.clear();
        for c in 0..self.cells.len() {
            if self.cells[c].members.len() == 0 {
                continue;
            }
            match tied.first().map(|&b| self.compare(ranker, c, b)) {
                None | Some(Ordering::Equal) => tied.push(c),
                Some(Ordering::Less) => {
                    tied.clear();
                    tied.push(c);
                }
                Some(Ordering::Greater) => {}
            }
        }
        let picked = self.take_from(&tied, rng);
        self.tied = tied;
        picked
    }

    /// Takes one candidate out of the tied cells: the head when ties are broken by the
    /// shuffle, else one drawn uniformly from every instance tied across them.
    fn take_from(&mut self, tied: &[usize], rng: &mut StdRng) -> Option<usize> {
        let &first = tied.first()?;
        if !self.random {
            return match &mut self.cells[first].members {
                Members::Heap(h) => h.pop().map(|r| index(r.0 .1) as usize),
                Members::Uniform(v) => v.pop().map(|i| i as usize),
            };
        }
        if let Members::Uniform(_) = self.cells[first].members {
            let total: usize = tied.iter().map(|&c| self.cells[c].members.len()).sum();
            let mut r = rng.random_range(0..total);
            for &c in tied {
                if let Members::Uniform(v) = &mut self.cells[c].members {
                    if r < v.len() {
                        return Some(v.swap_remove(r) as usize);
                    }
                    r -= v.len();
                }
            }
            return None;
        }
        // Heaps with `random` last: gather every entry tied with the best key.
        let best = self.head(first)?.0;
        self.scratch.clear();
        for &c in tied {
            if let Members::Heap(h) = &mut self.cells[c].members {
                while h.peek().is_some_and(|r| r.0 .0 == best) {
                    if let Some(Reverse(e)) = h.pop() {
                        self.scratch.push((c, e));
                    }
                }
            }
        }
        if self.scratch.is_empty() {
            return None;
        }
        let chosen = self
            .scratch
            .swap_remove(rng.random_range(0..self.scratch.len()));
        for (c, e) in self.scratch.drain(..) {
            if let Members::Heap(h) = &mut self.cells[c].members {
                h.push(Reverse(e));
            }
        }
        Some(index(chosen.1 .1) as usize)
    }

    /// Puts a candidate that was picked before back in its cell, under its new keys.
    pub fn insert(&mut self, ranker: &Ranker, works: &[Work], i: usize) {
        let Some(&c) = self.cell_of.get(i).filter(|c| **c != NO_CELL) else {
            return;
        };
        let entry = self.entry(ranker, works, i);
        match &mut self.cells[c as usize].members {
            Members::Heap(h) => h.push(Reverse(entry)),
            Members::Uniform(v) => v.push(i as u32),
        }
    }
}
