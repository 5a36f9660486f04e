#!/usr/bin/env bash
# The test command of ferry: formatting, lints, and the whole workspace test
# suite. Works on a fresh Debian/Ubuntu machine: installs redis-server and
# redis-tools (the tests run a real redis-server beside ferry) when missing.
#
#   bash scripts/test.sh
#
# Environment:
#   TEST_JOBS   test parallelism (default: 2, sized for a 2-core CI box)
#   SKIP_APT=1  never try to install redis with apt-get
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${TEST_JOBS:-2}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
run() { printf '+ %s\n' "$*"; "$@"; }

# --- redis-server / redis-cli -------------------------------------------------
step "checking for redis-server and redis-cli"
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    echo "found $(redis-server --version | head -n1)"
else
    [ "${SKIP_APT:-0}" = 1 ] && die "redis-server/redis-cli missing and SKIP_APT=1; install the Debian packages redis-server and redis-tools"
    command -v apt-get >/dev/null 2>&1 \
        || die "redis-server/redis-cli missing and apt-get not found; install redis-server and redis-cli (>= 7.0) by hand"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 \
            || die "redis-server/redis-cli missing; not root and no sudo: run 'apt-get install -y redis-server redis-tools' as root"
        SUDO=(sudo)
    fi
    echo "redis-server/redis-cli missing: installing redis-server and redis-tools with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    run ${SUDO[@]+"${SUDO[@]}"} apt-get update
    run ${SUDO[@]+"${SUDO[@]}"} apt-get install -y redis-server redis-tools
    command -v redis-server >/dev/null 2>&1 || die "apt-get install finished but redis-server is still not on PATH"
    command -v redis-cli >/dev/null 2>&1 || die "apt-get install finished but redis-cli is still not on PATH"
    echo "installed $(redis-server --version | head -n1)"
fi
# The Debian package starts a system redis-server on 6379; tests choose their
# own random ports, so it is left alone.

# --- Rust toolchain -----------------------------------------------------------
step "checking for cargo"
command -v cargo >/dev/null 2>&1 \
    || die "cargo not found on PATH; install Rust with rustup (https://rustup.rs) and make sure ~/.cargo/bin is on PATH"
cargo --version
rustc --version

step "cargo fmt --all -- --check"
cargo fmt --version >/dev/null 2>&1 || die "rustfmt missing: run 'rustup component add rustfmt'"
run cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --version >/dev/null 2>&1 || die "clippy missing: run 'rustup component add clippy'"
run cargo clippy --workspace --all-targets -- -D warnings

# --- tests ----------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
    # Doc tests first: nextest does not run them, and its summary line
    # should be the last thing printed.
    step "cargo test --doc --workspace (nextest does not run doc tests)"
    run cargo test --doc --workspace -- --test-threads "$JOBS"
    step "cargo nextest run --workspace (-j $JOBS)"
    run cargo nextest run --workspace -j "$JOBS" --no-fail-fast
else
    step "cargo test --workspace (--test-threads $JOBS; cargo-nextest not installed)"
    run cargo test --workspace --no-fail-fast -- --test-threads "$JOBS"
fi

step "all checks passed"
