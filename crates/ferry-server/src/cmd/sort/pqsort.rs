//! The partial quicksort Redis uses for SORT with BY and a LIMIT (its
//! pqsort.c, Bentley and McIlroy's quicksort that skips sub-arrays outside
//! the wanted range). Elements that compare equal end up in an order that
//! depends on the algorithm's exact steps, so ferry follows the same steps
//! to give the same order; no crate implements this variant.

use std::cmp::Ordering;

type Cmp<'a, T> = dyn FnMut(&T, &T) -> Ordering + 'a;

/// Sorts `v` so that positions `lrange..=rrange` hold what a full sort would
/// put there, exactly as Redis's `pqsort` orders them.
pub fn pqsort<T>(v: &mut [T], lrange: i64, rrange: i64, cmp: &mut Cmp<'_, T>) {
    let n = v.len();
    sort_range(v, 0, n, lrange, rrange, cmp);
}

/// The median of three positions, with the tie rules of Redis's med3.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &mut Cmp<'_, T>) -> usize {
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

fn insertion<T>(v: &mut [T], a: usize, n: usize, cmp: &mut Cmp<'_, T>) {
    for m in a + 1..a + n {
        let mut l = m;
        while l > a && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Whether the elements `lo..lo + n` hold any position of the wanted range.
fn overlaps(lo: usize, n: usize, lrange: i64, rrange: i64) -> bool {
    let (lo, hi) = (lo as i64, (lo + n) as i64 - 1);
    !((lrange < lo && rrange < lo) || (lrange > hi && rrange > hi))
}

/// Sorts the `n` elements starting at `a`.
fn sort_range<T>(
    v: &mut [T],
    mut a: usize,
    mut n: usize,
    lrange: i64,
    rrange: i64,
    cmp: &mut Cmp<'_, T>,
) {
    loop {
        if n < 7 {
            insertion(v, a, n, cmp);
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        // Three-way partition around v[a]: equal elements gather at both
        // ends first and are swapped into the middle afterwards.
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        let mut swapped = false;
        loop {
            while pb <= pc {
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
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    swapped = true;
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion(v, a, n, cmp);
            return;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && overlaps(a, r, lrange, rrange) {
            sort_range(v, a, r, lrange, rrange, cmp);
        }
        let r = pd - pc;
        if r > 1 {
            a = pn - r;
            n = r;
            if overlaps(a, n, lrange, rrange) {
                continue;
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                (0i64, len as i64 - 1),
                (3, 9),
                (len as i64 / 2, len as i64 - 1),
            ] {
                if l > r || r >= len as i64 {
                    continue;
                }
                let mut w = v.clone();
                pqsort(&mut w, l, r, &mut |a: &u32, b: &u32| a.cmp(b));
                assert_eq!(&w[l as usize..=r as usize], &full[l as usize..=r as usize]);
            }
        }
    }
}
