//! Reads on the caller's thread (ADR 0044). sqlx runs each SQLite connection on a thread of its
//! own and hands every statement there and its rows back: two thread wake-ups a statement, which
//! cost more than the index lookups themselves (a third of a small sync's server time was those
//! wake-ups). The reads a sync makes on every request go through [`Store::read_rows`]: on a
//! SQLite file they run on a SQLite connection of the store's own, right where they are called;
//! on PostgreSQL (and a SQLite database without a file) through the pool as before. Writes, and
//! reads inside a write transaction, stay on the pool.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::AnyPool;
use sqlx::Row as _;
use sqlx::ValueRef as _;
use sqlx::any::AnyTypeInfoKind;

use super::{Result, Store, StoreError};

/// A value bound to a read. Read statements keep their `$n` placeholders: SQLite takes `$1` as
/// a name, so each is bound by the number in its name, as sqlx does.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::store) enum Arg {
    Int(i64),
    Text(String),
}

impl Arg {
    /// Binds this value to an sqlx statement.
    pub(in crate::store) fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        match self {
            Arg::Text(s) => q.bind(s.clone()),
            Arg::Int(n) => q.bind(*n),
        }
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_owned())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

/// One column of a read row.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::store) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row as read, owned: the same whichever database gave it.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::store) struct Row(Vec<Value>);

/// What a column may be read as, from either a read [`Row`] or one of sqlx's rows.
pub(in crate::store) trait Col:
    Sized + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>
{
    fn of(value: &Value) -> Option<Self>;
}

impl Col for i64 {
    fn of(value: &Value) -> Option<i64> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl Col for String {
    fn of(value: &Value) -> Option<String> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl Col for Vec<u8> {
    fn of(value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: Col> Col for Option<T>
where
    Option<T>: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    fn of(value: &Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            v => T::of(v).map(Some),
        }
    }
}

/// The columns of a row by position: one decoder serves rows read here and sqlx's rows.
pub(in crate::store) trait Cols {
    fn col<T: Col>(&self, i: usize) -> Result<T>;
}

impl Cols for Row {
    fn col<T: Col>(&self, i: usize) -> Result<T> {
        let value = self
            .0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {i} in a read row")))?;
        T::of(value).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "column {i} holds {value:?}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

impl Cols for sqlx::any::AnyRow {
    fn col<T: Col>(&self, i: usize) -> Result<T> {
        Ok(self.try_get::<T, _>(i)?)
    }
}

/// SQLite connections of the store's own for [`Store::read_rows`]; `None` in the store when
/// the database is PostgreSQL or has no file.
#[derive(Debug)]
pub(in crate::store) struct Readers {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
    closed: AtomicBool,
}

/// Connections kept open between reads: a read holds one only while it runs (never across an
/// await), so no more are ever in use than the runtime has threads.
const IDLE_READERS: usize = 8;

impl Readers {
    /// Readers of the SQLite file the pool opened (as `PRAGMA database_list` names it).
    pub(in crate::store) async fn of(pool: &AnyPool) -> Result<Option<Readers>> {
        let rows = sqlx::query("PRAGMA database_list").fetch_all(pool).await?;
        for row in &rows {
            let name: String = row.try_get(1)?;
            let file: String = row.try_get(2)?;
            if name == "main" && !file.is_empty() {
                return Ok(Some(Readers {
                    path: file,
                    idle: Mutex::new(Vec::new()),
                    closed: AtomicBool::new(false),
                }));
            }
        }
        Ok(None)
    }

    fn open(&self) -> Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(
            // Never a write through here. The pool's settings for reads: the page cache, the
            // memory map (ADR 0042). A reader waits at most a second for a lock (under WAL
            // only a checkpoint's reset of the log makes it wait at all): it waits on the
            // thread of whoever asked.
            "PRAGMA query_only = ON;
             PRAGMA busy_timeout = 1000;
             PRAGMA cache_size = -16384;
             PRAGMA temp_store = MEMORY;
             PRAGMA mmap_size = 268435456;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> Result<rusqlite::Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed.into());
        }
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn give_back(&self, conn: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }

    /// Closes the idle connections; reads after this fail as the closed pool's do.
    pub(in crate::store) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn rows(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        let conn = self.take()?;
        let out = read_on(&conn, sql, args);
        // A connection whose read failed is dropped, not reused.
        if out.is_ok() {
            self.give_back(conn);
        }
        out
    }
}

fn read_on(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql)?;
    for i in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(i) {
            Some(name) => name[1..].parse::<usize>().map_err(|_| {
                StoreError::Corrupt(format!("a read's parameter {name:?} is not numbered"))
            })?,
            None => i,
        };
        let arg = args.get(n.wrapping_sub(1)).ok_or_else(|| {
            StoreError::Corrupt(format!("a read names ${n} but has {} values", args.len()))
        })?;
        match arg {
            Arg::Int(v) => stmt.raw_bind_parameter(i, v)?,
            Arg::Text(v) => stmt.raw_bind_parameter(i, v)?,
        }
    }
    let columns = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns);
        for c in 0..columns {
            values.push(match row.get_ref(c)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) => Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|_| StoreError::Corrupt("a text column is not UTF-8".into()))?,
                ),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}

/// An sqlx row as a read row.
fn owned(row: &sqlx::any::AnyRow) -> Result<Row> {
    let mut values = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            values.push(Value::Null);
            continue;
        }
        let kind = raw.type_info().kind();
        values.push(match kind {
            AnyTypeInfoKind::Bool => Value::Int(i64::from(row.try_get::<bool, _>(i)?)),
            AnyTypeInfoKind::SmallInt => Value::Int(i64::from(row.try_get::<i16, _>(i)?)),
            AnyTypeInfoKind::Integer => Value::Int(i64::from(row.try_get::<i32, _>(i)?)),
            AnyTypeInfoKind::BigInt => Value::Int(row.try_get::<i64, _>(i)?),
            AnyTypeInfoKind::Real => Value::Real(f64::from(row.try_get::<f32, _>(i)?)),
            AnyTypeInfoKind::Double => Value::Real(row.try_get::<f64, _>(i)?),
            AnyTypeInfoKind::Text => Value::Text(row.try_get::<String, _>(i)?),
            AnyTypeInfoKind::Blob => Value::Blob(row.try_get::<Vec<u8>, _>(i)?),
            AnyTypeInfoKind::Null => Value::Null,
        });
    }
    Ok(Row(values))
}

impl Store {
    /// The rows of a read outside any transaction (see the module's comment).
    pub(in crate::store) async fn read_rows(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
        if let Some(readers) = &self.readers {
            return readers.rows(sql, args);
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            query = a.bind(query);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(owned)
            .collect()
    }

    /// The first row of a read, if any.
    pub(in crate::store) async fn read_row(&self, sql: &str, args: &[Arg]) -> Result<Option<Row>> {
        Ok(self.read_rows(sql, args).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on a SQLite file in `dir`.
    async fn file_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("reads.db").display());
        Store::connect(&url).await.unwrap()
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        rt.expect("a runtime").block_on(f)
    }

    #[test]
    fn a_read_on_the_store_s_own_connection_gives_the_pool_s_rows() {
        run(async {
            let dir = tempfile::tempdir().unwrap();
            let store = file_store(&dir).await;
            assert!(
                store.readers.is_some(),
                "a SQLite file gets its own readers"
            );
            sqlx::query("CREATE TABLE t (n BIGINT, s TEXT, b BLOB)")
                .execute(&store.pool)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO t VALUES (1, '网格', x'00ff'), (2, NULL, NULL), (3, 'c', x'')",
            )
            .execute(&store.pool)
            .await
            .unwrap();
            // `$2` before `$1` and twice: bound by the number in its name, not its place.
            let sql = "SELECT n, s, b FROM t WHERE n >= $2 AND n <> $2 + 5 AND (s IS NULL OR s <> $1) ORDER BY n";
            let args = [Arg::from("zz"), Arg::Int(1)];
            let direct = store.read_rows(sql, &args).await.unwrap();
            let pooled = Store {
                readers: None,
                ..store.clone()
            };
            assert_eq!(direct, pooled.read_rows(sql, &args).await.unwrap());
            assert_eq!(
                direct,
                vec![
                    Row(vec![
                        Value::Int(1),
                        Value::Text("网格".into()),
                        Value::Blob(vec![0, 255])
                    ]),
                    Row(vec![Value::Int(2), Value::Null, Value::Null]),
                    Row(vec![
                        Value::Int(3),
                        Value::Text("c".into()),
                        Value::Blob(vec![])
                    ]),
                ]
            );
            assert_eq!(direct[1].col::<Option<String>>(1).unwrap(), None);
            assert!(direct[1].col::<String>(1).is_err(), "a NULL is not a text");
            // A commit through the pool is seen by the next read.
            sqlx::query("INSERT INTO t VALUES (9, 'd', NULL)")
                .execute(&store.pool)
                .await
                .unwrap();
            let count = store.read_row("SELECT count(*) FROM t", &[]).await.unwrap();
            assert_eq!(count.unwrap().col::<i64>(0).unwrap(), 4);
            // A read naming a value it was not given fails; nothing panics.
            assert!(store.read_rows("SELECT $3", &args).await.is_err());
            store.close().await;
            assert!(matches!(
                store.read_rows("SELECT 1", &[]).await,
                Err(StoreError::Db(sqlx::Error::PoolClosed))
            ));
        });
    }

    #[test]
    fn a_database_without_a_file_reads_through_the_pool() {
        run(async {
            let store = Store::connect("sqlite::memory:").await.unwrap();
            assert!(store.readers.is_none());
            let row = store.read_row("SELECT 7, 'x'", &[]).await.unwrap().unwrap();
            assert_eq!(row, Row(vec![Value::Int(7), Value::Text("x".into())]));
        });
    }

    /// How many times SQLite prepared `sql` again over three runs with fresh values bound.
    fn prepared_again(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> i32 {
        for _ in 0..3 {
            read_on(conn, sql, args).unwrap();
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        stmt.get_status(rusqlite::StatementStatus::RePrepare)
    }

    #[test]
    fn a_sync_s_reads_are_prepared_once() {
        run(async {
            let dir = tempfile::tempdir().unwrap();
            let store = file_store(&dir).await;
            store.migrate().await.unwrap();
            let conn = store.readers.as_ref().unwrap().take().unwrap();
            let user = [Arg::from("u1"), Arg::Int(0)];
            let bound_limit =
                "SELECT id FROM notices WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3";
            // The behaviour the texts avoid: a bound LIMIT prepares the statement again.
            let limit = [Arg::from("u1"), Arg::Int(0), Arg::Int(100)];
            assert_eq!(prepared_again(&conn, bound_limit, &limit), 3);
            assert_eq!(
                prepared_again(&conn, &super::super::notices::NOTICES_AFTER, &user),
                0
            );
            let after = [Arg::Int(0)];
            assert_eq!(
                prepared_again(&conn, &super::super::erasure::ERASURES_AFTER, &after),
                0
            );
        });
    }
}
