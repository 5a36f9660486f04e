//! `ferry proxy`: serve clients from one store while mirroring their writes
//! to another (issue 12).

use clap::Args;
use ferry_migrate::endpoint::Spec;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

const EXAMPLES: &str = "\
Examples:
  ferry proxy --listen 127.0.0.1:6380 --primary redis://10.0.0.10:6379 \\
      --secondary redis://10.0.0.20:6379 --mode dual-write
  ferry proxy --listen 0.0.0.0:6379 --primary redis://old:6379 \\
      --secondary redis://new:6379 --mode switched --backlog /var/lib/ferry/backlog
  ferry proxy --primary redis://10.0.0.10:6379 \\
      --secondary 'rediss://default:secret@new.example.com:6380#insecure'

rediss:// stores are reached over TLS (the system's trusted roots; #insecure
accepts a self-signed or private certificate). Clients talk to the proxy
itself in plain RESP: bind --listen to a private address.

Modes:
  primary-only  clients are served by the primary; nothing is mirrored
  dual-write    clients are served by the primary; every write it answers
                without an error is mirrored to the secondary
  read-canary:N as dual-write, and N% of reads (chosen by key hash, so a
                key is always in or out) are also sent to the secondary
                and the answers compared; mismatches are counted. Clients
                always get the primary's answer.
  split:N       N% of the keys (by Redis Cluster hash slot, hash tags
                honoured) are served by the secondary, the rest by the
                primary, each side's writes mirrored to the other: a
                cutover's canary batch. Commands with keys on both sides,
                keyless writes and transactions run on the primary in sync
                (the primary first catches up with the secondary's writes,
                the secondary applies the result before the client hears
                back): slower, never divergent.
  switched      clients are served by the secondary; writes are mirrored
                back to the primary, so switching back loses nothing

Each client gets its own connection to the serving store, so AUTH, SELECT,
MULTI/WATCH, blocking commands and SUBSCRIBE behave as they do directly.
Mirrored writes go first to a backlog on disk (--backlog), written before
the client sees the reply, then to the other store in MULTI/EXEC batches
that record how far it got (hash __ferry:proxy:{NAME} there): a secondary
that is down or slow only makes the backlog grow, and a restarted proxy or
store continues exactly where the last batch ended. Two writes to one key
from two clients are mirrored in the order the serving store ran them.
Writes are mirrored as their effect where the command alone would differ
on the other store: SPOP as SREM of what it popped, blocking pops as pops,
XADD * with the id given, relative expiries as absolute times.

Switching while clients run: FERRY.PROXY MODE switched (sent to the proxy's
own port, e.g. with redis-cli) pauses new writes, lets writes in flight
finish, waits until the mirror applied the whole backlog (up to 30 s, else
nothing changes), then serves from the secondary and mirrors back to the
primary; FERRY.PROXY MODE dual-write goes back the same way, and
FERRY.PROXY MODE split:N moves N% of the keys (fenced the same way). Sessions
dial the other store by themselves (AUTH, HELLO, CLIENT SETNAME and SELECT
replayed); a session inside MULTI, WATCH or SUBSCRIBE whose store changes is
closed so its client reconnects. FERRY.PROXY STATUS says where things stand.

A status line every --status-every seconds: mode, clients, commands, entries
backlogged and behind, mirror errors.";

#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct ProxyArgs {
    /// Address to accept clients on.
    #[arg(long, default_value = "127.0.0.1:6380")]
    listen: std::net::SocketAddr,
    /// The store clients use before the move (redis://[user:pass@]host:port).
    #[arg(long)]
    primary: String,
    /// The store being moved to.
    #[arg(long)]
    secondary: String,
    /// primary-only, dual-write, read-canary:N (N% of reads compared),
    /// split:N (N% of keys served by the secondary) or switched.
    #[arg(long, default_value = "dual-write")]
    mode: ferry_proxy::Mode,
    /// Directory of the backlog (one subdirectory per mirror direction).
    #[arg(long, default_value = "ferry-proxy-backlog")]
    backlog: std::path::PathBuf,
    /// fsync the backlog before every reply (default: once a second; a
    /// killed proxy loses nothing either way, a crashed machine up to a
    /// second of mirror entries).
    #[arg(long)]
    backlog_fsync_always: bool,
    /// Names the mirror's checkpoint on the other store.
    #[arg(long, default_value = "proxy")]
    name: String,
    /// Serve a live dashboard at http://ADDR/ and Prometheus metrics at
    /// http://ADDR/metrics (backlog, mirror errors, canary mismatches;
    /// docs/dashboard.md).
    #[arg(long, value_name = "ADDR")]
    http: Option<std::net::SocketAddr>,
    /// Worker threads (the proxy's event loops).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds between status lines.
    #[arg(long, default_value_t = 10)]
    status_every: u64,
    /// Log level (error, warn, info, debug).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn store(flag: &str, text: &str) -> Result<ferry_proxy::Store, String> {
    use ferry_migrate::tls::Security;
    match Spec::parse(text).map_err(|e| format!("{flag}: {e}"))? {
        Spec::Server {
            host,
            port,
            tls,
            insecure,
            user,
            password,
            db: None | Some(0),
        } => Ok(ferry_proxy::Store {
            host,
            port,
            user,
            password,
            security: match (tls, insecure) {
                (false, _) => Security::Plain,
                (true, false) => Security::Tls,
                (true, true) => Security::TlsInsecure,
            },
        }),
        Spec::Server { .. } => Err(format!(
            "{flag}: a database in the URL is not supported (clients SELECT their own)"
        )),
        _ => Err(format!(
            "{flag}: must be one server (redis://host:port); clusters and store files are not supported by ferry proxy yet"
        )),
    }
}

pub fn main(args: ProxyArgs) -> ExitCode {
    crate::alloc::use_mimalloc();
    crate::init_logging(&args.log_level);
    let (primary, secondary) = match (
        store("--primary", &args.primary),
        store("--secondary", &args.secondary),
    ) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ferry proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = crate::runtime(args.threads.max(1)) else {
        return ExitCode::FAILURE;
    };
    let opts = ferry_proxy::Options {
        listen: args.listen,
        primary,
        secondary,
        mode: args.mode,
        backlog: args.backlog,
        fsync_always: args.backlog_fsync_always,
        name: args.name,
    };
    let mode = opts.mode;
    let every = Duration::from_secs(args.status_every.max(1));
    let board = std::sync::Arc::new(
        ferry_dashboard::Board::new("proxy", &opts.name)
            .with_label(
                "primary",
                &format!("{}:{}", opts.primary.host, opts.primary.port),
            )
            .with_label(
                "secondary",
                &format!("{}:{}", opts.secondary.host, opts.secondary.port),
            ),
    );
    let http = args.http;
    runtime.block_on(async move {
        // Before listening for clients: a taken port fails first.
        let _server = match http {
            Some(addr) => match ferry_dashboard::serve(addr, board.clone()).await {
                Ok((bound, task)) => {
                    log::info!("dashboard: http://{bound}/ (Prometheus metrics at http://{bound}/metrics)");
                    Some(task)
                }
                Err(e) => {
                    eprintln!("ferry proxy: --http {e}");
                    return ExitCode::from(2);
                }
            },
            None => None,
        };
        let proxy = match ferry_proxy::start(opts).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("ferry proxy: {e}");
                return ExitCode::from(2);
            }
        };
        log::info!("ferry proxy listening on {} ({mode})", proxy.addr);
        // The dashboard's phase: the mode (split:N and read-canary:N with their share).
        let phase = |m: ferry_proxy::Mode| m.to_string();
        board.phase(&phase(mode));
        let mirrored = board.counter("mirrored_entries_total", "Backlog entries the mirror applied to the other store");
        let mut shown = [0u64; 4];
        let mut board_tick = tokio::time::interval(Duration::from_secs(1));
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = board_tick.tick() => {
                    let s = &proxy.stats;
                    // The mode changes with FERRY.PROXY MODE.
                    let current = phase(proxy.mode());
                    if board.current_phase() != current {
                        board.phase(&current);
                    }
                    let now = [
                        s.commands.load(Ordering::Relaxed),
                        s.canary_mismatches.load(Ordering::Relaxed),
                        s.mirror_errors.load(Ordering::Relaxed) + s.backlog_errors.load(Ordering::Relaxed),
                        s.mirrored.load(Ordering::Relaxed),
                    ];
                    board.add_commands(now[0].saturating_sub(shown[0]));
                    board.add_mismatches(now[1].saturating_sub(shown[1]));
                    board.add_errors(now[2].saturating_sub(shown[2]));
                    mirrored.add(now[3].saturating_sub(shown[3]));
                    shown = now;
                    if proxy.mode() != ferry_proxy::Mode::PrimaryOnly {
                        board.set_backlog_entries(proxy.behind());
                    }
                }
                _ = tick.tick() => {
                    let s = &proxy.stats;
                    let canary = match proxy.mode() {
                        ferry_proxy::Mode::ReadCanary(_) => format!(
                            ", canary: {} reads compared, {} mismatches, {} unanswered",
                            s.canary_reads.load(Ordering::Relaxed),
                            s.canary_mismatches.load(Ordering::Relaxed),
                            s.canary_errors.load(Ordering::Relaxed)
                        ),
                        _ => String::new(),
                    };
                    log::info!(
                        "{}: {} clients, {} commands, {} mirror entries backlogged, {} behind, mirror {}, {} mirror errors{canary}",
                        proxy.mode(),
                        s.clients.load(Ordering::Relaxed),
                        s.commands.load(Ordering::Relaxed),
                        s.backlogged.load(Ordering::Relaxed),
                        proxy.behind(),
                        if proxy.mirror_connected() { "connected" } else { "not connected" },
                        s.mirror_errors.load(Ordering::Relaxed) + s.backlog_errors.load(Ordering::Relaxed),
                    );
                }
                _ = tokio::signal::ctrl_c() => {
                    log::info!("stopping; {} mirror entries not applied yet stay in the backlog for the next start", proxy.behind());
                    return ExitCode::SUCCESS;
                }
            }
        }
    })
}
