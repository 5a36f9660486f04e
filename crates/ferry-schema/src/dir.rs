//! The schema directory, reviewable in git:
//!
//! ```text
//! schemas/<name>/<version>.json        one file per version of a schema
//! migrations/<name>/<id>.json          {"source", "target", "transforms"}
//! migrations/<name>/paths.json         optional manual paths {from: {to: [ids]}}
//! ```
//!
//! Any of these may be YAML instead (`.yaml` or `.yml`).
//!
//! ```text
//! ```

use crate::graph::{Graph, GraphError, Migration};
use crate::model::{load, LoadError, SchemaFile};
use semver::Version;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DirError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: the file says schema '{name}' version {version}, so it belongs at {expected}"
    )]
    Misplaced {
        path: String,
        name: String,
        version: Version,
        expected: String,
    },
    #[error("{path}: transform {index}: {why}")]
    Transform {
        path: String,
        index: usize,
        why: String,
    },
    #[error("{0} already exists; versions are immutable once added (add a new version)")]
    Exists(String),
    #[error("no schema '{0}' in {1} (ferry schema list shows what there is)")]
    UnknownSchema(String, String),
    #[error("schema '{name}' has no version {version} (it has: {known})")]
    UnknownVersion {
        name: String,
        version: Version,
        known: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DirError + '_ {
    move |source| DirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A schema directory.
pub struct SchemaDir {
    root: PathBuf,
}

impl SchemaDir {
    pub fn new(root: impl Into<PathBuf>) -> SchemaDir {
        SchemaDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory layout (idempotent).
    pub fn init(&self) -> Result<(), DirError> {
        for sub in ["schemas", "migrations"] {
            let p = self.root.join(sub);
            std::fs::create_dir_all(&p).map_err(io(&p))?;
        }
        Ok(())
    }

    /// Where a version's file is (or goes, with extension `ext`).
    fn schema_path(&self, name: &str, version: &Version, ext: &str) -> PathBuf {
        self.root
            .join("schemas")
            .join(name)
            .join(format!("{version}.{ext}"))
    }

    /// The existing file of a version, whatever its format.
    fn find(&self, name: &str, version: &Version) -> Option<PathBuf> {
        ["json", "yaml", "yml"]
            .iter()
            .map(|ext| self.schema_path(name, version, ext))
            .find(|p| p.exists())
    }

    /// Copies a schema file into the directory, where its content says it
    /// belongs; refuses to replace a version.
    pub fn add(&self, file: &Path) -> Result<PathBuf, DirError> {
        let s: SchemaFile = load(file)?;
        if let Some(existing) = self.find(&s.name, &s.version) {
            return Err(DirError::Exists(existing.display().to_string()));
        }
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("json");
        let dest = self.schema_path(&s.name, &s.version, ext);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(file, &dest).map_err(io(&dest))?;
        Ok(dest)
    }

    /// Every schema and its versions, in order.
    pub fn list(&self) -> Result<BTreeMap<String, Vec<Version>>, DirError> {
        let mut out = BTreeMap::new();
        let base = self.root.join("schemas");
        let Ok(entries) = std::fs::read_dir(&base) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut versions: Vec<Version> = std::fs::read_dir(e.path())
                .map_err(io(&e.path()))?
                .flatten()
                .filter_map(|f| {
                    let n = f.file_name().to_string_lossy().into_owned();
                    let stem = [".json", ".yaml", ".yml"]
                        .iter()
                        .find_map(|ext| n.strip_suffix(ext))?;
                    Version::parse(stem).ok()
                })
                .collect();
            versions.sort();
            out.insert(name, versions);
        }
        Ok(out)
    }

    /// One version of a schema, checked to be where its content says.
    pub fn schema(&self, name: &str, version: &Version) -> Result<SchemaFile, DirError> {
        let Some(path) = self.find(name, version) else {
            let all = self.list()?;
            let Some(versions) = all.get(name) else {
                return Err(DirError::UnknownSchema(
                    name.to_string(),
                    self.root.display().to_string(),
                ));
            };
            return Err(DirError::UnknownVersion {
                name: name.to_string(),
                version: version.clone(),
                known: versions
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let s: SchemaFile = load(&path)?;
        if s.name != name || &s.version != version {
            return Err(DirError::Misplaced {
                path: path.display().to_string(),
                expected: self
                    .schema_path(&s.name, &s.version, "json")
                    .display()
                    .to_string(),
                name: s.name,
                version: s.version,
            });
        }
        Ok(s)
    }

    /// The migrations of a schema and their manual paths, checked.
    pub fn graph(&self, name: &str) -> Result<Graph, DirError> {
        let base = self.root.join("migrations").join(name);
        let mut migrations = BTreeMap::new();
        let mut paths = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&base) {
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                let Some(stem) = f.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                    continue;
                };
                if stem == "paths" {
                    paths = load::<BTreeMap<Version, BTreeMap<Version, Vec<String>>>>(&f)?;
                } else {
                    let m = load::<Migration>(&f)?;
                    for (i, t) in m.transforms.iter().enumerate() {
                        t.check().map_err(|e| DirError::Transform {
                            path: f.display().to_string(),
                            index: i + 1,
                            why: e.to_string(),
                        })?;
                    }
                    migrations.insert(stem, m);
                }
            }
        }
        Ok(Graph::new(migrations, paths)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Direction;

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ferry-schema-dir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn schema_json(version: &str) -> String {
        format!(
            r#"{{"name": "user", "version": "{version}", "keyPattern": "user:*", "storage": "json-string", "fields": {{}}}}"#
        )
    }

    #[test]
    fn add_list_show_and_the_graph() {
        let root = tmp("a");
        let dir = SchemaDir::new(root.join("repo"));
        dir.init().unwrap();
        for v in ["1.0.0", "2.0.0", "10.0.0"] {
            let f = root.join(format!("in-{v}.json"));
            std::fs::write(&f, schema_json(v)).unwrap();
            let dest = dir.add(&f).unwrap();
            assert!(dest.ends_with(format!("schemas/user/{v}.json")));
        }
        let again = root.join("in-1.0.0.json");
        assert!(matches!(dir.add(&again), Err(DirError::Exists(_))));
        let yaml = root.join("in-3.yaml");
        std::fs::write(
            &yaml,
            "name: user\nversion: 3.0.0\nkeyPattern: user:*\nstorage: hash\nfields: {}\n",
        )
        .unwrap();
        assert!(dir.add(&yaml).unwrap().ends_with("schemas/user/3.0.0.yaml"));
        assert_eq!(
            dir.schema("user", &Version::new(3, 0, 0)).unwrap().version,
            Version::new(3, 0, 0)
        );
        std::fs::remove_file(root.join("repo/schemas/user/3.0.0.yaml")).unwrap();
        let listed = dir.list().unwrap();
        assert_eq!(
            listed["user"],
            vec![
                Version::new(1, 0, 0),
                Version::new(2, 0, 0),
                Version::new(10, 0, 0)
            ]
        );
        assert_eq!(
            dir.schema("user", &Version::new(2, 0, 0)).unwrap().version,
            Version::new(2, 0, 0)
        );
        let e = dir
            .schema("user", &Version::new(3, 0, 0))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "schema 'user' has no version 3.0.0 (it has: 1.0.0, 2.0.0, 10.0.0)"
        );
        assert!(matches!(
            dir.schema("order", &Version::new(1, 0, 0)),
            Err(DirError::UnknownSchema(..))
        ));
        // A file edited to claim another version is caught.
        std::fs::write(
            root.join("repo/schemas/user/2.0.0.json"),
            schema_json("2.1.0"),
        )
        .unwrap();
        assert!(dir
            .schema("user", &Version::new(2, 0, 0))
            .unwrap_err()
            .to_string()
            .contains("belongs at"));

        let m = root.join("repo/migrations/user");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("v1_to_v2.json"),
            r#"{"source": "1.0.0", "target": "2.0.0", "transforms": [{"type": "renameField", "from": "a", "to": "b"}]}"#,
        )
        .unwrap();
        let g = dir.graph("user").unwrap();
        let path = g
            .path(&Version::new(2, 0, 0), &Version::new(1, 0, 0), false)
            .unwrap();
        assert_eq!(path[0].direction, Direction::Backward);
        std::fs::write(
            m.join("broken.json"),
            "{\n \"source\": \"1.0.0\",\n \"transforms\": [}\n",
        )
        .unwrap();
        let e = dir
            .graph("user")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("broken.json:3:"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
