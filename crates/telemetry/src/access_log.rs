//! The access-log writer: lines go through a bounded channel to one task that writes them to
//! standard output in batches. When the channel is full, request handling waits rather than
//! drop lines: an access log with holes is worse than a slower gateway.

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// A handle for writing access-log lines. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: mpsc::Sender<String>,
}

// === impl AccessLog ===

impl AccessLog {
    /// Starts the writer task on the current runtime, writing to standard output.
    pub fn stdout() -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(write_lines(rx, tokio::io::stdout()));
        Self { tx }
    }

    /// Queues one line (without its newline).
    pub async fn write(&self, line: String) {
        if self.tx.send(line).await.is_err() {
            tracing::warn!("access log writer has stopped; a line was lost");
        }
    }

    /// Queues one line without waiting; used where waiting is impossible (a body being
    /// dropped). Falls back to a spawned send when the channel is full.
    pub fn write_now(&self, line: String) {
        if let Err(mpsc::error::TrySendError::Full(line)) = self.tx.try_send(line) {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(line).await;
            });
        }
    }
}

async fn write_lines<W: tokio::io::AsyncWrite + Unpin>(mut rx: mpsc::Receiver<String>, out: W) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Some(line) = rx.recv().await {
        let mut batch = Some(line);
        while let Some(line) = batch.take() {
            if out.write_all(line.as_bytes()).await.is_err() || out.write_all(b"\n").await.is_err() {
                return;
            }
            batch = rx.try_recv().ok();
        }
        if out.flush().await.is_err() {
            return;
        }
    }
}
