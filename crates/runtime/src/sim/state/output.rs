//! What a simulated container has printed and used: the facts `logs` and `stats` are
//! made of (the scripted lines, its start, whether it still runs).

use super::{State, Status};
use crate::sim::clock::Stamp;

/// A container's output as of now.
pub(in crate::sim) struct Output {
    /// Start of the current run.
    pub started: Option<Stamp>,
    pub running: bool,
    /// Lines printed at start.
    pub log_lines: u32,
}

impl State {
    /// The output facts of container `key`, its scripted exit applied first.
    pub(in crate::sim) fn output(&mut self, key: u64, now: Stamp) -> Option<Output> {
        self.settle(key, now);
        let c = self.containers.get(&key)?;
        Some(Output {
            started: c.started,
            running: c.status == Status::Running,
            log_lines: c.script.log_lines,
        })
    }
}
