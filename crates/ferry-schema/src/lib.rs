//! `ferry schema`: versioned, reversible migrations of the values stored
//! under key patterns (JSON strings and hashes).
//!
//! Work in progress (issue 11): this crate has the parts that need no
//! server yet.
//!
//! - [`model`]: a schema file (versions, key patterns, storage, fields) and
//!   the JSON Schema it stands for;
//! - [`dir`]: the schema directory (schemas and migrations, in git);
//! - [`diff`]: the changes between two versions, breaking or not;
//! - [`transform`]: the built-in transforms on one value and their inverses;
//! - [`lua`]: the `lua` transform's sandboxed runtime;
//! - [`infer`]: a draft schema from sampled values;
//! - [`graph`]: migrations as edges between schema versions, and the path
//!   from one version to another;
//! - [`value`]: stored values (JSON strings, hashes) as documents and back;
//! - [`batch`]: one batch of keys on a live server (read, transform,
//!   validate, compare-and-set write);
//! - [`backup`]: the originals of changed keys, written before each batch.

pub mod apply;
pub mod backup;
pub mod batch;
pub mod diff;
pub mod dir;
pub mod graph;
pub mod infer;
pub mod lua;
pub mod model;
pub mod registry;
pub mod runner;
pub mod transform;
pub mod validate;
pub mod value;
