//! Preflight: what a migration from A to B will meet, before it starts.

use crate::endpoint::{node_info, parse_info_field, Conn, Endpoint};
use crate::{reply, track, Result};
use std::collections::BTreeMap;

/// What preflight found. `problems` make the migration impossible;
/// `warnings` need a decision.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
    pub problems: Vec<String>,
}

/// Keys sampled per source master.
const SAMPLE: usize = 300;
/// A key with more elements or bytes than this is listed as big.
const BIG_ELEMENTS: i64 = 10_000;
const BIG_BYTES: i64 = 10 << 20;

pub async fn preflight(src: &Endpoint, dst: &Endpoint) -> Result<Report> {
    let mut r = Report::default();
    let kind = |e: &Endpoint| {
        if e.is_cluster() {
            format!(
                "{} (cluster, {} masters)",
                e.flavor.describe(),
                e.nodes.len()
            )
        } else {
            e.flavor.describe()
        }
    };
    r.lines
        .push(format!("source: {} — {}", src.spec.display(), kind(src)));
    r.lines
        .push(format!("target: {} — {}", dst.spec.display(), kind(dst)));
    let src_ks = src.keyspace().await?;
    let dst_ks = dst.keyspace().await?;
    let total: u64 = src_ks.values().sum();
    r.lines.push(format!(
        "source keys: {total} ({})",
        if src_ks.is_empty() {
            "empty".into()
        } else {
            src_ks
                .iter()
                .map(|(d, n)| format!("db{d}={n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    let dst_total: u64 = dst_ks.values().sum();
    if dst_total > 0 {
        r.warnings.push(format!(
            "the target holds {dst_total} keys ({}); bulk refuses to start unless --on-conflict replace or skip",
            dst_ks.iter().map(|(d, n)| format!("db{d}={n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    if dst.is_cluster() && src_ks.keys().any(|d| *d != 0) {
        r.warnings.push("the source uses databases other than 0 and the target is a cluster (db 0 only): migrate them one at a time with --db N".into());
    }
    // Sample types and sizes.
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut big = Vec::new();
    let mut sampled = 0u64;
    let mut bytes_sum = 0i64;
    for node in &src.nodes {
        for db in src_ks.keys() {
            let mut c = Conn::Single(Box::new(node.conn(*db).await?));
            let mut keys = Vec::new();
            let mut cursor = "0".to_string();
            for _ in 0..50 {
                let v = c
                    .cmd(redis::cmd("SCAN").arg(&cursor).arg("COUNT").arg(SAMPLE))
                    .await?;
                let Some((next, page)) = reply::scan_page(&v) else {
                    break;
                };
                keys.extend(page);
                if next == "0" || keys.len() >= SAMPLE {
                    break;
                }
                cursor = next;
            }
            keys.truncate(SAMPLE);
            let pipes: Vec<redis::Pipeline> = crate::endpoint::each_key("TYPE", &keys);
            let tys: Vec<String> = c
                .per_key(&pipes)
                .await?
                .into_iter()
                .map(|r| {
                    r.ok()
                        .and_then(|v| v.first().and_then(reply::text))
                        .unwrap_or_default()
                })
                .collect();
            let lens = crate::endpoint::lengths(&mut c, &keys, &tys).await?;
            for ((k, t), l) in keys.iter().zip(&tys).zip(lens) {
                if t == "none" || t.is_empty() {
                    continue;
                }
                sampled += 1;
                *types.entry(t.clone()).or_default() += 1;
                let n = l.unwrap_or(0);
                if t == "string" {
                    bytes_sum += n;
                }
                if (t == "string" && n > BIG_BYTES) || (t != "string" && n > BIG_ELEMENTS) {
                    big.push(format!(
                        "{} ({t}, {n} {})",
                        crate::verify::show_key(k),
                        if t == "string" { "bytes" } else { "elements" }
                    ));
                }
            }
        }
    }
    if sampled > 0 {
        let dist: Vec<String> = types
            .iter()
            .map(|(t, n)| format!("{t} {:.0}%", *n as f64 * 100.0 / sampled as f64))
            .collect();
        r.lines
            .push(format!("sampled {sampled} keys: {}", dist.join(", ")));
    }
    if !big.is_empty() {
        r.lines.push(format!(
            "big keys in the sample (copied in windows): {}",
            big.join(", ")
        ));
    }
    for t in types.keys() {
        if !dst.flavor.holds(t) {
            r.problems.push(format!(
                "the source has keys of type {t}, which {} cannot hold; move them elsewhere first, or migrate the others with --type",
                dst.flavor.describe()
            ));
        }
    }
    // Notifications.
    match track::notification_flags(src).await {
        Ok(flags) => {
            for (node, f) in flags {
                if track::covers(&f) {
                    r.lines
                        .push(format!("{}: keyspace notifications on ({f:?})", node.addr));
                } else {
                    r.warnings.push(format!(
                        "{}: keyspace notifications do not cover every change (notify-keyspace-events={f:?}); `track` needs them: CONFIG SET notify-keyspace-events KEA, or pass --enable-notifications",
                        node.addr
                    ));
                }
            }
        }
        Err(e) => r.warnings.push(format!(
            "cannot read notify-keyspace-events on the source: {e}"
        )),
    }
    // Room on the target.
    for node in &dst.nodes {
        let mem = node_info(node, "memory").await.unwrap_or_default();
        let used: i64 = parse_info_field(&mem, "used_memory")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let max: i64 = parse_info_field(&mem, "maxmemory")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if max > 0 {
            r.lines.push(format!(
                "{}: memory {} used of maxmemory {}",
                node.addr,
                human(used),
                human(max)
            ));
        } else if dst.spec.store_path().is_none() {
            r.lines.push(format!(
                "{}: memory {} used, no maxmemory set",
                node.addr,
                human(used)
            ));
        }
    }
    if let Some(p) = dst.spec.store_path() {
        if let Some(free) = free_disk(p) {
            r.lines.push(format!(
                "target disk: {} free where {} lives",
                human(free as i64),
                p.display()
            ));
            let avg = if sampled > 0 {
                (bytes_sum as f64 / sampled as f64).max(64.0)
            } else {
                64.0
            };
            let need = (total as f64 * (avg + 64.0) * 2.0) as u64;
            if free < need {
                r.warnings.push(format!(
                    "the target disk may be too small: about {} needed, {} free",
                    human(need as i64),
                    human(free as i64)
                ));
            }
        }
    }
    let (scan, conc) = match total {
        0..=100_000 => (1000, 4),
        100_001..=10_000_000 => (1000, 8),
        _ => (2000, 16),
    };
    r.lines.push(format!(
        "recommended: --scan-count {scan} --max-concurrency {conc}"
    ));
    Ok(r)
}

fn human(b: i64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// Free bytes on the file system of `path` (its directory when it does
/// not exist yet).
fn free_disk(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = if path.exists() {
        path.to_path_buf()
    } else {
        path.parent()?.to_path_buf()
    };
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable struct.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}
