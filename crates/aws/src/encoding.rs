//! Request bodies sent with a `Content-Encoding`: SDKs compress large requests of
//! operations that allow it (botocore gzips PutMetricData bodies over 10 KiB). The
//! signature covers the body as sent, so the gateway verifies first and decodes here
//! afterwards, bounded by the same size limit as any body (a small gzip member must not
//! unpack into gigabytes).

use std::io::Read;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::AwsError;

/// The body as the service must read it: unpacked when `Content-Encoding` says `gzip`
/// (`identity` or no header: as sent). At most `limit` bytes unpacked.
pub(crate) fn decode_body(
    headers: &HeaderMap,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, AwsError> {
    let encodings: Vec<String> = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity" && e != "aws-chunked")
        .collect();
    match encodings.as_slice() {
        [] => Ok(body),
        [gzip] if gzip == "gzip" => gunzip(&body, limit),
        other => Err(AwsError::client(
            "UnsupportedEncoding",
            format!(
                "Content-Encoding {} is not supported; send the body as is or gzip it.",
                other.join(", ")
            ),
        )),
    }
}

fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, AwsError> {
    let mut out = Vec::new();
    let read = flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Err(_) => Err(AwsError::client(
            "SerializationException",
            "The request body is not valid gzip.",
        )),
        Ok(_) if out.len() > limit => Err(AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body unpacks to more than {limit} bytes."),
        )),
        Ok(_) => Ok(Bytes::from(out)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_ENCODING, encoding.parse().unwrap());
        h
    }

    #[test]
    fn gzip_is_unpacked_within_the_limit() {
        let body = Bytes::from(gzip(b"{\"a\":1}"));
        assert_eq!(
            decode_body(&headers("gzip"), body, 100).unwrap(),
            &b"{\"a\":1}"[..]
        );
        let plain = Bytes::from_static(b"{}");
        assert_eq!(
            decode_body(&HeaderMap::new(), plain.clone(), 100).unwrap(),
            plain
        );
        assert_eq!(
            decode_body(&headers("identity"), plain.clone(), 100).unwrap(),
            plain
        );
        let bomb = Bytes::from(gzip(&vec![0u8; 1 << 20]));
        assert_eq!(
            decode_body(&headers("gzip"), bomb, 1000)
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(
            decode_body(&headers("gzip"), Bytes::from_static(b"not gzip"), 100)
                .unwrap_err()
                .code,
            "SerializationException"
        );
        assert_eq!(
            decode_body(&headers("br"), Bytes::from_static(b"x"), 100)
                .unwrap_err()
                .code,
            "UnsupportedEncoding"
        );
    }

    proptest::proptest! {
        /// Whatever bytes arrive as gzip, the answer is a body or a client error.
        #[test]
        fn arbitrary_gzip_bodies(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            match decode_body(&headers("gzip"), Bytes::from(bytes), 4096) {
                Ok(b) => proptest::prop_assert!(b.len() <= 4096),
                Err(e) => proptest::prop_assert!(!e.is_server_fault()),
            }
        }
    }
}
