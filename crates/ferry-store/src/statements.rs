//! The store's prepared statements, kept for the connection's life and
//! found by the address of their SQL text.
//!
//! rusqlite's `prepare_cached` finds a statement by hashing its whole SQL
//! text, keeps an LRU list, and hashes the text again to put the statement
//! back after each use: about 9% of the CPU of a pipelined LPUSH or SPOP
//! (`StatementCache::get`, `cache_stmt`, `Arc<str>` hashing in `perf`).
//! The store's hot statements are string literals, so their address and
//! length name them: one small hash of two words finds the statement, and
//! nothing is done to give it back. SQL built at run time keeps using
//! `prepare_cached`. (The same text written at two call sites may be kept
//! twice; each is still prepared once.)
//!
//! No library fits: rusqlite's statements borrow their connection, and a
//! table of them beside the connection in one struct needs the borrow
//! erased (self-referential crates do not give `&mut` access to several
//! statements at once). The unsafety is confined here: see
//! [`Statements::get`].

use rusqlite::{Connection, Statement};
use std::cell::{RefCell, RefMut};
use std::collections::hash_map::{Entry, HashMap};
use std::ops::{Deref, DerefMut};

/// One kept statement; boxed so its address survives the table growing.
type Kept = Box<RefCell<Statement<'static>>>;

/// Prepared statements of one connection, by the address and length of
/// their SQL literal.
///
/// Safety contract with the owner ([`crate::Store`]): the connection is
/// boxed (its address never changes) and outlives every statement here,
/// which the owner guarantees by declaring this table before the
/// connection (fields drop in order) and calling [`Statements::clear`]
/// before it replaces the connection.
#[derive(Default)]
pub(crate) struct Statements {
    kept: RefCell<HashMap<(usize, usize), Kept, foldhash::fast::FixedState>>,
}

// Statements are tied to their connection, which is `Send`; they move
// with it, inside the one `Store` that owns both, and are never shared.
unsafe impl Send for Statements {}

/// A statement from [`Statements::get`], ready to bind and run.
pub(crate) enum Stmt<'a> {
    /// The kept one.
    Kept(RefMut<'a, Statement<'static>>),
    /// A fresh one, when the kept one is in use further up the stack (a
    /// statement's rows being read while the same SQL runs again).
    Fresh(Statement<'static>, std::marker::PhantomData<&'a Connection>),
}

impl Deref for Stmt<'_> {
    type Target = Statement<'static>;
    fn deref(&self) -> &Self::Target {
        match self {
            Stmt::Kept(s) => s,
            Stmt::Fresh(s, _) => s,
        }
    }
}

impl DerefMut for Stmt<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Stmt::Kept(s) => s,
            Stmt::Fresh(s, _) => s,
        }
    }
}

/// A kept statement lets go of its parameters when put back: SQLite holds
/// a copy of each bound value, and a 100 MB SET would otherwise stay in
/// memory until the statement next runs (rusqlite's cache clears them too).
impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        if let Stmt::Kept(s) = self {
            s.clear_bindings();
        }
    }
}

impl Statements {
    /// The statement of `sql` on `conn`, prepared on first use.
    pub(crate) fn get<'a>(
        &'a self,
        conn: &'a Connection,
        sql: &'static str,
    ) -> rusqlite::Result<Stmt<'a>> {
        let name = (sql.as_ptr() as usize, sql.len());
        let cell: *const RefCell<Statement<'static>> = {
            let mut kept = self.kept.borrow_mut();
            let boxed = match kept.entry(name) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(v) => v.insert(Box::new(RefCell::new(erase(conn.prepare(sql)?)))),
            };
            &**boxed
        };
        // SAFETY: the box is only dropped by `clear` (`&mut self`) or with
        // the table, so it outlives the `&'a self` borrow; the map's own
        // borrow ended above and the RefCell guards the statement itself.
        let cell = unsafe { &*cell };
        match cell.try_borrow_mut() {
            Ok(stmt) => Ok(Stmt::Kept(stmt)),
            Err(_) => Ok(Stmt::Fresh(
                erase(conn.prepare(sql)?),
                std::marker::PhantomData,
            )),
        }
    }

    /// Finalizes every statement (before the connection goes).
    pub(crate) fn clear(&mut self) {
        self.kept.get_mut().clear();
    }
}

/// A statement with its connection's borrow erased.
fn erase(stmt: Statement<'_>) -> Statement<'static> {
    // SAFETY: only lengthens the borrow of the connection, which the
    // owner keeps alive and in place for as long as the statement (see
    // `Statements`); the layout does not depend on the lifetime.
    unsafe { std::mem::transmute::<Statement<'_>, Statement<'static>>(stmt) }
}

#[cfg(test)]
mod tests {
    use super::*;

    static COUNT: &str = "SELECT count(*) FROM t WHERE x >= ?1";
    static ALL: &str = "SELECT x FROM t ORDER BY x";

    #[test]
    fn a_statement_is_kept_and_a_nested_use_gets_its_own() {
        let conn = Box::new(Connection::open_in_memory().expect("open"));
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3);")
            .expect("schema");
        let mut kept = Statements::default();
        let count = |k: &Statements, min: i64| -> i64 {
            k.get(&conn, COUNT)
                .expect("prepare")
                .query_row([min], |r| r.get(0))
                .expect("query")
        };
        assert_eq!(count(&kept, 2), 2);
        // Put back without its parameter (SQLite would keep a copy of it).
        let again = kept.get(&conn, COUNT).expect("prepare");
        assert!(matches!(again, Stmt::Kept(_)));
        assert_eq!(
            again.expanded_sql().as_deref(),
            Some("SELECT count(*) FROM t WHERE x >= NULL")
        );
        drop(again);
        {
            // While its rows are read, the same SQL runs on a fresh statement.
            let mut outer = kept.get(&conn, ALL).expect("prepare");
            let mut rows = outer.query([]).expect("query");
            let mut seen = Vec::new();
            while let Some(r) = rows.next().expect("row") {
                let x: i64 = r.get(0).expect("x");
                let inner = kept.get(&conn, ALL).expect("prepare");
                assert!(matches!(inner, Stmt::Fresh(..)));
                seen.push((x, count(&kept, x)));
            }
            assert_eq!(seen, [(1, 3), (2, 2), (3, 1)]);
        }
        assert_eq!(kept.kept.borrow().len(), 2);
        kept.clear();
        assert_eq!(kept.kept.borrow().len(), 0);
        // The connection closes cleanly: no statement is left behind.
        drop(kept);
        (*conn).close().map_err(|(_, e)| e).expect("close");
    }
}
