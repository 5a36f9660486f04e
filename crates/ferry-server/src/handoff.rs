//! The hand-off file: how a process that wants a store file another process
//! holds finds the server that holds it.
//!
//! A store file has one owner at a time (the journal lock). Whoever owns it,
//! `ferry serve` or a `ferry migrate` that opened it in-process, writes
//! `<data>-ferry.addr` with a loopback address to reach it and the password
//! it requires, readable by the file's user only. Other processes that name
//! the same file connect there instead of opening it.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where a running owner of a store file can be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub addr: SocketAddr,
    pub password: Option<String>,
}

/// The published hand-off file; removed when dropped.
pub struct Handoff {
    path: PathBuf,
}

/// `<data>-ferry.addr`, beside the data file.
pub fn path_for(data: &Path) -> PathBuf {
    let mut p = data.as_os_str().to_owned();
    p.push("-ferry.addr");
    PathBuf::from(p)
}

impl Handoff {
    /// Writes the hand-off file for a server listening on `bound`. Failing to
    /// write it only means other processes cannot find this one, so it is
    /// logged, not fatal.
    pub fn publish(data: &Path, bound: &[SocketAddr], password: Option<&str>) -> Option<Handoff> {
        let addr = bound.iter().map(|a| loopback_for(*a)).next()?;
        let path = path_for(data);
        let mut text = format!("{addr}\n");
        if let Some(p) = password {
            text.push_str(p);
            text.push('\n');
        }
        match write_private(&path, text.as_bytes()) {
            Ok(()) => Some(Handoff { path }),
            Err(e) => {
                log::warn!(
                    "cannot write {}: {e} (other ferry processes will not find this server)",
                    path.display()
                );
                None
            }
        }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads the hand-off file of `data`, if there is one.
pub fn read(data: &Path) -> Option<Contact> {
    let text = std::fs::read_to_string(path_for(data)).ok()?;
    let mut lines = text.lines();
    let addr = lines.next()?.trim().parse().ok()?;
    let password = lines.next().map(str::to_string).filter(|p| !p.is_empty());
    Some(Contact { addr, password })
}

/// A wildcard bind is reached through loopback.
fn loopback_for(a: SocketAddr) -> SocketAddr {
    let ip = match a.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, a.port())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("addr.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
