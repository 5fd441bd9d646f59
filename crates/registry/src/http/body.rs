//! Moving bytes between HTTP bodies and files without holding a blob in memory: a request
//! body read as an `AsyncRead` (what the blob store's appends take), a manifest read up to
//! its limit, and a blob file sent as a stream of chunks.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, ReadBuf};

/// How much of a blob file is read for one chunk of an answer (each read of a tokio file is
/// a hop to a blocking thread, so few large ones).
const CHUNK: usize = 1024 * 1024;

/// A request body as an [`AsyncRead`]. A failing body (the client went away) is an
/// `io::Error` wrapping the `axum::Error`, so that it can be told apart from our own I/O
/// errors.
pub(crate) struct BodyReader {
    stream: BodyDataStream,
    chunk: Bytes,
}

impl BodyReader {
    pub(crate) fn new(body: Body) -> BodyReader {
        BodyReader {
            stream: body.into_data_stream(),
            chunk: Bytes::new(),
        }
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.chunk.is_empty() {
            match ready!(self.stream.poll_next_unpin(cx)) {
                Some(Ok(bytes)) => self.chunk = bytes,
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(self.chunk.len());
        let part = self.chunk.split_to(n);
        buf.put_slice(&part);
        Poll::Ready(Ok(()))
    }
}

/// Why a bounded body could not be read.
pub(crate) enum LimitedError {
    /// It has more than the limit.
    TooLarge,
    /// The body failed (the client went away).
    Body(axum::Error),
}

/// The whole of a body that may have at most `limit` bytes; reading stops as soon as it
/// has more.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, LimitedError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(LimitedError::Body)?;
        if out.len() + chunk.len() > limit {
            return Err(LimitedError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `len` bytes of `file` from `start`, as a body streamed in chunks.
pub(crate) async fn file_body(mut file: tokio::fs::File, start: u64, len: u64) -> io::Result<Body> {
    if start > 0 {
        file.seek(io::SeekFrom::Start(start)).await?;
    }
    let chunks = futures::stream::try_unfold(file.take(len), |mut reader| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), reader)))
    });
    Ok(Body::from_stream(chunks))
}
