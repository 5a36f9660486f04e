//! The executor's side of Raft replication (`ferry serve --raft`).
//!
//! On the leader, commands run as on a single server, applied to the store
//! at once (speculatively); at the end of each group its changes become one
//! Raft entry and the group's replies and pushed messages wait, in group
//! order, until the entry is committed on a majority and applied. A group
//! that only read waits for a read-index confirmation instead, so no reply
//! ever shows state a new leader could have overtaken. SQLite commits only
//! when every change in the transaction is confirmed; if leadership is lost
//! first, the transaction is rolled back, the confirmed entries replayed,
//! and the waiting groups answered with an error (their outcome is
//! unknown, as with any timeout).
//!
//! On a follower the store is read-only: entries arrive through the state
//! machine ([`RaftJob::Sm`]) and are applied in the executor, the only
//! owner of the store.

use super::{BatchReply, Executor, Job};
use crate::client::ClientState;
use crate::cmd::CommandSpec;
use bytes::Bytes;
use ferry_raft::{Applied, Group, Proposal, RaftNode, ServerState as Role, SmEvent};
use ferry_resp::Reply;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Groups waiting for Raft at most; past it the executor waits for
/// confirmations before running more (bounds memory and the loss window).
const MAX_IN_FLIGHT: usize = 16;
/// How long a due SQLite commit waits for unconfirmed groups before
/// trying again at the next group.
const COMMIT_WAIT: Duration = Duration::from_millis(500);

/// Raft's messages to the executor.
pub enum RaftJob {
    /// The node started (after the executor, which re-applies entries at
    /// start-up).
    Attach(RaftNode),
    /// The state machine applies entries or installs a snapshot.
    Sm(SmEvent),
    /// The outcome of a proposal, in ticket order.
    Done {
        ticket: u64,
        result: Result<(), String>,
    },
}

/// One group's answers, held until Raft confirms the group.
struct InFlight {
    ticket: u64,
    replies: Vec<(u64, BatchReply)>,
    outbox: Vec<(u64, Bytes)>,
    outcome: Option<Result<(), String>>,
}

/// Replication state the executor keeps.
#[derive(Default)]
pub struct RaftLink {
    node: Option<RaftNode>,
    next_ticket: u64,
    in_flight: VecDeque<InFlight>,
    /// Tickets of groups applied here and proposed, not yet seen back
    /// through the state machine.
    speculative: VecDeque<u64>,
    /// Changes confirmed since the last SQLite commit, replayed after a
    /// rollback.
    redo: Vec<Vec<u8>>,
    /// The store's commit count when `redo` started (a commit empties it).
    redo_since: u64,
    /// The group ran a command that reads or writes data.
    touched: bool,
    /// This node may take writes during the current group.
    writable: bool,
    stale_reads: bool,
    last_wait_log: Option<Instant>,
}

impl RaftLink {
    pub fn new(stale_reads: bool) -> RaftLink {
        RaftLink {
            stale_reads,
            ..Default::default()
        }
    }
}

/// Whether a command changes data (refused on followers). Scripts may
/// write, so EVAL/EVALSHA/FCALL count (their _RO forms do not).
fn writes(spec: &CommandSpec) -> bool {
    spec.has_flag("write") || matches!(spec.name, "eval" | "evalsha" | "fcall")
}

impl Executor {
    /// Holds SQLite commits while the transaction has unconfirmed changes,
    /// whatever would commit (the group timer, SAVE, a WAL checkpoint).
    fn raft_hold_commits(&mut self) {
        let held = self
            .raft
            .as_ref()
            .is_some_and(|l| !l.speculative.is_empty());
        self.store.hold_commits(held);
    }

    /// Confirmed changes since the last commit, for a rollback.
    fn raft_remember(&mut self, ops: Vec<u8>) {
        let commits = self.store.commits();
        if let Some(link) = self.raft.as_mut() {
            if link.redo_since != commits {
                link.redo.clear();
                link.redo_since = commits;
            }
            link.redo.push(ops);
        }
    }

    /// At the start of each group: whether this node leads, which decides
    /// if commands may write.
    pub(super) fn raft_group_start(&mut self) {
        let Some(link) = self.raft.as_mut() else {
            return;
        };
        link.touched = false;
        link.writable = link.node.as_ref().is_some_and(|n| n.writable());
        self.store.set_read_only(!link.writable);
    }

    /// Refuses data commands a follower must not run; notes that the group
    /// touched data.
    pub(super) fn raft_gate(
        &mut self,
        client: &ClientState,
        spec: &CommandSpec,
    ) -> Result<(), Reply> {
        let Some(link) = self.raft.as_mut() else {
            return Ok(());
        };
        let write = writes(spec);
        let read = !write && spec.has_flag("readonly");
        if !write && !read {
            return Ok(());
        }
        link.touched = true;
        if link.writable || (read && (client.stale_reads || link.stale_reads)) {
            return Ok(());
        }
        let status = link.node.as_ref().map(|n| n.status()).unwrap_or_default();
        if status.state == Role::Leader {
            return Err(Reply::error(
                "TRYAGAIN this ferry node was just elected Raft leader and is applying the log; retry",
            ));
        }
        let Some(addr) = status.leader_client_addr else {
            return Err(Reply::error(
                "TRYAGAIN no Raft leader is known yet (an election is running or a majority is unreachable); retry",
            ));
        };
        Err(Reply::error(if write {
            format!(
                "READONLY You can't write against a read only replica. (ferry Raft leader: {addr})"
            )
        } else {
            format!(
                "READONLY this ferry node is a Raft follower: read from the leader at {addr}, or send READONLY first to read this node's copy"
            )
        }))
    }

    /// Handles a message from Raft.
    pub(super) fn raft_job(&mut self, job: RaftJob) {
        match job {
            RaftJob::Attach(node) => {
                self.state.raft = Some(node.clone());
                if let Some(link) = self.raft.as_mut() {
                    link.node = Some(node);
                }
            }
            RaftJob::Sm(SmEvent::Apply {
                entries,
                meta,
                done,
            }) => {
                let r = self.raft_apply(entries, meta);
                let _ = done.send(r);
            }
            RaftJob::Sm(SmEvent::Commit { done }) => {
                let _ = done.send(self.raft_commit_now());
            }
            RaftJob::Sm(SmEvent::Install { file, done }) => {
                let r = self.raft_install(&file);
                let _ = done.send(r);
            }
            RaftJob::Done { ticket, result } => {
                if let Some(link) = self.raft.as_mut() {
                    if let Some(f) = link.in_flight.iter_mut().find(|f| f.ticket == ticket) {
                        f.outcome = Some(result);
                    }
                }
                self.raft_release();
            }
        }
    }

    fn raft_apply(
        &mut self,
        entries: Vec<Applied>,
        meta: Vec<(&'static str, Vec<u8>)>,
    ) -> Result<(), String> {
        let Some(link) = self.raft.as_ref() else {
            return Err("not in Raft mode".into());
        };
        let boot = link.node.as_ref().map(|n| n.boot);
        self.store.record_modified(self.state.tracking.active());
        for e in entries {
            let Some(Group { boot: b, seq, ops }) = e.group else {
                continue;
            };
            let own = self.raft.as_mut().is_some_and(|link| {
                let own = Some(b) == boot && link.speculative.front() == Some(&seq);
                if own {
                    link.speculative.pop_front();
                }
                own
            });
            if !own && !ops.is_empty() {
                if let Err(err) = self.store.apply_payload(&ops) {
                    log::error!(
                        "raft: cannot apply log entry {} to the store: {err}; this node stops applying (restart it, or remove its data to rejoin from a snapshot)",
                        e.log_id
                    );
                    return Err(err.to_string());
                }
            }
            if !ops.is_empty() {
                self.raft_remember(ops);
            }
        }
        // Every commit from now on records how far the log is applied.
        self.store.set_commit_meta(meta);
        self.raft_hold_commits();
        crate::cmd::flush_store_events(&mut self.store, &mut self.state, None);
        if self.store.take_functions_replicated() {
            self.reload_functions();
        }
        Ok(())
    }

    fn raft_install(&mut self, file: &std::path::Path) -> Result<(), String> {
        self.raft_fail_all("this node is installing a snapshot from the Raft leader");
        self.store.replace_with(file).map_err(|e| {
            log::error!("raft: cannot install the snapshot: {e}");
            e.to_string()
        })?;
        if let Some(link) = self.raft.as_mut() {
            link.redo.clear();
            link.speculative.clear();
        }
        // The snapshot file carries its own applied position.
        self.store.set_commit_meta(Vec::new());
        self.raft_hold_commits();
        self.reload_functions();
        crate::tracking::invalidate_everything(&mut self.state);
        self.deliver_outbox();
        Ok(())
    }

    fn reload_functions(&mut self) {
        let loaded = self
            .store
            .function_codes()
            .map_err(|e| e.to_string())
            .and_then(|codes| self.scripting.reload_stored_functions(codes));
        if let Err(e) = loaded {
            log::error!("raft: the replicated FUNCTION libraries do not load: {e}");
        }
    }

    /// Ends a group in Raft mode: proposes its changes (or a read check)
    /// and parks its answers. Returns false when nothing needs Raft and the
    /// answers may go now.
    pub(super) fn raft_end_group(&mut self) -> bool {
        let Some(link) = self.raft.as_mut() else {
            return false;
        };
        let payload = self.store.take_group_payload();
        let proposal = match (&link.node, payload.is_empty()) {
            (Some(node), false) if link.writable => {
                link.next_ticket += 1;
                let ticket = link.next_ticket;
                link.speculative.push_back(ticket);
                self.store.hold_commits(true);
                Some(Proposal::Write {
                    ticket,
                    group: Group {
                        boot: node.boot,
                        seq: ticket,
                        ops: payload,
                    },
                })
            }
            (_, false) => {
                // Only a leader's commands can write (the store refuses
                // otherwise); should it happen, the changes must go.
                log::error!(
                    "raft: changes were made without the right to replicate them; dropping them"
                );
                self.raft_fail_all("had changes it may not replicate");
                self.raft_rollback();
                return true;
            }
            (Some(_), true) if link.touched && link.writable => {
                link.next_ticket += 1;
                Some(Proposal::Read {
                    ticket: link.next_ticket,
                })
            }
            _ => None,
        };
        if proposal.is_none() && link.in_flight.is_empty() {
            return false;
        }
        // The group's tracking broadcasts wait with its replies.
        crate::tracking::broadcast(&mut self.state);
        crate::tracking::enforce_limit(&mut self.state);
        let Some(link) = self.raft.as_mut() else {
            return false;
        };
        let ticket = match &proposal {
            Some(Proposal::Write { ticket, .. }) | Some(Proposal::Read { ticket }) => *ticket,
            None => 0,
        };
        link.in_flight.push_back(InFlight {
            ticket,
            replies: std::mem::take(&mut self.pending),
            outbox: std::mem::take(&mut self.state.outbox),
            // A group with nothing to confirm waits only for those before it.
            outcome: proposal.is_none().then_some(Ok(())),
        });
        if let (Some(p), Some(node)) = (proposal, &link.node) {
            if !node.propose(p) {
                if let Some(f) = link.in_flight.back_mut() {
                    f.outcome = Some(Err("Raft stopped".into()));
                }
            }
        }
        self.raft_release();
        if self
            .raft
            .as_ref()
            .is_some_and(|l| l.in_flight.len() >= MAX_IN_FLIGHT)
        {
            self.raft_wait(
                |l| l.in_flight.len() < MAX_IN_FLIGHT,
                Duration::from_secs(3600),
            );
        }
        true
    }

    /// Sends the answers of confirmed groups, in order; a failed group
    /// fails every later one (they may have seen its changes) and rolls the
    /// store back to what Raft confirmed.
    fn raft_release(&mut self) {
        loop {
            let Some(link) = self.raft.as_mut() else {
                return;
            };
            let Some(front) = link.in_flight.front() else {
                return;
            };
            match &front.outcome {
                None => return,
                Some(Ok(())) => {
                    let Some(f) = link.in_flight.pop_front() else {
                        return;
                    };
                    let mut replies = f.replies;
                    self.send_replies(&mut replies);
                    // The running group's own messages (this may run in
                    // the middle of one) stay for its end.
                    let running = std::mem::replace(&mut self.state.outbox, f.outbox);
                    self.deliver_outbox();
                    self.state.outbox = running;
                }
                Some(Err(e)) => {
                    let why = format!("lost Raft leadership ({e})");
                    self.raft_fail_all(&why);
                    return;
                }
            }
        }
    }

    /// Answers every waiting group with an error (and closes those
    /// connections: their pipelines' later replies are gone), then rolls
    /// back unconfirmed changes. Batches the running group already ran
    /// (this may come in the middle of one) fail too, and the rest of the
    /// group may not write: their changes go with the rollback.
    fn raft_fail_all(&mut self, why: &str) {
        let Some(link) = self.raft.as_mut() else {
            return;
        };
        // A follower's running group read its own (confirmed) copy: keep it.
        let running = if link.writable {
            std::mem::take(&mut self.pending)
        } else {
            Vec::new()
        };
        let mut failed: Vec<InFlight> = link.in_flight.drain(..).collect();
        if !running.is_empty() {
            failed.push(InFlight {
                ticket: 0,
                replies: running,
                outbox: Vec::new(),
                outcome: None,
            });
        }
        let rollback = !link.speculative.is_empty() || self.store.has_group_changes();
        link.writable = false;
        self.store.set_read_only(true);
        if !failed.is_empty() {
            log::warn!("raft: {why}: {} waiting groups get an error", failed.len());
        }
        let msg = Reply::error(format!(
            "TRYAGAIN ferry {why} before this was confirmed; a write may or may not have been applied: reconnect to the leader and check"
        ));
        for f in failed {
            self.fail_replies(f.replies, &msg);
        }
        if rollback {
            self.raft_rollback();
        }
    }

    /// Returns the store to what Raft confirmed: the last SQLite commit
    /// plus the confirmed entries since.
    fn raft_rollback(&mut self) {
        let Some(link) = self.raft.as_mut() else {
            return;
        };
        link.speculative.clear();
        let redo = if link.redo_since == self.store.commits() {
            std::mem::take(&mut link.redo)
        } else {
            Vec::new()
        };
        self.store.hold_commits(false);
        let result = self.store.rollback_uncommitted().and_then(|()| {
            for ops in &redo {
                self.store.apply_payload(ops)?;
            }
            Ok(())
        });
        if let Err(e) = result {
            // The store no longer matches the log: stop rather than serve it.
            log::error!("raft: cannot return the store to the confirmed state: {e}; stopping");
            std::process::exit(1);
        }
        if let Some(link) = self.raft.as_mut() {
            link.redo = redo;
        }
        let _ = self.store.take_events();
        self.reload_functions();
        crate::tracking::invalidate_everything(&mut self.state);
        self.deliver_outbox();
        log::info!("raft: rolled the store back to the last confirmed entry");
    }

    /// Commits SQLite now, after waiting (bounded) for unconfirmed changes
    /// to be confirmed (a snapshot is about to copy the store). If some
    /// are still unconfirmed the commit stays held and the snapshot copies
    /// the last commit: older, still consistent.
    fn raft_commit_now(&mut self) -> Result<(), String> {
        if self
            .raft
            .as_ref()
            .is_some_and(|l| !l.speculative.is_empty())
        {
            self.raft_wait(|l| l.speculative.is_empty(), Duration::from_secs(5));
        }
        let before = self.store.write_epoch();
        self.store.commit().map_err(|e| e.to_string())?;
        self.publish_write_epoch(before);
        Ok(())
    }

    /// Commits SQLite when due, waiting a little for unconfirmed changes
    /// (commits are held while there are some).
    pub(super) fn raft_commit_if_due(&mut self) {
        if self.raft.is_none() || !self.store.commit_due() {
            return;
        }
        if self
            .raft
            .as_ref()
            .is_some_and(|l| !l.speculative.is_empty())
        {
            self.raft_wait(|l| l.speculative.is_empty(), COMMIT_WAIT);
        }
        let before = self.store.write_epoch();
        if let Err(e) = self.store.commit() {
            // The log still holds every change: a restart re-applies them.
            log::error!("raft: SQLite commit failed: {e}; stopping (a restart re-applies the log)");
            std::process::exit(1);
        }
        self.publish_write_epoch(before);
    }

    /// Handles only Raft's messages until `done` holds or `limit` passes;
    /// other jobs wait their turn.
    fn raft_wait(&mut self, done: impl Fn(&RaftLink) -> bool, limit: Duration) {
        let started = Instant::now();
        // Raft messages set aside earlier (during a busy script) first.
        for job in self.jobs.take_deferred() {
            match job {
                Job::Raft(r) => self.raft_job(r),
                other => self.jobs.defer(other),
            }
        }
        while self.raft.as_ref().is_some_and(|l| !done(l)) && started.elapsed() < limit {
            match self.jobs.recv_new(Duration::from_millis(100)) {
                Some(Job::Raft(r)) => self.raft_job(r),
                Some(other) => self.jobs.defer(other),
                None => {}
            }
            if started.elapsed() > Duration::from_secs(5) {
                if let Some(link) = self.raft.as_mut() {
                    if link
                        .last_wait_log
                        .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
                    {
                        link.last_wait_log = Some(Instant::now());
                        log::warn!(
                            "raft: {} groups have waited {:?} for a majority to confirm them (are the other nodes up?)",
                            link.in_flight.len(),
                            started.elapsed()
                        );
                    }
                }
            }
        }
    }

    /// Before stopping: unconfirmed changes are not kept.
    pub(super) fn raft_finish(&mut self) {
        if self
            .raft
            .as_ref()
            .is_some_and(|l| !l.speculative.is_empty())
        {
            self.raft_wait(|l| l.speculative.is_empty(), Duration::from_secs(2));
        }
        if self.raft.as_ref().is_some_and(|l| !l.in_flight.is_empty()) {
            self.raft_fail_all("is shutting down");
        }
        self.raft_hold_commits();
    }
}
