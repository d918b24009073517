//! Replays the WAF corpora (`../shared/corpus/waf` by default) and prints, per source and
//! class, the share of attacks blocked and of benign requests and crawler user agents blocked.
//!
//!     waf-corpus --config FILE [--acl NAME] [--corpus DIR]            # in process
//!     waf-corpus --config FILE --url https://127.0.0.1:8443 --ca CERT # through a gateway
//!     ... --show misses|false-positives [--class CLASS]                # list records
//!
//! In process, the web ACL named `--acl` (or the first) of the gateway configuration FILE is
//! evaluated over each request; with `--url`, each request goes over HTTPS to a gateway that
//! serves FILE, and a 403 counts as blocked (`bench/waf-corpus.sh` starts one). Exit status 0
//! unless something failed to run: the shares are reported, not judged.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use portcullis_bench::waf_corpus::{self, Probe, Record, Tally};

struct Args {
    config: PathBuf,
    acl: Option<String>,
    corpus: PathBuf,
    url: Option<String>,
    ca: Option<PathBuf>,
    show: Option<String>,
    class: Option<String>,
    concurrency: usize,
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("waf-corpus: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("waf-corpus: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let records = waf_corpus::load(&args.corpus)?;
    let probes: Vec<Option<Probe>> = records.iter().map(Probe::from_record).collect();
    let started = std::time::Instant::now();
    let verdicts: Vec<Option<bool>> = match &args.url {
        None => {
            let acl = load_acl(args)?;
            probes.iter().map(|p| p.as_ref().map(|p| waf_corpus::blocked_offline(&acl, p))).collect()
        }
        Some(url) => send_all(args, url, &probes)?,
    };
    let elapsed = started.elapsed();
    let mut tally = Tally::new();
    for (r, v) in records.iter().zip(&verdicts) {
        waf_corpus::record(&mut tally, r, *v);
    }
    if let Some(what) = &args.show {
        show(args, what, &records, &probes, &verdicts);
    }
    print!("{}", waf_corpus::report(&tally));
    println!(
        "{} records in {:.1} s ({})",
        records.len(),
        elapsed.as_secs_f64(),
        args.url.as_deref().unwrap_or("in process")
    );
    Ok(())
}

/// Lists the records that were missed or wrongly blocked.
fn show(args: &Args, what: &str, records: &[Record], probes: &[Option<Probe>], verdicts: &[Option<bool>]) {
    for ((r, p), v) in records.iter().zip(probes).zip(verdicts) {
        let (Some(p), Some(blocked)) = (p, v) else { continue };
        let wanted = match what {
            "misses" => r.expect == "block" && !blocked,
            _ => r.expect == "allow" && *blocked,
        };
        if wanted && args.class.as_ref().is_none_or(|c| *c == r.class) {
            let why = load_acl(args).ok().and_then(|acl| waf_corpus::why_blocked(&acl, p)).unwrap_or_default();
            let body = String::from_utf8_lossy(&p.body).replace('\n', " ");
            println!("{} {} {} {:.160} body={:.100} | {why:.160}", r.id, r.class, p.method, p.target(), body);
        }
    }
}

fn load_acl(args: &Args) -> Result<waf::WebAcl, String> {
    let text = std::fs::read_to_string(&args.config).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let acls = doc.get("web_acls").and_then(|a| a.as_array()).ok_or("the config has no web_acls")?;
    let (i, cfg) = acls
        .iter()
        .enumerate()
        .find(|(_, a)| args.acl.as_ref().is_none_or(|n| a.get("name").and_then(|x| x.as_str()) == Some(n)))
        .ok_or("no such web ACL")?;
    let cfg: waf::WebAclConfig = serde_json::from_value(cfg.clone()).map_err(|e| format!("web_acls[{i}]: {e}"))?;
    let mut issues = Vec::new();
    waf::compile(&cfg, &format!("web_acls[{i}]"), &mut issues).ok_or_else(|| format!("{issues:?}"))
}

/// Sends every probe to the gateway, `concurrency` at a time; `Some(true)` for a 403.
fn send_all(args: &Args, url: &str, probes: &[Option<Probe>]) -> Result<Vec<Option<bool>>, String> {
    let ca = args.ca.as_ref().ok_or("--url needs --ca (the gateway's certificate, PEM)")?;
    let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let sender =
        runtime.block_on(async { waf_corpus::Sender::new(&pem) }).map_err(|e| format!("{}: {e}", ca.display()))?;
    let probes: Arc<Vec<Option<Probe>>> = Arc::new(probes.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let base = url.trim_end_matches('/').to_owned();
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency {
            let (sender, probes, next, base) = (sender.clone(), probes.clone(), next.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = probes.get(i) else { break };
                    let verdict = match slot {
                        None => None,
                        Some(p) => Some(sender.status(&base, p).await.map_err(|e| format!("record {i}: {e}"))? == 403),
                    };
                    out.push((i, verdict));
                }
                Ok::<_, String>(out)
            }));
        }
        let mut verdicts = vec![None; probes.len()];
        for task in tasks {
            for (i, v) in task.await.map_err(|e| e.to_string())?? {
                if let Some(slot) = verdicts.get_mut(i) {
                    *slot = v;
                }
            }
        }
        Ok(verdicts)
    })
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config: PathBuf::from("bench/waf-corpus.yaml"),
        acl: None,
        corpus: PathBuf::from("../shared/corpus/waf"),
        url: None,
        ca: None,
        show: None,
        class: None,
        concurrency: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--config" => args.config = value()?.into(),
            "--acl" => args.acl = Some(value()?),
            "--corpus" => args.corpus = value()?.into(),
            "--url" => args.url = Some(value()?),
            "--ca" => args.ca = Some(value()?.into()),
            "--show" => args.show = Some(value()?),
            "--class" => args.class = Some(value()?),
            "--concurrency" => args.concurrency = value()?.parse().map_err(|_| "--concurrency needs a number")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}
