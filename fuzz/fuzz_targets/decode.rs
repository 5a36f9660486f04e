//! Fuzz target for ferry's RESP command decoder.
//!
//! Feeds arbitrary bytes to `ferry_resp::decode_command` the way a connection
//! does — decode commands from the front of the buffer until it needs more
//! bytes or reports a protocol error — and checks that the decoder:
//!
//! * never panics (and never loops or allocates without bound: libFuzzer
//!   reports those as timeouts / out-of-memory);
//! * never consumes more bytes than it was given;
//! * consumes at least one byte for every command it returns (otherwise the
//!   server's read loop would spin forever);
//! * consumes nothing when it answers `Ok(None)` ("incomplete");
//! * returns no more argument bytes than it consumed.
//!
//! Both the default limits and the stricter limits of an unauthenticated
//! client are exercised on every input.
#![no_main]

use bytes::BytesMut;
use ferry_resp::{decode_command, Limits};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8], limits: &Limits) {
    let mut buf = BytesMut::from(data);
    let mut consumed = 0usize;
    // Every returned command consumes at least one byte, so this bound is
    // never reached by a correct decoder; it keeps a broken one from spinning.
    for _ in 0..=data.len() {
        let before = buf.len();
        match decode_command(&mut buf, limits) {
            Ok(Some(args)) => {
                assert!(buf.len() < before, "Ok(Some) without consuming any byte");
                let step = before - buf.len();
                consumed += step;
                assert!(consumed <= data.len(), "consumed more bytes than the input");
                let arg_bytes: usize = args.iter().map(|a| a.len()).sum();
                assert!(
                    arg_bytes <= step,
                    "arguments ({arg_bytes} bytes) longer than the frame ({step} bytes)"
                );
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return;
            }
            Err(_) => return,
        }
    }
    assert!(buf.is_empty(), "decoder returned more commands than input bytes");
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(
        data,
        &Limits {
            unauthenticated: true,
            ..Limits::default()
        },
    );
});
