//! How a script's `redis.call` runs a command: the checks Redis makes for
//! scripts (`scriptCall`), then the command's handler, on the caller's
//! connection state with the script's database and protocol.

use super::busy::BusyGate;
use crate::cmd::{self, CmdError, Ctx, Unresolved};
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use ferry_script::Host;
use std::rc::Rc;
use std::time::Instant;

pub struct ScriptHost<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    /// EVAL_RO, FCALL_RO, or a script declaring `no-writes`.
    read_only: bool,
    gate: Rc<BusyGate>,
}

impl<'a, 'b> ScriptHost<'a, 'b> {
    pub fn new(ctx: &'a mut Ctx<'b>, read_only: bool, gate: Rc<BusyGate>) -> Self {
        ScriptHost {
            ctx,
            read_only,
            gate,
        }
    }
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, argv: Vec<Bytes>, resp: Protocol) -> Result<Reply, String> {
        let refuse = |text: &str| Err(text.to_string());
        let (spec, full_name) = match cmd::lookup(&argv) {
            Ok(found) => found,
            Err(Unresolved::Arity(_)) => {
                return refuse("ERR Wrong number of args calling Redis command from script")
            }
            Err(_) => return refuse("ERR Unknown Redis command called from script"),
        };
        if spec.has_flag("noscript") {
            return refuse("ERR This Redis command is not allowed from script");
        }
        crate::acl::check_script(self.ctx.server, self.ctx.client, full_name, &argv)?;
        let write = spec.has_flag("write");
        if write && self.read_only {
            return refuse("ERR Write commands are not allowed from read-only scripts.");
        }
        if write {
            self.gate.mark_wrote();
        }
        let ctx = &mut *self.ctx;
        ctx.client.protocol = resp;
        let started = Instant::now();
        ctx.server.stats.commands_processed += 1;
        let reply = match (spec.handler)(ctx, &argv) {
            Ok(reply) => reply,
            // Scripts deny blocking; a stray request answers as a timeout.
            Err(CmdError::Block(req)) => req.timeout_reply,
            Err(e) => e.into_reply(),
        };
        let stat = ctx.server.stats.commands.entry(spec, full_name);
        stat.calls += 1;
        stat.usec += started.elapsed().as_micros() as u64;
        if reply.is_error() {
            stat.failed += 1;
            ctx.server.stats.count_error(&reply);
        }
        ctx.flush_store_events();
        if crate::diagnostics::monitored(spec) {
            crate::diagnostics::feed_monitors(ctx.server, ctx.client, true, &argv);
        }
        if ctx.client.tracking.on {
            crate::tracking::remember_read(ctx.server, ctx.client, spec, full_name, &argv);
        }
        Ok(reply)
    }

    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool> {
        // Redis only looks the command up (no arity check).
        match cmd::lookup(argv) {
            Ok((_, full)) | Err(Unresolved::Arity(full)) => Some(crate::acl::allowed(
                self.ctx.server,
                self.ctx.client,
                full,
                argv,
            )),
            Err(_) => None,
        }
    }
}
