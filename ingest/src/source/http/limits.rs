//! What keeps a client from holding an HTTP server open: a deadline on every request, the
//! upload of its body included, and a bound on open connections. `eventlake ingest http`
//! serves through [`serve_connections`]; it and `eventlake serve` cut slow requests with the
//! same [`within`], each answering 408 in its own envelope.
//!
//! ```text
//!   listen backlog ──(a free slot of max_connections)──▶ accept ──▶ connection task, holding the slot
//!                                                                   ├─ request headers within request_timeout,
//!                                                                   │  else the connection is closed
//!                                                                   └─ each request, body read included, answered
//!                                                                      within request_timeout, else 408 and close
//! ```
//!
//! Invariant: at most `max_connections` accepted sockets are open at once. Past the bound a
//! new connection waits in the kernel's listen backlog, unaccepted and holding no descriptor
//! of this process, until an open one closes. A slot is a semaphore permit owned by the
//! connection's task, so it comes back exactly when that connection's socket is dropped.
//!
//! Why connections and not requests: `tower::limit::ConcurrencyLimit` bounds requests in
//! flight, but an idle keep-alive connection, or one still trickling its headers, is no
//! request in flight, so it would hold a socket beyond any such limit. And why a header
//! deadline beside the slot: without one, connections that never send a request would keep
//! every slot taken.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Runs `handle`, the rest of the stack for one request, for at most `limit`.
///
/// Extractors read the request body inside `handle`, so a body that never ends is cut here
/// too. Past `limit`, `handle` is dropped with the body it was reading and `timed_out`
/// answers; the answer carries `Connection: close`, because the rest of the body was never
/// read and the connection cannot carry another request.
pub async fn within(
    limit: Duration,
    handle: impl Future<Output = Response>,
    timed_out: impl FnOnce() -> Response,
) -> Response {
    match tokio::time::timeout(limit, handle).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = timed_out();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Serves `app` on `listener` (HTTP/1.1) until `shutdown` resolves, with at most
/// `max_connections` connections open (at least one) and each connection closed when the
/// headers of its next request do not arrive within `request_timeout` (an idle keep-alive
/// connection included). `app` cuts slow requests itself, with [`within`].
///
/// On shutdown it stops accepting, lets every open connection finish the request it is on,
/// and returns once all are closed, dropping `app` last.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    request_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let slots = max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = u32::try_from(slots).unwrap_or(u32::MAX);
    let free = Arc::new(Semaphore::new(slots as usize));
    let (close, closing) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&free).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            request_timeout,
            closing.clone(),
            slot,
        ));
    }
    drop(listener);
    close.send_replace(true);
    // Every connection task holds its slot until its socket is dropped.
    let _ = free.acquire_many(slots).await;
}

/// Serves one connection; `_slot` goes back once the connection (and its socket) is gone.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    request_timeout: Duration,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(request_timeout);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                break;
            }
            _ = closing.changed(), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

/// After a failed accept: a connection its peer already gave up on is skipped; anything else
/// (most often `EMFILE`, no descriptor left) is logged and waited out for a second rather
/// than retried in a spin, as `axum::serve` does.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use eventlake_lake::{IngestConfig, Lake};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;

    use crate::source::http::{HttpConfig, serve};

    /// Generous bound for anything that should happen; never asserted as a duration.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// A request that is answered at once (404) and leaves its connection open.
    const ASK: &[u8] = b"GET /nowhere HTTP/1.1\r\nhost: test\r\n\r\n";

    struct Server {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: tokio::task::JoinHandle<crate::Result<()>>,
        _dir: tempfile::TempDir,
    }

    /// The collector on a loopback port over an empty lake.
    async fn start(http: HttpConfig) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(dir.path().join("lake").to_str().unwrap()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            serve(&lake, listener, IngestConfig::default(), http, shutdown).await
        });
        Server {
            addr,
            stop,
            task,
            _dir: dir,
        }
    }

    impl Server {
        async fn stop(self) {
            let _ = self.stop.send(());
            tokio::time::timeout(PATIENCE, self.task)
                .await
                .expect("the server did not stop")
                .unwrap()
                .unwrap();
        }
    }

    /// Reads up to the end of an answer's head.
    async fn head(stream: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed before a whole answer: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_body_that_never_ends_is_answered_408_and_closed() {
        let server = start(HttpConfig {
            request_timeout: Duration::from_millis(300),
            ..HttpConfig::default()
        })
        .await;
        let mut upload = TcpStream::connect(server.addr).await.unwrap();
        // A chunk of 0x40 bytes announced, 20 sent, then nothing: the body never ends.
        upload
            .write_all(
                b"POST /v1/events HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-ndjson\r\n\
                  transfer-encoding: chunked\r\n\r\n40\r\n{\"event_id\":\"evt-1\",",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let ended = tokio::time::timeout(PATIENCE, upload.read_to_end(&mut answer)).await;
        assert!(
            ended.is_ok(),
            "the stalled upload was still open after {PATIENCE:?}"
        );
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"TIMEOUT\""), "{answer}");
        drop(upload);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn headers_that_never_end_are_cut_off() {
        let server = start(HttpConfig {
            request_timeout: Duration::from_millis(300),
            ..HttpConfig::default()
        })
        .await;
        let mut slow = TcpStream::connect(server.addr).await.unwrap();
        slow.write_all(b"POST /v1/events HTTP/1.1\r\nhost: test\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest)).await;
        assert!(
            ended.is_ok(),
            "a connection with unfinished headers was still open after {PATIENCE:?}"
        );
        drop(slow);
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_connection_past_the_limit_waits_until_one_closes() {
        let server = start(HttpConfig {
            max_connections: 2,
            ..HttpConfig::default()
        })
        .await;
        let mut open = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(server.addr).await.unwrap();
            c.write_all(ASK).await.unwrap();
            let answer = tokio::time::timeout(PATIENCE, head(&mut c))
                .await
                .expect("a connection within the limit was not served");
            assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
            open.push(c);
        }
        // Both stay open (keep-alive). A third is taken by the kernel's backlog, not served.
        let mut third = TcpStream::connect(server.addr).await.unwrap();
        third.write_all(ASK).await.unwrap();
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut byte)).await;
        assert!(
            early.is_err(),
            "a third connection was served while two were open: {early:?}"
        );
        drop(open.pop());
        let answer = tokio::time::timeout(PATIENCE, head(&mut third))
            .await
            .expect("the third connection was not served after one closed");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        drop((open, third));
        server.stop().await;
    }
}
