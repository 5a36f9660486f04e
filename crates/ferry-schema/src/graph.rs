//! Migrations as edges between schema versions, and the path a run takes
//! from one version to another: a manual `paths` entry when the files give
//! one, else the shortest chain of migrations (forwards, or backwards
//! through inverses to downgrade).

use crate::transform::Transform;
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use thiserror::Error;

/// One migration file's content.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Migration {
    pub source: Version,
    pub target: Version,
    pub transforms: Vec<Transform>,
}

/// Which way a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The migration's transforms, in order.
    Forward,
    /// Their inverses, in reverse order (a downgrade or a rollback).
    Backward,
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub migration: String,
    pub direction: Direction,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("unknown version {version}: no migration starts or ends there (known: {known})")]
    UnknownVersion { version: String, known: String },
    #[error("no chain of migrations leads from {from} to {to}")]
    NoPath { from: String, to: String },
    #[error("migration '{0}' goes from a version to itself")]
    SelfLoop(String),
    #[error("paths {from} -> {to}: unknown migration '{migration}'")]
    UnknownMigration {
        from: String,
        to: String,
        migration: String,
    },
    #[error(
        "paths {from} -> {to}: step '{migration}' starts at {at}, but the path is at {expected}"
    )]
    Disconnected {
        from: String,
        to: String,
        migration: String,
        at: String,
        expected: String,
    },
    #[error("paths {from} -> {to}: the path comes back to {version} (a cycle)")]
    Cycle {
        from: String,
        to: String,
        version: String,
    },
    #[error("paths {from} -> {to}: the path ends at {end}")]
    WrongEnd {
        from: String,
        to: String,
        end: String,
    },
    #[error("step '{migration}' cannot be undone ({why}); pass --allow-irreversible to run it anyway (rollback will need the backup)")]
    Irreversible { migration: String, why: String },
}

/// The versions and migrations of one schema.
pub struct Graph {
    migrations: BTreeMap<String, Migration>,
    /// Manual paths: from -> to -> migration ids (forward steps).
    paths: HashMap<(Version, Version), Vec<String>>,
}

impl Migration {
    /// Why this migration cannot be undone, if it cannot.
    pub fn irreversible(&self) -> Option<String> {
        self.transforms
            .iter()
            .position(|t| t.inverse().is_none())
            .map(|i| {
                format!(
                    "transform {} ({:?}) has no inverse",
                    i + 1,
                    kind(&self.transforms[i])
                )
            })
    }
}

fn kind(t: &Transform) -> &'static str {
    match t {
        Transform::RenameField { .. } => "renameField",
        Transform::AddField { .. } => "addField",
        Transform::RemoveField { .. } => "removeField without restoreValue",
        Transform::SplitField { .. } => "splitField",
        Transform::MergeField { .. } => "mergeField",
        Transform::ConvertType { .. } => "convertType without from",
        Transform::MoveField { .. } => "moveField",
        Transform::SetIf { .. } => "setIf",
        Transform::Lua { .. } => "lua without inverse",
    }
}

impl Graph {
    /// Checks the migrations and the manual paths (every step exists,
    /// connects to the previous one, never revisits a version, ends where
    /// it says).
    pub fn new(
        migrations: BTreeMap<String, Migration>,
        paths: BTreeMap<Version, BTreeMap<Version, Vec<String>>>,
    ) -> Result<Graph, GraphError> {
        for (id, m) in &migrations {
            if m.source == m.target {
                return Err(GraphError::SelfLoop(id.clone()));
            }
        }
        let mut checked = HashMap::new();
        for (from, targets) in paths {
            for (to, steps) in targets {
                let mut at = from.clone();
                let mut seen = vec![from.clone()];
                for id in &steps {
                    let m = migrations
                        .get(id)
                        .ok_or_else(|| GraphError::UnknownMigration {
                            from: from.to_string(),
                            to: to.to_string(),
                            migration: id.clone(),
                        })?;
                    if m.source != at {
                        return Err(GraphError::Disconnected {
                            from: from.to_string(),
                            to: to.to_string(),
                            migration: id.clone(),
                            at: m.source.to_string(),
                            expected: at.to_string(),
                        });
                    }
                    at = m.target.clone();
                    if seen.contains(&at) {
                        return Err(GraphError::Cycle {
                            from: from.to_string(),
                            to: to.to_string(),
                            version: at.to_string(),
                        });
                    }
                    seen.push(at.clone());
                }
                if at != to {
                    return Err(GraphError::WrongEnd {
                        from: from.to_string(),
                        to: to.to_string(),
                        end: at.to_string(),
                    });
                }
                checked.insert((from.clone(), to), steps);
            }
        }
        Ok(Graph {
            migrations,
            paths: checked,
        })
    }

    pub fn migration(&self, id: &str) -> Option<&Migration> {
        self.migrations.get(id)
    }

    /// What a step runs (a backward step: the inverses, last first) and
    /// the version it ends at; Err when a backward step has no inverse.
    pub fn step_transforms(&self, step: &Step) -> Result<(Vec<Transform>, Version), String> {
        let m = self
            .migrations
            .get(&step.migration)
            .ok_or_else(|| format!("unknown migration '{}'", step.migration))?;
        match step.direction {
            Direction::Forward => Ok((m.transforms.clone(), m.target.clone())),
            Direction::Backward => {
                if let Some(why) = m.irreversible() {
                    return Err(format!(
                        "migration '{}' cannot be undone: {why}",
                        step.migration
                    ));
                }
                let inverses = m.transforms.iter().rev().filter_map(Transform::inverse);
                Ok((inverses.collect(), m.source.clone()))
            }
        }
    }

    fn known(&self, v: &Version) -> bool {
        self.migrations
            .values()
            .any(|m| &m.source == v || &m.target == v)
    }

    fn known_list(&self) -> String {
        let mut all: Vec<&Version> = self
            .migrations
            .values()
            .flat_map(|m| [&m.source, &m.target])
            .collect();
        all.sort();
        all.dedup();
        all.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The steps from `from` to `to`: the manual path if there is one,
    /// else the fewest steps (forward migrations, or backward through
    /// migrations that can be undone). Forward steps that cannot be undone
    /// are refused unless `allow_irreversible`.
    pub fn path(
        &self,
        from: &Version,
        to: &Version,
        allow_irreversible: bool,
    ) -> Result<Vec<Step>, GraphError> {
        for v in [from, to] {
            if !self.known(v) {
                return Err(GraphError::UnknownVersion {
                    version: v.to_string(),
                    known: self.known_list(),
                });
            }
        }
        let steps = match self.paths.get(&(from.clone(), to.clone())) {
            Some(ids) => ids
                .iter()
                .map(|id| Step {
                    migration: id.clone(),
                    direction: Direction::Forward,
                })
                .collect(),
            None => self.shortest(from, to)?,
        };
        if !allow_irreversible {
            for s in steps.iter().filter(|s| s.direction == Direction::Forward) {
                if let Some(why) = self
                    .migrations
                    .get(&s.migration)
                    .and_then(Migration::irreversible)
                {
                    return Err(GraphError::Irreversible {
                        migration: s.migration.clone(),
                        why,
                    });
                }
            }
        }
        Ok(steps)
    }

    /// Breadth-first search; ties go to migration ids in order, so the
    /// same files always give the same path.
    fn shortest(&self, from: &Version, to: &Version) -> Result<Vec<Step>, GraphError> {
        let mut prev: HashMap<Version, (Version, Step)> = HashMap::new();
        let mut queue = VecDeque::from([from.clone()]);
        let mut visited = vec![from.clone()];
        while let Some(at) = queue.pop_front() {
            if &at == to {
                let mut steps = Vec::new();
                let mut cur = at;
                while let Some((p, step)) = prev.get(&cur) {
                    steps.push(step.clone());
                    cur = p.clone();
                }
                steps.reverse();
                return Ok(steps);
            }
            for (id, m) in &self.migrations {
                let edge = if m.source == at {
                    Some((m.target.clone(), Direction::Forward))
                } else if m.target == at && m.irreversible().is_none() {
                    Some((m.source.clone(), Direction::Backward))
                } else {
                    None
                };
                if let Some((next, direction)) = edge {
                    if !visited.contains(&next) {
                        visited.push(next.clone());
                        prev.insert(
                            next.clone(),
                            (
                                at.clone(),
                                Step {
                                    migration: id.clone(),
                                    direction,
                                },
                            ),
                        );
                        queue.push_back(next);
                    }
                }
            }
        }
        Err(GraphError::NoPath {
            from: from.to_string(),
            to: to.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn mig(source: &str, target: &str, transforms: serde_json::Value) -> Migration {
        serde_json::from_value(
            json!({"source": source, "target": target, "transforms": transforms}),
        )
        .unwrap()
    }

    fn rename(from: &str, to: &str) -> serde_json::Value {
        json!([{"type": "renameField", "from": from, "to": to}])
    }

    fn chain() -> BTreeMap<String, Migration> {
        BTreeMap::from([
            (
                "v1_to_v2".to_string(),
                mig("1.0.0", "2.0.0", rename("userName", "fullName")),
            ),
            (
                "v2_to_v3".to_string(),
                mig(
                    "2.0.0",
                    "3.0.0",
                    json!([{"type": "splitField", "from": "fullName", "to": ["firstName", "lastName"], "separator": " "}]),
                ),
            ),
            (
                "v3_drop".to_string(),
                mig(
                    "3.0.0",
                    "4.0.0",
                    json!([{"type": "removeField", "field": "legacy"}]),
                ),
            ),
        ])
    }

    fn ids(steps: &[Step]) -> Vec<(String, Direction)> {
        steps
            .iter()
            .map(|s| (s.migration.clone(), s.direction))
            .collect()
    }

    #[test]
    fn shortest_path_forward_and_back() {
        let g = Graph::new(chain(), BTreeMap::new()).unwrap();
        assert_eq!(
            ids(&g.path(&v("1.0.0"), &v("3.0.0"), false).unwrap()),
            vec![
                ("v1_to_v2".into(), Direction::Forward),
                ("v2_to_v3".into(), Direction::Forward)
            ]
        );
        assert_eq!(
            ids(&g.path(&v("3.0.0"), &v("1.0.0"), false).unwrap()),
            vec![
                ("v2_to_v3".into(), Direction::Backward),
                ("v1_to_v2".into(), Direction::Backward)
            ]
        );
        assert_eq!(g.path(&v("3.0.0"), &v("3.0.0"), false).unwrap(), vec![]);
    }

    #[test]
    fn irreversible_steps_need_the_flag_and_cannot_be_walked_back() {
        let g = Graph::new(chain(), BTreeMap::new()).unwrap();
        let e = g.path(&v("1.0.0"), &v("4.0.0"), false).unwrap_err();
        assert!(
            matches!(&e, GraphError::Irreversible { migration, .. } if migration == "v3_drop"),
            "{e}"
        );
        assert!(e.to_string().contains("--allow-irreversible"), "{e}");
        assert_eq!(g.path(&v("1.0.0"), &v("4.0.0"), true).unwrap().len(), 3);
        assert_eq!(
            g.path(&v("4.0.0"), &v("3.0.0"), true).unwrap_err(),
            GraphError::NoPath {
                from: "4.0.0".into(),
                to: "3.0.0".into()
            }
        );
    }

    #[test]
    fn unknown_versions_are_named_with_the_known_ones() {
        let g = Graph::new(chain(), BTreeMap::new()).unwrap();
        let e = g.path(&v("1.0.0"), &v("9.0.0"), false).unwrap_err();
        assert_eq!(e.to_string(), "unknown version 9.0.0: no migration starts or ends there (known: 1.0.0, 2.0.0, 3.0.0, 4.0.0)");
    }

    #[test]
    fn manual_paths_override_and_are_checked() {
        let mut m = chain();
        m.insert(
            "v1_to_v3_direct".into(),
            mig("1.0.0", "3.0.0", rename("userName", "name")),
        );
        // Without a manual path the direct migration is shorter.
        let g = Graph::new(m.clone(), BTreeMap::new()).unwrap();
        assert_eq!(
            ids(&g.path(&v("1.0.0"), &v("3.0.0"), false).unwrap()).len(),
            1
        );
        let paths = BTreeMap::from([(
            v("1.0.0"),
            BTreeMap::from([(
                v("3.0.0"),
                vec!["v1_to_v2".to_string(), "v2_to_v3".to_string()],
            )]),
        )]);
        let g = Graph::new(m.clone(), paths).unwrap();
        assert_eq!(
            ids(&g.path(&v("1.0.0"), &v("3.0.0"), false).unwrap()).len(),
            2
        );

        let bad = |steps: &[&str], to: &str| {
            let paths = BTreeMap::from([(
                v("1.0.0"),
                BTreeMap::from([(v(to), steps.iter().map(|s| s.to_string()).collect())]),
            )]);
            Graph::new(m.clone(), paths)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            bad(&["nope"], "2.0.0"),
            "paths 1.0.0 -> 2.0.0: unknown migration 'nope'"
        );
        assert_eq!(
            bad(&["v2_to_v3"], "3.0.0"),
            "paths 1.0.0 -> 3.0.0: step 'v2_to_v3' starts at 2.0.0, but the path is at 1.0.0"
        );
        assert_eq!(
            bad(&["v1_to_v2"], "3.0.0"),
            "paths 1.0.0 -> 3.0.0: the path ends at 2.0.0"
        );
    }

    #[test]
    fn cycles_and_self_loops_are_refused() {
        let mut m = chain();
        m.insert(
            "back".into(),
            mig("2.0.0", "1.0.0", rename("fullName", "userName")),
        );
        let paths = BTreeMap::from([(
            v("1.0.0"),
            BTreeMap::from([(
                v("3.0.0"),
                vec![
                    "v1_to_v2".to_string(),
                    "back".to_string(),
                    "v1_to_v2".to_string(),
                    "v2_to_v3".to_string(),
                ],
            )]),
        )]);
        let e = Graph::new(m, paths).err().unwrap();
        assert_eq!(
            e.to_string(),
            "paths 1.0.0 -> 3.0.0: the path comes back to 1.0.0 (a cycle)"
        );
        let m = BTreeMap::from([("same".to_string(), mig("1.0.0", "1.0.0", rename("a", "b")))]);
        assert_eq!(
            Graph::new(m, BTreeMap::new()).err(),
            Some(GraphError::SelfLoop("same".into()))
        );
    }
}
