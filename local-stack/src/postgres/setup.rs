//! Making a cluster's files: which binaries, which OS user, where the data directory goes,
//! its contents (from `initdb`, or a copy of an earlier run's) and the local settings.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::process::Command;

use super::{PgError, SUPERUSER};
use crate::StackError;

/// Bumped whenever `initdb`'s arguments change, so that no older cached cluster is reused.
const INITDB_FORMAT: u32 = 1;
/// Clusters kept in RAM are in directories named so, then the owning process's id.
const RAM_PREFIX: &str = "lifeboat-pg-";

/// Where a cluster's files are: its data directory, and what to remove with it.
pub struct Place {
    pub data: PathBuf,
    /// The data directory, or the directory in RAM holding it.
    pub files: PathBuf,
}

/// Chooses where a new cluster's data directory goes (it does not exist yet): in RAM
/// (`/dev/shm`, with `<work dir>/pg` a link to it) when there is room to make it, else
/// `<work dir>/pg`. Every database copy makes hundreds of files, and making a file on a busy
/// disk can take a millisecond or more: in RAM, starting and copying are several times
/// faster, and a fleet's worth of snapshot copies (7-8 MB each) takes no disk. The stack
/// removes the files when it stops; those of stacks whose process died are removed by the
/// next stack that starts ([`sweep_orphans`]).
pub fn place(work_dir: &Path) -> Place {
    let in_work_dir = work_dir.join("pg");
    let shm = Path::new("/dev/shm");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let files = shm.join(format!("{RAM_PREFIX}{}-{nanos}", std::process::id()));
    if shm.is_dir() && room(shm) >= MIN_RAM_ROOM && std::fs::create_dir(&files).is_ok() {
        let data = files.join("data");
        if std::os::unix::fs::symlink(&data, &in_work_dir).is_err() {
            tracing::debug!(data = %data.display(), "no link to the data directory in the work directory");
        }
        return Place { data, files };
    }
    Place {
        data: in_work_dir.clone(),
        files: in_work_dir,
    }
}

/// Room a cluster needs in RAM: its WAL alone may grow to 64 MB (containers often give
/// `/dev/shm` 64 MB in all), and every snapshot copy takes 7-8 MB more.
const MIN_RAM_ROOM: u64 = 512 * 1024 * 1024;

/// Bytes free on the file system of `path` (0 when unknown).
fn room(path: &Path) -> u64 {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed struct statvfs fills in.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) } != 0 {
        return 0;
    }
    stats.f_bavail as u64 * stats.f_frsize as u64
}

/// Stops and removes the clusters in RAM whose stack's process is gone (killed before it
/// could stop them), which would otherwise hold memory until the machine restarts.
pub fn sweep_orphans(bin: &Path, runner: &Runner) {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(RAM_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let files = entry.path();
        let data = files.join("data");
        if data.join("postmaster.pid").exists() {
            let stopped = runner
                .std_command(&bin.join("pg_ctl"), Path::new("/"))
                .arg("--pgdata")
                .arg(&data)
                .args(["--mode", "immediate", "--wait", "--silent", "stop"])
                .output();
            if let Err(e) = checked("pg_ctl stop", stopped) {
                tracing::debug!(data = %data.display(), error = %e, "orphaned cluster not running");
            }
        }
        match std::fs::remove_dir_all(&files) {
            Ok(()) => {
                tracing::info!(files = %files.display(), pid, "removed the cluster of a stack whose process died")
            }
            Err(e) => tracing::warn!(files = %files.display(), error = %e, "orphaned cluster not removed"),
        }
    }
}

/// The directory of the server binaries: `LIFEBOAT_POSTGRES_BIN`, else the highest version
/// under `/usr/lib/postgresql` that has a server (a client-only version has no `initdb`).
pub fn bin_dir() -> Result<PathBuf, PgError> {
    if let Some(dir) = std::env::var_os("LIFEBOAT_POSTGRES_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let root = Path::new("/usr/lib/postgresql");
    let versions: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("bin/initdb").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    highest_version(&versions)
        .map(|v| root.join(v).join("bin"))
        .ok_or_else(|| {
            PgError::new(
                "finding PostgreSQL",
                "no /usr/lib/postgresql/<version>/bin/initdb (run scripts/bootstrap, or set LIFEBOAT_POSTGRES_BIN)",
            )
        })
}

/// The highest of version directory names (`9.6`, `15`, `16`), compared as numbers.
fn highest_version(names: &[String]) -> Option<&str> {
    let key = |name: &str| -> Option<Vec<u32>> { name.split('.').map(|p| p.parse().ok()).collect() };
    names
        .iter()
        .filter_map(|n| Some((key(n)?, n.as_str())))
        .max()
        .map(|(_, n)| n)
}

/// Fills `data` (which must not exist) with a fresh cluster. `initdb` takes a second or more
/// (several on a busy machine), so its output is kept once per machine, server version and
/// `initdb` arguments, under `$LIFEBOAT_HOME/postgres/`, and later stacks copy it (a tenth of
/// that); any trouble with the cache falls back to `initdb`.
pub async fn init_data(bin: &Path, runner: &Runner, data: &Path, work_dir: &Path) -> Result<(), StackError> {
    let cached = cache_dir(bin).await;
    if let Some(cached) = cached.as_ref().filter(|c| c.is_dir()) {
        match copy_tree(cached, data)
            .await
            .and_then(|()| runner.give_tree(data))
        {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(cached = %cached.display(), error = %e, "cached cluster not usable; running initdb");
                let _ = std::fs::remove_dir_all(data);
            }
        }
    }
    let setup =
        |e: std::io::Error| StackError::Setup(format!("PostgreSQL data directory {}: {e}", data.display()));
    std::fs::create_dir_all(data).map_err(setup)?;
    runner.give(data).map_err(setup)?;
    let initdb = runner
        .command(&bin.join("initdb"), work_dir)
        .arg("--pgdata")
        .arg(data)
        .args(["--username", SUPERUSER, "--auth", "trust", "--encoding", "UTF8"])
        .args(["--locale", "C", "--no-sync", "--no-instructions"])
        .output()
        .await;
    checked("initdb", initdb).map_err(|e| StackError::Setup(e.to_string()))?;
    if let Some(cached) = cached {
        if let Err(e) = keep(data, &cached).await {
            tracing::debug!(cached = %cached.display(), error = %e, "initdb's output not cached");
        }
    }
    Ok(())
}

/// Where `initdb`'s output for these binaries is kept: none without a home to keep it in.
async fn cache_dir(bin: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("LIFEBOAT_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lifeboat")))?;
    // `postgres -V`: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
    let version = Command::new(bin.join("postgres")).arg("-V").output().await.ok()?;
    let version = String::from_utf8_lossy(&version.stdout);
    let key = format!("{}-{}-v{INITDB_FORMAT}", bin.display(), version.trim());
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Some(home.join("postgres").join(name.trim_matches('-')))
}

/// Copies a fresh data directory into the cache, atomically: a half-made copy never shows.
async fn keep(data: &Path, cached: &Path) -> Result<(), PgError> {
    let parent = cached.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| PgError::new("creating the cache", e.to_string()))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let staging = parent.join(format!(".making-{}-{nanos}", std::process::id()));
    copy_tree(data, &staging).await?;
    if std::fs::rename(&staging, cached).is_err() {
        // Another stack cached it first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
}

/// `cp -a from to` (`to` must not exist): ownership and modes kept.
async fn copy_tree(from: &Path, to: &Path) -> Result<(), PgError> {
    let copied = Command::new("cp").arg("-a").arg(from).arg(to).output().await;
    checked("cp -a", copied).map(|_| ())
}

/// The settings that make the cluster local, fast and quiet, after `initdb`'s.
pub fn append_settings(conf: &Path, sockets: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    // A Unix socket path is limited to 107 bytes with `/.s.PGSQL.<port>`; with a longer
    // work directory the server gets no socket (everything here connects over TCP).
    let sockets = sockets.to_string_lossy();
    let sockets = if sockets.len() <= 90 {
        sockets.replace('\'', "''")
    } else {
        String::new()
    };
    let settings = format!(
        "\n# lifeboat-local: a throwaway cluster on loopback\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{sockets}'\n\
         max_connections = 100\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         # Several stacks run at once in tests; snapshot copies make WAL.\n\
         shared_buffers = 16MB\n\
         max_wal_size = 64MB\n\
         min_wal_size = 32MB\n"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(conf)?
        .write_all(settings.as_bytes())
}

/// A process's output, or what it said when it failed.
pub fn checked(what: &str, output: std::io::Result<Output>) -> Result<Output, PgError> {
    let output = output.map_err(|e| PgError::new(what, format!("could not run: {e}")))?;
    if output.status.success() {
        return Ok(output);
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(PgError::new(what, format!("{} ({})", said.trim(), output.status)))
}

/// Who runs the server and `initdb`: the current user, or (as root, which PostgreSQL
/// refuses) the `postgres` OS user.
#[derive(Debug, Clone)]
pub enum Runner {
    CurrentUser,
    Postgres { uid: u32, gid: u32 },
}

impl Runner {
    pub fn detect() -> Result<Runner, StackError> {
        use std::os::unix::fs::MetadataExt as _;
        // /proc/self belongs to the process's effective user.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            return Ok(Runner::CurrentUser);
        }
        let entry = std::process::Command::new("getent")
            .args(["passwd", SUPERUSER])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        parse_passwd(&entry).ok_or_else(|| {
            StackError::Setup(format!(
                "PostgreSQL refuses to run as root and there is no `{SUPERUSER}` OS user to run it \
                 (install Debian's postgresql: scripts/bootstrap)"
            ))
        })
    }

    pub fn command(&self, program: &Path, cwd: &Path) -> Command {
        Command::from(self.std_command(program, cwd))
    }

    /// `program` as this runner, from `cwd` (the postgres user may not enter the caller's).
    pub fn std_command(&self, program: &Path, cwd: &Path) -> std::process::Command {
        let mut command = match self {
            Runner::CurrentUser => std::process::Command::new(program),
            Runner::Postgres { .. } => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", SUPERUSER, "--"]).arg(program);
                c
            }
        };
        command.current_dir(cwd);
        command
    }

    /// Makes `path` the runner's.
    pub fn give(&self, path: &Path) -> std::io::Result<()> {
        match self {
            Runner::CurrentUser => Ok(()),
            Runner::Postgres { uid, gid } => std::os::unix::fs::chown(path, Some(*uid), Some(*gid)),
        }
    }

    /// Makes `path` and everything under it the runner's.
    fn give_tree(&self, path: &Path) -> Result<(), PgError> {
        match self {
            Runner::CurrentUser => Ok(()),
            Runner::Postgres { uid, gid } => {
                let chown = std::process::Command::new("chown")
                    .arg("-R")
                    .arg(format!("{uid}:{gid}"))
                    .arg(path)
                    .output();
                checked("chown -R", chown).map(|_| ())
            }
        }
    }
}

/// The uid and gid of a `getent passwd` line (`name:x:uid:gid:…`).
fn parse_passwd(line: &str) -> Option<Runner> {
    let fields: Vec<&str> = line.trim().split(':').collect();
    Some(Runner::Postgres {
        uid: fields.get(2)?.parse().ok()?,
        gid: fields.get(3)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_is_numeric() {
        let names: Vec<String> = ["9.6", "15", "16", "notes", "13"].map(String::from).to_vec();
        assert_eq!(highest_version(&names), Some("16"));
        assert_eq!(highest_version(&[]), None);
    }

    #[test]
    fn passwd_lines_give_ids() {
        let runner =
            parse_passwd("postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n");
        assert!(matches!(runner, Some(Runner::Postgres { uid: 101, gid: 104 })));
        assert!(parse_passwd("").is_none());
    }
}
