//! Differential tests for Pub/Sub: subscription confirmations, messages and
//! their order, RESP2 subscribed-mode restrictions, RESP3 push frames and
//! PUBSUB introspection, compared byte for byte with redis-server 7.0.

#[macro_use]
mod common;

use common::ConnPair;

/// Reads one more frame from both servers and requires them equal.
#[track_caller]
fn next_same(p: &mut ConnPair, what: &str) {
    let a = p.a.read_reply();
    let b = p.b.read_reply();
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "next frame after {what}"
    );
}

diff_test!(subscribe_publish_unsubscribe, |p| {
    let mut publisher = p.connect();
    p.same(&["SUBSCRIBE", "news", "sports"]);
    next_same(p, "SUBSCRIBE news sports");
    // Subscribing twice to the same channel confirms with the same count.
    p.same(&["SUBSCRIBE", "news"]);
    publisher.same(&["PUBLISH", "news", "hello"]);
    next_same(p, "PUBLISH news");
    publisher.same(&["PUBLISH", "nobody", "x"]);
    publisher.same(&["PUBLISH", "sports", "goal"]);
    next_same(p, "PUBLISH sports");
    publisher.same(&["PUBSUB", "NUMSUB", "news", "sports", "none"]);
    // Channel order is Redis's hash order: unspecified.
    publisher.same_unordered(&["PUBSUB", "CHANNELS"]);
    publisher.same(&["PUBSUB", "CHANNELS", "s*"]);
    publisher.same(&["PUBSUB", "NUMPAT"]);
    p.same(&["UNSUBSCRIBE", "news"]);
    p.same(&["UNSUBSCRIBE"]);
    // Nothing left: a reply with a null channel.
    p.same(&["UNSUBSCRIBE"]);
    publisher.same(&["PUBLISH", "news", "gone"]);
    publisher.same(&["PUBSUB", "CHANNELS"]);
});

diff_test!(patterns, |p| {
    let mut publisher = p.connect();
    p.same(&["PSUBSCRIBE", "user:*"]);
    publisher.same(&["PUBLISH", "user:1", "hi"]);
    next_same(p, "PUBLISH user:1");
    publisher.same(&["PUBLISH", "other", "x"]);
    publisher.same(&["PUBSUB", "NUMPAT"]);
    // A channel subscription and a matching pattern: two deliveries.
    p.same(&["SUBSCRIBE", "user:2"]);
    publisher.same(&["PUBLISH", "user:2", "both"]);
    next_same(p, "PUBLISH user:2 (channel)");
    next_same(p, "PUBLISH user:2 (pattern)");
    p.same(&["PUNSUBSCRIBE", "user:*"]);
    p.same(&["PUNSUBSCRIBE"]);
    p.same(&["UNSUBSCRIBE"]);
});

diff_test!(subscribed_mode_rules, |p| {
    p.same(&["SUBSCRIBE", "c"]);
    // RESP2 allows only pub/sub commands, PING, QUIT and RESET; RESP3 allows all.
    p.same(&["GET", "k"]);
    p.same(&["PING"]);
    p.same(&["PING", "hello"]);
    p.same(&["ECHO", "x"]);
    p.same(&["CONFIG", "GET", "hz"]);
    p.same(&["RESET"]);
    p.same(&["GET", "k"]);
    p.same(&["PUBSUB", "CHANNELS"]);
});

diff_test!(publish_to_self_and_errors, |p| {
    p.same(&["PUBLISH"]);
    p.same(&["PUBLISH", "a"]);
    p.same(&["SUBSCRIBE"]);
    p.same(&["PSUBSCRIBE"]);
    p.same(&["PUBSUB"]);
    p.same(&["PUBSUB", "NOSUCH"]);
    p.same(&["PUBSUB", "NUMPAT", "x"]);
    p.same(&["PUBSUB", "NUMSUB"]);
    p.same(&["PUBSUB", "SHARDCHANNELS"]);
    p.same(&["PUBSUB", "SHARDNUMSUB", "x"]);
});

diff_test!(resp3_publish_to_own_channel, |p| {
    p.same(&["SUBSCRIBE", "self"]);
    if common::is_resp3(p) {
        // The push frame comes before PUBLISH's own reply.
        p.same(&["PUBLISH", "self", "echo"]);
        next_same(p, "PUBLISH self (reply)");
        p.same(&["GET", "k"]);
    } else {
        p.same(&["PUBLISH", "self", "echo"]);
    }
});
