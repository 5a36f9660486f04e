//! Live progress of a long ferry command (`migrate`, `sync`, `proxy`,
//! `cutover`) for people and for monitoring.
//!
//! A tool creates one [`Board`], shares it as `Arc<Board>` with its hot
//! paths (which only touch atomics) and, when the user passed `--http ADDR`,
//! calls [`serve`]: `/` is a page that polls `/api/state` once a second and
//! draws the phase timeline, the numbers and two rate charts; `/metrics` is
//! the same in Prometheus text format. See `docs/dashboard.md`.
//!
//! - [`board`]: the shared state (metrics, phases, rate history);
//! - [`state`]: the JSON snapshot the page reads;
//! - [`metrics`]: the Prometheus exposition;
//! - [`http`]: the axum server.

pub mod board;
pub mod http;
pub mod metrics;
pub mod state;

pub use board::{Board, Kind, Metric, Phase, Sample};
pub use http::serve;
