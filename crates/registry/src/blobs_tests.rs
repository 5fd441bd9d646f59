use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::*;

async fn store(dir: &Path) -> BlobStore {
    BlobStore::open(dir, 1 << 20).await.unwrap()
}

async fn read_blob(s: &BlobStore, d: &Digest) -> Vec<u8> {
    let (mut f, len) = s.open_blob(d).await.unwrap().expect("stored");
    let mut out = Vec::new();
    f.read_to_end(&mut out).await.unwrap();
    assert_eq!(out.len() as u64, len);
    out
}

#[tokio::test]
async fn a_monolithic_push_is_stored_under_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let d = Digest::of(b"layer");
    assert_eq!(s.stat(&d).await.unwrap(), None);
    assert_eq!(s.put(&d, &b"layer"[..]).await.unwrap(), 5);
    assert_eq!(s.stat(&d).await.unwrap(), Some(5));
    assert_eq!(read_blob(&s, &d).await, b"layer");
    assert!(s.delete(&d).await.unwrap());
    assert!(!s.delete(&d).await.unwrap());
}

#[tokio::test]
async fn chunks_append_at_the_current_size_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let id = s.start_upload().await.unwrap();
    assert_eq!(s.append(&id, Some(0), &b"abc"[..]).await.unwrap(), 3);
    match s.append(&id, Some(2), &b"x"[..]).await {
        Err(BlobError::RangeInvalid { size: 3, offset: 2 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.append(&id, Some(3), &b"def"[..]).await.unwrap(), 6);
    let d = Digest::of(b"abcdefg");
    assert_eq!(s.finish(&id, &d, &b"g"[..]).await.unwrap(), 7);
    assert_eq!(read_blob(&s, &d).await, b"abcdefg");
    // The upload is gone once finished.
    assert!(matches!(
        s.upload_size(&id).await,
        Err(BlobError::UploadUnknown(_))
    ));
}

#[tokio::test]
async fn bytes_that_do_not_match_their_digest_are_stored_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let claimed = Digest::of(b"what the client claims");
    match s.put(&claimed, &b"something else"[..]).await {
        Err(BlobError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, claimed);
            assert_eq!(actual, Digest::of(b"something else"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.stat(&claimed).await.unwrap(), None);
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_blob_over_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = BlobStore::open(dir.path(), 4).await.unwrap();
    let d = Digest::of(b"12345");
    assert!(matches!(
        s.put(&d, &b"12345"[..]).await,
        Err(BlobError::TooLarge { limit: 4 })
    ));
    assert_eq!(s.stat(&d).await.unwrap(), None);
    // The refused monolithic push left no upload behind.
    let mut uploads = std::fs::read_dir(dir.path().join("uploads")).unwrap();
    assert!(uploads.next().is_none());
}

#[tokio::test]
async fn an_upload_survives_a_restart_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = store(dir.path()).await;
        let id = s.start_upload().await.unwrap();
        s.append(&id, None, &b"first half "[..]).await.unwrap();
        id
    };
    // A new process: the running hash is recomputed from the file.
    let s = store(dir.path()).await;
    let id = UploadId::parse(id.as_str()).unwrap();
    assert_eq!(s.upload_size(&id).await.unwrap(), 11);
    let d = Digest::of(b"first half second half");
    s.finish(&id, &d, &b"second half"[..]).await.unwrap();
    assert_eq!(read_blob(&s, &d).await, b"first half second half");
}

#[tokio::test]
async fn concurrent_pushes_of_one_layer_end_as_one_blob() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path()).await);
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::of(&bytes);
    let pushes: Vec<_> = (0..8)
        .map(|_| {
            let (s, d, bytes) = (s.clone(), d.clone(), bytes.clone());
            tokio::spawn(async move { s.put(&d, bytes.as_slice()).await.unwrap() })
        })
        .collect();
    for p in pushes {
        assert_eq!(p.await.unwrap(), bytes.len() as u64);
    }
    assert_eq!(read_blob(&s, &d).await, bytes);
    let shard = dir.path().join("blobs/sha256").join(&d.hex()[..2]);
    assert_eq!(std::fs::read_dir(shard).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn abandoned_uploads_expire_and_cancelled_ones_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let kept = s.start_upload().await.unwrap();
    let cancelled = s.start_upload().await.unwrap();
    assert!(s.cancel(&cancelled).await.unwrap());
    assert!(matches!(
        s.upload_size(&cancelled).await,
        Err(BlobError::UploadUnknown(_))
    ));
    assert_eq!(
        s.expire_uploads(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(s.expire_uploads(Duration::ZERO).await.unwrap(), 1);
    assert!(matches!(
        s.upload_size(&kept).await,
        Err(BlobError::UploadUnknown(_))
    ));
}

#[test]
fn upload_ids_from_clients_are_only_ours() {
    assert!(UploadId::parse("../../etc/passwd").is_none());
    assert!(UploadId::parse("").is_none());
    let id = uuid::Uuid::new_v4().simple().to_string();
    assert_eq!(UploadId::parse(&id).map(|u| u.0), Some(id.clone()));
    // Only the simple form, so one upload has one name.
    let hyphenated = uuid::Uuid::parse_str(&id).unwrap().hyphenated().to_string();
    assert!(UploadId::parse(&hyphenated).is_none());
}

#[tokio::test]
async fn touching_a_blob_makes_it_recent_and_leaves_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let d = Digest::of(b"layer");
    assert!(!s.touch(&d).await.unwrap());
    s.put(&d, &b"layer"[..]).await.unwrap();
    let path = s.blob_path(&d);
    let old = SystemTime::now() - Duration::from_secs(86_400);
    std::fs::File::options()
        .append(true)
        .open(&path)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert!(s.touch(&d).await.unwrap());
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(modified > old + Duration::from_secs(3600));
    assert_eq!(read_blob(&s, &d).await, b"layer");
}
