//! `ferry cutover`: moves clients from the primary to the secondary through
//! a running `ferry proxy` (dual-write), step by step, each recorded with
//! its time in the run registry (`cutover_steps`):
//!
//! 1. `baseline`: the proxy's state at T0 (it must be mirroring);
//! 2. `fenced`: a marker write sent through the proxy
//!    (`__ferry:cutover:{RUN}`) seen on the secondary and the proxy's
//!    backlog drained: everything written before T0 is there;
//! 3. `verify`: a sample of keys compared on both stores (keys that differ
//!    are read again a few times: a write may be in flight); too many
//!    mismatches stop the cutover here, nothing switched;
//! 4. canary batches (`--batches 1,10,50,100`): for each share N,
//!    `batch-N%` (`FERRY.PROXY MODE split:N`: N% of the keys served by the
//!    secondary, fenced), a soak, then the gate `batch-N%-ok`: no new
//!    mirror error during the soak and a verify sample within
//!    `--max-mismatches`; a failed gate returns every key to the primary
//!    (`rolled-back`) and stops (`stopped`). Without batches: `soak`;
//! 5. `switched`: `FERRY.PROXY MODE switched`, the proxy's fenced switch
//!    (new writes wait, the mirrors drain, the stores swap roles; the old
//!    primary keeps receiving every write through the reverse mirror).
//!
//! `plan` shows what `start` would do and checks it can; `rollback`
//! switches back the same way; `status` lists the steps.

use ferry_migrate::endpoint::{Endpoint, Spec};
use ferry_migrate::registry::Registry;
use ferry_migrate::verify::{compare_keys, VerifyOptions};
use ferry_migrate::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The proxy's `FERRY.PROXY STATUS`, as fields.
pub struct Status(pub HashMap<String, String>);

impl Status {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }

    fn behind(&self) -> u64 {
        self.get("behind").parse().unwrap_or(u64::MAX)
    }

    fn mirror_errors(&self) -> u64 {
        self.get("mirror_errors").parse().unwrap_or(0)
    }
}

/// A connection to the proxy's own port.
pub struct Proxy {
    addr: String,
    conn: redis::aio::MultiplexedConnection,
}

impl Proxy {
    pub async fn connect(addr: &str) -> Result<Proxy> {
        let client = redis::Client::open(format!("redis://{addr}/"))
            .map_err(|e| Error::Usage(format!("--proxy {addr}: {e}")))?;
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| Error::Connect(format!("--proxy {addr}: timed out connecting")))?
        .map_err(|e| Error::Connect(format!("--proxy {addr}: cannot connect ({e})")))?;
        Ok(Proxy {
            addr: addr.to_string(),
            conn,
        })
    }

    async fn admin(&mut self, args: &[&str]) -> Result<String> {
        let mut c = redis::cmd("FERRY.PROXY");
        for a in args {
            c.arg(*a);
        }
        c.query_async::<String>(&mut self.conn).await.map_err(|e| {
            Error::Usage(format!(
                "{}: FERRY.PROXY {}: {e} (is this a ferry proxy?)",
                self.addr,
                args.join(" ")
            ))
        })
    }

    /// An admin reply of `name:value` fields.
    async fn fields(&mut self, what: &str) -> Result<Status> {
        let text = self.admin(&[what]).await?;
        Ok(Status(
            text.split_whitespace()
                .filter_map(|f| f.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    pub async fn status(&mut self) -> Result<Status> {
        self.fields("STATUS").await
    }

    /// The mirrors' positions once every write the stores ran is in a
    /// backlog (`FERRY.PROXY POSITIONS`: the proxy's fence for a moment).
    pub async fn positions(&mut self) -> Result<Status> {
        self.fields("POSITIONS").await
    }

    pub async fn mode(&mut self, mode: &str) -> Result<String> {
        self.admin(&["MODE", mode]).await
    }

    /// A write through the proxy, like a client's.
    async fn set(&mut self, key: &str, value: &str) -> Result<()> {
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut self.conn)
            .await
            .map_err(|e| Error::Usage(format!("{}: SET {key} through the proxy: {e}", self.addr)))
    }
}

/// The marker the fence writes through the proxy.
pub fn marker_key(run_id: &str) -> String {
    format!("__ferry:cutover:{{{run_id}}}")
}

pub struct StartOptions {
    pub run_id: String,
    /// Keys compared before switching.
    pub verify_sample: usize,
    /// Mismatches tolerated by the verify step.
    pub max_mismatches: u64,
    /// Seconds to wait after verifying (and in each batch).
    pub soak: u64,
    /// Canary batches: shares of the keys (percent, ascending) served by
    /// the secondary in turn before the switch. Empty: switch at once.
    pub batches: Vec<u8>,
    /// The live dashboard's board (phases and mismatches).
    pub board: Option<Arc<ferry_dashboard::Board>>,
    /// How long the backlog may take to drain.
    pub drain_timeout: Duration,
    /// The stores, when they need credentials (default: the addresses the
    /// proxy reports, without).
    pub primary: Option<Spec>,
    pub secondary: Option<Spec>,
}

fn spec_of(addr: &str) -> Result<Spec> {
    Spec::parse(&format!("redis://{addr}"))
}

/// Checks `--batches`: percentages from 1 to 100, ascending.
pub fn parse_batches(text: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let n: u8 = part
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| format!("--batches: {part:?} is not a percentage from 1 to 100"))?;
        if out.last().is_some_and(|l| *l >= n) {
            return Err(format!(
                "--batches: {text:?} must go up (each batch moves more keys)"
            ));
        }
        out.push(n);
    }
    Ok(out)
}

/// What `start` would do with `opts`, after checking the proxy can.
pub async fn plan(proxy: &mut Proxy, opts: &StartOptions) -> Result<Vec<String>> {
    let s = proxy.status().await?;
    let mode = s.get("mode");
    startable(mode)?;
    let mut lines = vec![format!(
        "proxy {}: mode {mode}, {} mirror entries behind, primary {}, secondary {}",
        proxy.addr,
        s.get("behind"),
        s.get("primary"),
        s.get("secondary")
    )];
    for (name, spec) in [
        ("primary", stores(&s, opts)?.0),
        ("secondary", stores(&s, opts)?.1),
    ] {
        let e = Endpoint::connect(spec).await?;
        let mut d = e.data(0).await?;
        let n = match d.cmd(&redis::cmd("DBSIZE")).await? {
            redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        };
        drop(d);
        e.close().await;
        lines.push(format!("{name}: reachable, {n} keys in db 0"));
    }
    lines.push(format!(
        "1. baseline: T0 and the proxy's state recorded as run {}",
        opts.run_id
    ));
    lines.push(format!(
        "2. fenced: SET {} through the proxy, wait (up to {:?}) until the secondary has it and the backlog is drained",
        marker_key(&opts.run_id),
        opts.drain_timeout
    ));
    lines.push(format!(
        "3. verify: {} random keys compared; more than {} differing stops here, nothing moved",
        opts.verify_sample, opts.max_mismatches
    ));
    let mut n = 4;
    if opts.batches.is_empty() && opts.soak > 0 {
        lines.push(format!("{n}. soak {} s", opts.soak));
        n += 1;
    }
    for b in &opts.batches {
        lines.push(format!(
            "{n}. batch {b}%: FERRY.PROXY MODE split:{b} ({b}% of keys served by the secondary), soak {} s, gate: no new mirror error and at most {} of {} sampled keys differ, else every key back to the primary",
            opts.soak, opts.max_mismatches, opts.verify_sample
        ));
        n += 1;
    }
    lines.push(format!(
        "{n}. switched: FERRY.PROXY MODE switched (the secondary serves every key; writes mirrored back to the primary for a rollback)"
    ));
    Ok(lines)
}

/// A cutover starts from a proxy that mirrors to the secondary.
fn startable(mode: &str) -> Result<()> {
    if mode != "dual-write" && !mode.starts_with("read-canary") {
        return Err(Error::Usage(format!(
            "the proxy is in {mode}: a cutover starts from dual-write (or read-canary) so the secondary has every write{}",
            if mode.starts_with("split") {
                " (a cutover stopped mid-batch? `ferry cutover rollback` first)"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// The stores, from the options or the proxy's status.
fn stores(s: &Status, opts: &StartOptions) -> Result<(Spec, Spec)> {
    let primary = match &opts.primary {
        Some(p) => p.clone(),
        None => spec_of(s.get("primary"))?,
    };
    let secondary = match &opts.secondary {
        Some(p) => p.clone(),
        None => spec_of(s.get("secondary"))?,
    };
    Ok((primary, secondary))
}

/// Records a step in the registry and shows it as the board's phase.
fn step(reg: &Registry, opts: &StartOptions, name: &str, detail: &str) -> Result<()> {
    reg.record_step(&opts.run_id, name, detail)?;
    if let Some(b) = &opts.board {
        b.phase(name);
    }
    log::info!("{name}: {detail}");
    Ok(())
}

async fn wait_drained(proxy: &mut Proxy, timeout: Duration) -> Result<Status> {
    let started = Instant::now();
    loop {
        let s = proxy.status().await?;
        if s.behind() == 0 {
            return Ok(s);
        }
        if started.elapsed() > timeout {
            return Err(Error::Usage(format!(
                "the proxy's backlog did not drain within {timeout:?} ({} entries behind): is the secondary reachable?",
                s.get("behind")
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the proxy's mirrors have applied every write the stores
/// had run when called (both directions; marked under the proxy's fence):
/// every write made before this call is then on both stores.
async fn mirrors_caught_up(proxy: &mut Proxy, timeout: Duration) -> Result<()> {
    let num = |s: &Status, k: &str| s.get(k).parse::<u64>().unwrap_or(0);
    // A transaction held open for seconds (or a proxy older than
    // POSITIONS) refuses the fenced mark: the plain one then.
    let first = match proxy.positions().await {
        Ok(at) => at,
        Err(e) => {
            log::info!("catch-up mark without the proxy's fence ({e})");
            proxy.status().await?
        }
    };
    let targets = [
        num(&first, "to_secondary_seq"),
        num(&first, "to_primary_seq"),
    ];
    let started = Instant::now();
    loop {
        let s = proxy.status().await?;
        if num(&s, "to_secondary_applied") >= targets[0]
            && num(&s, "to_primary_applied") >= targets[1]
        {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(Error::Usage(format!(
                "the proxy's mirrors did not catch up within {timeout:?} ({} entries behind): is the other store reachable?",
                s.get("behind")
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Catch-ups a differing key must stay unchanged through, and the pause
/// after each, before it counts as differing: on a starved machine a
/// difference was seen to outlast one catch-up (and 200 ms) and then go
/// away with nothing lost (every key equal once the writers stopped);
/// a real divergence stays.
const STABLE_ROUNDS: usize = 3;
const STABLE_GAP: Duration = Duration::from_millis(300);

/// Random keys of database 0 of `src` compared with `dst`: (keys
/// compared, keys that differ, examples).
async fn verify_sample(
    proxy: &mut Proxy,
    src: &Endpoint,
    dst: &Endpoint,
    n: usize,
    drain_timeout: Duration,
) -> Result<(u64, u64, Vec<String>)> {
    let mut s = src.data(0).await?;
    let mut t = dst.data(0).await?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for _ in 0..n {
        match s.cmd(&redis::cmd("RANDOMKEY")).await? {
            redis::Value::BulkString(k) if !k.starts_with(b"__ferry:") => keys.push(k),
            redis::Value::Nil => break,
            _ => {}
        }
    }
    keys.sort();
    keys.dedup();
    let opts = VerifyOptions {
        sample: 1.0,
        full: false,
        show_diffs: 5,
        ttl_tolerance_ms: 2000,
        chunk: 200,
        scan_count: 1000,
    };
    let checked = keys.len() as u64;
    if compare_keys(&mut s, &mut t, &keys, &opts).await?.mismatches == 0 {
        return Ok((checked, 0, Vec::new()));
    }
    // Which keys differ, one at a time. A key the application keeps
    // writing differs for as long as its last write is on its way through
    // a mirror. A key counts only when it still differs after the mirrors
    // applied every write the stores had run once its values were read
    // (`mirrors_caught_up` marks the backlogs under the proxy's fence, so
    // a write the primary ran but whose reply the proxy had not read yet
    // is waited for too), three times over about a second, and neither
    // value changed meanwhile: then the difference is not a write on its
    // way. A key written the whole time
    // (10 tries) is left out (logged), not counted.
    let mut mismatches = 0;
    let mut examples = Vec::new();
    let mut hot = 0;
    let dump = |k: &[u8]| {
        let mut c = redis::cmd("DUMP");
        c.arg(k);
        c
    };
    for k in &keys {
        let mut settled = false;
        for _ in 0..10 {
            let r = compare_keys(&mut s, &mut t, std::slice::from_ref(k), &opts).await?;
            if r.mismatches == 0 {
                settled = true;
                break;
            }
            let before = (s.cmd(&dump(k)).await?, t.cmd(&dump(k)).await?);
            // Stable means: the same values on both sides across
            // STABLE_ROUNDS catch-ups spread over about a second.
            let mut stable = true;
            for _ in 0..STABLE_ROUNDS {
                mirrors_caught_up(proxy, drain_timeout).await?;
                let after = (s.cmd(&dump(k)).await?, t.cmd(&dump(k)).await?);
                if after != before {
                    stable = false;
                    break;
                }
                tokio::time::sleep(STABLE_GAP).await;
            }
            if stable {
                let r = compare_keys(&mut s, &mut t, std::slice::from_ref(k), &opts).await?;
                if r.mismatches > 0 {
                    mismatches += 1;
                    examples.extend(r.examples);
                }
                settled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !settled {
            hot += 1;
        }
    }
    if hot > 0 {
        log::info!(
            "verify: {hot} key(s) changed on every read (written the whole time): not compared"
        );
    }
    examples.truncate(5);
    Ok((checked, mismatches, examples))
}

/// A verify sample of both stores: (detail, mismatches, examples).
async fn sample(
    proxy: &mut Proxy,
    s: &Status,
    opts: &StartOptions,
) -> Result<(String, u64, Vec<String>)> {
    let (primary, secondary) = stores(s, opts)?;
    let src = Endpoint::connect(primary).await?;
    let dst = Endpoint::connect(secondary).await?;
    let r = verify_sample(proxy, &src, &dst, opts.verify_sample, opts.drain_timeout).await;
    src.close().await;
    dst.close().await;
    let (checked, mismatches, examples) = r?;
    if let Some(b) = &opts.board {
        b.add_mismatches(mismatches);
    }
    Ok((
        format!("{checked} keys compared, {mismatches} differ {examples:?}"),
        mismatches,
        examples,
    ))
}

/// Runs the cutover's steps; each is recorded before the next starts.
pub async fn start(reg: &Registry, proxy: &mut Proxy, opts: &StartOptions) -> Result<()> {
    let t0 = proxy.status().await?;
    startable(t0.get("mode"))?;
    let mut fields: Vec<String> = t0.0.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    fields.sort();
    step(
        reg,
        opts,
        "baseline",
        &format!("T0; proxy {}", fields.join(" ")),
    )?;
    // The fence: a write through the proxy after T0, seen on the secondary.
    let started = Instant::now();
    let marker = marker_key(&opts.run_id);
    let stamp = ferry_migrate::now_ms().to_string();
    proxy.set(&marker, &stamp).await?;
    let s = wait_drained(proxy, opts.drain_timeout).await?;
    let (_, secondary) = stores(&s, opts)?;
    let dst = Endpoint::connect(secondary).await?;
    let seen = async {
        let mut d = dst.data(0).await?;
        loop {
            let v = d.cmd(redis::cmd("GET").arg(&marker)).await?;
            if v == redis::Value::BulkString(stamp.clone().into_bytes()) {
                return Ok(());
            }
            if started.elapsed() > opts.drain_timeout {
                return Err(Error::Usage(format!(
                    "the marker {marker} written through the proxy did not reach the secondary within {:?}: is the proxy mirroring?",
                    opts.drain_timeout
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    .await;
    dst.close().await;
    seen?;
    step(
        reg,
        opts,
        "fenced",
        &format!(
            "marker {marker} on the secondary and backlog drained in {} ms",
            started.elapsed().as_millis()
        ),
    )?;
    let (detail, mismatches, examples) = sample(proxy, &s, opts).await?;
    if mismatches > opts.max_mismatches {
        step(
            reg,
            opts,
            "stopped",
            &format!("verify: {detail}; nothing switched"),
        )?;
        return Err(Error::Failed(format!(
            "verify found {mismatches} key(s) that differ (more than --max-mismatches {}): {examples:?}; the proxy still serves the primary",
            opts.max_mismatches
        )));
    }
    step(reg, opts, "verify", &detail)?;
    if opts.batches.is_empty() && opts.soak > 0 {
        tokio::time::sleep(Duration::from_secs(opts.soak)).await;
        let s = wait_drained(proxy, opts.drain_timeout).await?;
        step(
            reg,
            opts,
            "soak",
            &format!(
                "{} s; canary mismatches {}",
                opts.soak,
                s.get("canary_mismatches")
            ),
        )?;
    }
    for &b in &opts.batches {
        let errors_before = proxy.status().await?.mirror_errors();
        let reply = proxy.mode(&format!("split:{b}")).await?;
        step(reg, opts, &format!("batch-{b}%"), &reply)?;
        tokio::time::sleep(Duration::from_secs(opts.soak)).await;
        let s = wait_drained(proxy, opts.drain_timeout).await;
        let gate = match s {
            Err(e) => Err(e.to_string()),
            Ok(s) if s.mirror_errors() > errors_before => Err(format!(
                "{} mirror error(s) during the soak (see the proxy's log)",
                s.mirror_errors() - errors_before
            )),
            Ok(s) => match sample(proxy, &s, opts).await {
                Ok((detail, m, _)) if m <= opts.max_mismatches => Ok(detail),
                Ok((detail, m, _)) => Err(format!(
                    "{m} key(s) differ (more than --max-mismatches {}): {detail}",
                    opts.max_mismatches
                )),
                Err(e) => Err(e.to_string()),
            },
        };
        match gate {
            Ok(detail) => step(reg, opts, &format!("batch-{b}%-ok"), &detail)?,
            Err(why) => {
                let back = proxy.mode("dual-write").await;
                step(
                    reg,
                    opts,
                    "rolled-back",
                    &match &back {
                        Ok(r) => r.clone(),
                        Err(e) => format!("FAILED: {e}"),
                    },
                )?;
                step(reg, opts, "stopped", &format!("batch {b}%: {why}"))?;
                return Err(Error::Failed(format!(
                    "batch {b}% failed its gate: {why}; {}",
                    match back {
                        Ok(_) => "every key is served by the primary again".to_string(),
                        Err(e) => format!("returning keys to the primary FAILED ({e}): run `ferry cutover rollback`"),
                    }
                )));
            }
        }
    }
    let reply = proxy.mode("switched").await?;
    step(reg, opts, "switched", &reply)?;
    Ok(())
}

/// Switches the proxy back to the primary (fenced, nothing lost).
pub async fn rollback(reg: &Registry, proxy: &mut Proxy, run_id: &str) -> Result<String> {
    let reply = proxy.mode("dual-write").await?;
    reg.record_step(run_id, "rolled-back", &reply)?;
    Ok(reply)
}
