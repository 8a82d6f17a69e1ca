//! A private PostgreSQL cluster for running wacrm without `DATABASE_URL`.
//!
//! It uses the machine's PostgreSQL server binaries, keeps its data under
//! `<root>/postgres/data`, and listens on a unix socket in `<root>/postgres/run`
//! only. PostgreSQL refuses to run as root, so when we are root the cluster is
//! owned by and run as the `postgres` (or else `nobody`) user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use nix::unistd::{Uid, User, chown};
use tokio::process::Command;

/// The superuser the cluster is created with; the socket trusts local users.
const SUPERUSER: &str = "wacrm";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL available: set DATABASE_URL to a PostgreSQL server, or install \
         PostgreSQL's server binaries (initdb, pg_ctl) on PATH, where `pg_config --bindir` \
         points, or under /usr/lib/postgresql/<version>/bin"
    )]
    NoBinaries,
    #[error(
        "the PostgreSQL socket path {0} is longer than the 107 bytes unix sockets allow; use a shorter WACRM_DATA_DIR"
    )]
    SocketPathTooLong(PathBuf),
    #[error(
        "the embedded PostgreSQL runs as the `{user}` user (PostgreSQL refuses root), which \
         cannot enter {blocked} (mode {mode:o}, owner uid {owner_uid}) on the way to its data \
         under {data_dir}: set WACRM_DATA_DIR to a directory it can reach (e.g. /var/lib/wacrm), \
         or let it through with `chmod o+x {blocked}`"
    )]
    DataDirUnreachable {
        user: String,
        data_dir: PathBuf,
        blocked: PathBuf,
        mode: u32,
        owner_uid: u32,
    },
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("creating the database: {0}")]
    Database(String),
}

/// A running cluster. Call [`EmbeddedPostgres::stop`] on shutdown.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    owner: Option<User>,
}

impl EmbeddedPostgres {
    /// Starts the cluster under `root` (initialising it on first use) and makes
    /// sure database `database` exists. A cluster left running by an earlier
    /// process is reused.
    pub async fn start(root: &Path, database: &str) -> Result<Self, EmbeddedError> {
        let bin_dir = find_binaries().await.ok_or(EmbeddedError::NoBinaries)?;
        std::fs::create_dir_all(root)?;
        let base = std::fs::canonicalize(root)?.join("postgres");
        let cluster = Self {
            bin_dir,
            data_dir: base.join("data"),
            socket_dir: base.join("run"),
            owner: cluster_owner()?,
        };
        if cluster.socket_dir.join(".s.PGSQL.5432").as_os_str().len() > 107 {
            return Err(EmbeddedError::SocketPathTooLong(cluster.socket_dir));
        }
        if let Some(owner) = &cluster.owner {
            // Else initdb fails with a bare "Permission denied" naming nothing.
            check_reachable(&base, owner)?;
        }
        for dir in [&base, &cluster.data_dir, &cluster.socket_dir] {
            std::fs::create_dir_all(dir)?;
            cluster.give_to_owner(dir)?;
        }
        std::fs::set_permissions(&cluster.data_dir, std::fs::Permissions::from_mode(0o700))?;
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        if !cluster.is_running().await {
            cluster.pg_ctl_start(&base.join("postgres.log")).await?;
        }
        cluster.create_database(database).await?;
        Ok(cluster)
    }

    /// The connection string for `database` over the cluster's socket.
    pub fn database_url(&self, database: &str) -> String {
        let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host={} user={SUPERUSER} dbname={}",
            quote(&self.socket_dir.to_string_lossy()),
            quote(database)
        )
    }

    /// Stops the cluster (fast shutdown: sessions are ended, data is flushed).
    pub async fn stop(&self) -> Result<(), EmbeddedError> {
        self.run(
            "pg_ctl stop",
            self.pg_ctl().args(["stop", "-m", "fast", "-w"]),
        )
        .await
    }

    /// Spawns a watchdog that stops the cluster when this process exits, however
    /// it exits: the watchdog waits for EOF on a pipe whose writing end only this
    /// process holds. Keep the returned guard alive for as long as the cluster
    /// should run.
    pub fn stop_on_exit(&self) -> Result<std::process::ChildStdin, EmbeddedError> {
        let mut watchdog = std::process::Command::new("sh");
        watchdog
            .arg("-c")
            .arg("read -r _ignored; exec \"$0\" stop -D \"$1\" -m fast -w")
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(&self.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(owner) = &self.owner {
            use std::os::unix::process::CommandExt;
            watchdog.uid(owner.uid.as_raw()).gid(owner.gid.as_raw());
        }
        let mut child = watchdog.spawn()?;
        child.stdin.take().ok_or_else(|| EmbeddedError::Command {
            action: "watchdog".into(),
            detail: "no stdin pipe".into(),
        })
    }

    async fn initdb(&self) -> Result<(), EmbeddedError> {
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        self.run("initdb", &mut initdb).await
    }

    async fn pg_ctl_start(&self, log: &Path) -> Result<(), EmbeddedError> {
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync=on",
            self.socket_dir.display()
        );
        let mut start = self.pg_ctl();
        start
            .args(["start", "-w", "-t", "60", "-l"])
            .arg(log)
            .arg("-o")
            .arg(options);
        self.run("pg_ctl start", &mut start).await
    }

    async fn is_running(&self) -> bool {
        let mut status = self.pg_ctl();
        status
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        matches!(status.status().await, Ok(code) if code.success())
    }

    async fn create_database(&self, database: &str) -> Result<(), EmbeddedError> {
        #[derive(diesel::QueryableByName)]
        struct Exists {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            exists: bool,
        }
        let db_error = |error: &dyn std::fmt::Display| EmbeddedError::Database(error.to_string());
        let mut conn = AsyncPgConnection::establish(&self.database_url("postgres"))
            .await
            .map_err(|e| db_error(&e))?;
        let found = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
        )
        .bind::<Text, _>(database)
        .get_result::<Exists>(&mut conn)
        .await
        .map_err(|e| db_error(&e))?;
        if !found.exists {
            let quoted = database.replace('"', "\"\"");
            diesel::sql_query(format!("CREATE DATABASE \"{quoted}\""))
                .execute(&mut conn)
                .await
                .map_err(|e| db_error(&e))?;
        }
        Ok(())
    }

    fn pg_ctl(&self) -> Command {
        let mut command = self.command("pg_ctl");
        command.arg("-D").arg(&self.data_dir);
        command
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        // The owner may not be able to enter our working directory (e.g. /root).
        command.current_dir(self.data_dir.parent().unwrap_or(&self.data_dir));
        if let Some(owner) = &self.owner {
            command.uid(owner.uid.as_raw()).gid(owner.gid.as_raw());
        }
        command
    }

    async fn run(&self, action: &str, command: &mut Command) -> Result<(), EmbeddedError> {
        let output = command.stdin(Stdio::null()).output().await?;
        if output.status.success() {
            return Ok(());
        }
        Err(EmbeddedError::Command {
            action: action.to_owned(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }

    fn give_to_owner(&self, dir: &Path) -> Result<(), EmbeddedError> {
        if let Some(owner) = &self.owner {
            chown(dir, Some(owner.uid), Some(owner.gid)).map_err(std::io::Error::from)?;
        }
        Ok(())
    }
}

/// Fails unless `owner` may enter every directory above `base` (which we
/// create and give to it).
fn check_reachable(base: &Path, owner: &User) -> Result<(), EmbeddedError> {
    let groups = std::ffi::CString::new(owner.name.as_bytes())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, owner.gid).ok())
        .unwrap_or_else(|| vec![owner.gid]);
    let groups: Vec<u32> = groups.iter().map(|gid| gid.as_raw()).collect();
    match first_closed_ancestor(base, owner.uid.as_raw(), &groups)? {
        None => Ok(()),
        Some((blocked, mode, owner_uid)) => Err(EmbeddedError::DataDirUnreachable {
            user: owner.name.clone(),
            data_dir: base.to_owned(),
            blocked,
            mode,
            owner_uid,
        }),
    }
}

/// The first directory above `path`, from `/` down, that a user of `uid` in
/// `groups` may not enter (no search permission), with its mode and owner.
fn first_closed_ancestor(
    path: &Path,
    uid: u32,
    groups: &[u32],
) -> Result<Option<(PathBuf, u32, u32)>, EmbeddedError> {
    use std::os::unix::fs::MetadataExt;
    let mut ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
    ancestors.reverse();
    for dir in ancestors {
        let meta = std::fs::metadata(dir)?;
        let mode = meta.mode() & 0o7777;
        let search = if meta.uid() == uid {
            0o100
        } else if groups.contains(&meta.gid()) {
            0o010
        } else {
            0o001
        };
        if mode & search == 0 {
            return Ok(Some((dir.to_owned(), mode, meta.uid())));
        }
    }
    Ok(None)
}

/// `None` when we may run PostgreSQL ourselves; the unprivileged user otherwise.
fn cluster_owner() -> Result<Option<User>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(user) = User::from_name(name).map_err(std::io::Error::from)? {
            return Ok(Some(user));
        }
    }
    Err(EmbeddedError::Command {
        action: "choosing the cluster's owner".into(),
        detail: "PostgreSQL will not run as root and there is no `postgres` or `nobody` user"
            .into(),
    })
}

/// The first directory holding both `initdb` and `pg_ctl`: PATH, then
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
async fn find_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output().await {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_both(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// A directory of its own under the system's temporary directory, removed after.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("wacrm-embedded-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_directory_the_cluster_user_cannot_enter_is_named_with_the_fix() {
        let top = TempDir::new();
        let closed = top.0.join("home");
        let base = closed.join("var").join("postgres");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&top.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let me = std::fs::metadata(&closed).unwrap();
        let stranger = me.uid() + 4242;

        let (blocked, mode, owner) = first_closed_ancestor(&base, stranger, &[stranger])
            .unwrap()
            .expect("the 0700 directory is closed to another user");
        assert_eq!(
            (blocked.as_path(), mode, owner),
            (closed.as_path(), 0o700, me.uid())
        );
        // Its owner, or a member of a group it opens to, gets through.
        assert_eq!(first_closed_ancestor(&base, me.uid(), &[]).unwrap(), None);
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o710)).unwrap();
        assert_eq!(
            first_closed_ancestor(&base, stranger, &[me.gid()]).unwrap(),
            None
        );

        let message = EmbeddedError::DataDirUnreachable {
            user: "postgres".into(),
            data_dir: base.clone(),
            blocked: closed.clone(),
            mode,
            owner_uid: owner,
        }
        .to_string();
        for part in [
            closed.display().to_string(),
            base.display().to_string(),
            "`postgres`".into(),
            "mode 700".into(),
            "WACRM_DATA_DIR".into(),
            format!("chmod o+x {}", closed.display()),
        ] {
            assert!(message.contains(&part), "{part} not in: {message}");
        }
    }
}
