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

pub fn admin(data_dir: &Path) -> anyhow::Result<Admin> {
    let endpoint = std::fs::read_to_string(endpoint_file(data_dir)).with_context(|| {
        format!(
            "no Flotilla has run with data directory {}",
            data_dir.display()
        )
    })?;
    let region =
        std::fs::read_to_string(region_file(data_dir)).unwrap_or_else(|_| "us-east-1".into());
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
    let endpoint = endpoint.trim().to_string();
    let ca = Some(ca_file(data_dir)).filter(|f| endpoint.starts_with("https://") && f.exists());
    Ok(Admin {
        endpoint,
        region: region.trim().to_string(),
        pair,
        ca,
    })
}

/// A client of one of Flotilla's own JSON services (`signing_name`, `target_prefix`) on
/// the running instance of `data_dir`, signing with its root key.
pub fn admin_client(
    data_dir: &Path,
    signing_name: &'static str,
    target_prefix: &'static str,
) -> anyhow::Result<JsonClient> {
    let admin = admin(data_dir)?;
    let tls = match &admin.ca {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(flotilla_net::tls::client_config(&pem).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    Ok(JsonClient::new(
        ClientConfig {
            endpoint: admin.endpoint,
            region: admin.region,
            access_key_id: admin.pair.access_key_id,
            secret_access_key: admin.pair.secret_access_key,
            timeout: std::time::Duration::from_secs(300),
            tls,
        },
        signing_name,
        target_prefix,
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
