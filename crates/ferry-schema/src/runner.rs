//! The operations behind `ferry schema plan|apply|rollback|restore|status|
//! abort`: everything between the schema directory, the target's
//! registry and a run over the keyspace.

use crate::apply::{self, Job, Options, Report};
use crate::backup::{self, Backup, GroupWriter};
use crate::batch::{self, Exact, Plan, Stage};
use crate::dir::SchemaDir;
use crate::graph::{Direction, Step};
use crate::model::{SchemaFile, Storage};
use crate::registry::{self, Counts, Run, RunKind, State};
use crate::validate::Check;
use ferry_migrate::endpoint::{Conn, Endpoint};
use ferry_migrate::{Error, Result};
use semver::Version;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn usage(e: impl std::fmt::Display) -> Error {
    Error::Usage(e.to_string())
}

/// The steps of a path, compiled: transforms and a validator per step.
pub struct Compiled {
    pub from: SchemaFile,
    pub to: SchemaFile,
    pub steps: Vec<Step>,
    transforms: Vec<Vec<crate::transform::Transform>>,
    checks: Vec<Check>,
    source: Check,
    /// Why the steps cannot run (a backward step with no inverse).
    pub irreversible: Option<String>,
}

impl Compiled {
    /// Loads the schemas of every version on the path and the transforms
    /// of every step.
    pub fn new(dir: &SchemaDir, name: &str, from: &Version, steps: Vec<Step>) -> Result<Compiled> {
        let graph = dir.graph(name).map_err(usage)?;
        let from_schema = dir.schema(name, from).map_err(usage)?;
        let mut transforms = Vec::new();
        let mut checks = Vec::new();
        let mut irreversible = None;
        let mut at = from.clone();
        let mut last = from_schema.clone();
        for step in &steps {
            let m = graph.migration(&step.migration).ok_or_else(|| {
                usage(format!(
                    "migration '{}' is not in the directory",
                    step.migration
                ))
            })?;
            let end = match step.direction {
                Direction::Forward => m.target.clone(),
                Direction::Backward => m.source.clone(),
            };
            match graph.step_transforms(step) {
                Ok((t, _)) => transforms.push(t),
                Err(why) => {
                    irreversible.get_or_insert(why);
                    transforms.push(Vec::new());
                }
            }
            let schema = dir.schema(name, &end).map_err(usage)?;
            if schema.storage != from_schema.storage {
                return Err(usage(format!(
                    "{name} {at} stores values as {:?} and {end} as {:?}: changing how keys are stored is not a value migration",
                    from_schema.storage, schema.storage
                )));
            }
            checks.push(Check::new(&schema).map_err(usage)?);
            last = schema;
            at = end;
        }
        Ok(Compiled {
            source: Check::new(&from_schema).map_err(usage)?,
            from: from_schema,
            to: last,
            steps,
            transforms,
            checks,
            irreversible,
        })
    }

    fn stages(&self) -> Vec<Stage<'_>> {
        self.transforms
            .iter()
            .zip(&self.checks)
            .map(|(t, c)| Stage {
                transforms: std::borrow::Cow::Borrowed(t.as_slice()),
                check: c,
            })
            .collect()
    }

    pub fn storage(&self) -> Storage {
        self.from.storage
    }

    /// The keys a run visits: those of the starting version's patterns.
    pub fn patterns(&self) -> &[String] {
        &self.from.key_pattern
    }
}

/// The time of a run as `${NOW}` sees it.
fn now_rfc3339() -> String {
    crate::transform::format_rfc3339(ferry_migrate::now_ms())
}

fn who() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("{user}@{host}")
}

/// The connection that holds the registry (the data's database).
pub async fn registry_conn(endpoint: &Endpoint) -> Result<Conn> {
    endpoint.data(endpoint.spec.db().unwrap_or(0)).await
}

/// Where the keys are: the registry's version, else `--from`, else the
/// oldest version in the directory.
pub fn current_version(
    dir: &SchemaDir,
    name: &str,
    state: &State,
    from: Option<&Version>,
) -> Result<(Version, &'static str)> {
    match (&state.version, from) {
        (Some(v), Some(f)) if v != f => Err(usage(format!(
            "the target's registry says {name} is at {v}; --from {f} disagrees (drop --from, or fix the registry with care)"
        ))),
        (Some(v), _) => Ok((v.clone(), "from the target's registry")),
        (None, Some(f)) => Ok((f.clone(), "from --from")),
        (None, None) => {
            let all = dir.list().map_err(usage)?;
            let oldest = all
                .get(name)
                .and_then(|v| v.first())
                .ok_or_else(|| usage(format!("no schema '{name}' in {}", dir.root().display())))?;
            Ok((
                oldest.clone(),
                "the oldest version: nothing applied yet on the target (--from to say otherwise)",
            ))
        }
    }
}

/// The newest version in the directory.
pub fn newest(dir: &SchemaDir, name: &str) -> Result<Version> {
    dir.list()
        .map_err(usage)?
        .get(name)
        .and_then(|v| v.last().cloned())
        .ok_or_else(|| usage(format!("no schema '{name}' in {}", dir.root().display())))
}

/// What `apply` was asked.
pub struct ApplyRequest<'a> {
    pub dir: &'a SchemaDir,
    pub name: &'a str,
    pub to: Version,
    pub from: Option<Version>,
    pub allow_irreversible: bool,
    /// Where the backup goes (default: `<dir>/backups/<name>/<run>.bak`);
    /// None with `no_backup`.
    pub backup: Option<PathBuf>,
    pub no_backup: bool,
    pub opts: Options,
}

/// What `apply` (or `rollback`) did.
pub struct Applied {
    pub run: Option<Run>,
    pub resumed: bool,
    pub report: Report,
    /// Nothing to do (already there).
    pub nothing: Option<String>,
}

fn in_progress(name: &str, run: &Run) -> Error {
    let verb = match run.kind {
        RunKind::Apply => format!("ferry schema apply {name} --to {}", run.to),
        RunKind::Rollback => format!("ferry schema rollback {name}"),
    };
    usage(format!(
        "a {:?} run of {name} ({} -> {}, run {}, started by {}) was not finished: `{verb}` resumes it, `ferry schema abort {name}` forgets it",
        run.kind, run.from, run.to, run.id, run.by
    ))
}

/// `ferry schema apply`.
pub async fn apply(
    endpoint: &Endpoint,
    req: ApplyRequest<'_>,
    progress: impl FnMut(&Counts, u64),
) -> Result<Applied> {
    let mut conn = registry_conn(endpoint).await?;
    let state = registry::read(&mut conn, req.name).await?;
    // A run in progress: resume it if it is this one.
    let resume = match &state.run {
        Some(r) if r.kind == RunKind::Apply && r.to == req.to && !req.opts.dry_run => {
            Some(r.clone())
        }
        Some(r) if !req.opts.dry_run => return Err(in_progress(req.name, r)),
        _ => None,
    };
    let (from, steps, run) = match resume {
        Some(run) => (run.from.clone(), run.steps.clone(), Some(run)),
        None => {
            let (from, why) = current_version(req.dir, req.name, &state, req.from.as_ref())?;
            log::info!("{} is at {from} ({why})", req.name);
            if from == req.to {
                return Ok(Applied {
                    run: None,
                    resumed: false,
                    report: Report::default(),
                    nothing: Some(format!("{} is already at {}", req.name, req.to)),
                });
            }
            let graph = req.dir.graph(req.name).map_err(usage)?;
            let steps = graph
                .path(&from, &req.to, req.allow_irreversible)
                .map_err(usage)?;
            (from, steps, None)
        }
    };
    let compiled = Compiled::new(req.dir, req.name, &from, steps)?;
    let resumed = run.is_some();
    let run = match run {
        Some(r) => r,
        None => {
            let id = format!("{}-{}", req.name, ferry_migrate::now_ms());
            let backup = if req.no_backup || req.opts.dry_run {
                None
            } else {
                let path = match &req.backup {
                    Some(p) => p.clone(),
                    None => default_backup(req.dir, req.name, &id)?,
                };
                Some(absolute(&path).display().to_string())
            };
            Run {
                id,
                kind: RunKind::Apply,
                from: from.clone(),
                to: req.to.clone(),
                steps: compiled.steps.clone(),
                now: now_rfc3339(),
                started_ms: ferry_migrate::now_ms(),
                backup,
                by: who(),
            }
        }
    };
    let backup = match (&run.backup, req.opts.dry_run) {
        (Some(p), false) => {
            let file = Backup::open(Path::new(p), resumed).map_err(|e| {
                let why = if resumed {
                    " (the run's backup is needed to resume it)"
                } else {
                    ""
                };
                usage(format!("backup file {p}: {e}{why}"))
            })?;
            Some(GroupWriter::start(file).map_err(|e| usage(format!("backup file {p}: {e}")))?)
        }
        _ => None,
    };
    if !req.opts.dry_run && !resumed {
        if let Some(other) = registry::begin(&mut conn, req.name, &run).await? {
            return Err(in_progress(req.name, &other));
        }
    }
    let stages = compiled.stages();
    let job = Job {
        registry: (!req.opts.dry_run).then_some(req.name),
        patterns: compiled.patterns(),
        plan: Plan {
            storage: compiled.storage(),
            stages: &stages,
            source: Some(&compiled.source),
            exact: None,
            irreversible: None,
            now: &run.now,
        },
        backup: backup.as_ref(),
        cursors: if resumed {
            state.cursors.clone()
        } else {
            Default::default()
        },
        counts: if resumed {
            state.counts.clone()
        } else {
            Default::default()
        },
    };
    finish_run(
        endpoint, &mut conn, req.name, &run, resumed, job, &req.opts, progress,
    )
    .await
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `<dir>/backups/<name>/<run>.bak`; the backups folder gets a
/// `.gitignore` (backups hold user data and do not belong in git).
fn default_backup(dir: &SchemaDir, name: &str, id: &str) -> Result<PathBuf> {
    let base = dir.root().join("backups");
    let folder = base.join(name);
    std::fs::create_dir_all(&folder)
        .map_err(|e| usage(format!("cannot create {}: {e}", folder.display())))?;
    let ignore = base.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(
            &ignore,
            "# ferry schema backups hold your data: keep them out of git\n*\n",
        );
    }
    Ok(folder.join(format!("{id}.bak")))
}

/// What `rollback` was asked.
pub struct RollbackRequest<'a> {
    pub dir: &'a SchemaDir,
    pub name: &'a str,
    pub opts: Options,
}

/// `ferry schema rollback`: undoes the last applied run. Keys that still
/// hold what that run wrote get their original back from its backup,
/// byte for byte; keys changed since go back through the inverses (so the
/// change is kept); keys the run did not change go back through the
/// inverses too (values written in the new shape since).
pub async fn rollback(
    endpoint: &Endpoint,
    req: RollbackRequest<'_>,
    progress: impl FnMut(&Counts, u64),
) -> Result<Applied> {
    let mut conn = registry_conn(endpoint).await?;
    let state = registry::read(&mut conn, req.name).await?;
    let resume = match &state.run {
        Some(r) if r.kind == RunKind::Rollback => Some(r.clone()),
        Some(r) => return Err(in_progress(req.name, r)),
        None => None,
    };
    let Some(last) = state.applied.last().cloned() else {
        return Err(usage(format!(
            "nothing to roll back: no finished `ferry schema apply` of {} is recorded on the target",
            req.name
        )));
    };
    if resume.is_none() && state.version.as_ref() != Some(&last.to) {
        return Err(usage(format!(
            "the registry says {} is at {}, but the last applied run ended at {}: fix the registry first",
            req.name,
            state.version.as_ref().map(|v| v.to_string()).unwrap_or_default(),
            last.to
        )));
    }
    let back: Vec<Step> = last
        .steps
        .iter()
        .rev()
        .map(|s| Step {
            migration: s.migration.clone(),
            direction: match s.direction {
                Direction::Forward => Direction::Backward,
                Direction::Backward => Direction::Forward,
            },
        })
        .collect();
    let compiled = Compiled::new(req.dir, req.name, &last.to, back)?;
    let forward = Compiled::new(req.dir, req.name, &last.from, last.steps.clone())?;
    // The backup: what each key was, and what the run made of it.
    let mut exact: HashMap<Vec<u8>, Exact> = HashMap::new();
    match &last.backup {
        Some(path) if Path::new(path).exists() => {
            let saved = backup::originals(
                backup::read(Path::new(path)).map_err(|e| usage(format!("backup {path}: {e}")))?,
            );
            let fstages = forward.stages();
            let fplan = Plan {
                storage: forward.storage(),
                stages: &fstages,
                source: None,
                exact: None,
                irreversible: None,
                now: &last.now,
            };
            for s in saved {
                let key = String::from_utf8_lossy(&s.key).into_owned();
                if let Ok(Some(written)) = batch::migrate(&fplan, &key, &s.raw) {
                    exact.insert(
                        s.key,
                        Exact {
                            written,
                            original: s.raw,
                        },
                    );
                }
            }
            log::info!("backup {path}: {} keys can be put back exactly", exact.len());
        }
        Some(path) if compiled.irreversible.is_some() => {
            return Err(usage(format!(
                "the last run cannot be undone through inverses ({}) and its backup {path} is not here; copy it back and run again",
                compiled.irreversible.as_deref().unwrap_or_default()
            )))
        }
        Some(path) => log::warn!("backup {path} is not here: every key goes back through the inverses"),
        None if compiled.irreversible.is_some() => {
            return Err(usage(format!(
                "the last run cannot be undone: {} and it wrote no backup",
                compiled.irreversible.as_deref().unwrap_or_default()
            )))
        }
        None => {}
    }
    let resumed = resume.is_some();
    let run = match resume {
        Some(r) => r,
        None => Run {
            id: format!("{}-rollback-{}", req.name, ferry_migrate::now_ms()),
            kind: RunKind::Rollback,
            from: last.to.clone(),
            to: last.from.clone(),
            steps: compiled.steps.clone(),
            now: now_rfc3339(),
            started_ms: ferry_migrate::now_ms(),
            backup: None,
            by: who(),
        },
    };
    if !req.opts.dry_run && !resumed {
        if let Some(other) = registry::begin(&mut conn, req.name, &run).await? {
            return Err(in_progress(req.name, &other));
        }
    }
    let stages = compiled.stages();
    // Keys of both versions' patterns: the run's keys, and any written
    // since under the new version's.
    let mut patterns = compiled.patterns().to_vec();
    for p in forward.patterns() {
        if !patterns.contains(p) {
            patterns.push(p.clone());
        }
    }
    let job = Job {
        registry: (!req.opts.dry_run).then_some(req.name),
        patterns: &patterns,
        plan: Plan {
            storage: compiled.storage(),
            stages: &stages,
            source: Some(&compiled.source),
            exact: Some(&exact),
            irreversible: compiled.irreversible.as_deref(),
            now: &run.now,
        },
        backup: None,
        cursors: if resumed {
            state.cursors.clone()
        } else {
            Default::default()
        },
        counts: if resumed {
            state.counts.clone()
        } else {
            Default::default()
        },
    };
    finish_run(
        endpoint, &mut conn, req.name, &run, resumed, job, &req.opts, progress,
    )
    .await
}

/// Runs a job to the end and, unless it was a dry run or stopped, records the run as finished.
#[allow(clippy::too_many_arguments)]
async fn finish_run(
    endpoint: &Endpoint,
    conn: &mut Conn,
    name: &str,
    run: &Run,
    resumed: bool,
    job: Job<'_>,
    opts: &Options,
    mut progress: impl FnMut(&Counts, u64),
) -> Result<Applied> {
    let (_, total) = estimate(endpoint, job.patterns).await?;
    let report = apply::run(endpoint, job, opts, |c| progress(c, total)).await?;
    if !opts.dry_run && report.stopped.is_none() {
        registry::finish(conn, name, run, &report.counts).await?;
    }
    Ok(Applied {
        run: Some(run.clone()),
        resumed,
        report,
        nothing: None,
    })
}

/// `ferry schema restore`: every key of a backup file back to its saved
/// value and expiry, whatever it holds now. Returns (restored, failures).
pub async fn restore(endpoint: &Endpoint, file: &Path) -> Result<(usize, Vec<(Vec<u8>, String)>)> {
    let saved = backup::originals(
        backup::read(file).map_err(|e| usage(format!("backup {}: {e}", file.display())))?,
    );
    let mut conn = registry_conn(endpoint).await?;
    let mut failed = Vec::new();
    for chunk in saved.chunks(500) {
        failed.extend(batch::restore(&mut conn, chunk).await?);
    }
    Ok((saved.len() - failed.len(), failed))
}

/// `ferry schema abort`: forgets the run in progress.
pub async fn abort(endpoint: &Endpoint, name: &str) -> Result<Run> {
    let mut conn = registry_conn(endpoint).await?;
    let state = registry::read(&mut conn, name).await?;
    let Some(run) = state.run else {
        return Err(usage(format!("no run of {name} is in progress")));
    };
    registry::abort(&mut conn, name, &run, &state.counts).await?;
    Ok(run)
}

/// An estimate of how many keys match the patterns: DBSIZE of every
/// master times the matching share of a RANDOMKEY sample.
pub async fn estimate(endpoint: &Endpoint, patterns: &[String]) -> Result<(u64, u64)> {
    let db = endpoint.spec.db().unwrap_or(0);
    let mut total = 0u64;
    let mut matching = 0f64;
    for node in &endpoint.nodes {
        let mut c = node.conn(db).await?;
        let size: u64 = redis::cmd("DBSIZE")
            .query_async(&mut c)
            .await
            .map_err(|e| Error::Connect(format!("{}: DBSIZE failed: {e}", node.addr)))?;
        total += size;
        if size == 0 {
            continue;
        }
        let mut pipe = redis::pipe();
        for _ in 0..200 {
            pipe.cmd("RANDOMKEY");
        }
        let keys: Vec<Option<Vec<u8>>> = pipe
            .query_async(&mut c)
            .await
            .map_err(|e| Error::Connect(format!("{}: RANDOMKEY failed: {e}", node.addr)))?;
        let seen = keys.iter().flatten().count().max(1);
        let hits = keys
            .iter()
            .flatten()
            .filter(|k| apply::wanted(patterns, k))
            .count();
        matching += size as f64 * hits as f64 / seen as f64;
    }
    Ok((total, matching.round() as u64))
}

/// What `plan` found.
pub struct Planned {
    pub from: Version,
    pub from_why: &'static str,
    pub compiled: Compiled,
    pub total_keys: u64,
    pub estimated_keys: u64,
    /// A dry run over the first keys: its counts and seconds.
    pub sample: Report,
    pub sample_secs: f64,
    pub in_progress: Option<Run>,
}

/// `ferry schema plan`: the path, the keys it covers, and a dry run of
/// the first keys to estimate the time.
pub async fn plan(
    endpoint: &Endpoint,
    dir: &SchemaDir,
    name: &str,
    to: &Version,
    from: Option<&Version>,
    allow_irreversible: bool,
) -> Result<Planned> {
    let mut conn = registry_conn(endpoint).await?;
    let state = registry::read(&mut conn, name).await?;
    let (from_v, from_why) = current_version(dir, name, &state, from)?;
    let graph = dir.graph(name).map_err(usage)?;
    let steps = if &from_v == to {
        Vec::new()
    } else {
        graph.path(&from_v, to, allow_irreversible).map_err(usage)?
    };
    let compiled = Compiled::new(dir, name, &from_v, steps)?;
    let (total_keys, estimated_keys) = estimate(endpoint, compiled.patterns()).await?;
    // A dry run of the first page of keys of the first master.
    let db = endpoint.spec.db().unwrap_or(0);
    let mut keys = Vec::new();
    let mut cursor = "0".to_string();
    if let Some(node) = endpoint.nodes.first() {
        for _ in 0..50 {
            let mut c = node.conn(db).await?;
            let v: redis::Value = redis::cmd("SCAN")
                .arg(&cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(|e| Error::Connect(format!("{}: SCAN failed: {e}", node.addr)))?;
            let (next, page) = ferry_migrate::reply::scan_page(&v)
                .ok_or_else(|| Error::Protocol(format!("SCAN answered {v:?}")))?;
            keys.extend(
                page.into_iter()
                    .filter(|k| apply::wanted(compiled.patterns(), k)),
            );
            cursor = next;
            if cursor == "0" || keys.len() >= 1000 {
                break;
            }
        }
    }
    keys.truncate(1000);
    let stages = compiled.stages();
    let plan = Plan {
        storage: compiled.storage(),
        stages: &stages,
        source: Some(&compiled.source),
        exact: None,
        irreversible: None,
        now: &now_rfc3339(),
    };
    let started = std::time::Instant::now();
    let mut data = endpoint.data(db).await?;
    let out = batch::run(&mut data, &plan, &keys, true, |_| Ok(())).await?;
    let sample_secs = started.elapsed().as_secs_f64();
    let sample = Report {
        counts: Counts {
            scanned: keys.len() as u64,
            changed: out.changed.len() as u64,
            unchanged: out.unchanged as u64,
            already: out.already as u64,
            failed: out.failed.len() as u64,
            conflicts: 0,
        },
        samples: out
            .changed
            .into_iter()
            .take(3)
            .map(|(o, n)| (o.key, o.raw, n))
            .collect(),
        failed: out.failed.into_iter().take(5).collect(),
        stopped: None,
    };
    Ok(Planned {
        from: from_v,
        from_why,
        compiled,
        total_keys,
        estimated_keys,
        sample,
        sample_secs,
        in_progress: state.run,
    })
}

/// What `infer` read.
pub struct Sampled {
    pub storage: Storage,
    pub docs: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Keys that could not be read as documents, with the reason.
    pub skipped: Vec<(Vec<u8>, String)>,
    /// Keys of other types (neither strings nor hashes).
    pub other_types: BTreeMap<String, usize>,
}

/// Reads up to `n` keys matching `pattern` (SCAN on every master in turn)
/// as documents. The storage is the one most sampled keys have, unless
/// given.
pub async fn sample(
    endpoint: &Endpoint,
    pattern: &str,
    n: usize,
    storage: Option<Storage>,
) -> Result<Sampled> {
    let db = endpoint.spec.db().unwrap_or(0);
    let mut keys: Vec<Vec<u8>> = Vec::new();
    'nodes: for node in &endpoint.nodes {
        let mut cursor = "0".to_string();
        let mut c = node.conn(db).await?;
        // Bounded: a sparse pattern over a huge keyspace stops after
        // 10,000 pages per master.
        for _ in 0..10_000 {
            let v: redis::Value = redis::cmd("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(|e| Error::Connect(format!("{}: SCAN failed: {e}", node.addr)))?;
            let (next, page) = ferry_migrate::reply::scan_page(&v)
                .ok_or_else(|| Error::Protocol(format!("SCAN answered {v:?}")))?;
            keys.extend(
                page.into_iter()
                    .filter(|k| !k.starts_with(registry::RESERVED)),
            );
            if keys.len() >= n {
                keys.truncate(n);
                break 'nodes;
            }
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
    }
    let mut data = endpoint.data(db).await?;
    let mut out = Sampled {
        storage: storage.unwrap_or(Storage::JsonString),
        docs: Vec::new(),
        skipped: Vec::new(),
        other_types: BTreeMap::new(),
    };
    let types: Vec<String> = {
        let pipes: Vec<redis::Pipeline> = keys
            .iter()
            .map(|k| {
                let mut p = redis::pipe();
                p.cmd("TYPE").arg(k);
                p
            })
            .collect();
        data.per_key(&pipes)
            .await?
            .into_iter()
            .map(|r| match r.as_deref() {
                Ok([redis::Value::SimpleString(t)]) => t.clone(),
                Ok([redis::Value::Okay]) => "ok".into(),
                _ => "none".into(),
            })
            .collect()
    };
    let strings = types.iter().filter(|t| *t == "string").count();
    let hashes = types.iter().filter(|t| *t == "hash").count();
    out.storage = storage.unwrap_or(if hashes > strings {
        Storage::Hash
    } else {
        Storage::JsonString
    });
    let wanted = match out.storage {
        Storage::JsonString => "string",
        Storage::Hash => "hash",
    };
    let mut read = Vec::new();
    for (k, t) in keys.into_iter().zip(types) {
        if t == wanted {
            read.push(k);
        } else if t != "none" {
            *out.other_types.entry(t).or_default() += 1;
        }
    }
    let pipes: Vec<redis::Pipeline> = read
        .iter()
        .map(|k| {
            let mut p = redis::pipe();
            match out.storage {
                Storage::JsonString => p.cmd("GET").arg(k),
                Storage::Hash => p.cmd("HGETALL").arg(k),
            };
            p
        })
        .collect();
    for (k, r) in read.into_iter().zip(data.per_key(&pipes).await?) {
        let raw = match r.as_deref() {
            Ok([redis::Value::BulkString(b)]) => crate::value::Raw::String(b.clone()),
            Ok([redis::Value::Array(items)]) => crate::value::Raw::Hash(
                items
                    .chunks(2)
                    .filter_map(|p| match p {
                        [redis::Value::BulkString(f), redis::Value::BulkString(v)] => {
                            Some((f.clone(), v.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            Ok([redis::Value::Map(items)]) => crate::value::Raw::Hash(
                items
                    .iter()
                    .filter_map(|p| match p {
                        (redis::Value::BulkString(f), redis::Value::BulkString(v)) => {
                            Some((f.clone(), v.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
            ),
            _ => continue, // gone meanwhile
        };
        match crate::value::decode(out.storage, &raw) {
            Ok(doc) => out.docs.push(doc),
            Err(e) => out.skipped.push((k, e.to_string())),
        }
    }
    Ok(out)
}
