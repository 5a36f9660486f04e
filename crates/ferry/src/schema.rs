//! `ferry schema`: versioned migrations of the values stored under key
//! patterns. Only `diff` exists so far (issue 11 is in progress).

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

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// List the changes between two versions of a schema, breaking or not.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff {
        /// The older schema file (JSON).
        a: PathBuf,
        /// The newer schema file (JSON).
        b: PathBuf,
    },
}

pub fn main(cmd: SchemaCommand) -> ExitCode {
    match cmd {
        SchemaCommand::Diff { a, b } => diff(&a, &b),
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
