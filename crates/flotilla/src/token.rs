//! `flotilla token create|list|revoke`: the join tokens agents register with (see
//! docs/security.md). Called with the administrator's root key, found as `flotilla env`
//! finds it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use flotilla_aws::client::JsonClient;
use flotilla_model::agent_protocol::{
    self, CreateJoinTokenRequest, CreateJoinTokenResponse, ListJoinTokensResponse,
    RevokeJoinTokenRequest,
};
use serde_json::Value;

use crate::env;

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a join token for a cluster and print it (only now: it is a secret).
    Create {
        /// Cluster agents joining with the token register in.
        #[arg(long, default_value = "default")]
        cluster: String,
        /// How long agents may join with it: seconds, or a number with s, m, h or d.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        expires_in: Duration,
        #[arg(long)]
        description: Option<String>,
        /// Print the whole answer as JSON instead of the token alone.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// List the join tokens of the region (without their secrets).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a join token: no agent joins with it any more, and every agent that joined
    /// with it loses its key at once.
    Revoke {
        /// The token id (`FJT...`), as `list` shows it.
        token_id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Which running Flotilla to call.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Data directory of the running instance (for its endpoint and credentials).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = crate::default_data_dir())]
    data_dir: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 3600, 90m, 24h or 7d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{s}': the unit must be s, m, h or d")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is too long"))
}

fn client(target: &Target) -> anyhow::Result<JsonClient> {
    env::admin_client(
        &target.data_dir,
        agent_protocol::SIGNING_NAME,
        agent_protocol::TARGET_PREFIX,
    )
}

pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    crate::server::runtime()?.block_on(async {
        match cmd {
            TokenCommand::Create {
                cluster,
                expires_in,
                description,
                json,
                target,
            } => {
                let req = CreateJoinTokenRequest {
                    cluster: Some(cluster),
                    expires_in_seconds: Some(i64::try_from(expires_in.as_secs())?),
                    description,
                };
                let out: CreateJoinTokenResponse = client(&target)?
                    .call(agent_protocol::CREATE_JOIN_TOKEN, &req)
                    .await
                    .context("creating the join token")?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&out)?);
                } else {
                    println!("{}", out.token);
                }
            }
            TokenCommand::List { target } => {
                let out: ListJoinTokensResponse = client(&target)?
                    .call(agent_protocol::LIST_JOIN_TOKENS, &serde_json::json!({}))
                    .await
                    .context("listing join tokens")?;
                println!(
                    "{:<22} {:<24} {:<22} DESCRIPTION",
                    "TOKEN ID", "CLUSTER", "EXPIRES"
                );
                for t in out.tokens {
                    let cluster = t.cluster_arn.rsplit('/').next().unwrap_or_default();
                    let expires = utc(t.expires_at);
                    let description = t.description.unwrap_or_default();
                    println!(
                        "{:<22} {cluster:<24} {expires:<22} {description}",
                        t.token_id
                    );
                }
            }
            TokenCommand::Revoke { token_id, target } => {
                let _: Value = client(&target)?
                    .call(
                        agent_protocol::REVOKE_JOIN_TOKEN,
                        &RevokeJoinTokenRequest {
                            token_id: token_id.clone(),
                        },
                    )
                    .await
                    .with_context(|| format!("revoking {token_id}"))?;
                eprintln!("revoked {token_id}");
            }
        }
        Ok(())
    })
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| epoch.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn epoch_seconds_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
