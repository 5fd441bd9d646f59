//! The root credentials a server accepts: from `FLOTILLA_ACCESS_KEY_ID` /
//! `FLOTILLA_SECRET_ACCESS_KEY`, else from `credentials` in the data directory, which is
//! generated (mode 0600) on first start. The file uses the AWS shared-credentials format,
//! so `AWS_SHARED_CREDENTIALS_FILE` can point straight at it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rand::Rng;

/// An access key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Where the credentials came from, for the start-up banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials")
}

/// The configured key pair, generating and saving one if none is configured.
pub fn load_or_generate(data_dir: &Path) -> anyhow::Result<(KeyPair, Source)> {
    let id = std::env::var("FLOTILLA_ACCESS_KEY_ID")
        .ok()
        .filter(|v| !v.is_empty());
    let secret = std::env::var("FLOTILLA_SECRET_ACCESS_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            return Ok((
                KeyPair {
                    access_key_id,
                    secret_access_key,
                },
                Source::Environment,
            ))
        }
        (None, None) => {}
        _ => bail!("set both FLOTILLA_ACCESS_KEY_ID and FLOTILLA_SECRET_ACCESS_KEY, or neither"),
    }
    let path = file_path(data_dir);
    if path.exists() {
        return Ok((read(&path)?, Source::File(path)));
    }
    let pair = generate();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    write!(
        f,
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        pair.access_key_id, pair.secret_access_key
    )?;
    f.sync_all()?;
    Ok((pair, Source::Generated(path)))
}

/// Read a credentials file's `[default]` profile. A file that others may read or write is
/// refused, as ssh refuses a private key: its secret is the account's root key.
pub fn read(path: &Path) -> anyhow::Result<KeyPair> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} can be read or written by other users (mode {:o}); its secret is the root key: \
             run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    match (value("aws_access_key_id"), value("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(KeyPair {
            access_key_id,
            secret_access_key,
        }),
        _ => bail!(
            "{} lacks aws_access_key_id or aws_secret_access_key",
            path.display()
        ),
    }
}

fn generate() -> KeyPair {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
            .collect()
    };
    KeyPair {
        access_key_id: format!("AKIA{}", pick(UPPER, 16)),
        secret_access_key: pick(SECRET, flotilla_aws::SECRET_LEN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pairs_look_like_aws_keys_and_round_trip() {
        let dir = std::env::temp_dir().join(format!("flotilla-cred-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let pair = generate();
        assert_eq!(pair.access_key_id.len(), 20);
        assert!(pair.access_key_id.starts_with("AKIA"));
        assert_eq!(pair.secret_access_key.len(), 40);
        let path = dir.join("credentials");
        fs::write(
            &path,
            format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                pair.access_key_id, pair.secret_access_key
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let refused = read(&path).unwrap_err().to_string();
        assert!(refused.contains("chmod 600"), "{refused}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).unwrap(), pair);
        fs::remove_dir_all(&dir).unwrap();
    }
}
