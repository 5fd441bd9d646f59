//! What a simulated container does once started, read from its spec at create time.
//!
//! Knobs (environment variables of the container):
//! - `FLOTILLA_SIM_EXIT_CODE=<n>`: exits with `n` right after start, or
//! - with `FLOTILLA_SIM_EXIT_AFTER_MS=<ms>` as well, `ms` milliseconds after start
//!   (alone, `FLOTILLA_SIM_EXIT_AFTER_MS` exits 0: a job that completes);
//! - `FLOTILLA_SIM_HEALTH=unhealthy`: a configured health check turns unhealthy instead of
//!   healthy at the end of its start period;
//! - `FLOTILLA_SIM_IGNORE_SIGTERM=1`: a stop waits its whole timeout, then the container is
//!   killed (exit 137);
//! - `FLOTILLA_SIM_LOG_LINES=<n>`: the container prints `n` lines (`line 0` to
//!   `line n-1`, one microsecond apart) on stdout when it starts; without it, nothing.
//!
//! Without knobs the command decides: exactly `["false"]` exits 1 and `["true"]` exits 0
//! right after start; anything else runs until stopped, killed or removed.

use crate::{ContainerSpec, Result, RuntimeError};

pub const EXIT_CODE_ENV: &str = "FLOTILLA_SIM_EXIT_CODE";
pub const EXIT_AFTER_ENV: &str = "FLOTILLA_SIM_EXIT_AFTER_MS";
pub const HEALTH_ENV: &str = "FLOTILLA_SIM_HEALTH";
pub const IGNORE_SIGTERM_ENV: &str = "FLOTILLA_SIM_IGNORE_SIGTERM";
pub const LOG_LINES_ENV: &str = "FLOTILLA_SIM_LOG_LINES";

/// A scripted exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exit {
    pub code: i64,
    /// Milliseconds after start; 0: at once.
    pub after_ms: u32,
}

/// A configured health check's course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HealthPlan {
    /// `Starting` for this long after start, then healthy or unhealthy for good.
    pub start_ms: u32,
    pub healthy: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Script {
    pub exit: Option<Exit>,
    pub health: Option<HealthPlan>,
    pub ignore_sigterm: bool,
    /// Lines printed at start.
    pub log_lines: u32,
}

impl Script {
    /// The script of `spec`; `Invalid` for a knob with a value that means nothing.
    pub(super) fn of(spec: &ContainerSpec) -> Result<Self> {
        let env = |name: &str| spec.env.get(name).map(|v| v.trim());
        let bad = |name: &str, value: &str, what: &str| {
            RuntimeError::Invalid(format!("{name}={value:?}: expected {what}"))
        };
        let code = env(EXIT_CODE_ENV)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(EXIT_CODE_ENV, v, "an integer"))
            })
            .transpose()?;
        let after_ms = env(EXIT_AFTER_ENV)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| bad(EXIT_AFTER_ENV, v, "milliseconds"))
            })
            .transpose()?;
        let exit = match (code, after_ms, spec.command.as_deref()) {
            (None, None, Some([c])) if c == "false" => Some(Exit {
                code: 1,
                after_ms: 0,
            }),
            (None, None, Some([c])) if c == "true" => Some(Exit {
                code: 0,
                after_ms: 0,
            }),
            (None, None, _) => None,
            (code, after_ms, _) => Some(Exit {
                code: code.unwrap_or(0),
                after_ms: after_ms.unwrap_or(0),
            }),
        };
        let healthy = match env(HEALTH_ENV) {
            None | Some("healthy") => true,
            Some("unhealthy") => false,
            Some(v) => return Err(bad(HEALTH_ENV, v, "healthy or unhealthy")),
        };
        let health = spec
            .health_check
            .as_ref()
            .filter(|h| h.test.first().is_some_and(|t| t != "NONE"))
            .map(|h| HealthPlan {
                start_ms: u32::try_from(h.start_period.as_millis()).unwrap_or(u32::MAX),
                healthy,
            });
        let ignore_sigterm = match env(IGNORE_SIGTERM_ENV) {
            None | Some("" | "0" | "false") => false,
            Some("1" | "true") => true,
            Some(v) => return Err(bad(IGNORE_SIGTERM_ENV, v, "1 or 0")),
        };
        let log_lines = env(LOG_LINES_ENV)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| bad(LOG_LINES_ENV, v, "a count"))
            })
            .transpose()?
            .unwrap_or(0);
        Ok(Script {
            exit,
            health,
            ignore_sigterm,
            log_lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::HealthCheck;

    fn spec(env: &[(&str, &str)], command: Option<&[&str]>) -> ContainerSpec {
        ContainerSpec {
            image: "app".into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            command: command.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn exit(code: i64, after_ms: u32) -> Option<Exit> {
        Some(Exit { code, after_ms })
    }

    #[test]
    fn knobs_and_commands_script_the_exit() {
        let of = |env, command| Script::of(&spec(env, command)).map(|s| s.exit);
        assert_eq!(of(&[], None), Ok(None));
        assert_eq!(of(&[], Some(&["sleep", "60"])), Ok(None));
        assert_eq!(of(&[], Some(&["false"])), Ok(exit(1, 0)));
        assert_eq!(of(&[], Some(&["true"])), Ok(exit(0, 0)));
        assert_eq!(
            of(&[(EXIT_CODE_ENV, "3")], Some(&["false"])),
            Ok(exit(3, 0))
        );
        assert_eq!(
            of(&[(EXIT_CODE_ENV, "2"), (EXIT_AFTER_ENV, "1500")], None),
            Ok(exit(2, 1500))
        );
        assert_eq!(of(&[(EXIT_AFTER_ENV, "10")], None), Ok(exit(0, 10)));
        assert!(of(&[(EXIT_CODE_ENV, "x")], None).is_err());
        assert!(of(&[(EXIT_AFTER_ENV, "-1")], None).is_err());
    }

    #[test]
    fn health_follows_the_check_and_the_knob() {
        let check = |test: &str| HealthCheck {
            test: vec![test.into(), "true".into()],
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            retries: 3,
            start_period: Duration::from_millis(250),
        };
        let mut s = spec(&[], None);
        assert_eq!(Script::of(&s).map(|s| s.health), Ok(None));
        s.health_check = Some(check("NONE"));
        assert_eq!(Script::of(&s).map(|s| s.health), Ok(None));
        s.health_check = Some(check("CMD"));
        let plan = |healthy| {
            Some(HealthPlan {
                start_ms: 250,
                healthy,
            })
        };
        assert_eq!(Script::of(&s).map(|s| s.health), Ok(plan(true)));
        s.env.insert(HEALTH_ENV.into(), "unhealthy".into());
        assert_eq!(Script::of(&s).map(|s| s.health), Ok(plan(false)));
        s.env.insert(HEALTH_ENV.into(), "sick".into());
        assert!(Script::of(&s).is_err());
        s.env.insert(HEALTH_ENV.into(), "healthy".into());
        s.env.insert(IGNORE_SIGTERM_ENV.into(), "1".into());
        assert_eq!(Script::of(&s).map(|s| s.ignore_sigterm), Ok(true));
    }

    #[test]
    fn log_lines_are_a_count() {
        let of = |env| Script::of(&spec(env, None)).map(|s| s.log_lines);
        assert_eq!(of(&[]), Ok(0));
        assert_eq!(of(&[(LOG_LINES_ENV, "3")]), Ok(3));
        assert!(of(&[(LOG_LINES_ENV, "many")]).is_err());
    }
}
