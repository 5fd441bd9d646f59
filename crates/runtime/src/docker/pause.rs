//! The network-holder ("pause") image of awsvpc tasks, built without any registry.
//!
//! The image is a single file, `/pause`: a hand-assembled static executable (see
//! `elf`) that sleeps until SIGTERM or SIGINT and then exits 0. It is packed into a tar
//! (see `tar`) and imported with `POST /images/create?fromSrc=-` as [`PAUSE_IMAGE`],
//! labelled with a fingerprint of the executable, so an existing image is reused exactly
//! when it holds the same program.

mod elf;
mod tar;

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use super::error::{from_bollard, is_not_found};
use crate::{Result, RuntimeError};

/// Repository of the pause image.
const PAUSE_REPOSITORY: &str = "flotilla/pause";
/// Tag of the pause image.
const PAUSE_TAG: &str = "1";
/// The pause image's reference.
pub const PAUSE_IMAGE: &str = "flotilla/pause:1";
/// Image label carrying the executable's fingerprint.
const FINGERPRINT_LABEL: &str = "flotilla.pause.fingerprint";

/// Make sure [`PAUSE_IMAGE`] exists with this build's program; returns its reference.
pub(crate) async fn ensure_image(docker: &Docker) -> Result<String> {
    let arch = std::env::consts::ARCH;
    let program = elf::pause_executable(arch).ok_or_else(|| {
        RuntimeError::Invalid(format!(
            "no pause program for architecture {arch} (supported: x86_64, aarch64)"
        ))
    })?;
    let fingerprint = format!("{:016x}", fnv1a(&program));
    if present_fingerprint(docker).await?.as_deref() == Some(fingerprint.as_str()) {
        return Ok(PAUSE_IMAGE.to_string());
    }
    import(docker, &program, &fingerprint).await?;
    tracing::info!(image = PAUSE_IMAGE, %fingerprint, "imported the pause image");
    Ok(PAUSE_IMAGE.to_string())
}

/// The fingerprint label of the present pause image; `None` when there is no image.
async fn present_fingerprint(docker: &Docker) -> Result<Option<String>> {
    match docker.inspect_image(PAUSE_IMAGE).await {
        Ok(image) => Ok(Some(
            image
                .config
                .and_then(|c| c.labels)
                .and_then(|mut labels| labels.remove(FINGERPRINT_LABEL))
                .unwrap_or_default(),
        )),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(from_bollard(e)),
    }
}

/// Import a root filesystem holding only `/pause` as [`PAUSE_IMAGE`].
async fn import(docker: &Docker, program: &[u8], fingerprint: &str) -> Result<()> {
    let rootfs = tar::archive(&[tar::TarFile {
        path: "pause",
        mode: 0o755,
        contents: program,
    }])
    .map_err(RuntimeError::Invalid)?;
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(PAUSE_REPOSITORY)
        .tag(PAUSE_TAG)
        .message("Flotilla network holder")
        .changes(vec![
            r#"ENTRYPOINT ["/pause"]"#.to_string(),
            format!("LABEL {FINGERPRINT_LABEL}={fingerprint}"),
        ])
        .build();
    let body = bollard::body_full(rootfs.into());
    let mut progress = docker.create_image(Some(options), Some(body), None);
    while let Some(step) = progress.next().await {
        step.map_err(from_bollard)?;
    }
    Ok(())
}

/// 64-bit FNV-1a: a stable fingerprint without pulling in a hash crate.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_fnv1a() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(PAUSE_IMAGE, format!("{PAUSE_REPOSITORY}:{PAUSE_TAG}"));
    }
}
