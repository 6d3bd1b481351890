//! A module's stdout, stderr and `log` import, tagged with its name and rate-limited.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use parking_lot::Mutex;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A token bucket of log lines per module, plus the last lines kept for `botbox module logs`
/// and trap reports. One log serves every version of a module.
pub struct GuestLog {
    module: Arc<str>,
    per_minute: f64,
    keep: usize,
    state: Mutex<LogState>,
}

struct LogState {
    tokens: f64,
    last: Instant,
    dropped: u64,
    kept: VecDeque<LogLine>,
}

/// One kept line of a module's log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogLine {
    /// When it was written, Unix milliseconds.
    pub at_ms: u64,
    /// `debug`, `info`, `warn`, `error`, or `host` for what the host reports about the module.
    pub level: String,
    /// The line (at most 4 KiB).
    pub text: String,
}

/// How many recent lines a trap report quotes.
const RECENT: usize = 8;

impl GuestLog {
    /// A log for `module` allowing `per_minute` lines a minute (bursts up to that many) and
    /// keeping the last `keep` lines.
    pub fn new(module: Arc<str>, per_minute: u32, keep: usize) -> Arc<GuestLog> {
        Arc::new(GuestLog {
            module,
            per_minute: f64::from(per_minute.max(1)),
            keep: keep.max(RECENT),
            state: Mutex::new(LogState {
                tokens: f64::from(per_minute.max(1)),
                last: Instant::now(),
                dropped: 0,
                kept: VecDeque::new(),
            }),
        })
    }

    fn keep_line(&self, s: &mut LogState, level: &str, text: &str) {
        if s.kept.len() >= self.keep {
            s.kept.pop_front();
        }
        s.kept.push_back(LogLine {
            at_ms: crate::clock::unix_ms(),
            level: level.to_string(),
            text: text.to_string(),
        });
    }

    /// Records what the host did with the module (loaded, swapped, trapped, stopped): kept
    /// with its lines, logged, never rate-limited.
    pub fn host_event(&self, text: &str) {
        // Module-controlled parts (error texts, hosts it asked for) are made printable.
        let text = &*crate::text::printable(text, 4096);
        let mut s = self.state.lock();
        self.keep_line(&mut s, "host", text);
        drop(s);
        tracing::info!(module = &*self.module, "{text}");
    }

    /// The last `n` lines kept, oldest first.
    pub fn tail(&self, n: usize) -> Vec<LogLine> {
        let s = self.state.lock();
        s.kept
            .iter()
            .skip(s.kept.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// Records the host's refusal of something the module asked for (an HTTP host it was not
    /// granted, too many requests in flight): kept like a host event, but under the module's
    /// log rate limit, since the module decides how often it happens.
    pub fn refusal(&self, text: &str) {
        self.line("host", text);
    }

    /// Writes one line at `level` (`"debug"`, `"info"`, `"warn"`, `"error"`; `"host"` for a
    /// refusal), if the bucket allows.
    pub fn line(&self, level: &str, line: &str) {
        // Module-controlled size and bytes: one line is cut at 4 KiB and made printable (no
        // newline to forge another log line, no terminal escape).
        let line = &*crate::text::printable(line, 4096);
        let mut s = self.state.lock();
        self.keep_line(&mut s, level, line);
        let now = Instant::now();
        let refill = now.duration_since(s.last).as_secs_f64() * self.per_minute / 60.0;
        s.tokens = (s.tokens + refill).min(self.per_minute);
        s.last = now;
        if s.tokens < 1.0 {
            s.dropped += 1;
            return;
        }
        s.tokens -= 1.0;
        let dropped = std::mem::take(&mut s.dropped);
        drop(s);
        let module = &*self.module;
        if dropped > 0 {
            tracing::warn!(module, dropped, "log lines dropped by the rate limit");
        }
        match level {
            "debug" => tracing::debug!(module, "{line}"),
            "info" => tracing::info!(module, "{line}"),
            "warn" | "host" => tracing::warn!(module, "{line}"),
            _ => tracing::error!(module, "{line}"),
        }
    }

    /// The module's last few lines written since `since_ms` (Unix milliseconds; also those
    /// dropped by the rate limit), oldest first: what a call wrote, without what earlier calls
    /// left behind.
    pub fn recent(&self, since_ms: u64) -> Vec<String> {
        self.tail(RECENT)
            .into_iter()
            .filter(|l| l.level != "host" && l.at_ms >= since_ms)
            .map(|l| l.text)
            .collect()
    }

    /// A WASI output stream that writes whole lines to this log.
    pub fn stream(self: &Arc<Self>, level: &'static str) -> GuestOutput {
        GuestOutput {
            log: self.clone(),
            level,
        }
    }
}

/// stdout or stderr of a module.
#[derive(Clone)]
pub struct GuestOutput {
    log: Arc<GuestLog>,
    level: &'static str,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineWriter {
    out: GuestOutput,
    buf: Vec<u8>,
}

impl LineWriter {
    fn flush_lines(&mut self, all: bool) {
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            self.out
                .log
                .line(self.out.level, String::from_utf8_lossy(&line).trim_end());
        }
        // Module-controlled size: a line without newline is flushed at 4 KiB.
        if (all && !self.buf.is_empty()) || self.buf.len() > 4096 {
            let rest = std::mem::take(&mut self.buf);
            self.out
                .log
                .line(self.out.level, &String::from_utf8_lossy(&rest));
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.buf.extend_from_slice(buf);
        self.flush_lines(false);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
