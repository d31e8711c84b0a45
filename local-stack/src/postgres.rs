//! A throwaway PostgreSQL cluster per local stack: the data plane of its RDS instances.
//!
//! Moto keeps only RDS's control plane: its instances hold no data. The local stack runs one
//! real PostgreSQL server and keeps a database per RDS instance in it, named after the
//! instance identifier (the edge's `databases` module makes them follow the RDS calls).
//!
//! The server comes from the Debian packages: the highest version under
//! `/usr/lib/postgresql/<version>/bin` that has a server (`scripts/bootstrap` installs one;
//! `LIFEBOAT_POSTGRES_BIN` names another directory). The cluster's data directory is
//! `<work dir>/pg`, in RAM when `/dev/shm` allows (then `<work dir>/pg` links to it), made by
//! copying `initdb`'s output from a per-machine cache after the first time (see [`setup`]).
//! It listens on a random port on 127.0.0.1 only (its Unix socket in `<work dir>/pg-socket`),
//! trusts every connection as `postgres`, logs to `<work dir>/postgres.log`, and trades
//! durability for speed (fsync, synchronous commit and full-page writes off): it is stopped
//! and its data directory removed when the [`PgCluster`] is dropped.
//!
//! PostgreSQL refuses to run as root, so as root the server and `initdb` run as the
//! `postgres` OS user (through `runuser`), which owns the data directory, the socket
//! directory and the log. The client tools (`pg_dump`, `pg_restore`) connect over TCP.

mod setup;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use tokio::process::Command;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::StackError;
pub use setup::bin_dir;
use setup::{checked, Runner};

/// The OS and database user the cluster belongs to.
const SUPERUSER: &str = "postgres";
/// The database administrative commands connect to (created by `initdb`; RDS instances
/// named `postgres`, `template0` or `template1` therefore cannot have a database here).
const MAINTENANCE_DB: &str = "postgres";
/// PostgreSQL's identifier limit (NAMEDATALEN - 1): longer names are silently truncated,
/// which could make two instances share a database, so they are refused instead.
const MAX_IDENTIFIER_BYTES: usize = 63;
/// Attempts at starting the server: the free port it is given may be taken meanwhile.
const START_ATTEMPTS: u32 = 3;
/// Attempts at a rename while sessions keep reconnecting to the database.
const RENAME_ATTEMPTS: u32 = 5;

/// A database operation that failed: what was attempted and what PostgreSQL (or a tool) said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action}: {message}")]
pub struct PgError {
    pub action: String,
    pub message: String,
}

impl PgError {
    fn new(action: impl Into<String>, message: impl Into<String>) -> PgError {
        PgError {
            action: action.into(),
            message: message.into(),
        }
    }

    fn sql(action: impl Into<String>, e: &tokio_postgres::Error) -> PgError {
        let message = match e.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        PgError::new(action, message)
    }
}

/// How [`PgCluster::copy_database`] made its copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMethod {
    /// `CREATE DATABASE … TEMPLATE`: a file copy, possible only while nobody is connected.
    Template,
    /// `pg_dump -Fc | pg_restore`: a consistent copy while other sessions go on.
    DumpRestore,
}

/// A running PostgreSQL server; stopped (immediately) and its data removed when dropped.
pub struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    /// What goes when the cluster stops: the data directory, or its directory in RAM.
    files: PathBuf,
    log: PathBuf,
    port: u16,
    runner: Runner,
    /// `CREATE DATABASE`'s strategy clause: `FILE_COPY` (PostgreSQL 15+) copies a small
    /// database twice as fast as the default `WAL_LOG`, which writes it all to the WAL.
    strategy: &'static str,
}

impl PgCluster {
    /// Creates and starts a cluster for the stack working in `work_dir` (which must exist).
    pub async fn start(work_dir: &Path) -> Result<PgCluster, StackError> {
        let started = Instant::now();
        let bin = bin_dir().map_err(|e| StackError::Setup(e.to_string()))?;
        let runner = Runner::detect()?;
        setup::sweep_orphans(&bin, &runner);
        let setup::Place { data, files } = setup::place(work_dir);
        let log = work_dir.join("postgres.log");
        let port = match launch(&bin, &runner, &data, &log, work_dir).await {
            Ok(port) => port,
            Err(e) => {
                // Nothing runs on them: they would only hold memory or disk.
                let _ = std::fs::remove_dir_all(&files);
                return Err(e);
            }
        };
        let mut cluster = PgCluster {
            bin,
            data,
            files,
            log,
            port,
            runner,
            strategy: "",
        };
        // From here on, dropping `cluster` stops the server.
        let admin = cluster
            .admin()
            .await
            .map_err(|e| StackError::Setup(e.to_string()))?;
        let version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| StackError::Setup(PgError::sql("reading the server version", &e).to_string()))?;
        if version >= 150_000 {
            cluster.strategy = " STRATEGY FILE_COPY";
        }
        tracing::info!(
            port,
            version,
            bin = %cluster.bin.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "PostgreSQL started"
        );
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT`: the server, no database named.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}", self.port)
    }

    /// The URL of one database (an RDS instance's is named after the instance).
    pub fn url_for(&self, database: &str) -> String {
        format!("{}/{}", self.url(), percent_encoded(database))
    }

    /// Where the server logs.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A session on `database`, as the superuser (its connection runs on a spawned task).
    pub async fn connect(&self, database: &str) -> Result<Client, PgError> {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(database)
            .application_name("lifeboat-local")
            .connect(NoTls)
            .await
            .map_err(|e| PgError::sql(format!("connecting to database {database}"), &e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL session ended");
            }
        });
        Ok(client)
    }

    async fn admin(&self) -> Result<Client, PgError> {
        self.connect(MAINTENANCE_DB).await
    }

    /// The databases that are not PostgreSQL's own (templates, `postgres`), by name.
    pub async fn databases(&self) -> Result<Vec<String>, PgError> {
        let rows = self
            .admin()
            .await?
            .query(
                "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> $1 ORDER BY datname",
                &[&MAINTENANCE_DB],
            )
            .await
            .map_err(|e| PgError::sql("listing databases", &e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn database_exists(&self, name: &str) -> Result<bool, PgError> {
        exists(&self.admin().await?, name).await
    }

    /// An empty database.
    pub async fn create_database(&self, name: &str) -> Result<(), PgError> {
        let sql = format!("CREATE DATABASE {}{}", identifier(name)?, self.strategy);
        self.admin()
            .await?
            .batch_execute(&sql)
            .await
            .map_err(|e| PgError::sql(format!("creating database {name}"), &e))
    }

    /// `target`, a new database with `source`'s contents as they are now. Sessions on
    /// `source` are left alone: when there are some, the copy is a dump and restore instead
    /// of a file copy (which needs the source to itself).
    pub async fn copy_database(&self, source: &str, target: &str) -> Result<CopyMethod, PgError> {
        let action = format!("copying database {source} to {target}");
        let admin = self.admin().await?;
        // A file copy of a database in use waits 5 s for its sessions to end before it
        // fails: ask first. (A session opened in between only costs that wait.)
        let in_use = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND backend_type <> 'autovacuum worker'",
                &[&source],
            )
            .await
            .and_then(|row| row.try_get::<_, i64>(0))
            .map_err(|e| PgError::sql(&action, &e))?
            > 0;
        if !in_use {
            let sql = format!(
                "CREATE DATABASE {} TEMPLATE {}{}",
                identifier(target)?,
                identifier(source)?,
                self.strategy
            );
            match admin.batch_execute(&sql).await {
                Ok(()) => return Ok(CopyMethod::Template),
                Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {}
                Err(e) => return Err(PgError::sql(action, &e)),
            }
        }
        tracing::debug!(source, target, "source in use: copying by dump and restore");
        // template0: the restore brings everything, including what template1 might add.
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE template0{}",
            identifier(target)?,
            self.strategy
        );
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| PgError::sql(&action, &e))?;
        if let Err(e) = self.dump_restore(source, target).await {
            // No half-restored database may pass for a copy.
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", identifier(target)?);
            if let Err(d) = admin.batch_execute(&drop).await {
                tracing::error!(target, error = %PgError::sql("dropping a failed copy", &d), "failed copy kept");
            }
            return Err(PgError::new(action, e.to_string()));
        }
        Ok(CopyMethod::DumpRestore)
    }

    /// `pg_dump -Fc source | pg_restore -d target`, both over TCP.
    async fn dump_restore(&self, source: &str, target: &str) -> Result<(), PgError> {
        let tool = |name: &str| {
            let mut command = Command::new(self.bin.join(name));
            command
                .env("PGCONNECT_TIMEOUT", "10")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            command
        };
        let spawn_error =
            |name: &str, e: std::io::Error| PgError::new(format!("starting {name}"), e.to_string());
        let mut dump = tool("pg_dump")
            .args(["--format=custom", "--dbname"])
            .arg(self.conninfo(source))
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("pg_dump", e))?;
        let pipe: Stdio = dump
            .stdout
            .take()
            .expect("stdout is piped")
            .try_into()
            .map_err(|e| spawn_error("pg_dump", e))?;
        let restore = tool("pg_restore")
            .args(["--exit-on-error", "--no-owner", "--dbname"])
            .arg(self.conninfo(target))
            .stdin(pipe)
            .spawn()
            .map_err(|e| spawn_error("pg_restore", e))?;
        let (dumped, restored) = tokio::join!(dump.wait_with_output(), restore.wait_with_output());
        checked("pg_dump", dumped)?;
        checked("pg_restore", restored)?;
        Ok(())
    }

    /// Renames a database, ending the sessions on it first (a rename needs it to itself),
    /// as an RDS rename cuts the instance's connections.
    pub async fn rename_database(&self, from: &str, to: &str) -> Result<(), PgError> {
        let action = format!("renaming database {from} to {to}");
        let admin = self.admin().await?;
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            identifier(from)?,
            identifier(to)?
        );
        let mut attempt = 1;
        loop {
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&from],
                )
                .await
                .map_err(|e| PgError::sql(&action, &e))?;
            // The rename itself waits up to 5 s for terminated sessions to exit.
            match admin.batch_execute(&sql).await {
                Ok(()) => return Ok(()),
                Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < RENAME_ATTEMPTS => {
                    tracing::debug!(
                        from,
                        to,
                        attempt,
                        "sessions reconnected during a rename; ending them again"
                    );
                    attempt += 1;
                }
                Err(e) => return Err(PgError::sql(action, &e)),
            }
        }
    }

    /// Drops a database and its sessions; whether it existed.
    pub async fn drop_database(&self, name: &str) -> Result<bool, PgError> {
        let admin = self.admin().await?;
        let existed = exists(&admin, name).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", identifier(name)?);
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| PgError::sql(format!("dropping database {name}"), &e))?;
        Ok(existed)
    }

    /// A libpq connection string for the client tools (a database name in it is quoted,
    /// so no name is mistaken for options).
    fn conninfo(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={SUPERUSER} dbname={}",
            self.port,
            conninfo_value(database)
        )
    }
}

/// Makes the cluster's files and starts its server; the port it listens on.
async fn launch(
    bin: &Path,
    runner: &Runner,
    data: &Path,
    log: &Path,
    work_dir: &Path,
) -> Result<u16, StackError> {
    let sockets = work_dir.join("pg-socket");
    let setup_error = |what: &str, e: std::io::Error| StackError::Setup(format!("PostgreSQL {what}: {e}"));
    std::fs::create_dir_all(&sockets).map_err(|e| setup_error("socket directory", e))?;
    runner
        .give(&sockets)
        .map_err(|e| setup_error("socket directory", e))?;
    std::fs::File::create(log).map_err(|e| setup_error("log", e))?;
    runner.give(log).map_err(|e| setup_error("log", e))?;
    setup::init_data(bin, runner, data, work_dir).await?;
    setup::append_settings(&data.join("postgresql.conf"), &sockets)
        .map_err(|e| setup_error("settings", e))?;
    let mut attempt = 1;
    loop {
        let port = crate::port::free_port()?;
        let start = runner
            .command(&bin.join("pg_ctl"), work_dir)
            .arg("--pgdata")
            .arg(data)
            .arg("--log")
            .arg(log)
            .args(["--wait", "--timeout", "60", "--silent"])
            .args(["-o", &format!("-p {port}"), "start"])
            .output()
            .await;
        match checked("pg_ctl start", start) {
            Ok(_) => return Ok(port),
            Err(e) if attempt < START_ATTEMPTS => {
                tracing::warn!(port, attempt, error = %e, "PostgreSQL did not start; trying another port");
                attempt += 1;
            }
            Err(e) => return Err(StackError::Setup(format!("{e} (see {})", log.display()))),
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate: nothing in a throwaway cluster needs a clean shutdown.
        let stopped = self
            .runner
            .std_command(
                &self.bin.join("pg_ctl"),
                self.data.parent().unwrap_or(Path::new("/")),
            )
            .arg("--pgdata")
            .arg(&self.data)
            .args(["--mode", "immediate", "--wait", "--silent", "stop"])
            .stdin(Stdio::null())
            .output();
        match checked("pg_ctl stop", stopped) {
            Ok(_) => tracing::debug!(port = self.port, "PostgreSQL stopped"),
            Err(e) => tracing::warn!(port = self.port, error = %e, "PostgreSQL did not stop"),
        }
        // Every snapshot copy is a full database: keeping them would fill memory or disk
        // over many runs. The log stays with the stack's other logs.
        if let Err(e) = std::fs::remove_dir_all(&self.files) {
            tracing::warn!(files = %self.files.display(), error = %e, "PostgreSQL data not removed");
        }
    }
}

async fn exists(admin: &Client, name: &str) -> Result<bool, PgError> {
    admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map(|row| row.is_some())
        .map_err(|e| PgError::sql(format!("looking up database {name}"), &e))
}

/// `name` as a quoted SQL identifier (refusing what PostgreSQL would truncate or reject).
fn identifier(name: &str) -> Result<String, PgError> {
    if name.is_empty() || name.len() > MAX_IDENTIFIER_BYTES || name.contains('\0') {
        return Err(PgError::new(
            format!("naming a database {name:?}"),
            format!("a database name has 1 to {MAX_IDENTIFIER_BYTES} bytes and no NUL"),
        ));
    }
    Ok(quote_ident(name))
}

/// `name` in double quotes, its double quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A libpq keyword value: single-quoted, with `\` and `'` escaped by a backslash.
fn conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Percent-encodes all but RFC 3986's unreserved characters (for a URL's path).
fn percent_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_bounded() {
        assert_eq!(quote_ident("acme-db"), "\"acme-db\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert!(identifier("").is_err());
        assert!(identifier(&"x".repeat(63)).is_ok());
        assert!(identifier(&"x".repeat(64)).is_err());
    }

    #[test]
    fn connection_strings_quote_names() {
        assert_eq!(conninfo_value("acme-db"), "'acme-db'");
        assert_eq!(conninfo_value("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(percent_encoded("acme-db_1"), "acme-db_1");
        assert_eq!(percent_encoded("a b/ü"), "a%20b%2F%C3%BC");
    }
}
