//! What a running script needs from the server, and how the server keeps
//! an eye on a script that runs too long.

use bytes::Bytes;
use ferry_resp::{Protocol, Reply};

/// The server side of a script run: `redis.call`, `redis.pcall` and
/// `redis.acl_check_cmd` go through it. One is built for every run.
pub trait Host {
    /// Runs a command the script called, after the checks Redis makes for
    /// scripts (unknown command, arity, `noscript`, writes from a read-only
    /// script...). A refusal is `Err` with Redis's text (`ERR ...`); a
    /// command that ran returns its reply, errors included (the server
    /// counted those in INFO errorstats; a refusal is not counted until
    /// the script fails with it).
    fn call(&mut self, argv: Vec<Bytes>, resp: Protocol) -> Result<Reply, String>;

    /// `redis.acl_check_cmd`: whether the calling user may run `argv`, or
    /// None when no such command exists.
    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool>;
}

/// Asked every [`HOOK_INSTRUCTIONS`] Lua instructions while a script runs,
/// so a long script can let the server answer other clients (`-BUSY`) and
/// be stopped by `SCRIPT KILL` / `FUNCTION KILL`.
pub trait Watchdog {
    fn check(&self) -> Verdict;
}

/// A [`Watchdog`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Stop the script with Redis's "Script killed by user" error.
    Kill,
}

/// How often the watchdog is asked, in Lua VM instructions (Redis's value).
pub const HOOK_INSTRUCTIONS: u32 = 100_000;

/// Log levels of `redis.log`, numbered as Redis numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}
