//! `ferry schema`: versioned migrations of the values stored under key
//! patterns. So far: the schema directory (`init`, `add`, `list`, `show`)
//! and `diff` (issue 11 is in progress).

use clap::Subcommand;
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
