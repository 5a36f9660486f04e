//! Time per EVALSHA of a two-call script with a host that answers at once:
//! the engine's own overhead, without the server.
//!
//!   cargo run --release -p ferry-script --example eval_overhead
use bytes::Bytes;
use ferry_resp::{Protocol, Reply};
use ferry_script::{Host, Scripts, Version};
use std::time::Instant;

struct Answer;

impl Host for Answer {
    fn call(&mut self, _argv: Vec<Bytes>, _resp: Protocol) -> Result<Reply, String> {
        Ok(Reply::Integer(1))
    }
    fn acl_check(&mut self, _argv: &[Bytes]) -> Option<bool> {
        Some(true)
    }
}

fn main() {
    let mut s = Scripts::new(Version::parse("7.0.15")).expect("engine");
    let sha = s
        .load(b"redis.call('get', KEYS[1]) return redis.call('incr', KEYS[1])")
        .expect("load");
    let keys = [Bytes::from_static(b"counter:1")];
    let n = 300_000;
    let started = Instant::now();
    for _ in 0..n {
        s.lookup(sha.as_bytes()).expect("cached");
        let r = s.run(sha.as_bytes(), &keys, &[], &mut Answer).reply;
        assert_eq!(r, Reply::Integer(1));
    }
    let per = started.elapsed().as_nanos() as f64 / n as f64;
    println!("{per:.0} ns per EVALSHA (two redis.call each)");
}
