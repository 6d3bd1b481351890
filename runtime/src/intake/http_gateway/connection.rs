//! One connection of the modules' HTTP listener: which protocol it speaks (HTTP/1.1 or h2c,
//! told apart by HTTP/2's preface), and how long it may stay open without a request.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use super::{State, handle};

/// Serves one connection, HTTP/1.1 or h2c, until it ends or is timed out.
pub(super) async fn serve_connection(state: Arc<State>, mut stream: TcpStream) {
    let header_timeout = Duration::from_millis(state.config.header_read_timeout_ms);
    // The auto builder waits, without a timer, for the bytes that tell HTTP/2's preface from
    // HTTP/1.1; they are read here under the header timeout and handed back to it.
    let prefix = match tokio::time::timeout(header_timeout, sniff(&mut stream)).await {
        Ok(Ok(prefix)) if !prefix.is_empty() => prefix,
        Ok(_) => return,
        Err(_) => {
            tracing::debug!("module HTTP: no request within the header timeout; closed");
            return;
        }
    };
    let activity = Arc::new(Activity::new());
    let service = service_fn({
        let activity = activity.clone();
        move |req| {
            let serving = activity.begin();
            let answer = handle(state.clone(), req);
            async move {
                let answer = answer.await;
                drop(serving);
                answer
            }
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let io = Sniffed {
        prefix: Some(prefix),
        stream,
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    // HTTP/2 has no header timeout: a client that keeps a connection open and sends nothing
    // would hold one of `http.max_connections` for ever. A connection idle (no request being
    // served) for the header timeout is shut down gracefully (GOAWAY), and dropped if the
    // client does not let it end within the same time again.
    loop {
        let idle_for = activity.idle_for();
        if idle_for >= header_timeout {
            connection.as_mut().graceful_shutdown();
            tracing::debug!("module HTTP: connection idle past the header timeout; closing");
            match tokio::time::timeout(header_timeout, connection.as_mut()).await {
                Ok(Err(e)) => tracing::debug!("module HTTP connection ended: {e}"),
                Ok(Ok(())) => {}
                Err(_) => tracing::debug!("module HTTP: connection did not close; dropped"),
            }
            return;
        }
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!("module HTTP connection ended: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(header_timeout - idle_for) => {}
        }
    }
}

/// Whether a connection is serving a request, and since when it has not.
struct Activity {
    in_flight: AtomicUsize,
    last_end: parking_lot::Mutex<Instant>,
}

/// A request being served; its end counts as the connection's last activity.
struct Serving(Arc<Activity>);

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            last_end: parking_lot::Mutex::new(Instant::now()),
        }
    }

    fn begin(self: &Arc<Self>) -> Serving {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Serving(self.clone())
    }

    /// Zero while a request is being served.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.last_end.lock().elapsed()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        *self.0.last_end.lock() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// HTTP/2's connection preface (prior knowledge, h2c).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the bytes read are the whole HTTP/2 preface or differ from it; empty when the
/// client closed first.
async fn sniff(stream: &mut TcpStream) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(H2_PREFACE.len());
    loop {
        let mut chunk = [0; 24];
        let want = H2_PREFACE.len() - buf.len();
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Ok(Bytes::new());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() == H2_PREFACE.len() || !H2_PREFACE.starts_with(&buf) {
            return Ok(buf.into());
        }
    }
}

/// A connection whose first bytes were read already: they come first.
struct Sniffed {
    prefix: Option<Bytes>,
    stream: TcpStream,
}

impl AsyncRead for Sniffed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(prefix) = self.prefix.as_mut() {
            let n = prefix.len().min(buf.remaining());
            buf.put_slice(&prefix.split_to(n));
            if prefix.is_empty() {
                self.prefix = None;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
