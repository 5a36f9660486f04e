//! A script that runs longer than `busy-reply-threshold` (Redis's
//! `lua-time-limit`, 5 s by default) does not freeze the server: every
//! 100,000 Lua instructions the engine asks the [`BusyGate`], which then
//! reads the executor's queue itself and answers other clients as Redis
//! does while it is busy:
//!
//! * `SCRIPT KILL` / `FUNCTION KILL` stop the script (unless it wrote:
//!   `-UNKILLABLE`), `SHUTDOWN NOSAVE` stops it and the server without
//!   keeping any of the unfinished group;
//! * FUNCTION STATS is answered (what runs, for how long);
//! * the other commands Redis allows while busy (`allow_busy`: AUTH, HELLO,
//!   MULTI, WATCH, QUIT, RESET, ...) and everything after them in the
//!   client's pipeline wait until the script ends;
//! * every other command gets `-BUSY`.
//!
//! Connections and disconnections that arrive meanwhile are handled after
//! the script, in order. Replies of commands that ran before the script in
//! the same group also wait: they acknowledge writes the group has not made
//! durable yet.

use super::RunKind;
use crate::cmd;
use crate::eventloop::{EventLoop, Outbox};
use crate::executor::{BatchReply, Job, Outgoing};
use bytes::{Bytes, BytesMut};
use ferry_resp::{Protocol, Reply};
use ferry_script::{Verdict, Watchdog};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

pub const SLOW_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const SLOW_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// The executor's incoming jobs, shared with the gate, which reads them
/// while a script is busy and sets aside what must wait for it.
pub struct JobQueue {
    /// The sockets and the other threads' messages the jobs come from.
    source: RefCell<EventLoop>,
    /// Jobs the event loop made and the executor has not taken yet.
    fresh: RefCell<VecDeque<Job>>,
    /// Jobs to handle before new ones (set aside during a busy script).
    deferred: RefCell<VecDeque<Job>>,
    /// Each connected client's outgoing queue and protocol, so a reply can
    /// be sent while the client states are in use by the running script.
    outs: RefCell<HashMap<u64, Link>>,
}

/// How to answer a client from the gate.
struct Link {
    out: Outbox,
    protocol: Protocol,
}

impl JobQueue {
    pub fn new(source: EventLoop) -> JobQueue {
        JobQueue {
            source: RefCell::new(source),
            fresh: RefCell::new(VecDeque::new()),
            deferred: RefCell::new(VecDeque::new()),
            outs: RefCell::new(HashMap::new()),
        }
    }

    /// The next job: a deferred one, or a new one within `wait`.
    pub fn recv_timeout(&self, wait: Duration) -> Option<Job> {
        if let Some(job) = self.deferred.borrow_mut().pop_front() {
            return Some(job);
        }
        self.recv_new(wait)
    }

    /// The next new job within `wait`, skipping the deferred ones.
    pub fn recv_new(&self, wait: Duration) -> Option<Job> {
        let until = Instant::now() + wait;
        loop {
            if let Some(job) = self.fresh.borrow_mut().pop_front() {
                return Some(job);
            }
            let left = until.saturating_duration_since(Instant::now());
            self.source
                .borrow_mut()
                .turn(left, &mut self.fresh.borrow_mut());
            if left.is_zero() {
                return self.fresh.borrow_mut().pop_front();
            }
        }
    }

    /// Sets a job aside to handle after the current wait.
    pub fn defer(&self, job: Job) {
        self.deferred.borrow_mut().push_back(job);
    }

    /// Every job set aside so far.
    pub fn take_deferred(&self) -> Vec<Job> {
        self.deferred.borrow_mut().drain(..).collect()
    }

    /// A job already waiting (or ready on a socket now), if any.
    pub fn try_recv(&self) -> Option<Job> {
        if let Some(job) = self.deferred.borrow_mut().pop_front() {
            return Some(job);
        }
        self.recv_new(Duration::ZERO)
    }

    /// Every new job there is now (the gate answers them while busy).
    fn take_new(&self) -> Vec<Job> {
        self.source
            .borrow_mut()
            .turn(Duration::ZERO, &mut self.fresh.borrow_mut());
        self.fresh.borrow_mut().drain(..).collect()
    }

    /// Writes what was sent to clients, without waiting for anything.
    fn flush(&self) {
        self.source.borrow_mut().flush(&mut self.fresh.borrow_mut());
    }

    /// At shutdown: writes what can be written and closes every connection.
    pub fn close_all(&self) {
        self.source.borrow_mut().close_all();
    }

    pub fn register(&self, id: u64, out: Outbox) {
        self.outs.borrow_mut().insert(
            id,
            Link {
                out,
                protocol: Protocol::Resp2,
            },
        );
    }

    pub fn unregister(&self, id: u64) {
        self.outs.borrow_mut().remove(&id);
    }
}

/// The script running now.
struct Run {
    kind: RunKind,
    name: String,
    /// The EVAL/FCALL command (FUNCTION STATS shows it).
    argv: Vec<Bytes>,
    started: Instant,
    threshold: Duration,
    wrote: bool,
    /// Past the threshold: other clients are being answered `-BUSY`.
    busy: bool,
}

/// The watchdog of running scripts; see the module documentation.
pub struct BusyGate {
    jobs: Rc<JobQueue>,
    run: RefCell<Option<Run>>,
    /// FUNCTION STATS's counts: libraries, functions.
    function_counts: Cell<(usize, usize)>,
    kill: Cell<bool>,
    shutdown_nosave: Cell<bool>,
}

impl BusyGate {
    pub fn new(jobs: Rc<JobQueue>) -> BusyGate {
        BusyGate {
            jobs,
            run: RefCell::new(None),
            function_counts: Cell::new((0, 0)),
            kill: Cell::new(false),
            shutdown_nosave: Cell::new(false),
        }
    }

    pub fn begin(&self, kind: RunKind, name: &str, argv: &[Bytes], threshold: Duration) {
        self.kill.set(false);
        *self.run.borrow_mut() = Some(Run {
            kind,
            name: name.to_owned(),
            argv: if kind == RunKind::Function {
                argv.to_vec()
            } else {
                Vec::new()
            },
            started: Instant::now(),
            threshold,
            wrote: false,
            busy: false,
        });
    }

    pub fn end(&self) {
        if let Some(run) = self.run.borrow_mut().take() {
            if run.busy {
                log::warn!(
                    "slow script {} finished after {} ms",
                    run.name,
                    run.started.elapsed().as_millis()
                );
            }
        }
        self.kill.set(false);
    }

    /// A client switched protocol (HELLO, RESET).
    pub fn note_protocol(&self, id: u64, protocol: Protocol) {
        if let Some(link) = self.jobs.outs.borrow_mut().get_mut(&id) {
            link.protocol = protocol;
        }
    }

    /// The library and function counts FUNCTION STATS reports.
    pub fn set_function_counts(&self, libraries: usize, functions: usize) {
        self.function_counts.set((libraries, functions));
    }

    /// FUNCTION STATS: what runs now and how many libraries and functions
    /// there are. While an EVAL runs Redis answers `-BUSY` instead.
    pub fn function_stats(&self) -> Reply {
        let running = self.run.borrow();
        let running_script = match running.as_ref() {
            Some(run) if run.kind == RunKind::Eval => return Reply::error(SLOW_EVAL),
            Some(run) => Reply::Map(vec![
                (Reply::bulk("name"), Reply::bulk(run.name.clone())),
                (
                    Reply::bulk("command"),
                    Reply::Array(run.argv.iter().cloned().map(Reply::Bulk).collect()),
                ),
                (
                    Reply::bulk("duration_ms"),
                    Reply::Integer(run.started.elapsed().as_millis() as i64),
                ),
            ]),
            None => Reply::Null,
        };
        let (libraries, functions) = self.function_counts.get();
        Reply::Map(vec![
            (Reply::bulk("running_script"), running_script),
            (
                Reply::bulk("engines"),
                Reply::Map(vec![(
                    Reply::bulk("LUA"),
                    Reply::Map(vec![
                        (
                            Reply::bulk("libraries_count"),
                            Reply::Integer(libraries as i64),
                        ),
                        (
                            Reply::bulk("functions_count"),
                            Reply::Integer(functions as i64),
                        ),
                    ]),
                )]),
            ),
        ])
    }

    /// The script called a write command: SCRIPT KILL can no longer stop it.
    pub fn mark_wrote(&self) {
        if let Some(run) = self.run.borrow_mut().as_mut() {
            run.wrote = true;
        }
    }

    /// SHUTDOWN NOSAVE arrived while a script was busy: the executor must
    /// drop the unfinished group and stop.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown_nosave.get()
    }

    /// Answers the jobs waiting now, as Redis answers clients while busy.
    fn serve_waiting_jobs(&self) {
        for job in self.jobs.take_new() {
            match job {
                Job::Connect { id, ref out, .. } => {
                    self.jobs.register(id, out.clone());
                    self.jobs.deferred.borrow_mut().push_back(job);
                }
                Job::Batch { id, cmds, .. } => self.answer_batch(id, cmds),
                other => self.jobs.deferred.borrow_mut().push_back(other),
            }
        }
        self.jobs.flush();
    }

    fn answer_batch(&self, id: u64, cmds: Vec<Vec<Bytes>>) {
        let (kind, wrote) = match self.run.borrow().as_ref() {
            Some(run) => (run.kind, run.wrote),
            None => (RunKind::Eval, false),
        };
        let busy = match kind {
            RunKind::Eval => SLOW_EVAL,
            RunKind::Function => SLOW_FUNCTION,
        };
        let protocol = self
            .jobs
            .outs
            .borrow()
            .get(&id)
            .map_or(Protocol::Resp2, |l| l.protocol);
        let mut out = BytesMut::new();
        let mut cmds: VecDeque<Vec<Bytes>> = cmds.into();
        while let Some(argv) = cmds.front() {
            let reply = match cmd::lookup(argv) {
                Ok((spec, name)) if spec.has_flag("allow_busy") => {
                    match (name.parent, name.name) {
                        (Some("script"), "kill") => self.kill_reply(RunKind::Eval, kind, wrote),
                        (Some("function"), "kill") => {
                            self.kill_reply(RunKind::Function, kind, wrote)
                        }
                        (None, "shutdown")
                            if argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) =>
                        {
                            log::warn!("SHUTDOWN NOSAVE while a script is busy: stopping it and the server, keeping nothing of the unfinished group");
                            self.shutdown_nosave.set(true);
                            self.kill.set(true);
                            Reply::NoReply
                        }
                        (None, "shutdown") => Reply::error(busy),
                        (Some("function"), "stats") => self.function_stats(),
                        _ => {
                            // Runs after the script, with what follows it.
                            self.jobs.deferred.borrow_mut().push_back(Job::Resume {
                                id,
                                cmds: std::mem::take(&mut cmds),
                                out,
                            });
                            return;
                        }
                    }
                }
                _ => Reply::error(busy),
            };
            reply.encode(protocol, &mut out);
            cmds.pop_front();
        }
        if let Some(link) = self.jobs.outs.borrow().get(&id) {
            link.out.send(Outgoing::Reply(BatchReply {
                bytes: out.freeze(),
                close: false,
                authenticated: None,
            }));
        }
    }

    /// SCRIPT KILL (`asked` = Eval) or FUNCTION KILL (Function) while a
    /// script of kind `running` runs.
    fn kill_reply(&self, asked: RunKind, running: RunKind, wrote: bool) -> Reply {
        if wrote {
            return Reply::error(UNKILLABLE);
        }
        if asked != running {
            return Reply::error(match running {
                RunKind::Eval => SLOW_EVAL,
                RunKind::Function => SLOW_FUNCTION,
            });
        }
        self.kill.set(true);
        Reply::OK
    }

    /// FUNCTION STATS's `running_script` entry.
    pub fn running_script(&self) -> Option<(String, Vec<Bytes>, u128)> {
        self.run.borrow().as_ref().map(|r| {
            (
                r.name.clone(),
                r.argv.clone(),
                r.started.elapsed().as_millis(),
            )
        })
    }
}

impl Watchdog for BusyGate {
    fn check(&self) -> Verdict {
        {
            let mut run = self.run.borrow_mut();
            let Some(run) = run.as_mut() else {
                return Verdict::Continue;
            };
            if !run.busy {
                let elapsed = run.started.elapsed();
                if run.threshold.is_zero() || elapsed < run.threshold {
                    return Verdict::Continue;
                }
                run.busy = true;
                log::warn!(
                    "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command. Script name is: {}.",
                    elapsed.as_millis(),
                    match run.kind {
                        RunKind::Eval => "SCRIPT KILL",
                        RunKind::Function => "FUNCTION KILL",
                    },
                    run.name
                );
            }
        }
        self.serve_waiting_jobs();
        if self.kill.get() {
            Verdict::Kill
        } else {
            Verdict::Continue
        }
    }
}
