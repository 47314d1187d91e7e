//! What bounds both servers' connections and requests: a header-read timeout (which is also
//! the idle timeout of a kept-alive connection), a connection limit, and a time budget per
//! request. Connections are served by hyper's HTTP/1 server with its own timer; HTTP/2's
//! protocol sniffing has no timeout, so a silent connection could wait in it forever.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

/// File descriptors kept for anything but connections: index files, state files, children.
const RESERVED_FILES: u64 = 128;

/// Connections the kernel holds until they are accepted, while the server is at its limit or
/// busy (tokio's default is 128, past which connections wait a second for the next try; Linux
/// caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 4096;

/// Binds `address` as tokio does (with `SO_REUSEADDR`), but with a backlog of [`BACKLOG`].
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// The limits of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time a connection has to send a request's whole head, from its opening or from its
    /// previous answer: a kept-alive connection idle that long is closed too.
    pub header_timeout: Duration,
    /// Time a request body may take to arrive and, in `catalog serve`, a request until its
    /// answer starts.
    pub request_timeout: Duration,
    /// Connections served at once; more wait to be accepted until one closes (at most the
    /// open-file limit less 128, kept for index files, state files and children).
    pub max_connections: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// Why a request body was refused.
pub enum BodyRefused {
    /// It did not arrive within the time budget.
    TooSlow,
    /// It is larger than allowed.
    TooLarge,
    /// The connection failed while it was read.
    Broken(axum::Error),
}

/// Reads a request's whole body within `within`, at most `max` bytes, and hands the request
/// on with the body in memory: a client sending its body slowly holds no handler.
pub async fn read_body(
    request: Request,
    within: Duration,
    max: usize,
) -> Result<Request, BodyRefused> {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(within, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(BodyRefused::TooSlow),
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(error)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(cause) = source {
                if cause.is::<http_body_util::LengthLimitError>() {
                    return Err(BodyRefused::TooLarge);
                }
                source = cause.source();
            }
            Err(BodyRefused::Broken(error))
        }
    }
}

/// Raises the open-file limit to its hard limit, and answers how many connections fit in it.
fn connections_that_fit(wanted: u32) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    let files = limit.current.unwrap_or(u64::MAX);
    let fit = files.saturating_sub(RESERVED_FILES).max(1);
    if u64::from(wanted) > fit {
        tracing::warn!(
            wanted,
            open_file_limit = files,
            "serving at most {fit} connections at once"
        );
    }
    usize::try_from(fit.min(u64::from(wanted))).unwrap_or(usize::MAX)
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets the open
/// requests finish. An accept error (no file descriptor left) is logged and retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let permits = Arc::new(Semaphore::new(connections_that_fit(limits.max_connections)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A connection beyond the limit waits in the listen backlog, holding no descriptor.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    if !matches!(
                        error.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tracing::warn!("cannot accept a connection: {error}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("connection closed: {error}");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
