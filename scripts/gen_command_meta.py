#!/usr/bin/env python3
"""Generates ferry's command metadata tables from a real redis-server 7.0.15.

Reads COMMAND INFO and COMMAND DOCS (over RESP3, so maps, sets and arrays
are told apart) and writes two Rust files under
crates/ferry-server/src/cmd/meta/:

  info.rs  the COMMAND INFO facts of every command and subcommand: arity,
           flags, key positions, ACL categories, tips, key specs
  docs.rs  the COMMAND DOCS facts: since, group, complexity, doc_flags,
           deprecated_since, replaced_by, history, arguments

Redis's one-line summaries are not copied: ferry answers COMMAND DOCS with
its own, from the hand-written summaries.txt beside the generated files.
Every command the server has is generated, not only those ferry implements
today; at run time ferry answers only for the commands in its own table.

Usage:
  scripts/gen_command_meta.py                 # starts redis-server itself
  scripts/gen_command_meta.py --port 6379     # uses a running 7.0.15 server

Only 127.0.0.1 is contacted. Needs nothing beyond the Python standard
library and, without --port, `redis-server` on PATH.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

EXPECTED_VERSION = "7.0.15"
OUT_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "crates",
    "ferry-server",
    "src",
    "cmd",
    "meta",
)

# ---------------------------------------------------------------------------
# A small RESP3 client: typed values so the generator can check shapes.
# ---------------------------------------------------------------------------


class Map(list):
    """RESP3 map: a list of (key, value) pairs, in reply order."""


class Set(list):
    """RESP3 set."""


class Status(str):
    """RESP simple string."""


class RespError(Exception):
    pass


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise RespError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest.decode())
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"_":
            return None
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind == b"~":
            return Set(self.read() for _ in range(int(rest)))
        if kind == b"%":
            return Map((self.read(), self.read()) for _ in range(int(rest)))
        raise RespError(f"unexpected RESP type {line!r}")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()


# ---------------------------------------------------------------------------
# Starting a private redis-server
# ---------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp):
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server not found on PATH (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            conn = Conn(port)
            if conn.call("PING") == "PONG":
                return proc, conn
        except OSError:
            time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    sys.exit("redis-server did not start")


# ---------------------------------------------------------------------------
# Rust output
# ---------------------------------------------------------------------------


def rs(s):
    """A Rust string literal."""
    out = ['"']
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def opt(s):
    return "None" if s is None else f"Some({rs(s)})"


def strs(items):
    return "&[" + ", ".join(rs(i) for i in items) + "]"


def ident(fullname):
    return "D_" + "".join(c.upper() if c.isalnum() else "_" for c in fullname)


def as_dict(m):
    assert isinstance(m, Map), m
    return dict(m)


def key_spec(spec):
    d = as_dict(spec)
    expected = (["notes"] if "notes" in d else []) + ["flags", "begin_search", "find_keys"]
    assert [k for k, _ in spec] == expected, spec
    assert isinstance(d["flags"], Set)
    bs, fk = as_dict(d["begin_search"]), as_dict(d["find_keys"])
    bss, fks = as_dict(bs["spec"]), as_dict(fk["spec"])
    if bs["type"] == "index":
        begin = f"Begin::Index({bss['index']})"
    elif bs["type"] == "keyword":
        begin = f"Begin::Keyword({rs(bss['keyword'])}, {bss['startfrom']})"
    else:
        assert bs["type"] == "unknown" and not bss, bs
        begin = "Begin::Unknown"
    if fk["type"] == "range":
        find = f"Find::Range {{ lastkey: {fks['lastkey']}, keystep: {fks['keystep']}, limit: {fks['limit']} }}"
    elif fk["type"] == "keynum":
        find = (f"Find::Keynum {{ keynumidx: {fks['keynumidx']}, firstkey: {fks['firstkey']}, "
                f"keystep: {fks['keystep']} }}")
    else:
        assert fk["type"] == "unknown" and not fks, fk
        find = "Find::Unknown"
    return (f"KeySpec {{ notes: {opt(d.get('notes'))}, flags: {strs(d['flags'])}, "
            f"begin: {begin}, find: {find} }}")


def info_entry(e, indent):
    name, arity, flags, first, last, step, acl, tips, specs, subs = e
    assert isinstance(flags, Set) and isinstance(acl, Set) and isinstance(tips, Set)
    assert isinstance(specs, Set)
    pad = " " * indent
    lines = [f"{pad}Meta {{"]
    lines.append(f"{pad}    name: {rs(name)},")
    lines.append(f"{pad}    arity: {arity},")
    lines.append(f"{pad}    flags: {strs(flags)},")
    lines.append(f"{pad}    keys: ({first}, {last}, {step}),")
    lines.append(f"{pad}    acl: {strs(acl)},")
    lines.append(f"{pad}    tips: {strs(tips)},")
    if specs:
        lines.append(f"{pad}    key_specs: &[")
        for s in specs:
            lines.append(f"{pad}        {key_spec(s)},")
        lines.append(f"{pad}    ],")
    else:
        lines.append(f"{pad}    key_specs: &[],")
    lines.append(f"{pad}    docs: &super::docs::{ident(name)},")
    if subs:
        lines.append(f"{pad}    subcommands: &[")
        for sub in sorted(subs, key=lambda s: s[0]):
            lines.extend(info_entry(sub, indent + 8))
        lines.append(f"{pad}    ],")
    else:
        assert isinstance(subs, Set), subs
        lines.append(f"{pad}    subcommands: &[],")
    lines.append(f"{pad}}},")
    return lines


ARG_KEYS = ["name", "type", "key_spec_index", "token", "summary", "since", "deprecated_since",
            "flags", "arguments"]


def argument(a, indent):
    d = as_dict(a)
    keys = [k for k, _ in a]
    assert keys == [k for k in ARG_KEYS if k in d], keys
    assert "summary" not in d, "argument summaries are prose: teach the generator to skip them"
    pad = " " * indent
    fields = [f"name: {rs(d['name'])}", f"kind: {rs(d['type'])}"]
    if "key_spec_index" in d:
        fields.append(f"key_spec_index: Some({d['key_spec_index']})")
    if "token" in d:
        fields.append(f"token: Some({rs(d['token'])})")
    if "since" in d:
        fields.append(f"since: Some({rs(d['since'])})")
    if "deprecated_since" in d:
        fields.append(f"deprecated_since: Some({rs(d['deprecated_since'])})")
    if "flags" in d:
        assert isinstance(d["flags"], Set)
        fields.append(f"flags: {strs(d['flags'])}")
    head = f"{pad}Arg {{ " + ", ".join(fields)
    if "arguments" not in d:
        return [head + ", ..Arg::NONE },"]
    assert isinstance(d["arguments"], list) and not isinstance(d["arguments"], Set)
    lines = [head + ", args: &["]
    for sub in d["arguments"]:
        lines.extend(argument(sub, indent + 4))
    lines.append(f"{pad}], ..Arg::NONE }},")
    return lines


DOC_KEYS = ["summary", "since", "group", "complexity", "doc_flags", "deprecated_since",
            "replaced_by", "history", "arguments", "subcommands"]


def docs_entries(fullname, doc, out):
    d = as_dict(doc)
    keys = [k for k, _ in doc]
    assert keys == [k for k in DOC_KEYS if k in d], keys
    lines = [f"pub static {ident(fullname)}: Docs = Docs {{"]
    lines.append(f"    since: {rs(d['since'])},")
    lines.append(f"    group: {rs(d['group'])},")
    if "complexity" in d:
        lines.append(f"    complexity: Some({rs(d['complexity'])}),")
    if "doc_flags" in d:
        assert isinstance(d["doc_flags"], Set)
        lines.append(f"    doc_flags: {strs(d['doc_flags'])},")
    if "deprecated_since" in d:
        lines.append(f"    deprecated_since: Some({rs(d['deprecated_since'])}),")
    if "replaced_by" in d:
        lines.append(f"    replaced_by: Some({rs(d['replaced_by'])}),")
    if "history" in d:
        assert isinstance(d["history"], Set)
        lines.append("    history: &[")
        for since, change in d["history"]:
            lines.append(f"        ({rs(since)}, {rs(change)}),")
        lines.append("    ],")
    if "arguments" in d:
        lines.append("    arguments: Some(&[")
        for a in d["arguments"]:
            lines.extend(argument(a, 8))
        lines.append("    ]),")
    lines.append("    ..Docs::NONE")
    lines.append("};")
    out.append("\n".join(lines))
    if "subcommands" in d:
        assert isinstance(d["subcommands"], Map)
        for subname, subdoc in sorted(d["subcommands"], key=lambda p: p[0]):
            docs_entries(subname, subdoc, out)


HEADER = """// @generated by scripts/gen_command_meta.py from redis-server {version}'s
// {what}. Do not edit: regenerate instead.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, help="a running redis-server 7.0.15 on 127.0.0.1")
    parser.add_argument("--out", default=OUT_DIR, help="output folder")
    args = parser.parse_args()

    proc = None
    tmp = tempfile.mkdtemp(prefix="gen-command-meta-")
    try:
        if args.port:
            conn = Conn(args.port)
        else:
            proc, conn = start_server(tmp)
        info = conn.call("INFO", "server")
        version = next(
            l.split(":", 1)[1] for l in info.splitlines() if l.startswith("redis_version:")
        ).strip()
        if version != EXPECTED_VERSION:
            sys.exit(f"redis-server is {version}, expected {EXPECTED_VERSION}")
        conn.call("HELLO", "3")
        infos = conn.call("COMMAND", "INFO")
        docs = conn.call("COMMAND", "DOCS")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    infos.sort(key=lambda e: e[0])
    info_lines = [HEADER.format(version=version, what="COMMAND INFO").rstrip("\n"), ""]
    info_lines.append("use super::{Begin, Find, KeySpec, Meta};")
    info_lines.append("")
    info_lines.append(f"/// Every command of redis-server {version}, by name.")
    info_lines.append("pub static COMMANDS: &[Meta] = &[")
    for e in infos:
        info_lines.extend(info_entry(e, 4))
    info_lines.append("];")

    doc_out = [HEADER.format(version=version, what="COMMAND DOCS (summaries excepted)").rstrip("\n"),
               "// Entries spell out every field they have; some have them all.\n"
               "#![allow(clippy::needless_update)]\n\nuse super::{Arg, Docs};"]
    for name, doc in sorted(docs, key=lambda p: p[0]):
        docs_entries(name, doc, doc_out)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "info.rs"), "w") as f:
        f.write("\n".join(info_lines) + "\n")
    with open(os.path.join(args.out, "docs.rs"), "w") as f:
        f.write("\n\n".join(doc_out) + "\n")
    print(f"{len(infos)} commands written to {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
