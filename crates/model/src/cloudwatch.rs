//! CloudWatch's resource types: metrics as queries name them ([`MetricRef`],
//! [`MetricStat`], [`MetricQuery`]), the statistics, units and CloudWatch's rules for
//! names, dimensions and periods ([`rules`]), and metric alarms as stored, with their
//! bounded history ([`alarm`]).
//!
//! The metric store (`flotilla-telemetry`) and the API share these types; nothing here
//! stores or evaluates anything.

pub mod alarm;
pub mod rules;

use serde::{Deserialize, Serialize};

pub use alarm::{
    AlarmMetric, AlarmRecord, AlarmState, Comparison, HistoryItem, HistoryKind, TreatMissingData,
    MAX_HISTORY,
};
pub use rules::RuleError;

/// One dimension of a metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// A metric: its namespace, name and dimensions (kept sorted by name, so two spellings of
/// one set are one metric).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricRef {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

impl MetricRef {
    /// The metric with its dimensions in canonical (name) order.
    pub fn new(namespace: String, metric_name: String, mut dimensions: Vec<Dimension>) -> Self {
        dimensions.sort();
        MetricRef {
            namespace,
            metric_name,
            dimensions,
        }
    }
}

/// The five statistics of a statistic set (percentiles are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const ALL: [Statistic; 5] = [
        Statistic::SampleCount,
        Statistic::Average,
        Statistic::Sum,
        Statistic::Minimum,
        Statistic::Maximum,
    ];

    /// The statistic CloudWatch spells `s`.
    pub fn parse(s: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
        }
    }
}

/// A metric's statistic over periods: what a `MetricStat` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStat {
    pub metric: MetricRef,
    /// Seconds.
    pub period: u32,
    pub stat: Statistic,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// One query of GetMetricData or of a metric-math alarm: a metric's statistic, or an
/// expression over the other queries' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricQuery {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub return_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
}

/// CloudWatch's units (`StandardUnit`).
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The namespace Flotilla's load balancers publish in, and their request count.
pub const ELB_NAMESPACE: &str = "AWS/ApplicationELB";
/// The namespace of tasks' CPU and memory utilization.
pub const ECS_NAMESPACE: &str = "AWS/ECS";
/// The namespace of Container Insights' counts of tasks.
pub const CONTAINER_INSIGHTS_NAMESPACE: &str = "ECS/ContainerInsights";
