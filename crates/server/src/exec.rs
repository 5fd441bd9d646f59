//! The two ends of ExecuteCommand sessions: `POST /_flotilla/exec/SESSION/client` and
//! `.../agent`, each proved by its token (`flotilla_model::exec::TOKEN_HEADER`), over
//! HTTP/2 so that a request's body and its answer's flow at once. The server carries each
//! end's request body to the other's answer as it comes, without reading it.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flotilla_control::exec::{AttachError, Attached, End, ExecHub};
use flotilla_model::exec::{STREAM_PATH, TOKEN_HEADER};
use futures::StreamExt;
use tokio::sync::mpsc;

/// The routes of both ends.
pub fn router(hub: ExecHub) -> axum::Router {
    axum::Router::new()
        .route(
            &format!("{STREAM_PATH}{{session}}/{{end}}"),
            axum::routing::post(attach),
        )
        .with_state(hub)
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    message.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain")], message).into_response()
}

async fn attach(
    State(hub): State<ExecHub>,
    Path((session, end)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Some(end) = End::parse(&end) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "a session's ends are .../client and .../agent",
        );
    };
    if request.version() != Version::HTTP_2 {
        return refuse(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "an exec session's end needs HTTP/2 (flotilla exec and the agent speak it)",
        );
    }
    let token = request
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Attached { inbound, outbound } = match hub.attach(&session, end, token) {
        Ok(attached) => attached,
        Err(e) => {
            let status = match e {
                AttachError::Unknown => StatusCode::NOT_FOUND,
                AttachError::Forbidden => StatusCode::FORBIDDEN,
                AttachError::Taken => StatusCode::CONFLICT,
            };
            return refuse(status, e.to_string());
        }
    };
    tokio::spawn(carry(request.into_body(), inbound, hub));
    let answer = futures::stream::unfold(outbound, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<Bytes, Infallible>(chunk), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(answer),
    )
        .into_response()
}

/// An end's request body, chunk by chunk, to the other end; done when either is, or when
/// the server shuts down (ending this end's request ends the other's answer).
async fn carry(body: Body, to: mpsc::Sender<Bytes>, hub: ExecHub) {
    let mut chunks = body.into_data_stream();
    let closing = hub.closed();
    tokio::pin!(closing);
    loop {
        let chunk = tokio::select! {
            chunk = chunks.next() => chunk,
            () = to.closed() => return,
            () = &mut closing => return,
        };
        let Some(Ok(chunk)) = chunk else {
            return;
        };
        if to.send(chunk).await.is_err() {
            return;
        }
    }
}
