//! The tally of allowed requests per key, day and route, kept between writes to the store.
//!
//! With a journal directory ([`UsageTally::open`]) nothing counted is lost, whatever happens
//! to the process: each request's line is appended to `journal.log` (one `write`, no buffer
//! in the process) as it is counted. A flush first *seals* what was counted into a batch with
//! an id of its own, on disk as `batch-ID.tsv`, then sends each sealed batch to the store,
//! which counts an id once (the store's `usage_add_batch`), and deletes the file
//! once the store said yes. A node killed at any point finds its journal and batches at the
//! next start and sends them; a batch whose answer was lost is sent again and not counted
//! twice.
//!
//! While the store is away, batches never sent are merged at each seal, so the files on disk
//! grow with the number of distinct keys, routes and days, not with the number of requests.
//! Without a directory ([`UsageTally::new`]) the same happens in memory only.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// What one count is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsageKey {
    /// The usage plan.
    pub plan: Arc<str>,
    /// The API key's id.
    pub key_id: Arc<str>,
    /// The key's customer.
    pub customer_id: Arc<str>,
    /// The calendar day in the plan's time zone.
    pub day: jiff::civil::Date,
    /// The API.
    pub api: Arc<str>,
    /// The stage.
    pub stage: Arc<str>,
    /// The route key.
    pub route: Arc<str>,
}

/// Sealed counts waiting for the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The id the store counts once.
    pub id: String,
    /// The counts.
    pub counts: Vec<(UsageKey, u64)>,
    /// Whether it was sent and the store's answer is unknown; such a batch is sent again as
    /// it is, never merged with another.
    pub tried: bool,
}

/// Counts waiting to be written.
#[derive(Debug, Default)]
pub struct UsageTally {
    state: Mutex<State>,
    /// Where the journal and sealed batches live; `None` keeps them in memory.
    dir: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    /// Counted since the last seal (the journal's lines).
    counts: HashMap<UsageKey, Counted>,
    journal: Option<File>,
    /// Sealed, oldest first, until the store has them.
    sealed: Vec<Batch>,
    /// Whether the last journal write failed (logged once until one succeeds).
    failing: bool,
}

/// A key's count since the last seal, and its journal line, encoded once.
#[derive(Debug)]
struct Counted {
    n: u64,
    line: Box<str>,
}

const JOURNAL: &str = "journal.log";

// === impl UsageTally ===

impl UsageTally {
    /// An empty tally in memory: a crash loses what was not yet written.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tally journaled in `dir` (created if missing), each request as it is counted, with
    /// whatever an earlier process left there sealed and waiting to be sent.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let tally = Self::open_sealing_only(dir)?;
        tally.state.lock().journal = Some(open_journal(dir)?);
        Ok(tally)
    }

    /// As [`UsageTally::open`], but counts reach `dir` only when they are sealed: no `write`
    /// per request, and a process killed between two seals loses what it counted since the
    /// last one.
    pub fn open_sealing_only(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let sealed = recover(dir)?;
        let state = State { sealed, ..State::default() };
        Ok(Self { state: Mutex::new(state), dir: Some(dir.to_owned()) })
    }

    /// Counts one request and appends its line to the journal (one `write`).
    pub fn record(&self, key: UsageKey) {
        let mut st = self.state.lock();
        let State { counts, journal, failing, .. } = &mut *st;
        let counted = counts.entry(key).or_insert_with_key(|k| Counted { n: 0, line: encode_line(k, 1).into() });
        counted.n += 1;
        let Some(j) = journal.as_mut() else { return };
        match j.write_all(counted.line.as_bytes()) {
            Ok(()) => *failing = false,
            Err(e) if !*failing => {
                *failing = true;
                tracing::error!(error = %e, "cannot append to the usage journal; counting in memory only");
            }
            Err(_) => {}
        }
    }

    /// Seals what was counted since the last seal into a batch (merged with the newest batch
    /// if that one was never sent), and returns every batch waiting for the store, oldest
    /// first.
    pub fn seal(&self) -> io::Result<Vec<Batch>> {
        let (counts, log) = {
            let mut st = self.state.lock();
            let counts: HashMap<UsageKey, u64> =
                std::mem::take(&mut st.counts).into_iter().map(|(k, c)| (k, c.n)).collect();
            let log = match (&self.dir, counts.is_empty() || st.journal.is_none()) {
                (Some(dir), false) => Some(rotate(dir, &mut st)?),
                _ => None,
            };
            (counts, log)
        };
        if !counts.is_empty() {
            self.seal_counts(counts, log)?;
        }
        Ok(self.state.lock().sealed.clone())
    }

    fn seal_counts(&self, counts: HashMap<UsageKey, u64>, log: Option<(String, PathBuf)>) -> io::Result<()> {
        let id = log.as_ref().map_or_else(new_batch_id, |(id, _)| id.clone());
        let mut merged = counts;
        let absorbed = {
            let mut st = self.state.lock();
            let last_untried = st.sealed.last().is_some_and(|b| !b.tried);
            let old = if last_untried { st.sealed.pop() } else { None };
            if let Some(b) = &old {
                for (k, n) in &b.counts {
                    let c = merged.entry(k.clone()).or_insert(0);
                    *c = c.saturating_add(*n);
                }
            }
            st.sealed.push(Batch { id: id.clone(), counts: merged.clone().into_iter().collect(), tried: false });
            old.map(|b| b.id)
        };
        if let Some(dir) = &self.dir {
            // The new file first (it names the batch it absorbs), then the journal it came
            // from, then the absorbed batch: a crash between any two leaves what `recover`
            // puts right.
            write_batch(dir, &id, &merged, absorbed.as_deref())?;
            if let Some((_, path)) = log {
                std::fs::remove_file(path)?;
            }
            if let Some(old) = absorbed {
                remove_if_exists(&dir.join(batch_file(&old)))?;
            }
        }
        Ok(())
    }

    /// Records that batch `id` is being sent: from now on it is only ever sent again as it is.
    pub fn mark_tried(&self, id: &str) {
        if let Some(b) = self.state.lock().sealed.iter_mut().find(|b| b.id == id) {
            b.tried = true;
        }
    }

    /// Forgets batch `id`, which the store has counted.
    pub fn sent(&self, id: &str) -> io::Result<()> {
        self.state.lock().sealed.retain(|b| b.id != id);
        match &self.dir {
            Some(dir) => remove_if_exists(&dir.join(batch_file(id))),
            None => Ok(()),
        }
    }

    /// Requests counted but not yet written for one plan and key on the days `from..=to`.
    pub fn pending(&self, plan: &str, key_id: &str, from: jiff::civil::Date, to: jiff::civil::Date) -> u64 {
        let st = self.state.lock();
        let wanted = |k: &UsageKey| &*k.plan == plan && &*k.key_id == key_id && k.day >= from && k.day <= to;
        let counted: u64 = st.counts.iter().filter(|(k, _)| wanted(k)).map(|(_, c)| c.n).sum();
        let sealed: u64 =
            st.sealed.iter().flat_map(|b| b.counts.iter()).filter(|(k, _)| wanted(k)).map(|(_, n)| n).sum();
        counted + sealed
    }

    /// Requests counted and not yet written, in all.
    pub fn unwritten(&self) -> u64 {
        let st = self.state.lock();
        st.counts.values().map(|c| c.n).sum::<u64>()
            + st.sealed.iter().flat_map(|b| b.counts.iter()).map(|(_, n)| n).sum::<u64>()
    }
}

/// A batch id: the time first, so that names sort oldest first, then a random UUID.
fn new_batch_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("{now:013}-{}", uuid::Uuid::new_v4().simple())
}

fn batch_file(id: &str) -> String {
    format!("batch-{id}.tsv")
}

fn open_journal(dir: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(dir.join(JOURNAL))
}

/// Moves the journal aside as `batch-ID.log` and opens a new one; the new batch's id and the
/// moved file.
fn rotate(dir: &Path, st: &mut State) -> io::Result<(String, PathBuf)> {
    let id = new_batch_id();
    let moved = dir.join(format!("batch-{id}.log"));
    std::fs::rename(dir.join(JOURNAL), &moved)?;
    st.journal = Some(open_journal(dir)?);
    Ok((id, moved))
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes a batch atomically: a temporary file, synced, renamed into place.
fn write_batch(dir: &Path, id: &str, counts: &HashMap<UsageKey, u64>, absorbs: Option<&str>) -> io::Result<()> {
    let mut text = String::new();
    if let Some(old) = absorbs {
        text.push_str(&format!("# absorbs {old}\n"));
    }
    for (k, n) in counts {
        text.push_str(&encode_line(k, *n));
    }
    let tmp = dir.join(format!(".{}.tmp", batch_file(id)));
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(batch_file(id)))?;
    File::open(dir)?.sync_all()
}

/// Puts right what a killed process left: batches absorbed by a later one are deleted, a
/// journal (moved aside or not) becomes a batch unless its batch was written, and every batch
/// is read back, oldest first, as possibly tried.
fn recover(dir: &Path) -> io::Result<Vec<Batch>> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    for name in names.iter().filter(|n| n.ends_with(".tsv")) {
        let text = std::fs::read_to_string(dir.join(name))?;
        for old in text.lines().filter_map(|l| l.strip_prefix("# absorbs ")) {
            remove_if_exists(&dir.join(batch_file(old)))?;
        }
    }
    for name in &names {
        let id = match name.strip_prefix("batch-").and_then(|n| n.strip_suffix(".log")) {
            Some(id) => id.to_owned(),
            None if name == JOURNAL => new_batch_id(),
            None => continue,
        };
        let path = dir.join(name);
        if !dir.join(batch_file(&id)).exists() {
            let counts = parse_lines(&std::fs::read_to_string(&path)?, &path)?;
            if !counts.is_empty() {
                write_batch(dir, &id, &counts, None)?;
            }
        }
        std::fs::remove_file(&path)?;
    }
    let mut batches = Vec::new();
    let mut names: Vec<String> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    for name in names {
        let Some(id) = name.strip_prefix("batch-").and_then(|n| n.strip_suffix(".tsv")) else { continue };
        let path = dir.join(&name);
        let counts = parse_lines(&std::fs::read_to_string(&path)?, &path)?;
        // Whether an earlier process sent it is unknown: it is sent as it is.
        batches.push(Batch { id: id.to_owned(), counts: counts.into_iter().collect(), tried: true });
    }
    Ok(batches)
}

/// One line: the key's fields and a count, tab-separated, each field percent-escaped.
fn encode_line(k: &UsageKey, n: u64) -> String {
    let day = k.day.to_string();
    let fields = [&*k.plan, &*k.key_id, &*k.customer_id, &day, &*k.api, &*k.stage, &*k.route];
    let mut line = String::new();
    for f in fields {
        escape(f, &mut line);
        line.push('\t');
    }
    line.push_str(&n.to_string());
    line.push('\n');
    line
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\t' => out.push_str("%09"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("%09", "\t").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
}

/// The counts of a journal or batch, summed by key. A last line cut short by a crash (no
/// newline) is ignored: its request was not served. Any other bad line is an error naming
/// the file and line.
fn parse_lines(text: &str, path: &Path) -> io::Result<HashMap<UsageKey, u64>> {
    let mut counts = HashMap::new();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    for (i, line) in complete.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, n) = decode_line(line).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}:{}: not a usage line", path.display(), i + 1))
        })?;
        // A corrupted file may hold any number: it must not overflow.
        let c: &mut u64 = counts.entry(key).or_insert(0);
        *c = c.saturating_add(n);
    }
    Ok(counts)
}

fn decode_line(line: &str) -> Option<(UsageKey, u64)> {
    let f: Vec<&str> = line.split('\t').collect();
    let [plan, key_id, customer_id, day, api, stage, route, n] = f.as_slice() else { return None };
    let text = |s: &str| Arc::<str>::from(unescape(s));
    let key = UsageKey {
        plan: text(plan),
        key_id: text(key_id),
        customer_id: text(customer_id),
        day: day.parse().ok()?,
        api: text(api),
        stage: text(stage),
        route: text(route),
    };
    Some((key, n.parse().ok()?))
}

/// For the fuzz target: `text` read as a journal or batch file must not panic, and every count
/// it yields must encode to a line that reads back the same.
#[doc(hidden)]
pub fn fuzz_journal(text: &str) {
    if let Ok(counts) = parse_lines(text, Path::new("fuzz")) {
        for (k, n) in counts {
            let line = encode_line(&k, n);
            assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
            assert_eq!(decode_line(line.trim_end_matches('\n')), Some((k, n)), "{line:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{decode_line, encode_line, Batch, UsageKey, UsageTally, JOURNAL};
    use jiff::civil::date;

    fn key(day: i8) -> UsageKey {
        UsageKey {
            plan: "basic".into(),
            key_id: "k1".into(),
            customer_id: "acme\t% co\n".into(),
            day: date(2026, 11, day),
            api: "pets".into(),
            stage: "prod".into(),
            route: "GET /pets/{id}".into(),
        }
    }

    fn total(batches: &[Batch]) -> u64 {
        batches.iter().flat_map(|b| b.counts.iter()).map(|(_, n)| n).sum()
    }

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("portcullis-usage-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn a_line_keeps_every_field_whatever_it_holds() {
        let line = encode_line(&key(24), 7);
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert_eq!(decode_line(line.trim_end_matches('\n')), Some((key(24), 7)));
    }

    #[test]
    fn in_memory_counts_wait_sealed_until_sent() {
        let t = UsageTally::new();
        for _ in 0..3 {
            t.record(key(24));
        }
        t.record(key(25));
        let first = t.seal().unwrap_or_default();
        assert_eq!((first.len(), total(&first)), (1, 4));
        // Unsent and never tried: the next seal merges into it.
        t.record(key(25));
        let merged = t.seal().unwrap_or_default();
        assert_eq!((merged.len(), total(&merged)), (1, 5));
        assert_eq!(t.pending("basic", "k1", date(2026, 11, 25), date(2026, 11, 25)), 2);
        // Tried: kept as it is; new counts go to a batch of their own.
        t.mark_tried(&merged[0].id);
        t.record(key(24));
        let two = t.seal().unwrap_or_default();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0], Batch { tried: true, ..merged[0].clone() });
        assert_eq!(t.pending("basic", "k1", date(2026, 11, 1), date(2026, 11, 30)), 6);
        assert_eq!(t.pending("basic", "other", date(2026, 11, 1), date(2026, 11, 30)), 0);
        for b in &two {
            assert!(t.sent(&b.id).is_ok());
        }
        assert_eq!(t.unwritten(), 0);
    }

    #[test]
    fn a_killed_process_leaves_everything_it_counted_on_disk() {
        let dir = temp_dir();
        let t = UsageTally::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..5 {
            t.record(key(24));
        }
        let sealed = t.seal().unwrap_or_else(|e| panic!("{e}"));
        t.record(key(25));
        t.record(key(25));
        // Killed here: nothing written since the seal but the journal's lines, plus a line
        // cut short by the kill.
        drop(t);
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"basic\tk1\tcut"))
            .unwrap_or_else(|e| panic!("{e}"));
        let again = UsageTally::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let batches = again.seal().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(total(&batches), 7, "{batches:?}");
        assert!(batches.iter().all(|b| b.tried), "an earlier process may have sent them");
        assert!(batches.iter().any(|b| b.id == sealed[0].id), "the sealed batch keeps its id");
        for b in &batches {
            assert!(again.sent(&b.id).is_ok());
        }
        drop(again);
        let empty = UsageTally::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(empty.unwritten(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sealing_only_writes_nothing_per_request_and_keeps_what_was_sealed() {
        let dir = temp_dir();
        let t = UsageTally::open_sealing_only(&dir).unwrap_or_else(|e| panic!("{e}"));
        t.record(key(24));
        assert!(!dir.join(JOURNAL).exists(), "no journal");
        let sealed = t.seal().unwrap_or_else(|e| panic!("{e}"));
        t.record(key(24));
        drop(t);
        let again = UsageTally::open_sealing_only(&dir).unwrap_or_else(|e| panic!("{e}"));
        let batches = again.seal().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((batches.len(), batches[0].id.as_str(), total(&batches)), (1, sealed[0].id.as_str(), 1));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_merge_cut_short_counts_each_request_once() {
        let dir = temp_dir();
        let t = UsageTally::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        t.record(key(24));
        let first = t.seal().unwrap_or_else(|e| panic!("{e}"));
        t.record(key(24));
        let merged = t.seal().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((merged.len(), total(&merged)), (1, 2));
        drop(t);
        // As if killed after the merged batch was written but before the batch it absorbed
        // was deleted.
        let old = dir.join(format!("batch-{}.tsv", first[0].id));
        std::fs::write(&old, encode_line(&key(24), 1)).unwrap_or_else(|e| panic!("{e}"));
        let again = UsageTally::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.unwritten(), 2);
        assert!(!old.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
