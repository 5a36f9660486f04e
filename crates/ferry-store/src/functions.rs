//! The code of FUNCTION libraries, persisted with the data (Redis keeps
//! them in its RDB file). The server compiles them at start-up; the store
//! only keeps the text, journaled like every other change.

use crate::ops::Op;
use crate::{Store, StoreResult};

impl Store {
    /// The stored libraries' code, in the order they were stored.
    pub fn function_codes(&mut self) -> StoreResult<Vec<Vec<u8>>> {
        let mut stmt = self.stmt("SELECT code FROM functions ORDER BY pos")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces the stored libraries (after FUNCTION LOAD, DELETE, FLUSH or
    /// RESTORE changed them).
    pub fn set_functions(&mut self, codes: &[impl AsRef<[u8]>]) -> StoreResult<()> {
        self.record(Op::SetFunctions {
            codes: codes.iter().map(|c| c.as_ref().to_vec()).collect(),
        })
    }

    pub(crate) fn apply_set_functions(&mut self, codes: &[Vec<u8>]) -> StoreResult<()> {
        self.conn.execute("DELETE FROM functions", [])?;
        let mut insert = self.stmt("INSERT INTO functions (pos, code) VALUES (?1, ?2)")?;
        for (pos, code) in codes.iter().enumerate() {
            insert.execute(rusqlite::params![pos as i64, code])?;
        }
        Ok(())
    }
}
