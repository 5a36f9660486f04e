//! CLIENT PAUSE: commands of every client (ALL) or only the ones that
//! write (WRITE: write commands, commands that may replicate such as
//! PUBLISH, PFCOUNT and scripts, and an EXEC with such a command queued)
//! wait until the pause ends (timeout or CLIENT UNPAUSE), then run in the
//! order they arrived. The expiry sweep does not run meanwhile, so the
//! dataset stays still: the cutover primitive migration tools use.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::Instant;

/// The pause in force.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until: Instant,
    /// ALL (every command) rather than WRITE.
    pub all: bool,
}

/// A client whose batch waits for the pause to end, from the command that
/// was held.
#[derive(Debug)]
pub struct Held {
    pub id: u64,
    pub cmds: VecDeque<Vec<Bytes>>,
    pub out: BytesMut,
}

/// Commands that are not flagged `write` but may replicate (Redis's
/// CMD_MAY_REPLICATE): a WRITE pause holds them too.
pub fn may_replicate(name: crate::cmd::FullName) -> bool {
    matches!(
        (name.parent, name.name),
        (None, "publish" | "pfcount" | "eval" | "evalsha" | "fcall")
            | (Some("script"), "load" | "flush")
            | (Some("function"), "load" | "delete" | "flush" | "restore")
    )
}

/// Extends the pause as Redis's pauseClients does: the mode only becomes
/// stricter and the end only later.
pub fn extend(current: Option<Pause>, new: Pause) -> Pause {
    match current {
        Some(p) => Pause {
            until: p.until.max(new.until),
            all: p.all || new.all,
        },
        None => new,
    }
}
