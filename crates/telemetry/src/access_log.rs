//! The access-log writer: lines go through a bounded channel to one writer thread that writes
//! them in batches to standard output, to rotating files, or both. When the channel is full,
//! the request handler waits: an access log with holes is worse than a slower gateway, and a
//! bounded channel keeps memory bounded when an output is slow.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use crate::log_files::{FileSettings, FileSink};

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
    /// Write out everything, close the current file segment, then answer.
    Close(SyncSender<()>),
}

/// A batch is handed to the outputs once it holds this much, or the queue is empty.
const BATCH_BYTES: usize = 64 * 1024;

/// How often an idle writer wakes to rotate and sync files.
const TICK: Duration = Duration::from_secs(1);

// === impl AccessLog ===

impl AccessLog {
    /// Starts the writer thread. `files` adds rotating files beside (or, without `stdout`,
    /// instead of) standard output; their directory and first segment are created here, so a
    /// directory that cannot be written is an error at start, not lost lines later.
    pub fn start(stdout: bool, files: Option<FileSettings>) -> io::Result<Self> {
        let mut outputs = Outputs { stdout: stdout.then(|| Output::new(io::stdout())), files: None };
        if let Some(settings) = files {
            outputs.files = Some(Output::new(FileSink::open(settings)?));
        }
        let (tx, rx) = sync_channel(8192);
        std::thread::Builder::new().name("access-log".into()).spawn(move || run(&rx, outputs))?;
        Ok(Self { tx })
    }

    /// Queues one line (without its newline). Blocks while the queue is full.
    pub fn write(&self, line: String) {
        if self.tx.send(Msg::Line(line)).is_err() {
            tracing::warn!("the access-log writer has stopped; a line was lost");
        }
    }

    /// Waits (at most `within`) until every line queued so far is written.
    pub fn flush(&self, within: Duration) -> bool {
        self.ask(Msg::Flush, within)
    }

    /// Writes every line queued so far and closes the file segment, for shutdown; lines
    /// written after this go to a new segment.
    pub fn close(&self, within: Duration) -> bool {
        self.ask(Msg::Close, within)
    }

    fn ask(&self, msg: fn(SyncSender<()>) -> Msg, within: Duration) -> bool {
        let (ack, done) = sync_channel(1);
        self.tx.send(msg(ack)).is_ok() && done.recv_timeout(within).is_ok()
    }
}

/// Where batches go, each output with its own health.
struct Outputs {
    stdout: Option<Output<io::Stdout>>,
    files: Option<Output<FileSink>>,
}

/// One output and whether it still takes lines. After a failure it is retried with the next
/// batch; the failure is reported once, and again after it recovered and failed anew.
struct Output<W> {
    sink: W,
    healthy: bool,
}

trait Sink {
    const NAME: &'static str;
    fn put(&mut self, batch: &[u8]) -> io::Result<()>;
    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for io::Stdout {
    const NAME: &'static str = "standard output";
    fn put(&mut self, batch: &[u8]) -> io::Result<()> {
        let mut out = self.lock();
        out.write_all(batch)?;
        out.flush()
    }
}

impl Sink for FileSink {
    const NAME: &'static str = "the access-log files";
    fn put(&mut self, batch: &[u8]) -> io::Result<()> {
        self.write_batch(batch)
    }
    fn tick(&mut self) -> io::Result<()> {
        Self::tick(self)
    }
    fn close(&mut self) -> io::Result<()> {
        Self::close(self)
    }
}

impl<W: Sink> Output<W> {
    fn new(sink: W) -> Self {
        Self { sink, healthy: true }
    }

    fn with(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) {
        match f(&mut self.sink) {
            Ok(()) if !self.healthy => {
                self.healthy = true;
                tracing::info!(output = W::NAME, "access-log lines are written again");
            }
            Ok(()) => {}
            Err(e) if self.healthy => {
                self.healthy = false;
                tracing::error!(output = W::NAME, error = %e, "access-log lines could not be written; lines are lost until it recovers");
            }
            Err(_) => {}
        }
    }
}

impl Outputs {
    fn put(&mut self, batch: &[u8]) {
        if batch.is_empty() {
            return;
        }
        if let Some(o) = &mut self.stdout {
            o.with(|s| s.put(batch));
        }
        if let Some(o) = &mut self.files {
            o.with(|s| s.put(batch));
        }
    }

    fn tick(&mut self) {
        if let Some(o) = &mut self.files {
            o.with(Sink::tick);
        }
    }

    fn close(&mut self) {
        if let Some(o) = &mut self.files {
            o.with(Sink::close);
        }
    }
}

fn run(rx: &Receiver<Msg>, mut outputs: Outputs) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    loop {
        let first = match rx.recv_timeout(TICK) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                outputs.tick();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Line(line) => {
                    batch.extend_from_slice(line.as_bytes());
                    batch.push(b'\n');
                    if batch.len() >= BATCH_BYTES {
                        outputs.put(&batch);
                        batch.clear();
                    }
                }
                Msg::Flush(ack) => {
                    outputs.put(&batch);
                    batch.clear();
                    let _ = ack.send(());
                }
                Msg::Close(ack) => {
                    outputs.put(&batch);
                    batch.clear();
                    outputs.close();
                    let _ = ack.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        outputs.put(&batch);
        batch.clear();
        outputs.tick();
    }
    outputs.close();
}
