//! `ferry schema`: versioned migrations of the values stored under key
//! patterns: the schema directory (`init`, `add`, `list`, `show`), `diff`,
//! and runs against a target (`plan`, `apply`, `rollback`, `restore`,
//! `status`, `abort`).

use clap::{Args, Subcommand};
use ferry_migrate::endpoint::{Endpoint, Spec};
use ferry_schema::apply::Options;
use ferry_schema::registry::Counts;
use ferry_schema::runner;
use ferry_schema::value::Raw;
use std::path::PathBuf;
use std::process::ExitCode;

const DIFF_EXAMPLES: &str = "\
Examples:
  ferry schema diff schemas/user/1.0.0.json schemas/user/2.0.0.json

Each line is one change, BREAKING or ok, with the reason. Breaking means a
value valid under the first version may be invalid under the second (or a
key it covered is no longer covered): stored data needs a migration.

Exit codes: 0 nothing breaking, 1 something breaking, 2 a file could not be read.";

const DIR_EXAMPLES: &str = "\
Examples:
  ferry schema init                       # schemas/ and migrations/ here
  ferry schema add user-2.0.0.json        # copied to schemas/user/2.0.0.json
  ferry schema list
  ferry schema show user 2.0.0

The directory is meant for git: one file per schema version
(schemas/<name>/<version>.json), one per migration
(migrations/<name>/<id>.json), optional manual paths
(migrations/<name>/paths.json). A version, once added, is never replaced.";

const INFER_EXAMPLES: &str = "\
Examples:
  ferry schema infer --pattern 'user:*' --sample 5000 --target redis://127.0.0.1:6379
  ferry schema infer --pattern 'session:*' --name session --format json --out session-1.0.0.json \\
      --target redis+cluster://10.0.0.1:7000

A field is required when every sampled value has it. Hash fields read as
integers, numbers or booleans when every sampled value does; strings that
are all RFC 3339 times get format date-time. Review the draft, then
`ferry schema add` it.";

const RUN_EXAMPLES: &str = "\
Examples:
  ferry schema plan user --to 3.0.0 --target redis://127.0.0.1:6379
  ferry schema apply user --to 3.0.0 --target redis://127.0.0.1:6379 --dry-run
  ferry schema apply user --to 3.0.0 --target redis+cluster://10.0.0.1:7000 --max-rps 20000
  ferry schema apply user --target /var/lib/ferry/data.db        # a ferry store file
  ferry schema rollback user --target redis://127.0.0.1:6379
  ferry schema status user --target redis://127.0.0.1:6379

apply reads every key of the schema's patterns (SCAN on every master),
runs the migrations of the path from the version recorded on the target
(the oldest version the first time, or --from) to --to (default: the
newest), validates each result against its version's JSON Schema, saves
the original to the backup file, and writes the new value only if the key
still holds what was read (a compare-and-set script per key): a
concurrent write is never overwritten, the key is read again instead.
Keys that fail (not JSON, a transform or the validation failed) are
reported and left as they are. A killed run resumes where it stopped when
the same command runs again. The registry (hash __ferry:schema:{<name>}
and stream __ferry:schema:{<name>}:history on the target) records what was
applied, so every operator sees the same state.

Exit codes: 0 done, 1 done but some keys failed (or --strict stopped),
2 bad files or flags, 3 the target could not be reached or answered an
error.";

/// Where a run works: the target and the schema directory.
#[derive(Args, Clone)]
pub struct Target {
    /// The data store: redis://host:port[/db], rediss://..., redis+cluster://host:port, or a
    /// ferry store file path.
    #[arg(long, env = "FERRY_SCHEMA_TARGET")]
    target: String,
    /// The schema directory.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Log level (error, warn, info, debug).
    #[arg(long, default_value = "info")]
    log_level: String,
}

/// How keys are read and written.
#[derive(Args, Clone)]
pub struct Tuning {
    /// Keys per pipeline (one backup fsync and, on one server, one
    /// compare-and-set script call per batch).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches in flight at once (deeper keeps the server busy while this
    /// process transforms).
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// At most this many keys per second (0: as fast as the target allows).
    #[arg(long, default_value_t = 0)]
    max_rps: u64,
    /// Stop at the first key that fails (resume later with the same command).
    #[arg(long)]
    strict: bool,
}

impl Tuning {
    fn options(&self, dry_run: bool) -> Options {
        Options {
            batch: self.batch,
            in_flight: self.in_flight,
            max_rps: self.max_rps,
            dry_run,
            strict: self.strict,
            samples: 5,
        }
    }
}

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Create the schema directory layout (schemas/, migrations/).
    #[command(after_help = DIR_EXAMPLES)]
    Init {
        /// The schema directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Add a schema file (its name and version say where it goes).
    #[command(after_help = DIR_EXAMPLES)]
    Add {
        file: PathBuf,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// List the schemas and their versions.
    #[command(after_help = DIR_EXAMPLES)]
    List {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print one version of a schema (the newest without VERSION) and its
    /// JSON Schema.
    #[command(after_help = DIR_EXAMPLES)]
    Show {
        name: String,
        version: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Show what `apply` would do: the path, its steps, the keys it covers and
    /// an estimate of the time (a dry run of the first keys).
    #[command(after_help = RUN_EXAMPLES)]
    Plan {
        /// The schema's name (its folder under schemas/).
        name: String,
        /// The version to reach (default: the newest in the directory).
        #[arg(long)]
        to: Option<String>,
        /// The version the keys are at, when the target has no record yet.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        allow_irreversible: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Migrate every key of a schema to a version (resumes a killed run).
    #[command(after_help = RUN_EXAMPLES)]
    Apply {
        /// The schema's name (its folder under schemas/).
        name: String,
        /// The version to reach (default: the newest in the directory).
        #[arg(long)]
        to: Option<String>,
        /// The version the keys are at, when the target has no record yet.
        #[arg(long)]
        from: Option<String>,
        /// Read and report every change (with before/after samples) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run steps that have no inverse (rollback then needs the backup).
        #[arg(long)]
        allow_irreversible: bool,
        /// The backup file (default: <dir>/backups/<name>/<run>.bak).
        #[arg(long)]
        backup: Option<PathBuf>,
        /// Write no backup (rollback then goes through the inverses only).
        #[arg(long, conflicts_with = "backup")]
        no_backup: bool,
        #[command(flatten)]
        tuning: Tuning,
        #[command(flatten)]
        target: Target,
    },
    /// Undo the last applied run: untouched keys get their original back from
    /// the backup (byte for byte, same expiry), the others go through the inverses.
    #[command(after_help = RUN_EXAMPLES)]
    Rollback {
        /// The schema's name (its folder under schemas/).
        name: String,
        /// Report what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        tuning: Tuning,
        #[command(flatten)]
        target: Target,
    },
    /// Put every key of a backup file back as it was, whatever it holds now.
    #[command(after_help = RUN_EXAMPLES)]
    Restore {
        /// The backup file an apply wrote.
        backup: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// The version recorded on the target, the run in progress, and the history.
    #[command(after_help = RUN_EXAMPLES)]
    Status {
        /// The schema's name (its folder under schemas/).
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Forget an unfinished run (the keys it changed stay changed).
    #[command(after_help = RUN_EXAMPLES)]
    Abort {
        /// The schema's name (its folder under schemas/).
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Draft a schema (version 1.0.0) from live data: field types, formats,
    /// which fields every sampled value has.
    #[command(after_help = INFER_EXAMPLES)]
    Infer {
        /// The keys to sample (a glob, as SCAN MATCH takes it).
        #[arg(long)]
        pattern: String,
        /// How many keys to read.
        #[arg(long, default_value_t = 1000)]
        sample: usize,
        /// The schema's name (default: the pattern up to its first glob or ':' character).
        #[arg(long)]
        name: Option<String>,
        /// json-string or hash (default: what most sampled keys are).
        #[arg(long)]
        storage: Option<String>,
        /// Output format.
        #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
        format: String,
        /// Write the draft here instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// List the changes between two versions of a schema, breaking or not.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff {
        /// The older schema file (JSON or YAML).
        a: PathBuf,
        /// The newer schema file (JSON or YAML).
        b: PathBuf,
    },
}

pub fn main(cmd: SchemaCommand) -> ExitCode {
    use ferry_schema::dir::SchemaDir;
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("ferry schema: {e}");
        ExitCode::from(2)
    };
    match cmd {
        SchemaCommand::Diff { a, b } => diff(&a, &b),
        SchemaCommand::Plan { .. }
        | SchemaCommand::Apply { .. }
        | SchemaCommand::Rollback { .. }
        | SchemaCommand::Restore { .. }
        | SchemaCommand::Status { .. }
        | SchemaCommand::Abort { .. }
        | SchemaCommand::Infer { .. } => against_target(cmd),
        SchemaCommand::Init { dir } => match SchemaDir::new(&dir).init() {
            Ok(()) => {
                println!("schema directory ready in {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        SchemaCommand::Add { file, dir } => match SchemaDir::new(&dir).add(&file) {
            Ok(dest) => {
                println!("added {}", dest.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        SchemaCommand::List { dir } => match SchemaDir::new(&dir).list() {
            Ok(all) if all.is_empty() => {
                println!("no schemas in {}", dir.display());
                ExitCode::SUCCESS
            }
            Ok(all) => {
                for (name, versions) in all {
                    let v: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
                    println!("{name}: {}", v.join(", "));
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        SchemaCommand::Show { name, version, dir } => {
            let d = SchemaDir::new(&dir);
            let version = match version {
                Some(v) => match semver::Version::parse(&v) {
                    Ok(v) => v,
                    Err(e) => return fail(&format!("'{v}' is not a version ({e})")),
                },
                None => match d
                    .list()
                    .map(|all| all.get(&name).and_then(|v| v.last().cloned()))
                {
                    Ok(Some(v)) => v,
                    Ok(None) => return fail(&format!("no schema '{name}' in {}", dir.display())),
                    Err(e) => return fail(&e),
                },
            };
            match d.schema(&name, &version) {
                Ok(s) => {
                    println!(
                        "{} {} ({:?}, keys {})",
                        s.name,
                        s.version,
                        s.storage,
                        s.key_pattern.join(" ")
                    );
                    match serde_json::to_string_pretty(&s.json_schema()) {
                        Ok(text) => println!("{text}"),
                        Err(e) => return fail(&e),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn diff(a: &PathBuf, b: &PathBuf) -> ExitCode {
    let load = |p: &PathBuf| ferry_schema::model::load::<ferry_schema::model::SchemaFile>(p);
    let (a, b) = match (load(a), load(b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ferry schema diff: {e}");
            return ExitCode::from(2);
        }
    };
    if a.name != b.name {
        eprintln!(
            "ferry schema diff: the files describe different schemas ('{}' and '{}')",
            a.name, b.name
        );
        return ExitCode::from(2);
    }
    let changes = ferry_schema::diff::diff(&a, &b);
    println!("{} {} -> {}", a.name, a.version, b.version);
    if changes.is_empty() {
        println!("no changes");
    }
    for c in &changes {
        println!("{c}");
    }
    if changes.iter().any(|c| c.breaking) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The commands that work on a target: logging, a runtime, the exit code.
fn against_target(cmd: SchemaCommand) -> ExitCode {
    // Runs are allocation-heavy (documents per key): mimalloc, as for
    // `ferry migrate`.
    crate::alloc::use_mimalloc();
    let level = match &cmd {
        SchemaCommand::Plan { target, .. }
        | SchemaCommand::Apply { target, .. }
        | SchemaCommand::Rollback { target, .. }
        | SchemaCommand::Restore { target, .. }
        | SchemaCommand::Status { target, .. }
        | SchemaCommand::Abort { target, .. }
        | SchemaCommand::Infer { target, .. } => target.log_level.clone(),
        _ => "info".into(),
    };
    crate::init_logging(&level);
    let Some(runtime) = crate::runtime(2) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run_command(cmd)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferry schema: {e}");
            // 1 is taken by "some keys failed".
            ExitCode::from(match e {
                ferry_migrate::Error::Usage(_) => 2,
                _ => 3,
            })
        }
    }
}

fn version(flag: &str, text: &str) -> ferry_migrate::Result<semver::Version> {
    semver::Version::parse(text)
        .map_err(|e| ferry_migrate::Error::Usage(format!("{flag} '{text}' is not a version ({e})")))
}

/// `--to` (default: the newest version in the directory) and `--from`.
fn versions(
    dir: &ferry_schema::dir::SchemaDir,
    name: &str,
    to: Option<String>,
    from: Option<String>,
) -> ferry_migrate::Result<(semver::Version, Option<semver::Version>)> {
    let to = match to {
        Some(t) => version("--to", &t)?,
        None => runner::newest(dir, name)?,
    };
    Ok((to, from.map(|f| version("--from", &f)).transpose()?))
}

async fn connect(target: &Target) -> ferry_migrate::Result<Endpoint> {
    let spec = Spec::parse(&target.target)
        .map_err(|e| ferry_migrate::Error::Usage(format!("--target: {e}")))?;
    Endpoint::connect(spec).await
}

/// A value for a terminal: a string as text, a hash as JSON.
fn show(raw: &Raw) -> String {
    match raw {
        Raw::String(b) => String::from_utf8_lossy(b).into_owned(),
        Raw::Hash(fields) => {
            let m: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(f, v)| {
                    (
                        String::from_utf8_lossy(f).into_owned(),
                        serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
                    )
                })
                .collect();
            serde_json::Value::Object(m).to_string()
        }
    }
}

fn counts_line(c: &Counts) -> String {
    format!(
        "{} keys read, {} changed, {} unchanged, {} already there, {} failed, {} re-read after a concurrent write",
        c.scanned, c.changed, c.unchanged, c.already, c.failed, c.conflicts
    )
}

fn print_report(r: &ferry_schema::apply::Report, dry_run: bool) {
    if !r.samples.is_empty() {
        println!(
            "{}:",
            if dry_run {
                "samples (nothing was written)"
            } else {
                "samples"
            }
        );
        for (key, before, after) in &r.samples {
            println!("  {}", String::from_utf8_lossy(key));
            println!("    before: {}", show(before));
            println!("    after:  {}", show(after));
        }
    }
    if !r.failed.is_empty() {
        println!("failed keys (left as they are):");
        for (key, why) in r.failed.iter().take(20) {
            println!("  {}: {why}", String::from_utf8_lossy(key));
        }
        if r.counts.failed > 20 {
            println!("  ... and {} more", r.counts.failed - 20);
        }
    }
}

/// Progress of a run: a bar on a terminal, a log line every few seconds
/// elsewhere.
struct Bar {
    label: String,
    progress: Option<ferry_migrate::progress::Progress>,
}

impl Bar {
    fn new(label: String) -> Bar {
        Bar {
            label,
            progress: None,
        }
    }

    /// `total`: the estimated number of keys of the run.
    fn update(&mut self, c: &Counts, total: u64) {
        let label = &self.label;
        self.progress
            .get_or_insert_with(|| ferry_migrate::progress::Progress::new(label, total))
            .update(c.scanned, 0, c.failed);
    }

    fn finish(&mut self, c: &Counts) {
        if let Some(p) = self.progress.take() {
            p.finish(c.scanned, 0, c.failed);
        }
    }
}

async fn run_command(cmd: SchemaCommand) -> ferry_migrate::Result<ExitCode> {
    use ferry_schema::dir::SchemaDir;
    match cmd {
        SchemaCommand::Plan {
            name,
            to,
            from,
            allow_irreversible,
            target,
        } => {
            let dir = SchemaDir::new(&target.dir);
            let (to, from) = versions(&dir, &name, to, from)?;
            let endpoint = connect(&target).await?;
            let p = runner::plan(
                &endpoint,
                &dir,
                &name,
                &to,
                from.as_ref(),
                allow_irreversible,
            )
            .await;
            endpoint.close().await;
            let p = p?;
            println!("{name}: {} -> {to} ({}: {})", p.from, p.from, p.from_why);
            if let Some(r) = &p.in_progress {
                println!(
                    "note: run {} ({} -> {}) is in progress; apply resumes it",
                    r.id, r.from, r.to
                );
            }
            if p.compiled.steps.is_empty() {
                println!("nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
            let dir_graph = dir
                .graph(&name)
                .map_err(|e| ferry_migrate::Error::Usage(e.to_string()))?;
            for (i, s) in p.compiled.steps.iter().enumerate() {
                let m = dir_graph.migration(&s.migration);
                let (a, b, n, undo) = match (m, s.direction) {
                    (Some(m), ferry_schema::graph::Direction::Forward) => (
                        m.source.to_string(),
                        m.target.to_string(),
                        m.transforms.len(),
                        m.irreversible()
                            .map_or("reversible".to_string(), |w| format!("IRREVERSIBLE: {w}")),
                    ),
                    (Some(m), ferry_schema::graph::Direction::Backward) => (
                        m.target.to_string(),
                        m.source.to_string(),
                        m.transforms.len(),
                        "through inverses".to_string(),
                    ),
                    (None, _) => ("?".into(), "?".into(), 0, String::new()),
                };
                println!(
                    "  step {}: {} ({:?}) {a} -> {b}, {n} transform(s), {undo}",
                    i + 1,
                    s.migration,
                    s.direction
                );
            }
            println!(
                "keys: about {} of {} match {} (sampled with RANDOMKEY)",
                p.estimated_keys,
                p.total_keys,
                p.compiled.patterns().join(" ")
            );
            let c = &p.sample.counts;
            println!(
                "dry run of the first {} keys: {}",
                c.scanned,
                counts_line(c)
            );
            print_report(&p.sample, true);
            if c.scanned > 0 {
                // Reads measured; writes cost about as much again.
                let per_key = p.sample_secs / c.scanned as f64 * 2.0;
                let secs = per_key * p.estimated_keys as f64;
                println!("estimated time: {secs:.0} s at this pace (apply pipelines several batches at once, usually faster)");
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Apply {
            name,
            to,
            from,
            dry_run,
            allow_irreversible,
            backup,
            no_backup,
            tuning,
            target,
        } => {
            let dir = SchemaDir::new(&target.dir);
            let (to, from) = versions(&dir, &name, to, from)?;
            let endpoint = connect(&target).await?;
            let mut bar = Bar::new(format!("schema {name} -> {to}"));
            let req = runner::ApplyRequest {
                dir: &dir,
                name: &name,
                to: to.clone(),
                from,
                allow_irreversible,
                backup,
                no_backup,
                opts: tuning.options(dry_run),
            };
            let result = runner::apply(&endpoint, req, |c, total| bar.update(c, total)).await;
            endpoint.close().await;
            let applied = result?;
            bar.finish(&applied.report.counts);
            finish_run(&name, applied, dry_run)
        }
        SchemaCommand::Rollback {
            name,
            dry_run,
            tuning,
            target,
        } => {
            let dir = SchemaDir::new(&target.dir);
            let endpoint = connect(&target).await?;
            let mut bar = Bar::new(format!("schema {name} rollback"));
            let req = runner::RollbackRequest {
                dir: &dir,
                name: &name,
                opts: tuning.options(dry_run),
            };
            let result = runner::rollback(&endpoint, req, |c, total| bar.update(c, total)).await;
            endpoint.close().await;
            let applied = result?;
            bar.finish(&applied.report.counts);
            finish_run(&name, applied, dry_run)
        }
        SchemaCommand::Restore { backup, target } => {
            let endpoint = connect(&target).await?;
            let result = runner::restore(&endpoint, &backup).await;
            endpoint.close().await;
            let (restored, failed) = result?;
            println!("restored {restored} keys from {}", backup.display());
            for (key, why) in failed.iter().take(20) {
                println!("  {}: {why}", String::from_utf8_lossy(key));
            }
            Ok(if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        SchemaCommand::Status { name, target } => {
            let endpoint = connect(&target).await?;
            let status = async {
                let mut conn = runner::registry_conn(&endpoint).await?;
                let state = ferry_schema::registry::read(&mut conn, &name).await?;
                let history = ferry_schema::registry::read_history(&mut conn, &name).await?;
                Ok::<_, ferry_migrate::Error>((state, history))
            }
            .await;
            endpoint.close().await;
            let (state, history) = status?;
            match &state.version {
                Some(v) => println!("{name}: at {v}"),
                None => println!("{name}: nothing applied on this target"),
            }
            if let Some(r) = &state.run {
                println!(
                    "in progress: {:?} run {} ({} -> {}), started by {}; {}",
                    r.kind,
                    r.id,
                    r.from,
                    r.to,
                    r.by,
                    counts_line(&state.counts)
                );
            }
            for r in &state.applied {
                println!(
                    "applied: run {} ({} -> {}) by {}, backup {}",
                    r.id,
                    r.from,
                    r.to,
                    r.by,
                    r.backup.as_deref().unwrap_or("none")
                );
            }
            for (id, fields) in history {
                let f: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("history {id}: {}", f.join(" "));
            }
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Abort { name, target } => {
            let endpoint = connect(&target).await?;
            let result = runner::abort(&endpoint, &name).await;
            endpoint.close().await;
            let run = result?;
            println!(
                "forgot run {} ({} -> {}); keys it changed stay changed{}",
                run.id,
                run.from,
                run.to,
                run.backup
                    .map(|b| format!(" (`ferry schema restore {b}` puts them back)"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        SchemaCommand::Infer {
            pattern,
            sample,
            name,
            storage,
            format,
            out,
            target,
        } => {
            let storage = match storage.as_deref() {
                None => None,
                Some("json-string") => Some(ferry_schema::model::Storage::JsonString),
                Some("hash") => Some(ferry_schema::model::Storage::Hash),
                Some(other) => {
                    return Err(ferry_migrate::Error::Usage(format!(
                        "--storage '{other}': use json-string or hash"
                    )))
                }
            };
            let name = name.unwrap_or_else(|| {
                pattern
                    .split([':', '*', '?', '[', '{', '.'])
                    .next()
                    .filter(|n| !n.is_empty())
                    .unwrap_or("unnamed")
                    .to_string()
            });
            let endpoint = connect(&target).await?;
            let sampled = runner::sample(&endpoint, &pattern, sample, storage).await;
            endpoint.close().await;
            let sampled = sampled?;
            if sampled.docs.is_empty() {
                return Err(ferry_migrate::Error::Usage(format!(
                    "no {:?} value under '{pattern}' could be read (skipped {}, other types {:?}); check the pattern and --storage",
                    sampled.storage,
                    sampled.skipped.len(),
                    sampled.other_types
                )));
            }
            let draft = ferry_schema::infer::infer(
                &name,
                vec![pattern.clone()],
                sampled.storage,
                &sampled.docs,
            );
            let text = if format == "json" {
                ferry_schema::infer::to_json(&draft)
                    .map_err(|e| ferry_migrate::Error::Usage(e.to_string()))?
            } else {
                ferry_schema::infer::to_yaml(&draft)
                    .map_err(|e| ferry_migrate::Error::Usage(e.to_string()))?
            };
            eprintln!(
                "read {} values under '{pattern}' as {:?}; skipped {} that are not documents, {} keys of other types",
                sampled.docs.len(),
                sampled.storage,
                sampled.skipped.len(),
                sampled.other_types.values().sum::<usize>()
            );
            for (k, why) in sampled.skipped.iter().take(5) {
                eprintln!("  skipped {}: {why}", String::from_utf8_lossy(k));
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|e| {
                        ferry_migrate::Error::Usage(format!("{}: {e}", path.display()))
                    })?;
                    eprintln!("draft written to {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => Ok(ExitCode::from(2)),
    }
}

fn finish_run(
    name: &str,
    applied: runner::Applied,
    dry_run: bool,
) -> ferry_migrate::Result<ExitCode> {
    if let Some(msg) = applied.nothing {
        println!("{msg}: nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let r = &applied.report;
    if let Some(run) = &applied.run {
        println!(
            "{name} {} -> {} (run {}{}){}: {}",
            run.from,
            run.to,
            run.id,
            if applied.resumed { ", resumed" } else { "" },
            if dry_run {
                " DRY RUN, nothing written"
            } else {
                ""
            },
            counts_line(&r.counts)
        );
        if let (Some(b), false) = (&run.backup, dry_run) {
            println!("backup: {b}");
        }
    }
    print_report(r, dry_run);
    if let Some(why) = &r.stopped {
        println!("stopped: {why}");
        return Ok(ExitCode::from(1));
    }
    Ok(if r.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
