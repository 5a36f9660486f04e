//! ACL LOG: the most recent refusals, newest first; a refusal like one
//! logged in the last 60 seconds only bumps that entry's count (Redis's
//! grouping).

use std::time::{Duration, Instant};

const GROUPING: Duration = Duration::from_secs(60);

pub struct Entry {
    pub count: u64,
    pub reason: &'static str,
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub created: Instant,
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    /// Newest first.
    pub entries: Vec<Entry>,
}

impl AclLog {
    pub fn add(
        &mut self,
        reason: &'static str,
        context: &'static str,
        object: Vec<u8>,
        username: Vec<u8>,
        client_info: String,
        max_len: usize,
    ) {
        let now = Instant::now();
        // Like Redis, only the 10 newest entries are candidates; a match
        // moves to the front.
        if let Some(i) = self.entries.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && now.duration_since(e.created) <= GROUPING
                && e.object == object
                && e.username == username
        }) {
            let mut e = self.entries.remove(i);
            e.count += 1;
            e.created = now;
            e.client_info = client_info;
            self.entries.insert(0, e);
            return;
        }
        self.entries.insert(
            0,
            Entry {
                count: 1,
                reason,
                context,
                object,
                username,
                created: now,
                client_info,
            },
        );
        self.entries.truncate(max_len);
    }
}
