#!/usr/bin/env bash
# The test command of ferry: formatting, lints, and the whole workspace test
# suite. Works on a fresh Debian/Ubuntu machine: installs redis-server,
# redis-tools, openssl, Node.js, python3-venv and chromium (the tests run a
# real redis-server and Redis Cluster beside ferry, a TLS server, the BullMQ
# job queue from npm, redis-py's client-side cache from PyPI and the
# migration dashboard in a headless browser) when missing.
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

# --- redis-server / redis-cli / openssl ----------------------------------------
# The tests run a real redis-server (standalone and a Redis Cluster built with
# redis-cli) beside ferry, and make a TLS certificate with openssl.
step "checking for redis-server, redis-cli, openssl, node, npm, python3 and chromium"
PKGS=()
command -v redis-server >/dev/null 2>&1 || PKGS+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || PKGS+=(redis-tools)
command -v openssl >/dev/null 2>&1 || PKGS+=(openssl)
# Node.js runs BullMQ, a real job-queue client, in real_client_bullmq.rs.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
# Python with venv runs redis-py's client-side cache in real_client_cache.rs.
command -v python3 >/dev/null 2>&1 || PKGS+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || PKGS+=(python3-venv)
# Headless Chromium loads the `--http` dashboard page in dashboard.rs.
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || PKGS+=(chromium)
if [ ${#PKGS[@]} -eq 0 ]; then
    echo "found $(redis-server --version | head -n1); $(openssl version)"
else
    [ "${SKIP_APT:-0}" = 1 ] && die "missing ${PKGS[*]} and SKIP_APT=1; install these Debian packages"
    command -v apt-get >/dev/null 2>&1 \
        || die "missing ${PKGS[*]} and apt-get not found; install redis-server and redis-cli (>= 7.0) and openssl by hand"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 \
            || die "missing ${PKGS[*]}; not root and no sudo: run 'apt-get install -y ${PKGS[*]}' as root"
        SUDO=(sudo)
    fi
    echo "missing: installing ${PKGS[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    run ${SUDO[@]+"${SUDO[@]}"} apt-get update
    run ${SUDO[@]+"${SUDO[@]}"} apt-get install -y "${PKGS[@]}"
    for b in redis-server redis-cli openssl node npm python3 chromium; do
        command -v "$b" >/dev/null 2>&1 || die "apt-get install finished but $b is still not on PATH"
    done
    echo "installed: $(redis-server --version | head -n1); $(openssl version)"
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
