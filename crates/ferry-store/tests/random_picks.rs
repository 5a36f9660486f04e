//! Random member picks (SPOP, SRANDMEMBER without count) are O(log n) and
//! still spread over the whole set.

use ferry_store::{Store, StoreOptions};

#[test]
fn random_members_spread_over_the_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = Store::open(dir.path().join("d.db"), &StoreOptions::default()).expect("open");
    s.begin().expect("begin");
    let members: Vec<String> = (0..1000).map(|i| format!("element:{i:06}")).collect();
    let refs: Vec<&[u8]> = members.iter().map(|m| m.as_bytes()).collect();
    s.set_add_members(0, b"s", &refs).expect("sadd");
    let info = s.set_lookup(0, b"s").expect("lookup").expect("exists");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3000 {
        let m = s
            .set_random_member(info.id)
            .expect("pick")
            .expect("non-empty");
        assert!(
            members.iter().any(|x| x.as_bytes() == &m[..]),
            "picked a non-member"
        );
        seen.insert(m);
    }
    // A pick stuck at one end would see a handful of members.
    assert!(
        seen.len() > 500,
        "only {} distinct members in 3000 picks",
        seen.len()
    );
}
