//! Lua scripting with Redis 7.0's semantics, on Lua 5.1 (`mlua`, vendored).
//!
//! This crate knows nothing about sockets or the store: the server runs a
//! script and gives it a [`Host`] through which `redis.call` runs commands.
//! It owns the sandbox (the read-only globals Redis scripts see, in
//! `sandbox.lua`), the conversions between replies and Lua values
//! ([`convert`]), EVAL's script cache ([`Scripts`]), FUNCTION libraries
//! ([`Functions`]), and the libraries Redis bundles ([`libs`]).
//!
//! mlua with Lua 5.1 was chosen because Redis embeds Lua 5.1: the same
//! language, number formatting, string library and table iteration order,
//! so scripts behave the same on both.

mod builtins;
pub mod convert;
mod eval;
mod flags;
pub mod functions;
mod host;
mod host_slot;
pub mod libs;
pub mod raise;
mod readonly;
mod sandbox;

pub use eval::Scripts;
pub use flags::{parse_shebang, ScriptFlags};
pub use functions::{Functions, RestorePolicy};
pub use host::{Host, LogLevel, Verdict, Watchdog, HOOK_INSTRUCTIONS};
pub use sandbox::{sha1_hex, Outcome, Version};
