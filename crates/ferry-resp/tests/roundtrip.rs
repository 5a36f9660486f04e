//! Property tests: any command encoded as a multibulk decodes back to itself,
//! however the bytes are split across reads.

use bytes::{BufMut, Bytes, BytesMut};
use ferry_resp::{decode_command, Limits, Protocol, Reply};
use proptest::prelude::*;

fn encode_command(args: &[Vec<u8>]) -> Vec<u8> {
    let reply = Reply::Array(args.iter().map(|a| Reply::bulk(a.clone())).collect());
    reply.to_bytes(Protocol::Resp2).to_vec()
}

proptest! {
    #[test]
    fn multibulk_round_trips(
        cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
        chunk in 1usize..64,
    ) {
        let mut wire = Vec::new();
        for c in &cmds {
            wire.extend(encode_command(c));
        }
        let limits = Limits::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.put_slice(piece);
            while let Some(cmd) = decode_command(&mut buf, &limits).expect("valid input") {
                got.push(cmd);
            }
        }
        let want: Vec<Vec<Bytes>> = cmds.iter().map(|c| c.iter().map(|a| Bytes::from(a.clone())).collect()).collect();
        prop_assert_eq!(got, want);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn decoder_never_panics(input in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut buf = BytesMut::from(&input[..]);
        let limits = Limits::default();
        for _ in 0..300 {
            match decode_command(&mut buf, &limits) {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }

    #[test]
    fn inline_words_round_trip(words in prop::collection::vec("[a-zA-Z0-9:_.-]{1,12}", 1..6)) {
        let line = format!("{}\r\n", words.join(" "));
        let mut buf = BytesMut::from(line.as_bytes());
        let got = decode_command(&mut buf, &Limits::default()).expect("valid").expect("complete");
        let want: Vec<Bytes> = words.iter().map(|w| Bytes::from(w.clone())).collect();
        prop_assert_eq!(got, want);
    }
}
