//! Image presence and pulls.
//!
//! A pull names one tag explicitly (Docker's API pulls *every* tag of a repository when
//! the tag is left empty), and any failure the engine reports, before or during the
//! progress stream, becomes `RuntimeError::Pull` carrying Docker's own message
//! ("pull access denied", "manifest unknown", "dial tcp: lookup ... no such host").

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use super::error::{from_bollard, is_engine_answer, is_not_found, message};
use crate::{RegistryAuth, Result, RuntimeError};

/// Whether `image` is present locally.
pub(crate) async fn exists(docker: &Docker, image: &str) -> Result<bool> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(from_bollard(e)),
    }
}

/// Pull `image` (one tag or digest; `latest` when the reference names neither), with
/// `auth` for its registry when given.
pub(crate) async fn pull(docker: &Docker, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
    let (repository, tag) = split_reference(image);
    let options = CreateImageOptionsBuilder::new()
        .from_image(repository)
        .tag(tag)
        .build();
    let credentials = auth.map(|a| DockerCredentials {
        username: Some(a.username.clone()),
        password: Some(a.password.clone()),
        serveraddress: Some(a.server.clone()),
        ..Default::default()
    });
    let mut progress = docker.create_image(Some(options), None, credentials);
    while let Some(step) = progress.next().await {
        match step {
            Ok(info) => tracing::trace!(%image, status = ?info.status, "pull progress"),
            Err(e) if is_engine_answer(&e) => {
                return Err(RuntimeError::Pull {
                    image: image.to_string(),
                    message: message(&e),
                })
            }
            Err(e) => return Err(from_bollard(e)),
        }
    }
    Ok(())
}

/// Split a reference into repository and tag (or digest), as `docker pull` sends them.
pub(crate) fn split_reference(image: &str) -> (&str, &str) {
    if let Some((repository, digest)) = image.split_once('@') {
        return (repository, digest);
    }
    // A colon after the last slash separates the tag; one before it belongs to a
    // registry's port (`registry:5000/app`).
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], &image[name_start + i + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("nginx"), ("nginx", "latest"));
        assert_eq!(split_reference("nginx:1.27"), ("nginx", "1.27"));
        assert_eq!(
            split_reference("registry:5000/team/app"),
            ("registry:5000/team/app", "latest")
        );
        assert_eq!(
            split_reference("registry:5000/team/app:v2"),
            ("registry:5000/team/app", "v2")
        );
        assert_eq!(split_reference("app@sha256:abcd"), ("app", "sha256:abcd"));
    }
}
