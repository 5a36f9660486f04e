//! Lua scripting with Redis 7.0's semantics, on Lua 5.1 (`mlua`, vendored).
//!
//! This crate knows nothing about sockets or the store: the server runs a
//! script and gives it a way to call commands. It owns the sandbox (the
//! read-only globals Redis scripts see), the conversions between replies and
//! Lua values, EVAL's script cache, FUNCTION libraries, and the libraries
//! Redis bundles (`libs`).

pub mod libs;
