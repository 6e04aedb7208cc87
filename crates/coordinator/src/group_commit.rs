//! SQLite's group commit for the writes on every job's path (its insert, its claim, its finish): concurrent requests' writes are run by one task in one transaction, alike writes side by side in one query each, so that SQLite's single writer connection makes a few round trips and one commit for many of them, where it made one each and every writer queued for the connection in turn.
//!
//! The result is that of running the writes one after another (each statement sees the ones
//! before it; none of them was answered, so any order is one they might have come in), and each
//! caller is answered only after the commit. The queries' texts repeat (chunks of 16, 8, … 1
//! writes of one shape), so SQLite prepares each once. Should a write be refused, the group is
//! rolled back and run once more with a savepoint per chunk, the refused write's chunk undone
//! and its writes run one by one, so one write's error is its own caller's alone.

use std::{
    collections::{HashMap, hash_map::Entry},
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
    /// in memory and how long they are, which tells them apart without reading them) and their
    /// count of parameters.
    fn shape(&self) -> (usize, usize, usize) {
        (
            self.statements.as_ptr() as usize,
            self.statements.len(),
            self.binds.len(),
        )
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
        // A claim whose poll ended is not made: nobody would hand its job to the miner.
        writes.retain(|p| !(p.write.last && p.reply.is_closed()));
        if writes.is_empty() {
            continue;
        }
        if let [pending] = &writes[..] {
            let rows = run_alone(&writer, &mut texts, &pending.write).await;
            if rows.is_ok() {
                committed(1);
            }
            if let Some(pending) = writes.pop() {
                let _ = pending.reply.send(rows);
            }
            continue;
        }
        // None of them is answered yet, so any order is one they might have come in: alike
        // writes side by side (one statement text each run), claims last (they may take the
        // slots the finishes free).
        writes.sort_by_key(|p| (p.write.last, p.write.shape()));
        let group: Vec<&Write> = writes.iter().map(|p| &p.write).collect();
        match run_group(&writer, &mut texts, &group).await {
            Ok(outcomes) => {
                committed(outcomes.iter().filter(|o| o.is_ok()).count());
                for (pending, outcome) in writes.into_iter().zip(outcomes) {
                    let _ = pending.reply.send(outcome);
                }
            }
            // The transaction itself failed (no connection, no commit): none was written.
            Err(error) => {
                let error = error.to_string();
                for pending in writes {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::GroupFailed(error.clone())));
                }
            }
        }
    }
}

/// How a query's text wraps its writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Wrap {
    /// One write in a transaction of its own.
    Alone,
    /// A chunk of a group's transaction.
    Chunk,
    /// A chunk of a group's transaction run again carefully, which can be undone alone.
    SavedChunk,
    /// One write of a chunk that was undone, run again by itself, which can be undone alone.
    SavedOne,
}

/// The SQL texts of the queries the writer task runs, each built once (and so prepared once by
/// the connection's statement cache): by the writes' shape, how many writes a query holds and
/// how it wraps them.
#[derive(Default)]
struct Texts(HashMap<TextKey, String>);

/// A text's writes' shape, how many writes it holds, and how it wraps them.
type TextKey = ((usize, usize, usize), usize, Wrap);

impl Texts {
    fn get(&mut self, write: &Write, count: usize, wrap: Wrap) -> Result<&str, StoreError> {
        let (begin, end) = match wrap {
            Wrap::Alone => ("BEGIN IMMEDIATE; ", "COMMIT"),
            Wrap::Chunk => ("", ""),
            Wrap::SavedChunk => ("SAVEPOINT chunk; ", "RELEASE chunk"),
            Wrap::SavedOne => ("SAVEPOINT one; ", "RELEASE one"),
        };
        let key = (write.shape(), count, wrap);
        let text = match self.0.entry(key) {
            Entry::Occupied(text) => text.into_mut(),
            Entry::Vacant(place) => {
                let mut sql = String::from(begin);
                for tag in 0..count {
                    let offset = tag * write.binds.len();
                    let highest = renumber(write.statements, offset, tag, &mut sql);
                    if highest > write.binds.len() {
                        return Err(StoreError::Corrupt(format!(
                            "a write's statements name ${highest} with {} parameters",
                            write.binds.len()
                        )));
                    }
                    sql.push_str("; ");
                }
                sql.push_str(end);
                place.insert(sql)
            }
        };
        Ok(text.as_str())
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
    let query = bind_all(sqlx::query(sql), writes.iter().flat_map(|w| &w.binds));
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

/// `query` with `binds` as its parameters, in order.
pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: impl IntoIterator<Item = &'q Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_deref()),
            Bind::Int(n) => query.bind(*n),
        };
    }
    query
}

/// Runs `write` in a transaction of its own, in one query.
async fn run_alone(
    writer: &AnyPool,
    texts: &mut Texts,
    write: &Write,
) -> Result<Vec<AnyRow>, StoreError> {
    let sql = texts.get(write, 1, Wrap::Alone)?;
    let mut db = ClosedUnlessDone {
        conn: writer.acquire().await?,
        done: false,
    };
    let outcome = run_chunk(&mut db.conn, sql, &[write]).await;
    // A statement failed inside the transaction: it ends here, or the connection goes.
    db.done = outcome.is_ok() || rollback(&mut db.conn).await;
    Ok(outcome?.pop().unwrap_or_default())
}

/// Ends the connection's transaction; false if even that failed.
async fn rollback(conn: &mut sqlx::AnyConnection) -> bool {
    sqlx::query("ROLLBACK").execute(conn).await.is_ok()
}

/// Runs `writes` (alike ones side by side) in one transaction: a query for each run of alike
/// writes, in chunks of 16, 8, … 1, so that a few texts serve every group. What each write came
/// to, in order; an error only if the transaction itself failed (nothing of it was written then).
///
/// Should a write be refused (a statement error), the transaction is undone and run again
/// `carefully`: each chunk behind a savepoint, and a chunk with a refused write undone to it and
/// its writes run one by one, each undone alone if refused, so one write's error is its own. A
/// refused write so costs its group one more run, not one transaction per write; the first run
/// keeps no savepoints (they cost a tenth of the throughput).
async fn run_group(
    writer: &AnyPool,
    texts: &mut Texts,
    writes: &[&Write],
) -> Result<Vec<Result<Vec<AnyRow>, StoreError>>, StoreError> {
    match run_group_once(writer, texts, writes, false).await? {
        Some(outcomes) => Ok(outcomes),
        // A careful run gives up on no write.
        None => run_group_once(writer, texts, writes, true)
            .await
            .map(Option::unwrap_or_default),
    }
}

/// [`run_group`]'s one run; `None` if a write was refused and it was not `careful` (the
/// transaction is rolled back then).
async fn run_group_once(
    writer: &AnyPool,
    texts: &mut Texts,
    writes: &[&Write],
    careful: bool,
) -> Result<Option<Vec<Result<Vec<AnyRow>, StoreError>>>, StoreError> {
    let mut db = ClosedUnlessDone {
        conn: writer.acquire().await?,
        done: false,
    };
    let outcome = async {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *db.conn)
            .await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut rest = writes;
        while let Some(first) = rest.first() {
            let alike = rest
                .iter()
                .take_while(|w| w.shape() == first.shape())
                .count();
            let chunk = (1 << alike.ilog2()).min(MAX_CHUNK);
            let (these, after) = rest.split_at(chunk);
            rest = after;
            let wrap = if careful {
                Wrap::SavedChunk
            } else {
                Wrap::Chunk
            };
            let sql = texts.get(first, chunk, wrap)?;
            if let Ok(rows) = run_chunk(&mut db.conn, sql, these).await {
                outcomes.extend(rows.into_iter().map(Ok));
                continue;
            }
            if !careful {
                // Should this fail, the error ends the run and the connection goes.
                sqlx::query("ROLLBACK").execute(&mut *db.conn).await?;
                return Ok(None);
            }
            sqlx::query("ROLLBACK TO chunk; RELEASE chunk")
                .execute(&mut *db.conn)
                .await?;
            for write in these {
                let sql = texts.get(write, 1, Wrap::SavedOne)?;
                let one = run_chunk(&mut db.conn, sql, &[write]).await;
                if one.is_err() {
                    sqlx::query("ROLLBACK TO one; RELEASE one")
                        .execute(&mut *db.conn)
                        .await?;
                }
                outcomes.push(one.map(|mut rows| rows.pop().unwrap_or_default()));
            }
        }
        sqlx::query("COMMIT").execute(&mut *db.conn).await?;
        Ok::<_, StoreError>(Some(outcomes))
    }
    .await;
    // The transaction failed: it ends here, or the connection goes.
    db.done = outcome.is_ok() || rollback(&mut db.conn).await;
    outcome
}

/// Appends `statements` with their parameters `$n` numbered from `offset` + 1 and `{op}` as
/// `tag`; returns the highest `n` they name.
fn renumber(statements: &str, offset: usize, tag: usize, out: &mut String) -> usize {
    let mut highest = 0;
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
                highest = highest.max(n);
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            _ => out.push_str(&rest[..=digits]),
        }
        rest = &rest[1 + digits..];
    }
    out.push_str(rest);
    highest
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn parameters_are_numbered_after_the_writes_before() {
        let check = |statements: &str, offset, tag, expected: &str| {
            let mut out = String::new();
            let highest = renumber(statements, offset, tag, &mut out);
            assert_eq!(out, expected);
            highest
        };
        let highest = check(
            "UPDATE t SET a = $1 WHERE b = $12 RETURNING {op} AS op",
            0,
            0,
            "UPDATE t SET a = $1 WHERE b = $12 RETURNING 0 AS op",
        );
        assert_eq!(highest, 12, "the highest parameter before numbering");
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
