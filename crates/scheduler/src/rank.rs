//! The rank stage: among the instances that passed every filter, which one takes the next
//! task. Strategies are chained in the order given; the first decides and each later one
//! only breaks the ties left by those before it.
//!
//! Every strategy is a key to minimise:
//! - `binpack(memory)` / `binpack(cpu)`: what the instance has left, so the fullest
//!   instance that still fits is filled before the next one is touched;
//! - `spread(attribute:X)`: the tasks of the group in the instance's bucket (its value of
//!   X; instances without X form one more bucket), counting the group's tasks already in
//!   the cluster and those placed by this plan;
//! - `spread(instanceId)`: the tasks of the group on the instance itself;
//! - `random`: none. It makes the choice uniform among the instances tied on the keys
//!   before it, anew for every task. Strategies after `random` can never matter and are
//!   dropped; no strategy at all means `random`, ECS's RunTask default.
//!
//! Ties a chain without `random` leaves are broken by a shuffle of the instances drawn
//! from the request's seed, fixed for the call, so plans are reproducible and yet repeated
//! calls do not all favour the first instances.
//!
//! This module also holds the reference selector, a scan over every candidate per task.
//! It serves chains the fast selector ([`crate::select`]) cannot index and is what the
//! property tests hold the fast selector to.

use std::cmp::Ordering;
use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::Rng;

use crate::filter::Work;
use crate::request::{BinpackField, SpreadField, Strategy};
use crate::snapshot::InstanceState;

/// The most per-instance keys the fast selector indexes: CPU, memory and tasks on the
/// instance, each at most once (a repeated key breaks no tie).
pub(crate) const TAIL: usize = 3;

/// One key of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// Tasks of the group in the instance's bucket of attribute spread `n`.
    Bucket(usize),
    /// CPU left.
    Cpu,
    /// Memory left.
    Memory,
    /// Tasks of the group on the instance.
    OnInstance,
}

/// The request's strategies as keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain<'a> {
    pub levels: Vec<Level>,
    /// Attribute of each bucket level, by `Level::Bucket` index.
    pub attributes: Vec<&'a str>,
    /// Whether the last choice among ties is random (per task) rather than the shuffle.
    pub random: bool,
}

impl<'a> Chain<'a> {
    pub fn new(strategies: &'a [Strategy]) -> Self {
        let mut chain = Chain {
            levels: Vec::new(),
            attributes: Vec::new(),
            random: strategies.is_empty(),
        };
        for s in strategies {
            let level = match s {
                Strategy::Random => {
                    chain.random = true;
                    break;
                }
                Strategy::Binpack(BinpackField::Cpu) => Level::Cpu,
                Strategy::Binpack(BinpackField::Memory) => Level::Memory,
                Strategy::Spread(SpreadField::InstanceId) => Level::OnInstance,
                Strategy::Spread(SpreadField::Attribute(name)) => {
                    chain.attributes.push(name);
                    Level::Bucket(chain.attributes.len() - 1)
                }
            };
            // A key repeated later can break no tie the first did not.
            if !chain.levels.contains(&level) || matches!(level, Level::Bucket(_)) {
                chain.levels.push(level);
            }
        }
        chain
    }

    /// Whether the keys read the group's task counts.
    pub fn counts_group(&self) -> bool {
        self.levels
            .iter()
            .any(|l| matches!(l, Level::Bucket(_) | Level::OnInstance))
    }

    /// The number of leading bucket levels, if every bucket level leads (so the fast
    /// selector can group instances into cells by bucket) and the rest fit its keys.
    pub fn bucket_prefix(&self) -> Option<usize> {
        let prefix = self
            .levels
            .iter()
            .take_while(|l| matches!(l, Level::Bucket(_)))
            .count();
        let rest = &self.levels[prefix..];
        let indexable = rest.len() <= TAIL && !rest.iter().any(|l| matches!(l, Level::Bucket(_)));
        indexable.then_some(prefix)
    }
}

/// Everything a key is computed from, besides an instance's [`Work`].
pub(crate) struct Ranker<'a> {
    pub chain: Chain<'a>,
    /// Per bucket level: each instance's bucket.
    pub bucket_of: Vec<Vec<u32>>,
    /// Per bucket level: tasks of the group in each bucket.
    pub counts: Vec<Vec<i64>>,
    seed: u64,
}

impl<'a> Ranker<'a> {
    pub fn new(chain: Chain<'a>, instances: &[InstanceState], works: &[Work], seed: u64) -> Self {
        let mut bucket_of = Vec::with_capacity(chain.attributes.len());
        let mut counts = Vec::with_capacity(chain.attributes.len());
        for attribute in &chain.attributes {
            let mut ids = Interner::default();
            let mut of = Vec::with_capacity(instances.len());
            let mut count: Vec<i64> = Vec::new();
            for (instance, work) in instances.iter().zip(works) {
                let value = instance
                    .attributes
                    .get(*attribute)
                    .map(|v| v.as_deref().unwrap_or(""));
                let id = ids.id(value);
                if id as usize >= count.len() {
                    count.resize(id as usize + 1, 0);
                }
                count[id as usize] += i64::from(work.existing);
                of.push(id);
            }
            bucket_of.push(of);
            counts.push(count);
        }
        Ranker {
            chain,
            bucket_of,
            counts,
            seed,
        }
    }

    /// Records one more task of the group on instance `i`.
    pub fn placed(&mut self, i: usize) {
        for (of, count) in self.bucket_of.iter().zip(self.counts.iter_mut()) {
            if let Some(c) = of.get(i).and_then(|b| count.get_mut(*b as usize)) {
                *c += 1;
            }
        }
    }

    /// The value of one key for instance `i`.
    pub fn key(&self, level: Level, i: usize, work: &Work) -> i64 {
        match level {
            Level::Bucket(n) => self.bucket_count(n, i),
            Level::Cpu => work.cpu,
            Level::Memory => work.memory,
            Level::OnInstance => work.group_tasks(),
        }
    }

    /// Tasks of the group in instance `i`'s bucket of bucket level `n`.
    pub fn bucket_count(&self, n: usize, i: usize) -> i64 {
        let bucket = self.bucket_of.get(n).and_then(|of| of.get(i));
        bucket
            .and_then(|b| self.counts.get(n).and_then(|c| c.get(*b as usize)))
            .copied()
            .unwrap_or(0)
    }

    /// Instance `i`'s place in the seeded shuffle that breaks the last ties: a hash of
    /// the seed and `i` in the high half, `i` itself in the low half so no two tie.
    pub fn shuffle(&self, i: usize) -> u64 {
        let hash = splitmix64(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (hash & !0xFFFF_FFFF) | (i as u64 & 0xFFFF_FFFF)
    }

    /// Orders two candidates by the chain's keys alone.
    pub fn compare_keys(&self, a: usize, wa: &Work, b: usize, wb: &Work) -> Ordering {
        self.chain
            .levels
            .iter()
            .map(|l| self.key(*l, a, wa).cmp(&self.key(*l, b, wb)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// Small ids for the values of one attribute. Clusters have few zones or instance types,
/// so a short list beats hashing; many distinct values go to a map.
#[derive(Default)]
struct Interner<'a> {
    few: Vec<Option<&'a str>>,
    many: HashMap<Option<&'a str>, u32>,
}

impl<'a> Interner<'a> {
    const FEW: usize = 16;

    fn id(&mut self, value: Option<&'a str>) -> u32 {
        if let Some(pos) = self.few.iter().position(|v| *v == value) {
            return pos as u32;
        }
        if self.few.len() < Self::FEW {
            self.few.push(value);
            return (self.few.len() - 1) as u32;
        }
        let next = (Self::FEW + self.many.len()) as u32;
        *self.many.entry(value).or_insert(next)
    }
}

/// A well-mixed 64-bit hash (Steele, Lea and Flood's SplitMix64 finaliser).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The reference selector: every candidate in a list, scanned for each task.
pub(crate) struct Scan {
    candidates: Vec<usize>,
}

impl Scan {
    pub fn new(candidates: Vec<usize>) -> Self {
        Scan { candidates }
    }

    /// Takes the best candidate out of the list.
    pub fn pick(&mut self, ranker: &Ranker, works: &[Work], rng: &mut StdRng) -> Option<usize> {
        let mut best: Option<usize> = None; // a position in `candidates`
        let mut ties = 0u64;
        for (pos, &i) in self.candidates.iter().enumerate() {
            let Some(b) = best else {
                best = Some(pos);
                ties = 1;
                continue;
            };
            let j = self.candidates[b];
            let order = match ranker.compare_keys(i, &works[i], j, &works[j]) {
                Ordering::Equal if !ranker.chain.random => {
                    ranker.shuffle(i).cmp(&ranker.shuffle(j))
                }
                order => order,
            };
            match order {
                Ordering::Less => {
                    best = Some(pos);
                    ties = 1;
                }
                // Reservoir sampling: each of the k tied candidates survives with 1/k.
                Ordering::Equal => {
                    ties += 1;
                    if rng.random_range(0..ties) == 0 {
                        best = Some(pos);
                    }
                }
                Ordering::Greater => {}
            }
        }
        best.map(|pos| self.candidates.swap_remove(pos))
    }

    /// Puts a candidate (back) in the list.
    pub fn insert(&mut self, i: usize) {
        self.candidates.push(i);
    }
}
