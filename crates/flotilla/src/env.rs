//! `flotilla env`: `export` lines for the running instance, read from its data directory
//! (the endpoint file the server writes once it listens, and the credentials).

use std::path::Path;

use anyhow::Context as _;
use flotilla_aws::client::{ClientConfig, JsonClient};

use crate::credentials;

/// The file a running server writes its endpoint URL into.
pub fn endpoint_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("endpoint")
}

/// The file a running server writes the authority of its TLS certificate into, when it
/// knows it.
pub fn ca_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("ca.pem")
}

/// The file a running server writes its registry's `host:port` into (what
/// `repositoryUri`s start with).
pub fn registry_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("registry-host")
}

/// The file a running server writes its DNS server's `ip:port` into.
pub fn dns_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("dns-addr")
}

/// The file a running server writes its web console's URL into, when it serves one.
pub fn console_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("console-url")
}

/// The file a running server writes its region into.
pub fn region_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("region")
}

/// The running instance of a data directory as its administrator reaches it: endpoint,
/// region and root key pair (`FLOTILLA_ACCESS_KEY_ID` / `FLOTILLA_SECRET_ACCESS_KEY` when
/// set, else the credentials file).
pub struct Admin {
    pub endpoint: String,
    pub region: String,
    pub pair: credentials::KeyPair,
    /// The authority to trust, for an `https://` endpoint whose server knows it.
    pub ca: Option<std::path::PathBuf>,
}

/// Where the running instance of a data directory listens: endpoint, region, and the
/// authority to trust for an `https://` endpoint.
fn located(data_dir: &Path) -> anyhow::Result<(String, String, Option<std::path::PathBuf>)> {
    let endpoint = std::fs::read_to_string(endpoint_file(data_dir)).with_context(|| {
        format!(
            "no Flotilla has run with data directory {}",
            data_dir.display()
        )
    })?;
    let region =
        std::fs::read_to_string(region_file(data_dir)).unwrap_or_else(|_| "us-east-1".into());
    let endpoint = endpoint.trim().to_string();
    let ca = Some(ca_file(data_dir)).filter(|f| endpoint.starts_with("https://") && f.exists());
    Ok((endpoint, region.trim().to_string(), ca))
}

pub fn admin(data_dir: &Path) -> anyhow::Result<Admin> {
    let (endpoint, region, ca) = located(data_dir)?;
    let env_id = std::env::var("FLOTILLA_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let env_secret = std::env::var("FLOTILLA_SECRET_ACCESS_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    let pair = match (env_id, env_secret) {
        (Some(access_key_id), Some(secret_access_key)) => credentials::KeyPair {
            access_key_id,
            secret_access_key,
        },
        _ => credentials::read(&credentials::file_path(data_dir))?,
    };
    Ok(Admin {
        endpoint,
        region,
        pair,
        ca,
    })
}

/// A client of one of Flotilla's own JSON services (`signing_name`, `target_prefix`) on
/// the running instance of `data_dir`, signing as whoever runs the command ([`signed_in`])
/// or else with its root key.
pub fn admin_client(
    data_dir: &Path,
    signing_name: &'static str,
    target_prefix: &'static str,
) -> anyhow::Result<JsonClient> {
    let (endpoint, region, ca) = located(data_dir)?;
    let (access_key_id, secret_access_key, session_token) = match signed_in() {
        Some(c) => c,
        None => {
            let pair = admin(data_dir)?.pair;
            (pair.access_key_id, pair.secret_access_key, None)
        }
    };
    let tls = match &ca {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(flotilla_net::tls::client_config(&pem).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    Ok(JsonClient::new(
        ClientConfig {
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            session_token,
            timeout: std::time::Duration::from_secs(300),
            tls,
        },
        signing_name,
        target_prefix,
    ))
}

/// The credentials of whoever runs the command, as the AWS CLI finds them in its
/// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`): the
/// CLI then acts with that IAM user's or role session's permissions. `None` when they are
/// not set, or `FLOTILLA_ACCESS_KEY_ID` says to act as the administrator.
fn signed_in() -> Option<(String, String, Option<String>)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if var("FLOTILLA_ACCESS_KEY_ID").is_some() {
        return None;
    }
    Some((
        var("AWS_ACCESS_KEY_ID")?,
        var("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
    ))
}

pub fn print(data_dir: &Path) -> anyhow::Result<()> {
    let Admin {
        endpoint,
        region,
        pair,
        ca,
    } = admin(data_dir)?;
    println!("export AWS_ENDPOINT_URL={}", shell_quote(&endpoint));
    println!(
        "export AWS_ACCESS_KEY_ID={}",
        shell_quote(&pair.access_key_id)
    );
    println!(
        "export AWS_SECRET_ACCESS_KEY={}",
        shell_quote(&pair.secret_access_key)
    );
    println!("export AWS_REGION={}", shell_quote(&region));
    println!("export AWS_DEFAULT_REGION={}", shell_quote(&region));
    if let Some(ca) = ca {
        println!(
            "export AWS_CA_BUNDLE={}",
            shell_quote(&ca.display().to_string())
        );
    }
    if let Ok(registry) = std::fs::read_to_string(registry_file(data_dir)) {
        println!("export FLOTILLA_REGISTRY={}", shell_quote(registry.trim()));
    }
    if let Ok(dns) = std::fs::read_to_string(dns_file(data_dir)) {
        println!("export FLOTILLA_DNS_ADDR={}", shell_quote(dns.trim()));
    }
    if let Ok(url) = std::fs::read_to_string(console_file(data_dir)) {
        println!("export FLOTILLA_CONSOLE_URL={}", shell_quote(url.trim()));
    }
    Ok(())
}

/// Quote for POSIX shells (secrets may hold `/` and `+`, which are safe, but be sure).
fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/+=:._-".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
