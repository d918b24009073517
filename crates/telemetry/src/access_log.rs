//! The access-log writer: lines go through a bounded channel to one writer thread that writes
//! them to standard output in batches. When the channel is full, the request handler waits:
//! an access log with holes is worse than a slower gateway, and a bounded channel keeps memory
//! bounded when standard output is slow.

use std::io::{BufWriter, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// A handle for writing access-log lines. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: SyncSender<String>,
}

// === impl AccessLog ===

impl AccessLog {
    /// Starts the writer thread, writing to standard output.
    pub fn stdout() -> Self {
        let (tx, rx) = sync_channel(8192);
        let spawned =
            std::thread::Builder::new().name("access-log".into()).spawn(move || write_lines(&rx, std::io::stdout()));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access-log writer; access-log lines will be lost");
        }
        Self { tx }
    }

    /// Queues one line (without its newline). Blocks while the queue is full.
    pub fn write(&self, line: String) {
        if self.tx.send(line).is_err() {
            tracing::warn!("the access-log writer has stopped; a line was lost");
        }
    }
}

fn write_lines(rx: &Receiver<String>, out: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut failed = false;
    while let Ok(line) = rx.recv() {
        let mut next = Some(line);
        while let Some(line) = next.take() {
            if !failed && (out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err()) {
                failed = true;
            }
            next = rx.try_recv().ok();
        }
        if !failed && out.flush().is_err() {
            failed = true;
        }
        if failed {
            // Keep draining so request handlers never block on a dead writer.
            tracing::error!("standard output refused access-log lines; they are being dropped");
        }
    }
}
