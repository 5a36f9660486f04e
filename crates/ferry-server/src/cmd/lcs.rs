//! LCS: the longest common subsequence of two string keys, its length, or
//! the matching ranges, as Redis 7.0's lcsCommand computes them.

use super::args::{is, parse_i64, SYNTAX};
use super::{cmd, err, CmdError, CmdResult, CommandSpec, Ctx};
use bytes::Bytes;
use ferry_resp::Reply;
use ferry_store::KeyType;

pub const COMMANDS: &[CommandSpec] = &[cmd(
    "lcs",
    -3,
    &["readonly"],
    (1, 2, 1),
    &["@read", "@string", "@slow"],
    lcs,
)];

/// Redis's proto-max-bulk-len: the largest transient table LCS may build.
const MAX_TABLE_BYTES: u64 = 512 * 1024 * 1024;

/// A key's string value for LCS: a missing key is the empty string; any
/// other type is refused with LCS's own error (not WRONGTYPE).
fn read_operand(ctx: &mut Ctx, key: &[u8]) -> Result<Result<Vec<u8>, ()>, CmdError> {
    let found = ctx.store.lookup_with_value(ctx.client.db, key)?;
    ctx.count_read(key, found.is_some());
    Ok(match found {
        None => Ok(Vec::new()),
        Some((info, Some(v))) if info.ktype == KeyType::String => Ok(v),
        Some(_) => Err(()),
    })
}

/// One matching range found while walking the table back: inclusive
/// positions in each string.
struct Range {
    a: (u32, u32),
    b: (u32, u32),
}

fn lcs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Redis reads both keys before looking at the options.
    let a = read_operand(ctx, &argv[1])?;
    let b = read_operand(ctx, &argv[2])?;
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(err("ERR The specified keys must contain string values"));
    };
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = &argv[j];
        let more = argv.len() - 1 - j;
        if is(opt, "idx") {
            getidx = true;
        } else if is(opt, "len") {
            getlen = true;
        } else if is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if is(opt, "minmatchlen") && more > 0 {
            minmatchlen = parse_i64(&argv[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(err(SYNTAX));
        }
        j += 1;
    }
    if getlen && getidx {
        return Err(err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (a.len(), b.len());
    if alen as u64 >= u32::MAX as u64 - 1 || blen as u64 >= u32::MAX as u64 - 1 {
        return Err(err("ERR String too long for LCS"));
    }
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > MAX_TABLE_BYTES {
        return Err(err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }

    // table[i][j]: the LCS length of a[..i] and b[..j].
    let width = blen + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            table[i * width + jj] = if a[i - 1] == b[jj - 1] {
                table[(i - 1) * width + jj - 1] + 1
            } else {
                table[(i - 1) * width + jj].max(table[i * width + jj - 1])
            };
        }
    }
    let total = table[alen * width + blen];
    if getlen {
        return Ok(Reply::Integer(total as i64));
    }

    // Walk back from the end, building the subsequence right to left and
    // collecting contiguous matching ranges in the order Redis emits them.
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut ranges: Vec<Range> = Vec::new();
    let mut open: Option<Range> = None;
    let (mut i, mut jj) = (alen, blen);
    while i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            let (ai, bj) = ((i - 1) as u32, (jj - 1) as u32);
            match open.as_mut() {
                None => {
                    open = Some(Range {
                        a: (ai, ai),
                        b: (bj, bj),
                    })
                }
                // The walk only moves diagonally between two matches, so
                // the range always extends backwards.
                Some(r) => {
                    r.a.0 = ai;
                    r.b.0 = bj;
                }
            }
            if ai == 0 || bj == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if table[(i - 1) * width + jj] > table[i * width + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            emit = open.is_some();
        }
        if emit {
            if let Some(r) = open.take() {
                let len = (r.a.1 - r.a.0 + 1) as i64;
                if minmatchlen == 0 || len >= minmatchlen {
                    ranges.push(r);
                }
            }
        }
    }

    if !getidx {
        return Ok(Reply::bulk(result));
    }
    let int = |v: u32| Reply::Integer(v as i64);
    let matches = ranges
        .into_iter()
        .map(|r| {
            let mut m = vec![
                Reply::Array(vec![int(r.a.0), int(r.a.1)]),
                Reply::Array(vec![int(r.b.0), int(r.b.1)]),
            ];
            if withmatchlen {
                m.push(int(r.a.1 - r.a.0 + 1));
            }
            Reply::Array(m)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk(&b"matches"[..]), Reply::Array(matches)),
        (Reply::bulk(&b"len"[..]), Reply::Integer(total as i64)),
    ]))
}
