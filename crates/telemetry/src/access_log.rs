//! The access-log writer: lines go through a bounded channel to one writer thread that writes
//! them to standard output in batches. When the channel is full, the request handler waits:
//! an access log with holes is worse than a slower gateway, and a bounded channel keeps memory
//! bounded when standard output is slow.

use std::io::{BufWriter, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Duration;

/// A handle for writing access-log lines. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    tx: SyncSender<Msg>,
}

#[derive(Debug)]
enum Msg {
    Line(String),
    /// Write out everything queued before this, then answer.
    Flush(SyncSender<()>),
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
        if self.tx.send(Msg::Line(line)).is_err() {
            tracing::warn!("the access-log writer has stopped; a line was lost");
        }
    }

    /// Waits (at most `within`) until every line queued so far is written; for shutdown.
    pub fn flush(&self, within: Duration) -> bool {
        let (ack, done) = sync_channel(1);
        self.tx.send(Msg::Flush(ack)).is_ok() && done.recv_timeout(within).is_ok()
    }
}

fn write_lines(rx: &Receiver<Msg>, out: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut healthy = true;
    let fail = |healthy: &mut bool| {
        if std::mem::replace(healthy, false) {
            // Said once; the writer keeps draining so request handlers never block on it.
            tracing::error!("standard output refused access-log lines; further lines are dropped");
        }
    };
    while let Ok(msg) = rx.recv() {
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Line(line) => {
                    if healthy && (out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err()) {
                        fail(&mut healthy);
                    }
                }
                Msg::Flush(ack) => {
                    if healthy && out.flush().is_err() {
                        fail(&mut healthy);
                    }
                    let _ = ack.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        if healthy && out.flush().is_err() {
            fail(&mut healthy);
        }
    }
}
