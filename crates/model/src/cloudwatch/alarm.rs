//! Metric alarms as stored: the definition PutMetricAlarm gave (one metric's statistic or
//! a metric-math expression over `metrics`), the state with its reason, the timestamps the
//! autoscaling engine watches (`state_updated`), tags, and the last [`MAX_HISTORY`]
//! history items.
//!
//! Key: `/cloudwatch/alarms/{region}/{name}`. A state change is one rewrite of the record
//! (state, reason, timestamps and a history item together), so whoever watches the alarms
//! view sees the new state and its history at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MetricQuery, MetricStat};
use crate::record::Record;

/// The history items kept per alarm; older ones are dropped.
pub const MAX_HISTORY: usize = 100;

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl AlarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(s: &str) -> Option<AlarmState> {
        [
            AlarmState::Ok,
            AlarmState::Alarm,
            AlarmState::InsufficientData,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// How a data point is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    pub fn parse(s: &str) -> Option<Comparison> {
        [
            Comparison::GreaterThanOrEqualToThreshold,
            Comparison::GreaterThanThreshold,
            Comparison::LessThanThreshold,
            Comparison::LessThanOrEqualToThreshold,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The words CloudWatch's reasons use (`greater than or equal to`).
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

/// What a period without data counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TreatMissingData {
    #[default]
    #[serde(rename = "missing")]
    Missing,
    #[serde(rename = "notBreaching")]
    NotBreaching,
    #[serde(rename = "breaching")]
    Breaching,
    #[serde(rename = "ignore")]
    Ignore,
}

impl TreatMissingData {
    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Missing => "missing",
            TreatMissingData::NotBreaching => "notBreaching",
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::Ignore => "ignore",
        }
    }

    pub fn parse(s: &str) -> Option<TreatMissingData> {
        [
            TreatMissingData::Missing,
            TreatMissingData::NotBreaching,
            TreatMissingData::Breaching,
            TreatMissingData::Ignore,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The kind of a history item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryKind {
    StateUpdate,
    ConfigurationUpdate,
    Action,
}

impl HistoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::StateUpdate => "StateUpdate",
            HistoryKind::ConfigurationUpdate => "ConfigurationUpdate",
            HistoryKind::Action => "Action",
        }
    }
}

/// One entry of DescribeAlarmHistory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    #[serde(with = "crate::timestamp")]
    pub timestamp: DateTime<Utc>,
    pub kind: HistoryKind,
    pub summary: String,
    /// JSON, as CloudWatch writes it.
    pub data: String,
}

/// What is evaluated: one metric's statistic, or metric math over `metrics` (exactly one
/// of which has `return_data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlarmMetric {
    Single(MetricStat),
    Math(Vec<MetricQuery>),
}

/// A metric alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub name: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub actions_enabled: bool,
    #[serde(default)]
    pub ok_actions: Vec<String>,
    #[serde(default)]
    pub alarm_actions: Vec<String>,
    #[serde(default)]
    pub insufficient_data_actions: Vec<String>,
    pub metric: AlarmMetric,
    pub evaluation_periods: u32,
    /// M of "M out of N"; `None` means N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison: Comparison,
    #[serde(default)]
    pub treat_missing_data: TreatMissingData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_low_sample_count_percentile: Option<String>,
    /// Whether TreatMissingData was given (DescribeAlarms shows it only then).
    #[serde(default)]
    pub treat_missing_data_given: bool,
    pub state: AlarmState,
    pub state_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    /// When the state or its reason last changed: the hook alarm actions watch.
    #[serde(with = "crate::timestamp")]
    pub state_updated: DateTime<Utc>,
    /// When the state value last changed.
    #[serde(with = "crate::timestamp")]
    pub state_transitioned: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub configuration_updated: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Oldest first, at most [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<HistoryItem>,
}

impl Record for AlarmRecord {
    const KIND: &'static str = "cloudwatch-alarm";
    const VERSION: u32 = 1;
}

impl AlarmRecord {
    /// A new alarm with CloudWatch's defaults: actions enabled and none given, missing
    /// data treated as `missing`, in INSUFFICIENT_DATA ("Unchecked: Initial alarm
    /// creation") since the epoch until the control plane stamps it.
    pub fn new(
        name: String,
        arn: String,
        metric: AlarmMetric,
        comparison: Comparison,
        threshold: f64,
        evaluation_periods: u32,
    ) -> AlarmRecord {
        let epoch = DateTime::<Utc>::default();
        AlarmRecord {
            name,
            arn,
            description: None,
            actions_enabled: true,
            ok_actions: Vec::new(),
            alarm_actions: Vec::new(),
            insufficient_data_actions: Vec::new(),
            metric,
            evaluation_periods,
            datapoints_to_alarm: None,
            threshold,
            comparison,
            treat_missing_data: TreatMissingData::Missing,
            evaluate_low_sample_count_percentile: None,
            treat_missing_data_given: false,
            state: AlarmState::InsufficientData,
            state_reason: "Unchecked: Initial alarm creation".into(),
            state_reason_data: None,
            state_updated: epoch,
            state_transitioned: epoch,
            configuration_updated: epoch,
            tags: Vec::new(),
            history: Vec::new(),
        }
    }

    /// M of "M out of N".
    pub fn datapoints_to_alarm(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The period evaluated: the metric's, or the returned query's in metric math.
    pub fn period(&self) -> u32 {
        match &self.metric {
            AlarmMetric::Single(s) => s.period,
            AlarmMetric::Math(queries) => queries
                .iter()
                .filter_map(|q| q.metric_stat.as_ref().map(|s| s.period).or(q.period))
                .min()
                .unwrap_or(60),
        }
    }

    /// Add a history item, dropping the oldest beyond [`MAX_HISTORY`].
    pub fn push_history(&mut self, item: HistoryItem) {
        self.history.push(item);
        if self.history.len() > MAX_HISTORY {
            let extra = self.history.len() - MAX_HISTORY;
            self.history.drain(..extra);
        }
    }

    /// Move to `state` with its reason at `now`, recording a StateUpdate item as
    /// CloudWatch writes it.
    pub fn set_state(
        &mut self,
        state: AlarmState,
        reason: String,
        reason_data: Option<String>,
        now: DateTime<Utc>,
    ) {
        let old = self.state;
        let mut data = serde_json::json!({
            "version": "1.0",
            "oldState": {"stateValue": old.as_str(), "stateReason": self.state_reason},
            "newState": {"stateValue": state.as_str(), "stateReason": reason},
        });
        if let Some(d) = reason_data
            .as_deref()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        {
            data["newState"]["stateReasonData"] = d;
        }
        self.push_history(HistoryItem {
            timestamp: now,
            kind: HistoryKind::StateUpdate,
            summary: format!(
                "Alarm updated from {} to {}",
                title(old.as_str()),
                title(state.as_str())
            ),
            data: data.to_string(),
        });
        if old != state {
            self.state_transitioned = now;
        }
        self.state = state;
        self.state_reason = reason;
        self.state_reason_data = reason_data;
        self.state_updated = now;
    }
}

/// `INSUFFICIENT_DATA` as history summaries spell it (`Insufficient Data`), `OK`, `Alarm`.
fn title(state: &str) -> String {
    match state {
        "OK" => "OK".into(),
        "ALARM" => "Alarm".into(),
        _ => "Insufficient Data".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::{MetricRef, Statistic};

    fn alarm() -> AlarmRecord {
        let metric = AlarmMetric::Single(MetricStat {
            metric: MetricRef::new("N".into(), "M".into(), vec![]),
            period: 60,
            stat: Statistic::Average,
            unit: None,
        });
        let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:a".into();
        AlarmRecord::new(
            "a".into(),
            arn,
            metric,
            Comparison::GreaterThanThreshold,
            1.0,
            3,
        )
    }

    #[test]
    fn history_is_bounded_and_states_move_with_their_timestamps() {
        let mut a = alarm();
        let t = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        for i in 0..(MAX_HISTORY + 5) {
            let s = if i % 2 == 0 {
                AlarmState::Alarm
            } else {
                AlarmState::Ok
            };
            a.set_state(s, format!("r{i}"), None, t);
        }
        assert_eq!(a.history.len(), MAX_HISTORY);
        assert_eq!(
            a.history.last().unwrap().summary,
            "Alarm updated from OK to Alarm"
        );
        assert_eq!(a.state_transitioned, t);
        let back: AlarmRecord =
            crate::record::decode(&crate::record::encode(&a)).expect("round trip");
        assert_eq!(back, a);
        assert_eq!(a.datapoints_to_alarm(), 3);
    }
}
