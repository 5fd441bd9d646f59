//! `flotilla events SERVICE [-f]`: a service's events (what the scheduler did and why),
//! oldest first; `--follow` keeps printing new ones. `deploy` prints them through the
//! same [`Feed`] while it follows a rollout.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::table::{paint, Colour};
use super::{items, parse_duration, Api, Common, Output};

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// The service.
    service: String,
    /// Keep printing new events until interrupted.
    #[arg(short, long)]
    follow: bool,
    /// Only events newer than this (`30s`, `10m`, `2h`, `1d`); all ECS keeps when absent.
    #[arg(long)]
    since: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// The events of a service not yet printed, oldest first.
pub struct Feed {
    seen: HashSet<String>,
    /// Events older than this (epoch milliseconds) are not new.
    after_ms: i64,
}

impl Feed {
    pub fn new(after_ms: i64) -> Feed {
        Feed {
            seen: HashSet::new(),
            after_ms,
        }
    }

    /// The events of `service` (a DescribeServices answer's) not returned before.
    pub fn fresh(&mut self, service: &Value) -> Vec<Value> {
        let mut out: Vec<Value> = items(&service["events"])
            .filter(|e| {
                let at = e["createdAt"].as_f64().unwrap_or(0.0) * 1000.0;
                at >= self.after_ms as f64
            })
            .filter(|e| {
                self.seen
                    .insert(e["id"].as_str().unwrap_or_default().to_string())
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            let at = |e: &Value| e["createdAt"].as_f64().unwrap_or(0.0);
            at(a).total_cmp(&at(b))
        });
        out
    }
}

/// An event as a line: its time (UTC) and message.
pub fn line(event: &Value, colour: bool) -> String {
    let at = event["createdAt"]
        .as_f64()
        .and_then(|s| DateTime::<Utc>::from_timestamp_millis((s * 1000.0) as i64))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let message = event["message"].as_str().unwrap_or_default();
    let tone = if message.contains("circuit breaker")
        || message.contains("rolling back")
        || message.contains("unable")
        || message.contains("failed")
    {
        Some(Colour::Red)
    } else if message.contains("steady state") || message.contains("completed") {
        Some(Colour::Green)
    } else {
        None
    };
    format!(
        "{} {}",
        paint(&at, Some(Colour::Dim), colour),
        paint(message, tone, colour)
    )
}

/// One event as a JSON line.
pub fn json_line(event: &Value) -> String {
    json!({"id": event["id"], "createdAt": event["createdAt"], "message": event["message"]})
        .to_string()
}

pub fn run(args: EventsArgs) -> anyhow::Result<()> {
    let after = match &args.since {
        Some(s) => chrono::Utc::now().timestamp_millis() - parse_duration("--since", s)?,
        None => 0,
    };
    crate::server::runtime()?.block_on(async {
        let api = Api::new(&args.common)?;
        let cluster = args.common.cluster();
        let colour = args.common.colour();
        let mut feed = Feed::new(after);
        loop {
            let service = api.service(cluster, &args.service).await?;
            for e in feed.fresh(&service) {
                match args.common.output {
                    Output::Json => println!("{}", json_line(&e)),
                    Output::Table => println!("{}", line(&e, colour)),
                }
            }
            if !args.follow {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_returns_each_event_once_oldest_first() {
        let mut feed = Feed::new(1_500);
        let service = json!({"events": [
            {"id": "c", "createdAt": 3.0, "message": "three"},
            {"id": "b", "createdAt": 2.0, "message": "two"},
            {"id": "a", "createdAt": 1.0, "message": "too old"}]});
        let ids: Vec<Value> = feed
            .fresh(&service)
            .iter()
            .map(|e| e["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("b"), json!("c")]);
        assert!(feed.fresh(&service).is_empty());
    }

    #[test]
    fn lines() {
        let e = json!({"id": "x", "createdAt": 0.0, "message": "(service web) has reached a steady state."});
        assert_eq!(
            line(&e, false),
            "1970-01-01 00:00:00 (service web) has reached a steady state."
        );
        assert!(line(&e, true).contains("\x1b[32m"));
        assert!(json_line(&e).contains("\"id\":\"x\""));
    }
}
