//! Whom the agent trusts when the server speaks TLS: the authority given with `--ca-file`,
//! else the one it saved in its data directory on an earlier start, else the one whose
//! fingerprint its join token carries, fetched from the server's `/_flotilla/ca.pem` and
//! accepted only if its SHA-256 matches (then saved). An `http://` server needs nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::AgentConfig;
use crate::error::AgentError;

/// The file the agent keeps the server's authority in.
const SAVED: &str = "server-ca.pem";

/// The TLS client configuration for `config.endpoint`, if it is `https://`.
pub(crate) async fn trust(
    config: &AgentConfig,
) -> Result<Option<Arc<flotilla_net::rustls::ClientConfig>>, AgentError> {
    if !config.endpoint.starts_with("https://") {
        return Ok(None);
    }
    let saved: PathBuf = config.data_dir.join(SAVED);
    let pem = if let Some(file) = &config.ca_file {
        read(file)?
    } else if saved.exists() {
        read(&saved)?
    } else if let Some(fp) = config
        .join_token
        .as_ref()
        .and_then(|t| t.ca_fingerprint.clone())
    {
        let pem = discover(config, &fp).await?;
        flotilla_net::tls::write_private(&saved, &pem)
            .map_err(|e| AgentError::Config(format!("writing {}: {e}", saved.display())))?;
        tracing::info!(fingerprint = %fp, "trusting the server's authority, as the join token says");
        pem
    } else {
        return Err(AgentError::Config(format!(
            "{} serves TLS: pass --ca-file with its authority's certificate, or a join \
             token made by that server (it carries the authority's fingerprint)",
            config.endpoint
        )));
    };
    let tls = flotilla_net::tls::client_config(&pem).map_err(AgentError::Config)?;
    Ok(Some(tls))
}

/// The server's authority, checked against the fingerprint the agent already trusts.
async fn discover(config: &AgentConfig, fingerprint: &str) -> Result<Vec<u8>, AgentError> {
    let first = flotilla_aws::client::endpoints(&config.endpoint);
    let url = format!(
        "{}/_flotilla/ca.pem",
        first.first().map_or("", String::as_str)
    );
    let discovery = flotilla_net::tls::discovery_client_config();
    let pem = flotilla_aws::client::get(&url, discovery, Duration::from_secs(30))
        .await
        .map_err(|e| AgentError::Config(format!("fetching the server's authority: {e}")))?;
    let got = flotilla_net::tls::fingerprint(&pem).map_err(AgentError::Config)?;
    if !got.eq_ignore_ascii_case(fingerprint) {
        return Err(AgentError::Config(format!(
            "{url} presented an authority with fingerprint {got}, not {fingerprint} as the \
             join token says: refusing to trust it (is something between this host and the \
             server?)"
        )));
    }
    Ok(pem.to_vec())
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, AgentError> {
    std::fs::read(path).map_err(|e| AgentError::Config(format!("reading {}: {e}", path.display())))
}
