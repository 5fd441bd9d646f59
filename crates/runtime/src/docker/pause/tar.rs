//! A minimal ustar writer: regular files only, enough to hand Docker a root filesystem.
//!
//! Entries are owned by root with a fixed modification time, so the same files always
//! give the same archive.

const BLOCK: usize = 512;

/// A file to put into the archive.
pub(crate) struct TarFile<'a> {
    /// Relative path, at most 100 bytes.
    pub path: &'a str,
    pub mode: u32,
    pub contents: &'a [u8],
}

/// The archive holding `files`, followed by the two zero blocks that end a tar stream.
pub(crate) fn archive(files: &[TarFile<'_>]) -> Result<Vec<u8>, String> {
    let mut tar = Vec::new();
    for file in files {
        tar.extend_from_slice(&header(file)?);
        tar.extend_from_slice(file.contents);
        tar.resize(tar.len().next_multiple_of(BLOCK), 0);
    }
    tar.resize(tar.len() + 2 * BLOCK, 0);
    Ok(tar)
}

fn header(file: &TarFile<'_>) -> Result<[u8; BLOCK], String> {
    if file.path.len() > 100 {
        return Err(format!("tar path too long: {}", file.path));
    }
    let mut header = [0u8; BLOCK];
    header[..file.path.len()].copy_from_slice(file.path.as_bytes());
    octal(&mut header[100..108], u64::from(file.mode)); // mode
    octal(&mut header[108..116], 0); // uid
    octal(&mut header[116..124], 0); // gid
    octal(&mut header[124..136], file.contents.len() as u64); // size
    octal(&mut header[136..148], 0); // mtime
    header[156] = b'0'; // typeflag: regular file
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[265..269].copy_from_slice(b"root");
    header[297..301].copy_from_slice(b"root");
    // The checksum is computed with its own field read as spaces.
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    octal(&mut header[148..155], u64::from(sum));
    Ok(header)
}

/// Zero-padded octal digits filling all but the field's last byte, which stays NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn archive_is_block_aligned_and_checksummed() {
        let tar = archive(&[TarFile {
            path: "pause",
            mode: 0o755,
            contents: b"hello",
        }])
        .unwrap_or_default();
        assert_eq!(tar.len(), 4 * BLOCK);
        assert_eq!(&tar[..5], b"pause");
        assert_eq!(&tar[124..135], b"00000000005");
        let mut check = tar[..BLOCK].to_vec();
        check[148..156].fill(b' ');
        let sum: u32 = check.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&tar[148..155], format!("{sum:06o}\0").as_bytes());
        assert_eq!(&tar[BLOCK..BLOCK + 5], b"hello");
    }

    #[test]
    fn system_tar_reads_the_archive() {
        let tar = archive(&[TarFile {
            path: "pause",
            mode: 0o755,
            contents: b"hello",
        }])
        .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("flotilla-tar-{}.tar", std::process::id()));
        std::fs::write(&path, tar).expect("write");
        let listing = Command::new("tar").arg("-tvf").arg(&path).output();
        let _ = std::fs::remove_file(&path);
        let Ok(listing) = listing else { return }; // no tar on this machine
        let text = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.status.success(), "{listing:?}");
        assert!(
            text.contains("-rwxr-xr-x") && text.contains("pause"),
            "{text}"
        );
    }

    #[test]
    fn long_paths_are_refused() {
        let path = "x".repeat(101);
        assert!(archive(&[TarFile {
            path: &path,
            mode: 0o644,
            contents: b""
        }])
        .is_err());
    }
}
