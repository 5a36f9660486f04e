//! Redis's partial quicksort (`pqsort.c`, NetBSD's Bentley–McIlroy qsort
//! that skips partitions outside the wanted range). Redis sorts with it
//! where only part of the result is kept: GEO commands with a COUNT below
//! the results found, SORT with BY and a LIMIT. It is not stable, so which
//! of several equal elements come first depends on its exact steps,
//! reproduced here (no crate implements this variant).

use std::cmp::Ordering;

/// Sorts `v` enough that positions `lrange..=rrange` hold the elements a
/// full sort would put there, in order, stepping exactly as Redis does.
pub fn partial_sort<T, F>(v: &mut [T], cmp: F, lrange: usize, rrange: usize)
where
    F: Fn(&T, &T) -> Ordering,
{
    sort_range(v, &cmp, 0, v.len(), lrange, rrange);
}

fn med3<T, F: Fn(&T, &T) -> Ordering>(v: &[T], cmp: &F, a: usize, b: usize, c: usize) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn insertion<T, F: Fn(&T, &T) -> Ordering>(v: &mut [T], cmp: &F, a: usize, n: usize) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

/// Swaps the `n` elements at `a` with the `n` at `b` (disjoint blocks).
fn block_swap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Does the part `[start, start + n)` hold any wanted position?
fn wanted(start: usize, n: usize, lrange: usize, rrange: usize) -> bool {
    let last = start + n - 1;
    !((lrange < start && rrange < start) || (lrange > last && rrange > last))
}

fn sort_range<T, F: Fn(&T, &T) -> Ordering>(
    v: &mut [T],
    cmp: &F,
    mut a: usize,
    mut n: usize,
    lrange: usize,
    rrange: usize,
) {
    loop {
        if n < 7 {
            insertion(v, cmp, a, n);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, cmp, pl, pl + d, pl + 2 * d);
                pm = med3(v, cmp, pm - d, pm, pm + d);
                pn = med3(v, cmp, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, cmp, pl, pm, pn);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        // pc and pd may step to just before `a + 1`: signed positions.
        let (mut pc, mut pd) = ((a + n - 1) as isize, (a + n - 1) as isize);
        let mut swapped = false;
        loop {
            while pb as isize <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Ordering::Greater {
                    break;
                }
                if c == Ordering::Equal {
                    swapped = true;
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let c = cmp(&v[pc as usize], &v[a]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    swapped = true;
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion(v, cmp, a, n);
            return;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        block_swap(v, a, pb - r, r);
        let (pc, pd) = (pc as usize, pd as usize);
        let r = (pd - pc).min(pn - pd - 1);
        block_swap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(a, r, lrange, rrange) {
            sort_range(v, cmp, a, r, lrange, rrange);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if wanted(a, n, lrange, rrange) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for test data.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn full_range_sorts() {
        let mut seed = 7;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 200, 1000] {
            let mut v: Vec<u64> = (0..n).map(|_| lcg(&mut seed) % 50).collect();
            let mut want = v.clone();
            want.sort();
            if n > 0 {
                partial_sort(&mut v, |a, b| a.cmp(b), 0, n - 1);
            }
            assert_eq!(v, want);
        }
    }

    #[test]
    fn prefix_is_sorted() {
        let mut seed = 11;
        for n in [10usize, 50, 300, 2000] {
            for k in [1usize, 3, 10] {
                let mut v: Vec<u64> = (0..n).map(|_| lcg(&mut seed) % 1000).collect();
                let mut want = v.clone();
                want.sort();
                partial_sort(&mut v, |a, b| a.cmp(b), 0, k - 1);
                assert_eq!(&v[..k], &want[..k], "n={n} k={k}");
            }
        }
    }

    #[test]
    fn ties_follow_redis_steps() {
        // Equal keys tagged by their original position: the outcome is
        // pqsort's (med3 pivot at index 4 of 8, equal keys gathered).
        let mut v: Vec<(u8, u8)> = vec![
            (1, 0),
            (0, 1),
            (1, 2),
            (0, 3),
            (1, 4),
            (0, 5),
            (1, 6),
            (0, 7),
        ];
        partial_sort(&mut v, |a, b| a.0.cmp(&b.0), 0, 7);
        let keys: Vec<u8> = v.iter().map(|x| x.0).collect();
        assert_eq!(keys, vec![0, 0, 0, 0, 1, 1, 1, 1]);
    }

    /// A range in the middle, and the upper half (SORT ... LIMIT).
    #[test]
    fn sorts_the_wanted_range() {
        let mut seed = 7u64;
        for len in [0usize, 1, 5, 7, 8, 40, 41, 100, 333] {
            let v: Vec<u32> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 40) as u32 % 50
                })
                .collect();
            let mut full = v.clone();
            full.sort();
            for (l, r) in [
                (0, len.saturating_sub(1)),
                (3, 9),
                (len / 2, len.saturating_sub(1)),
            ] {
                if len == 0 || l > r || r >= len {
                    continue;
                }
                let mut w = v.clone();
                partial_sort(&mut w, |a, b| a.cmp(b), l, r);
                assert_eq!(&w[l..=r], &full[l..=r], "len={len} range={l}..={r}");
            }
        }
    }
}
