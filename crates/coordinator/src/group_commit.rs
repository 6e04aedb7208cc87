//! SQLite's group commit for the writes on every job's path (its insert, its claim, its finish): concurrent requests' writes are run by one task in one transaction, alike writes side by side in one query each, so that SQLite's single writer connection makes a few round trips and one commit for many of them, where it made one each and every writer queued for the connection in turn.
//!
//! The result is that of running the writes one after another (each statement sees the ones
//! before it; none of them was answered, so any order is one they might have come in), and each
//! caller is answered only after the commit. The queries' texts repeat (chunks of 16, 8, … 1
//! writes of one shape), so SQLite prepares each once. Should a statement fail, the group is
//! rolled back whole and its writes run again one by one, each in a transaction of its own, so
//! one write's error is its own caller's alone.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use sqlx::{AnyPool, Row, any::AnyRow};
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// A parameter of a write.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Bind {
    fn from(text: String) -> Self {
        Bind::Text(Some(text))
    }
}

impl From<&str> for Bind {
    fn from(text: &str) -> Self {
        Bind::Text(Some(text.to_owned()))
    }
}

impl From<Option<String>> for Bind {
    fn from(text: Option<String>) -> Self {
        Bind::Text(text)
    }
}

impl From<i64> for Bind {
    fn from(n: i64) -> Self {
        Bind::Int(Some(n))
    }
}

impl From<i32> for Bind {
    fn from(n: i32) -> Self {
        Bind::Int(Some(i64::from(n)))
    }
}

/// One write: SQLite statements separated by `;`, their parameters numbered from `$1`. Rows a
/// statement returns belong to the write when they carry its tag: the statements say
/// `RETURNING {op} AS op, …`, and `{op}` becomes the write's place in its group.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub statements: &'static str,
    pub binds: Vec<Bind>,
    /// Runs after the other writes of its group (a claim: the finishes beside it may free the
    /// slot it needs).
    pub last: bool,
}

impl Write {
    pub fn new(statements: &'static str) -> Self {
        Write {
            statements,
            binds: Vec::new(),
            last: false,
        }
    }

    pub fn after_others(mut self) -> Self {
        self.last = true;
        self
    }

    /// What writes that may share a query's text have alike: their statements (where they lie
    /// in memory, which tells them apart without reading them) and their count of parameters.
    fn shape(&self) -> (usize, usize) {
        (self.statements.as_ptr() as usize, self.binds.len())
    }

    pub fn bind(mut self, value: impl Into<Bind>) -> Self {
        self.binds.push(value.into());
        self
    }
}

struct Pending {
    write: Write,
    reply: oneshot::Sender<Result<Vec<AnyRow>, StoreError>>,
}

/// At most this many writes share a transaction.
const MAX_GROUP: usize = 64;

/// At most this many alike writes share a query (a few hundred parameters; SQLite takes
/// 32,766): queries of 16, 8, 4, 2 and 1 writes of each shape.
const MAX_CHUNK: usize = 16;

/// Writes waiting beyond this make their callers wait to send them.
const QUEUE: usize = 1_024;

/// The writer task's door: writes sent here are committed in groups.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    send: mpsc::Sender<Pending>,
    counts: Arc<Counts>,
}

/// What the writer task committed so far: how the writes shared their transactions.
#[derive(Debug, Default)]
struct Counts {
    commits: AtomicU64,
    writes: AtomicU64,
}

/// Transactions the writer task committed, and the writes in them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommits {
    pub commits: u64,
    pub writes: u64,
}

impl GroupCommit {
    /// Starts the task that commits writes on `writer` (SQLite's one writer connection). It
    /// ends when every [`GroupCommit`] sending to it is gone.
    pub fn start(writer: AnyPool) -> Self {
        let (send, receive) = mpsc::channel(QUEUE);
        let counts = Arc::<Counts>::default();
        tokio::spawn(commit_in_groups(writer, receive, counts.clone()));
        GroupCommit { send, counts }
    }

    pub fn counts(&self) -> GroupCommits {
        GroupCommits {
            commits: self.counts.commits.load(Ordering::Relaxed),
            writes: self.counts.writes.load(Ordering::Relaxed),
        }
    }

    /// Commits `write` (with whatever other writes wait beside it) and returns the rows its
    /// statements returned. A caller that stops waiting does not stop the write.
    pub async fn write(&self, write: Write) -> Result<Vec<AnyRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Stopped("the database's writer task".into());
        self.send
            .send(Pending { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn commit_in_groups(
    writer: AnyPool,
    mut receive: mpsc::Receiver<Pending>,
    counts: Arc<Counts>,
) {
    let committed = |writes: usize| {
        counts.commits.fetch_add(1, Ordering::Relaxed);
        counts.writes.fetch_add(writes as u64, Ordering::Relaxed);
    };
    let mut texts = Texts::default();
    let mut group = Vec::with_capacity(MAX_GROUP);
    while receive.recv_many(&mut group, MAX_GROUP).await > 0 {
        let mut writes: Vec<Pending> = std::mem::take(&mut group);
        if writes.len() > 1 {
            // None of them is answered yet, so any order is one they might have come in:
            // alike writes side by side (one statement text each run), claims last (they may
            // take the slots the finishes free).
            writes.sort_by_key(|p| (p.write.last, p.write.shape()));
            let group: Vec<&Write> = writes.iter().map(|p| &p.write).collect();
            match run_group(&writer, &mut texts, &group).await {
                Ok(rows) => {
                    committed(writes.len());
                    for (pending, rows) in writes.into_iter().zip(rows) {
                        let _ = pending.reply.send(Ok(rows));
                    }
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, writes = writes.len(), "a group commit failed; its writes run one by one");
                }
            }
        }
        for pending in writes {
            let rows = run_alone(&writer, &mut texts, &pending.write).await;
            if rows.is_ok() {
                committed(1);
            }
            let _ = pending.reply.send(rows);
        }
    }
}

/// The SQL texts of the queries the writer task runs, each built once (and so prepared once by
/// the connection's statement cache): by the writes' shape, how many writes a query holds (0
/// for one write in a transaction of its own).
#[derive(Default)]
struct Texts(HashMap<((usize, usize), usize), String>);

impl Texts {
    fn get(&mut self, write: &Write, count: usize) -> &str {
        self.0.entry((write.shape(), count)).or_insert_with(|| {
            let mut sql = String::new();
            if count == 0 {
                sql.push_str("BEGIN IMMEDIATE; ");
                renumber(write.statements, 0, 0, &mut sql);
                sql.push_str("; COMMIT");
            }
            for tag in 0..count {
                renumber(write.statements, tag * write.binds.len(), tag, &mut sql);
                sql.push_str("; ");
            }
            sql
        })
    }
}

/// A pooled connection running a query that carries its own transaction: closed, not returned
/// to its pool, unless the query is `done` (committed or rolled back). The writer task could
/// stop inside it only by a panic or the runtime shutting down.
struct ClosedUnlessDone {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    done: bool,
}

impl Drop for ClosedUnlessDone {
    fn drop(&mut self) {
        if !self.done {
            self.conn.close_on_drop();
        }
    }
}

/// Runs `writes` of one shape as one query `sql`; the rows each returned, in their order.
async fn run_chunk(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    writes: &[&Write],
) -> Result<Vec<Vec<AnyRow>>, StoreError> {
    let mut query = sqlx::query(sql);
    for bind in writes.iter().flat_map(|w| &w.binds) {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_deref()),
            Bind::Int(n) => query.bind(*n),
        };
    }
    let mut rows = vec![Vec::new(); writes.len()];
    for row in query.fetch_all(conn).await? {
        let tag: i64 = row.try_get("op")?;
        usize::try_from(tag)
            .ok()
            .and_then(|tag| rows.get_mut(tag))
            .ok_or_else(|| StoreError::Corrupt(format!("a row of write {tag}")))?
            .push(row);
    }
    Ok(rows)
}

/// Runs `write` in a transaction of its own, in one query.
async fn run_alone(
    writer: &AnyPool,
    texts: &mut Texts,
    write: &Write,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut db = ClosedUnlessDone {
        conn: writer.acquire().await?,
        done: false,
    };
    let outcome = run_chunk(&mut db.conn, texts.get(write, 0), &[write]).await;
    // A statement failed inside the transaction: it ends here, or the connection goes.
    db.done = outcome.is_ok() || rollback(&mut db.conn).await;
    Ok(outcome?.pop().unwrap_or_default())
}

async fn rollback(conn: &mut sqlx::AnyConnection) -> bool {
    sqlx::query("ROLLBACK").execute(conn).await.is_ok()
}

/// Runs `writes` (alike ones side by side) in one transaction: a query for each run of alike
/// writes, in chunks of 16, 8, … 1, so that a few texts serve every group. The rows each write
/// returned, in their order.
async fn run_group(
    writer: &AnyPool,
    texts: &mut Texts,
    writes: &[&Write],
) -> Result<Vec<Vec<AnyRow>>, StoreError> {
    let mut db = ClosedUnlessDone {
        conn: writer.acquire().await?,
        done: false,
    };
    let outcome = async {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *db.conn)
            .await?;
        let mut rows = Vec::with_capacity(writes.len());
        let mut rest = writes;
        while let Some(first) = rest.first() {
            let alike = rest
                .iter()
                .take_while(|w| w.shape() == first.shape())
                .count();
            let chunk = (1 << alike.ilog2()).min(MAX_CHUNK);
            let (these, after) = rest.split_at(chunk);
            rows.extend(run_chunk(&mut db.conn, texts.get(first, chunk), these).await?);
            rest = after;
        }
        sqlx::query("COMMIT").execute(&mut *db.conn).await?;
        Ok::<_, StoreError>(rows)
    }
    .await;
    // A statement failed inside the transaction: it ends here, or the connection goes.
    db.done = outcome.is_ok() || rollback(&mut db.conn).await;
    outcome
}

/// Appends `statements` with their parameters `$n` numbered from `offset` + 1 and `{op}` as
/// `tag`.
fn renumber(statements: &str, offset: usize, tag: usize, out: &mut String) {
    let mut rest = statements;
    while let Some(at) = rest.find(['$', '{']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("{op}") {
            out.push_str(&tag.to_string());
            rest = after;
            continue;
        }
        let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
        match rest[1..=digits].parse::<usize>() {
            Ok(n) if rest.starts_with('$') => {
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            _ => out.push_str(&rest[..=digits]),
        }
        rest = &rest[1 + digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn parameters_are_numbered_after_the_writes_before() {
        let check = |statements: &str, offset, tag, expected: &str| {
            let mut out = String::new();
            renumber(statements, offset, tag, &mut out);
            assert_eq!(out, expected);
        };
        check(
            "UPDATE t SET a = $1 WHERE b = $12 RETURNING {op} AS op",
            0,
            0,
            "UPDATE t SET a = $1 WHERE b = $12 RETURNING 0 AS op",
        );
        check(
            "UPDATE t SET a = $1 WHERE b = $12 RETURNING {op} AS op; SELECT $1",
            30,
            7,
            "UPDATE t SET a = $31 WHERE b = $42 RETURNING 7 AS op; SELECT $31",
        );
        // Neither a lone `$` nor other braces are touched.
        check("SELECT '$' || '{x}'", 5, 1, "SELECT '$' || '{x}'");
    }
}
