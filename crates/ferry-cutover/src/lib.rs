//! `ferry cutover`: moves clients from the primary to the secondary through
//! a running `ferry proxy` (dual-write), step by step, each recorded with
//! its time in the run registry (`cutover_steps`):
//!
//! 1. `baseline`: the proxy's state at T0 (it must be mirroring);
//! 2. `drained`: the proxy's backlog applied to the secondary;
//! 3. `verify`: a sample of keys compared on both stores (keys that differ
//!    are read again a few times: a write may be in flight); too many
//!    mismatches stop the cutover here, nothing switched;
//! 4. `soak`: an optional wait, checking the backlog stays drained;
//! 5. `switched`: `FERRY.PROXY MODE switched`, the proxy's fenced switch
//!    (new writes wait, the mirror drains, the stores swap roles; the old
//!    primary keeps receiving every write through the reverse mirror).
//!
//! `rollback` switches back the same way; `status` lists the steps.
//! Not built yet: canary batches of keys moved a share at a time.

use ferry_migrate::endpoint::{Endpoint, Spec};
use ferry_migrate::registry::Registry;
use ferry_migrate::verify::{compare_keys, VerifyOptions};
use ferry_migrate::{Error, Result};
use std::collections::HashMap;
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

    pub async fn status(&mut self) -> Result<Status> {
        let text = self.admin(&["STATUS"]).await?;
        Ok(Status(
            text.split_whitespace()
                .filter_map(|f| f.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    pub async fn mode(&mut self, mode: &str) -> Result<String> {
        self.admin(&["MODE", mode]).await
    }
}

pub struct StartOptions {
    pub run_id: String,
    /// Keys compared before switching.
    pub verify_sample: usize,
    /// Mismatches tolerated by the verify step.
    pub max_mismatches: u64,
    /// Seconds to wait after verifying, the backlog checked to stay drained.
    pub soak: u64,
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

/// Random keys of database 0 of `src` compared with `dst`: (keys
/// compared, keys that differ, examples).
async fn verify_sample(
    src: &Endpoint,
    dst: &Endpoint,
    n: usize,
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
    // the mirror: it counts only once its value on the primary stays the
    // same between two reads and the secondary still differs. A key written
    // the whole time is left out (logged), not counted.
    let mut mismatches = 0;
    let mut examples = Vec::new();
    let mut hot = 0;
    for k in &keys {
        let mut before: Option<redis::Value> = None;
        let mut settled = false;
        for _ in 0..10 {
            let r = compare_keys(&mut s, &mut t, std::slice::from_ref(k), &opts).await?;
            if r.mismatches == 0 {
                settled = true;
                break;
            }
            let now = s.cmd(redis::cmd("DUMP").arg(k)).await?;
            if before.as_ref() == Some(&now) {
                mismatches += 1;
                examples.extend(r.examples);
                settled = true;
                break;
            }
            before = Some(now);
            tokio::time::sleep(Duration::from_millis(100)).await;
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

/// Runs the cutover's steps; each is recorded before the next starts.
pub async fn start(reg: &Registry, proxy: &mut Proxy, opts: &StartOptions) -> Result<()> {
    let id = opts.run_id.as_str();
    let t0 = proxy.status().await?;
    let mode = t0.get("mode").to_string();
    if mode != "DualWrite" && !mode.starts_with("ReadCanary") {
        return Err(Error::Usage(format!(
            "the proxy is in {mode}: a cutover starts from dual-write (or read-canary) so the secondary has every write"
        )));
    }
    reg.record_step(
        id,
        "baseline",
        &format!(
            "T0; proxy {}",
            t0.0.iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    )?;
    log::info!("baseline recorded; waiting for the proxy's backlog to drain");
    let started = Instant::now();
    let s = wait_drained(proxy, opts.drain_timeout).await?;
    reg.record_step(
        id,
        "drained",
        &format!("backlog applied in {} ms", started.elapsed().as_millis()),
    )?;
    let primary = match &opts.primary {
        Some(p) => p.clone(),
        None => spec_of(s.get("primary"))?,
    };
    let secondary = match &opts.secondary {
        Some(p) => p.clone(),
        None => spec_of(s.get("secondary"))?,
    };
    let src = Endpoint::connect(primary).await?;
    let dst = Endpoint::connect(secondary).await?;
    let (checked, mismatches, examples) = verify_sample(&src, &dst, opts.verify_sample).await?;
    src.close().await;
    dst.close().await;
    let detail = format!("{checked} keys compared, {mismatches} differ {examples:?}");
    log::info!("verify: {detail}");
    if mismatches > opts.max_mismatches {
        reg.record_step(
            id,
            "stopped",
            &format!("verify: {detail}; nothing switched"),
        )?;
        return Err(Error::Failed(format!(
            "verify found {mismatches} key(s) that differ (more than --max-mismatches {}): {examples:?}; the proxy still serves the primary",
            opts.max_mismatches
        )));
    }
    reg.record_step(id, "verify", &detail)?;
    if opts.soak > 0 {
        log::info!("soaking {} s", opts.soak);
        tokio::time::sleep(Duration::from_secs(opts.soak)).await;
        let s = wait_drained(proxy, opts.drain_timeout).await?;
        reg.record_step(
            id,
            "soak",
            &format!(
                "{} s; canary mismatches {}",
                opts.soak,
                s.get("canary_mismatches")
            ),
        )?;
    }
    let reply = proxy.mode("switched").await?;
    reg.record_step(id, "switched", &reply)?;
    log::info!("switched: {reply}");
    Ok(())
}

/// Switches the proxy back to the primary (fenced, nothing lost).
pub async fn rollback(reg: &Registry, proxy: &mut Proxy, run_id: &str) -> Result<String> {
    let reply = proxy.mode("dual-write").await?;
    reg.record_step(run_id, "rolled-back", &reply)?;
    Ok(reply)
}
