//! A request whose body and answer flow at the same time, over HTTP/2: what Flotilla's
//! exec sessions ride on (see `flotilla_model::exec`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use http::{Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use tokio::sync::mpsc;

use super::{connector, http2_pinged, CallError};
use crate::AwsError;

/// Chunks queued for sending before the sender waits.
const QUEUE: usize = 32;
/// The most of a refusal's text read.
const MAX_REFUSAL: usize = 4096;

type Client = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, BoxBody<Bytes, Infallible>>;

/// An open duplex request: chunks sent on `send` go out in the request's body (dropping
/// it ends the body), chunks of the answer come from `receive` (dropping it before it
/// ended resets the stream, losing what was still to be sent).
pub struct Duplex {
    pub send: mpsc::Sender<Bytes>,
    pub receive: BoxStream<'static, Result<Bytes, String>>,
}

/// `POST url` with `headers`, over HTTP/2 (in the clear on `http://`, by ALPN on
/// `https://`, trusting what `tls` trusts), pinged while idle so that a server gone
/// silent ends it. `timeout` bounds the wait for the answer's head; a status other than
/// 200 is an error carrying the answer's text.
pub async fn duplex(
    url: &str,
    headers: &[(&str, &str)],
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<Duplex, CallError> {
    let transport = |message: String| CallError::Transport {
        endpoint: url.to_string(),
        message,
    };
    let client: Client = http2_pinged().build(connector(tls, true));
    let (send, queued) = mpsc::channel::<Bytes>(QUEUE);
    let frames = futures::stream::unfold(queued, |mut queued| async move {
        queued
            .recv()
            .await
            .map(|chunk| (Ok(hyper::body::Frame::data(chunk)), queued))
    });
    let mut request = Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .map_err(|e| transport(e.to_string()))?;
    let answer = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| transport(format!("no answer within {timeout:?}")))?
        .map_err(|e| transport(e.to_string()))?;
    let status = answer.status();
    let body = answer.into_body();
    if status != StatusCode::OK {
        let text = tokio::time::timeout(timeout, body.collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text[..text.len().min(MAX_REFUSAL)])
            .trim()
            .to_string();
        return Err(CallError::Service(AwsError::new(
            status,
            "StreamRefused",
            format!("{url} answered {status}: {text}"),
        )));
    }
    // The client (and its connection) lives as long as the answer is read.
    let receive = body
        .into_data_stream()
        .map(move |chunk| {
            let _connection = &client;
            chunk.map_err(|e| e.to_string())
        })
        .boxed();
    Ok(Duplex { send, receive })
}
