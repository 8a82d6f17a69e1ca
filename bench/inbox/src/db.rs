//! Direct access to wacrm's database through `psql` (the embedded cluster
//! listens on a unix socket only): the bulk load, counts, and query plans.

use std::io::{BufWriter, Write as _};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::data::{Dataset, Totals};

#[derive(Clone)]
pub struct Db {
    pub psql: String,
    /// libpq connection string, e.g. `host=/tmp/x/postgres/run user=wacrm dbname=wacrm`.
    pub conninfo: String,
}

impl Db {
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.psql);
        command
            .arg(&self.conninfo)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .env("PGCLIENTENCODING", "UTF8")
            .kill_on_drop(true);
        command
    }

    /// Runs `sql` and answers its rows unaligned, `|`-separated, without headers.
    pub async fn query(&self, sql: &str) -> anyhow::Result<String> {
        let output = self
            .command()
            .args(["-A", "-t", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", self.psql))?;
        if !output.status.success() {
            bail!(
                "psql failed ({}) on `{}`: {}",
                output.status,
                sql.chars().take(300).collect::<String>(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Streams the dataset's script into one psql session; answers what was
    /// written and how long psql took to the end of the COMMIT.
    pub fn load(&self, dataset: &Dataset) -> anyhow::Result<(Totals, Duration)> {
        let started = Instant::now();
        let mut child = std::process::Command::new(&self.psql)
            .arg(&self.conninfo)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .env("PGCLIENTENCODING", "UTF8")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.psql))?;
        let written = match child.stdin.take() {
            Some(stdin) => {
                let mut writer = BufWriter::with_capacity(1 << 20, stdin);
                dataset
                    .write_script(&mut writer)
                    .and_then(|totals| Ok(writer.flush().map(|()| totals)?))
            }
            None => Err(anyhow::anyhow!("psql has no stdin")),
        };
        let status = child.wait().context("waiting for psql")?;
        if !status.success() {
            bail!("the bulk load failed: psql exited with {status} (its error is above)");
        }
        Ok((written?, started.elapsed()))
    }
}
