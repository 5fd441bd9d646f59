//! What the caller asks for: `count` identical tasks of one group with their resources,
//! constraints and placement strategies, and the parsing of the ECS wire forms of
//! strategies (`{"type": "spread", "field": "attribute:ecs.availability-zone"}`) and
//! constraints (`{"type": "memberOf", "expression": "attribute:stack == prod"}`).
//!
//! Parse errors are `InvalidParameterException`s whose message tells the user the accepted
//! values, as ECS does.

use flotilla_model::cql::{self, Expr};
use flotilla_model::ModelError;

/// `count` identical tasks to place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRequest {
    pub count: usize,
    /// The task group (`family:NAME` by default, `service:NAME` for services), which
    /// `distinctInstance`, `spread` and `task:group` count.
    pub group: String,
    /// CPU units one task reserves.
    pub cpu: i64,
    /// Memory (MiB) one task reserves.
    pub memory: i64,
    /// GPUs one task reserves.
    pub gpus: u32,
    /// Fixed TCP host ports one task binds.
    pub tcp_ports: Vec<u16>,
    /// Fixed UDP host ports one task binds.
    pub udp_ports: Vec<u16>,
    /// Attribute names an instance must have (the task definition's `requiresAttributes`,
    /// and the host access it needs: `flotilla_model::host_access`).
    pub required_attributes: Vec<String>,
    /// Host paths one task bind-mounts: an instance that registers an allow-list
    /// (`flotilla.allowed-host-paths`) must allow each.
    pub host_paths: Vec<String>,
    /// Placement constraints; all must hold.
    pub constraints: Vec<Constraint>,
    /// Placement strategies, most important first; empty means `random`.
    pub strategies: Vec<Strategy>,
    /// Seeds every random choice: the same snapshot, request and seed give the same plan.
    pub seed: u64,
}

/// A placement constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// No two tasks of the group on one instance.
    DistinctInstance,
    /// Only instances the cluster query language expression matches.
    MemberOf(Expr),
}

/// A placement strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Prefer the instance with the least of the field left: fill one before the next.
    Binpack(BinpackField),
    /// Prefer the instance whose bucket holds the fewest tasks of the group.
    Spread(SpreadField),
    /// Any candidate, uniformly.
    Random,
}

/// What `binpack` packs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinpackField {
    Cpu,
    Memory,
}

/// What `spread` spreads over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpreadField {
    /// Each instance is its own bucket (`instanceId`, also spelled `host`).
    InstanceId,
    /// One bucket per distinct value of the attribute (`attribute:NAME`); instances without
    /// it share one more bucket.
    Attribute(String),
}

// === impl TaskRequest ===

impl TaskRequest {
    /// `count` tasks of `group` that need nothing; set the other fields as needed.
    pub fn new(group: impl Into<String>, count: usize) -> Self {
        TaskRequest {
            count,
            group: group.into(),
            ..TaskRequest::default()
        }
    }
}

/// Parses a placement strategy from its ECS `type` and `field`.
///
/// `binpack` takes the field `cpu` or `memory`, `spread` `instanceId`, `host` or
/// `attribute:NAME`; `random` takes no field and ignores one, as ECS does. Field names
/// other than attributes are matched ignoring case (`MEMORY` is `memory`).
pub fn parse_strategy(kind: &str, field: Option<&str>) -> Result<Strategy, ModelError> {
    let field = field.map(str::trim).filter(|f| !f.is_empty());
    match kind {
        "random" => Ok(Strategy::Random),
        "binpack" => match field {
            Some(f) if f.eq_ignore_ascii_case("cpu") => Ok(Strategy::Binpack(BinpackField::Cpu)),
            Some(f) if f.eq_ignore_ascii_case("memory") => {
                Ok(Strategy::Binpack(BinpackField::Memory))
            }
            Some(f) => Err(ModelError::invalid(format!(
                "Placement strategy field '{f}' is invalid for binpack: use cpu or memory."
            ))),
            None => Err(ModelError::invalid(
                "The binpack placement strategy needs a field: cpu or memory.",
            )),
        },
        "spread" => match field {
            Some(f) if f.eq_ignore_ascii_case("instanceId") || f.eq_ignore_ascii_case("host") => {
                Ok(Strategy::Spread(SpreadField::InstanceId))
            }
            Some(f) => match f.strip_prefix("attribute:") {
                Some(name) if !name.is_empty() => {
                    Ok(Strategy::Spread(SpreadField::Attribute(name.to_owned())))
                }
                _ => Err(ModelError::invalid(format!(
                    "Placement strategy field '{f}' is invalid for spread: use instanceId, \
                     host or attribute:NAME."
                ))),
            },
            None => Err(ModelError::invalid(
                "The spread placement strategy needs a field: instanceId, host or attribute:NAME.",
            )),
        },
        other => Err(ModelError::invalid(format!(
            "Placement strategy type '{other}' is invalid: use random, spread or binpack."
        ))),
    }
}

/// Parses a placement constraint from its ECS `type` and `expression`.
///
/// `distinctInstance` takes no expression (ECS: "do not specify an expression");
/// `memberOf` needs one in the cluster query language, whose parse errors name the
/// position.
pub fn parse_constraint(kind: &str, expression: Option<&str>) -> Result<Constraint, ModelError> {
    let expression = expression.filter(|e| !e.trim().is_empty());
    match kind {
        "distinctInstance" => match expression {
            None => Ok(Constraint::DistinctInstance),
            Some(_) => Err(ModelError::invalid(
                "A distinctInstance constraint takes no expression.",
            )),
        },
        "memberOf" => match expression {
            Some(e) => Ok(Constraint::MemberOf(cql::parse(e)?)),
            None => Err(ModelError::invalid(
                "A memberOf constraint needs an expression.",
            )),
        },
        other => Err(ModelError::invalid(format!(
            "Placement constraint type '{other}' is invalid: use distinctInstance or memberOf."
        ))),
    }
}
