//! COMMAND INFO, DOCS, LIST, COUNT, GETKEYS and GETKEYSANDFLAGS against
//! redis-server 7.0.15, in RESP2 and RESP3, for every command ferry has.
//!
//! Redis lists subcommands in hash order (different in each run) and ferry
//! lists only the subcommands it has, so container entries are compared
//! with their subcommands sorted by name and limited to ferry's; every other
//! part must be identical. COMMAND DOCS must be identical except `summary`,
//! which ferry writes itself (and which must not be Redis's).

#[macro_use]
mod common;

use common::{parse_one, ConnPair, FerryOpts, RedisProc, Resp, Subject};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Every name ferry's COMMAND LIST gives (commands and subcommands).
fn ferry_names(p: &mut ConnPair) -> Vec<String> {
    let r = parse_one(&p.b.cmd(&["COMMAND", "LIST"]));
    let names: Vec<String> = r
        .elements()
        .expect("COMMAND LIST is an array")
        .iter()
        .map(|e| e.as_str().expect("a name"))
        .collect();
    assert!(
        names.len() > 200,
        "ferry lists only {} commands",
        names.len()
    );
    names
}

fn name_of(entry: &Resp) -> String {
    entry
        .elements()
        .and_then(|e| e[0].as_str())
        .unwrap_or_default()
}

/// A COMMAND INFO entry with its subcommands sorted by name and limited to
/// those in `keep`.
fn normalize_info(entry: &Resp, keep: &BTreeSet<String>) -> Resp {
    let Resp::Array(fields) = entry else {
        return entry.clone();
    };
    let mut fields = fields.clone();
    if let Some(Resp::Array(subs)) = fields.get(9) {
        let mut subs: Vec<Resp> = subs
            .iter()
            .filter(|s| keep.contains(&name_of(s)))
            .map(|s| normalize_info(s, keep))
            .collect();
        subs.sort_by_key(name_of);
        fields[9] = Resp::Array(subs);
    }
    Resp::Array(fields)
}

/// Key/value pairs of a map (RESP3) or flat pair array (RESP2), rebuilt in
/// the same frame type.
fn map_pairs(r: &Resp) -> Option<Vec<(Resp, Resp)>> {
    match r {
        Resp::Map(m) => Some(m.clone()),
        Resp::Array(v) if v.len() % 2 == 0 => {
            Some(v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect())
        }
        _ => None,
    }
}

fn rebuild(like: &Resp, pairs: Vec<(Resp, Resp)>) -> Resp {
    match like {
        Resp::Map(_) => Resp::Map(pairs),
        _ => Resp::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
    }
}

/// One command's COMMAND DOCS map without `summary` (collected into
/// `summaries`), its subcommands sorted and limited to `keep`.
fn normalize_doc(
    name: &str,
    doc: &Resp,
    keep: &BTreeSet<String>,
    summaries: &mut Vec<(String, String)>,
) -> Resp {
    let pairs = map_pairs(doc).expect("a docs map");
    let mut out = Vec::new();
    for (k, v) in pairs {
        match k.as_str().as_deref() {
            Some("summary") => summaries.push((name.to_string(), v.as_str().unwrap_or_default())),
            Some("subcommands") => {
                let mut subs: Vec<(Resp, Resp)> = map_pairs(&v)
                    .expect("a subcommands map")
                    .into_iter()
                    .filter(|(n, _)| keep.contains(&n.as_str().unwrap_or_default()))
                    .map(|(n, d)| {
                        let sub = n.as_str().unwrap_or_default();
                        let d = normalize_doc(&sub, &d, keep, summaries);
                        (n, d)
                    })
                    .collect();
                subs.sort_by_key(|(n, _)| n.as_str());
                out.push((k, rebuild(&v, subs)));
            }
            _ => out.push((k, v)),
        }
    }
    rebuild(doc, out)
}

diff_test!(info_matches_for_every_command, |p| {
    let names = ferry_names(p);
    let keep: BTreeSet<String> = names.iter().cloned().collect();
    let mut failures = Vec::new();
    for name in &names {
        let (a, b) = p.both(&["COMMAND", "INFO", name]);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let ea = ra.elements().map(|e| normalize_info(&e[0], &keep));
        let eb = rb.elements().map(|e| normalize_info(&e[0], &keep));
        if ea != eb {
            failures.push(format!(
                "COMMAND INFO {name}:\n  redis: {ea:?}\n  ferry: {eb:?}"
            ));
        }
        // Entries without subcommands: byte-identical.
        let has_subs = matches!(
            ra.elements().and_then(|e| e[0].elements()).map(|f| &f[9]),
            Some(Resp::Array(s)) if !s.is_empty()
        );
        if !has_subs && a != b {
            failures.push(format!("COMMAND INFO {name}: bytes differ"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
});

diff_test!(info_several_and_unknown, |p| {
    p.same(&["COMMAND", "INFO", "get", "nosuchcommand", "set"]);
    p.same(&[
        "COMMAND",
        "INFO",
        "GET",
        "Config|Get",
        "config|nosuch",
        "get|x",
    ]);
    p.same(&["COMMAND", "INFO", "config|get|x", "|", "", "client|"]);
    p.same(&[
        "COMMAND",
        "INFO",
        "zunionstore",
        "xreadgroup",
        "sort",
        "eval",
    ]);
    p.same(&["COMMAND", "DOCS", "nosuch", "get|x", ""]);
    p.same(&["COMMAND", "DOCS", "nosuch"]);
    p.same(&["COMMAND", "NOSUCH"]);
    p.same(&["COMMAND", "COUNT", "x"]);
    p.same(&["COMMAND", "GETKEYS"]);
    p.same(&["COMMAND", "GETKEYSANDFLAGS"]);
    p.same(&["COMMAND", "LIST", "x"]);
    p.same(&["COMMAND", "HELP", "x"]);
    // ferry's HELP text is its own; the frame and the entries match.
    let (a, b) = p.both(&["COMMAND", "HELP"]);
    let lines = |r: &[u8]| -> Vec<String> {
        parse_one(r)
            .elements()
            .expect("HELP is an array")
            .iter()
            .map(|l| {
                assert_eq!(l.kind(), "simple");
                l.as_str().unwrap()
            })
            .collect()
    };
    let (la, lb) = (lines(&a), lines(&b));
    assert_eq!(la.first(), lb.first());
    assert_eq!(la[la.len() - 2..], lb[lb.len() - 2..]);
    let entries = |l: &[String]| -> Vec<String> {
        l[1..]
            .iter()
            .filter(|s| !s.starts_with(' '))
            .cloned()
            .collect()
    };
    assert_eq!(entries(&la), entries(&lb));
});

// COMMAND and COMMAND INFO list the same entries; COUNT counts them.
diff_test!(command_all_and_count, |p| {
    let names = ferry_names(p);
    let top = names.iter().filter(|n| !n.contains('|')).count() as i64;
    let count = parse_one(&p.b.cmd(&["COMMAND", "COUNT"])).as_int();
    assert_eq!(count, Some(top), "COMMAND COUNT vs COMMAND LIST");
    let all = parse_one(&p.b.cmd(&["COMMAND"]));
    let info = parse_one(&p.b.cmd(&["COMMAND", "INFO"]));
    let sorted = |r: &Resp| {
        let mut v: Vec<String> = r
            .elements()
            .unwrap()
            .iter()
            .map(|e| format!("{e:?}"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(all.elements().map(|e| e.len()), Some(top as usize));
    assert_eq!(sorted(&all), sorted(&info));
    // Each entry is the one COMMAND INFO <name> gives.
    for e in all.elements().unwrap() {
        let one = parse_one(&p.b.cmd(&["COMMAND", "INFO", &name_of(e)]));
        assert_eq!(one.elements().map(|x| x[0].clone()), Some(e.clone()));
    }
    // All of COMMAND DOCS is every command's.
    let docs = parse_one(&p.b.cmd(&["COMMAND", "DOCS"]));
    assert_eq!(map_pairs(&docs).map(|d| d.len()), Some(top as usize));
});

diff_test!(docs_match_except_summary, |p| {
    let names = ferry_names(p);
    let keep: BTreeSet<String> = names.iter().cloned().collect();
    let mut failures = Vec::new();
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for name in &names {
        let (a, b) = p.both(&["COMMAND", "DOCS", name]);
        let (ra, rb) = (parse_one(&a), parse_one(&b));
        let pa = map_pairs(&ra).expect("docs map");
        let pb = map_pairs(&rb).expect("docs map");
        assert_eq!(pa.len(), 1, "redis COMMAND DOCS {name}");
        if pb.len() != 1 || pa[0].0 != pb[0].0 {
            failures.push(format!("COMMAND DOCS {name}: names differ: {:?}", pb));
            continue;
        }
        let da = normalize_doc(name, &pa[0].1, &keep, &mut sa);
        let db = normalize_doc(name, &pb[0].1, &keep, &mut sb);
        if da != db {
            failures.push(format!(
                "COMMAND DOCS {name}:\n  redis: {da:?}\n  ferry: {db:?}"
            ));
        }
    }
    // ferry's summaries are its own: present, one line, not Redis's.
    let redis: std::collections::HashMap<_, _> = sa.into_iter().collect();
    for (name, summary) in sb {
        if summary.is_empty() || summary.contains('\n') {
            failures.push(format!("{name}: summary {summary:?}"));
        }
        if redis.get(&name) == Some(&summary) {
            failures.push(format!("{name}: summary is Redis's: {summary:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
});

// COMMAND LIST [FILTERBY ...]: ferry's names are Redis's, limited to the
// commands ferry has.
diff_test!(list_filters, |p| {
    let names = ferry_names(p);
    let keep: BTreeSet<String> = names.iter().cloned().collect();
    let set = |r: &[u8]| -> BTreeSet<String> {
        parse_one(r)
            .elements()
            .expect("an array")
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect()
    };
    let filters: &[&[&str]] = &[
        &[],
        &["FILTERBY", "PATTERN", "z*"],
        &["FILTERBY", "pattern", "CLIENT|*"],
        &["FILTERBY", "PATTERN", "*|help"],
        &["filterby", "pattern", "?et"],
        &["FILTERBY", "PATTERN", "[a-c]*"],
        &["FILTERBY", "PATTERN", "nomatch*"],
        &["FILTERBY", "ACLCAT", "string"],
        &["FILTERBY", "ACLCAT", "WRITE"],
        &["FILTERBY", "aclcat", "dangerous"],
        &["FILTERBY", "ACLCAT", "connection"],
        &["FILTERBY", "ACLCAT", "@read"],
        &["FILTERBY", "ACLCAT", "nosuchcategory"],
        &["FILTERBY", "MODULE", "nosuchmodule"],
    ];
    for f in filters {
        let mut args = vec!["COMMAND", "LIST"];
        args.extend_from_slice(f);
        let (a, b) = p.both(&args);
        let want: BTreeSet<String> = set(&a).intersection(&keep).cloned().collect();
        assert_eq!(set(&b), want, "COMMAND LIST {f:?}");
    }
    for bad in [
        &["FILTERBY"][..],
        &["FILTERBY", "PATTERN"],
        &["FILTERBY", "NOSUCH", "x"],
        &["FILTERBY", "PATTERN", "x", "extra"],
        &["PATTERN", "x", "y"],
        &["FILTERBY", "PATTERN", "a*", "FILTERBY", "PATTERN", "z*"],
    ] {
        let mut args = vec!["COMMAND", "LIST"];
        args.extend_from_slice(bad);
        p.same(&args);
    }
});

/// Command lines for GETKEYS/GETKEYSANDFLAGS: fixed and movable keys,
/// keyword searches, numkeys, incomplete specs, bad input.
const GETKEYS_CASES: &[&[&str]] = &[
    &["GET", "k"],
    &["SET", "k", "v"],
    &["SET", "k", "v", "GET"],
    &["SET", "k", "v", "EX", "10", "get"],
    &["MSET", "a", "1", "b", "2", "c", "3"],
    &["MSET", "a", "1", "b"],
    &["MGET", "a", "b", "c"],
    &["DEL", "a", "b"],
    &["RENAME", "a", "b"],
    &["COPY", "a", "b", "DB", "1"],
    &["LMOVE", "a", "b", "LEFT", "RIGHT"],
    &["BLPOP", "a", "b", "0"],
    &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
    &["SMOVE", "a", "b", "m"],
    &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
    &["SINTERCARD", "3", "a", "b"],
    &["SINTERCARD", "0", "a"],
    &["SINTERCARD", "-1", "a"],
    &["SINTERCARD", "x", "a"],
    &["SINTERSTORE", "d", "a", "b"],
    &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
    &["ZUNIONSTORE", "d", "3", "a", "b"],
    &["ZUNIONSTORE", "d", "01", "a"],
    &["ZINTER", "2", "a", "b"],
    &["ZDIFF", "1", "a", "WITHSCORES"],
    &["ZDIFFSTORE", "d", "2", "a", "b"],
    &["ZINTERCARD", "2", "a", "b"],
    &["ZRANGESTORE", "d", "s", "0", "-1"],
    &["LMPOP", "2", "a", "b", "LEFT"],
    &["LMPOP", "5", "a", "b", "LEFT"],
    &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "3"],
    &["ZMPOP", "1", "a", "MIN"],
    &["BZMPOP", "1.5", "2", "a", "b", "MAX"],
    &["BZPOPMIN", "a", "b", "0"],
    &["EVAL", "return 1", "2", "a", "b", "x"],
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 1", "3", "a"],
    &["EVALSHA", "abc", "1", "a"],
    &["EVAL_RO", "return 1", "1", "a"],
    &["FCALL", "f", "2", "a", "b"],
    &["FCALL_RO", "f", "0"],
    &["XREAD", "STREAMS", "a", "b", "0", "0"],
    &["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "0"],
    &["XREAD", "STREAMS", "a", "b", "0"],
    &["XREAD", "COUNT", "2", "STREAMS"],
    &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "NOACK",
        "STREAMS",
        "a",
        "b",
        ">",
        ">",
    ],
    &["XADD", "s", "*", "f", "v"],
    &["XINFO", "STREAM", "s"],
    &["XGROUP", "CREATE", "s", "g", "$"],
    &["SORT", "a"],
    &["SORT", "a", "STORE", "d"],
    &[
        "SORT", "a", "BY", "w_*", "GET", "#", "STORE", "d", "LIMIT", "0", "1",
    ],
    &["SORT", "a", "GET", "store", "STORE", "d1", "STORE", "d2"],
    &["SORT", "a", "STORE"],
    &["SORT_RO", "a", "BY", "x"],
    &["MIGRATE", "h", "1", "k", "0", "10"],
    &["MIGRATE", "h", "1", "", "0", "10", "COPY", "KEYS", "a", "b"],
    &[
        "MIGRATE", "h", "1", "", "0", "10", "AUTH", "keys", "KEYS", "a",
    ],
    &[
        "MIGRATE", "h", "1", "", "0", "10", "AUTH2", "u", "p", "KEYS", "a", "b",
    ],
    &["MIGRATE", "h", "1", "k", "0", "10", "KEYS", "a"],
    &["GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d"],
    &[
        "GEORADIUS",
        "g",
        "0",
        "0",
        "1",
        "km",
        "STOREDIST",
        "d",
        "STORE",
        "e",
    ],
    &["GEORADIUS", "g", "0", "0", "1", "km", "STORE"],
    &["GEORADIUSBYMEMBER", "g", "m", "1", "km", "STORE", "d"],
    &["GEORADIUS_RO", "g", "0", "0", "1", "km"],
    &[
        "GEOSEARCHSTORE",
        "d",
        "s",
        "FROMMEMBER",
        "m",
        "BYRADIUS",
        "1",
        "km",
    ],
    &["BITFIELD", "k", "GET", "u8", "0"],
    &["BITFIELD", "k", "GET", "u8", "0", "SET", "u8", "0", "1"],
    &["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1"],
    &["BITFIELD", "k", "GET", "u8"],
    &["BITFIELD_RO", "k", "GET", "u8", "0"],
    &["BITOP", "AND", "d", "a", "b"],
    &["LCS", "a", "b"],
    &["PFCOUNT", "a", "b"],
    &["PFMERGE", "d", "a", "b"],
    &["DUMP", "k"],
    &["RESTORE", "k", "0", "x"],
    &["OBJECT", "ENCODING", "k"],
    &["OBJECT", "HELP"],
    &["OBJECT"],
    &["OBJECT", "NOSUCH", "k"],
    &["MEMORY", "USAGE", "k"],
    &["CONFIG", "GET", "x"],
    &["CLIENT", "LIST"],
    &["PUBLISH", "ch", "m"],
    &["SPUBLISH", "ch", "m"],
    &["SSUBSCRIBE", "ch"],
    &["SUBSCRIBE", "ch"],
    &["PING"],
    &["WATCH", "a", "b"],
    &["EXISTS", "a", "b"],
    &["TOUCH", "a"],
    &["OBJECT", "FREQ", "k"],
    &["GET"],
    &["GET", "a", "b"],
    &["MSET", "a"],
    &["ZUNIONSTORE", "d", "2"],
    &["NOSUCHCOMMAND", "a"],
    &["get", "lowercase"],
];

diff_test!(getkeys_and_flags, |p| {
    let names: BTreeSet<String> = ferry_names(p).into_iter().collect();
    let mut ran = 0;
    for case in GETKEYS_CASES {
        let name = case[0].to_ascii_lowercase();
        // Only commands ferry has (and unknown ones, for the error).
        if !names.contains(&name) && name != "nosuchcommand" {
            continue;
        }
        ran += 1;
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut args = vec!["COMMAND", sub];
            args.extend_from_slice(case);
            p.same(&args);
        }
    }
    assert!(ran >= 80, "only {ran} GETKEYS cases ran");
});

// ---------------------------------------------------------------------------
// A real tool: redis-py's CommandsParser, which cluster clients use to route
// commands: it reads COMMAND at start and asks COMMAND GETKEYS for commands
// with movable keys.
// ---------------------------------------------------------------------------

fn run_parser(python: &Path, port: u16, names_port: u16, protocol: u8, server: &str) -> String {
    let out = Command::new(python)
        .arg("command_keys_test.py")
        .current_dir(common::redis_py_dir())
        .env("FERRY_PORT", port.to_string())
        .env("FERRY_PROTOCOL", protocol.to_string())
        .env("FERRY_NAMES_PORT", names_port.to_string())
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run command_keys_test.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "redis-py's CommandsParser failed on {server}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn redis_py_commands_parser_routes_keys() {
    let python = common::redis_py_venv(".venv-meta");
    let redis = RedisProc::start(&[]);
    let ferry = Subject::start(FerryOpts::default());
    for protocol in [2, 3] {
        let want = run_parser(
            &python,
            redis.port(),
            ferry.port(),
            protocol,
            "redis-server",
        );
        let got = run_parser(&python, ferry.port(), ferry.port(), protocol, "ferry");
        assert!(want.lines().count() > 20, "too few cases:\n{want}");
        assert_eq!(got, want, "RESP{protocol}: redis-py found other keys");
    }
}
