//! Configuration from the environment (see the README's table).
//!
//! Secrets missing outside production are generated once into
//! `<data dir>/secrets/` with a warning, so a fresh clone runs with no set-up
//! and keeps its sessions and encrypted data across restarts.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use wacrm_domain::Country;

#[derive(Debug, Clone)]
pub struct Config {
    /// `WACRM_LISTEN`: address to bind.
    pub listen: String,
    /// `DATABASE_URL`: unset runs the embedded cluster under `data_dir`.
    pub database_url: Option<String>,
    /// `WACRM_DATA_DIR`: embedded PostgreSQL, generated secrets, media.
    pub data_dir: PathBuf,
    /// `WACRM_MASTER_KEY`: base64 of 32 bytes; encrypts provider secrets.
    pub master_key: SecretString,
    /// `WACRM_JWT_SECRET`: signs access tokens.
    pub jwt_secret: SecretString,
    /// `WACRM_ADMIN_EMAIL` / `WACRM_ADMIN_PASSWORD`: the first admin.
    pub admin: Option<(String, SecretString)>,
    /// `WACRM_PUBLIC_URL`: base of the webhook URLs handed out.
    pub public_url: String,
    /// `WACRM_LOG_FORMAT=json` for JSON logs.
    pub log_json: bool,
    /// `WACRM_DEFAULT_COUNTRY`: ISO code for national phone numbers.
    pub default_country: Option<Country>,
    /// `WACRM_DB_POOL_SIZE`.
    pub pool_size: usize,
    /// `WACRM_API_STATEMENT_TIMEOUT_MS` (default 5000; 0: none): PostgreSQL
    /// cancels an API request's statement after this long.
    pub api_statement_timeout: Option<std::time::Duration>,
    /// `WACRM_HTTP_WORKERS` (default: one per core).
    pub http_workers: Option<usize>,
    /// `WACRM_RUN_WORKERS=false`: `serve` runs only the HTTP API.
    pub run_workers: bool,
    /// `WACRM_MEDIA_URL`: an object store URL (`s3://bucket/prefix`); unset:
    /// `<data dir>/media`.
    pub media_url: Option<String>,
    /// `WACRM_META_GRAPH_VERSION`: the Graph API version (default `v25.0`).
    pub graph_version: String,
    /// `WACRM_ALLOW_PRIVATE_TARGETS=true`: outgoing requests (provider APIs, AI,
    /// media links) may reach loopback and private addresses. For tests against
    /// local fake providers only; refused with `WACRM_ENV=production`.
    pub allow_private_targets: bool,
    /// `WACRM_METRICS_TOKEN`: when set, `/metrics` answers only with it as a bearer token.
    pub metrics_token: Option<SecretString>,
    /// `WACRM_WEBHOOK_RETENTION_DAYS` (default 30): processed webhook bodies are
    /// deleted after this many days.
    pub webhook_retention_days: u32,
}

/// RFC 7518 §3.2: an HS256 key of at least the hash's 256 bits.
const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads configuration through `var`, so tests need not touch the process environment.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(var("WACRM_DATA_DIR").unwrap_or_else(|| "./var".into()));
        let production = var("WACRM_ENV").is_some_and(|env| env == "production");
        let secret = |name: &str, generate: fn() -> String| -> anyhow::Result<SecretString> {
            match var(name) {
                Some(value) => Ok(value.into()),
                None if production => bail!("{name} must be set when WACRM_ENV=production"),
                None => dev_secret(&data_dir, name, generate).map(Into::into),
            }
        };
        let master_key = secret("WACRM_MASTER_KEY", || STANDARD.encode(random_bytes()))?;
        check_master_key(&master_key)?;
        let jwt_secret = secret("WACRM_JWT_SECRET", || STANDARD.encode(random_bytes()))?;
        // HS256 with a short key can be brute-forced offline from one token.
        if production
            && secrecy::ExposeSecret::expose_secret(&jwt_secret).len() < MIN_JWT_SECRET_BYTES
        {
            bail!(
                "WACRM_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes when WACRM_ENV=production"
            );
        }
        let listen = var("WACRM_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let allow_private_targets =
            var("WACRM_ALLOW_PRIVATE_TARGETS").is_some_and(|value| value == "true" || value == "1");
        if allow_private_targets && production {
            bail!(
                "WACRM_ALLOW_PRIVATE_TARGETS is for tests against local fakes: it must not be set when WACRM_ENV=production"
            );
        }
        let admin = match (var("WACRM_ADMIN_EMAIL"), var("WACRM_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, password.into())),
            (None, None) => None,
            _ => bail!("set both WACRM_ADMIN_EMAIL and WACRM_ADMIN_PASSWORD, or neither"),
        };
        Ok(Self {
            public_url: var("WACRM_PUBLIC_URL").unwrap_or_else(|| format!("http://{listen}")),
            listen,
            database_url: var("DATABASE_URL"),
            data_dir,
            master_key,
            jwt_secret,
            admin,
            log_json: var("WACRM_LOG_FORMAT").is_some_and(|format| format == "json"),
            default_country: var("WACRM_DEFAULT_COUNTRY")
                .map(|code| code.parse())
                .transpose()
                .context("WACRM_DEFAULT_COUNTRY")?,
            pool_size: parse_or(var("WACRM_DB_POOL_SIZE"), 16, "WACRM_DB_POOL_SIZE")?,
            api_statement_timeout: match parse_or(
                var("WACRM_API_STATEMENT_TIMEOUT_MS"),
                5_000,
                "WACRM_API_STATEMENT_TIMEOUT_MS",
            )? {
                0 => None,
                ms => Some(std::time::Duration::from_millis(
                    u64::try_from(ms).context("WACRM_API_STATEMENT_TIMEOUT_MS")?,
                )),
            },
            http_workers: var("WACRM_HTTP_WORKERS")
                .map(|n| n.parse().context("WACRM_HTTP_WORKERS"))
                .transpose()?,
            run_workers: var("WACRM_RUN_WORKERS")
                .is_none_or(|value| value != "false" && value != "0"),
            media_url: var("WACRM_MEDIA_URL"),
            graph_version: var("WACRM_META_GRAPH_VERSION").unwrap_or_else(|| "v25.0".into()),
            allow_private_targets,
            metrics_token: var("WACRM_METRICS_TOKEN").map(Into::into),
            webhook_retention_days: match parse_or(
                var("WACRM_WEBHOOK_RETENTION_DAYS"),
                30,
                "WACRM_WEBHOOK_RETENTION_DAYS",
            )? {
                0 => bail!("WACRM_WEBHOOK_RETENTION_DAYS must be at least 1"),
                days => u32::try_from(days).context("WACRM_WEBHOOK_RETENTION_DAYS is too large")?,
            },
        })
    }

    /// How long processed webhook bodies are kept.
    pub fn webhook_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.webhook_retention_days))
    }

    /// Which addresses outgoing requests may reach.
    pub fn egress(&self) -> wacrm_providers::egress::Egress {
        wacrm_providers::egress::Egress {
            allow_private_targets: self.allow_private_targets,
        }
    }

    /// The master key's 32 bytes (validated when the configuration was read).
    pub fn master_key_bytes(&self) -> anyhow::Result<Vec<u8>> {
        use secrecy::ExposeSecret;
        Ok(STANDARD.decode(self.master_key.expose_secret().trim())?)
    }
}

fn parse_or(value: Option<String>, default: usize, name: &str) -> anyhow::Result<usize> {
    value.map_or(Ok(default), |v| {
        v.parse()
            .with_context(|| format!("{name} must be a number"))
    })
}

fn check_master_key(key: &SecretString) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let bytes = STANDARD
        .decode(key.expose_secret().trim())
        .context("WACRM_MASTER_KEY must be base64")?;
    if bytes.len() != 32 {
        bail!(
            "WACRM_MASTER_KEY must decode to 32 bytes, not {}",
            bytes.len()
        );
    }
    Ok(())
}

fn random_bytes() -> [u8; 32] {
    rand::random()
}

/// Reads `<data_dir>/secrets/<name>`, creating it (mode 0600) on first use.
fn dev_secret(data_dir: &Path, name: &str, generate: fn() -> String) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = data_dir.join("secrets");
    let path = dir.join(name.to_lowercase());
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let value = generate();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "{name} is not set: generated one for development; set it in production"
    );
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn missing_secrets_are_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dir_str = dir.path().to_str().unwrap();
        let first = config(&[("WACRM_DATA_DIR", dir_str)]).unwrap();
        let second = config(&[("WACRM_DATA_DIR", dir_str)]).unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            first.jwt_secret.expose_secret(),
            second.jwt_secret.expose_secret()
        );
        assert_eq!(first.listen, "127.0.0.1:8080");
        assert!(first.database_url.is_none());
    }

    #[test]
    fn production_refuses_missing_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let error = config(&[
            ("WACRM_ENV", "production"),
            ("WACRM_DATA_DIR", dir.path().to_str().unwrap()),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("WACRM_MASTER_KEY"));
    }

    #[test]
    fn production_refuses_a_jwt_secret_under_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let key = STANDARD.encode([7u8; 32]);
        let with = |secret: &str| {
            config(&[
                ("WACRM_ENV", "production"),
                ("WACRM_DATA_DIR", dir.path().to_str().unwrap()),
                ("WACRM_MASTER_KEY", &key),
                ("WACRM_JWT_SECRET", secret),
            ])
        };
        let error = with("too-short-secret").unwrap_err();
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");
        assert!(with(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn a_short_master_key_is_rejected() {
        let error =
            config(&[("WACRM_MASTER_KEY", "c2hvcnQ="), ("WACRM_JWT_SECRET", "x")]).unwrap_err();
        assert!(error.to_string().contains("32 bytes"));
    }

    #[test]
    fn private_targets_are_refused_by_default_and_in_production() {
        let key = STANDARD.encode([7u8; 32]);
        let jwt_secret = "j".repeat(32);
        let base = [
            ("WACRM_MASTER_KEY", key.as_str()),
            ("WACRM_JWT_SECRET", jwt_secret.as_str()),
        ];
        let default = config(&base).unwrap();
        assert!(!default.egress().allow_private_targets);
        let mut testing = base.to_vec();
        testing.push(("WACRM_ALLOW_PRIVATE_TARGETS", "true"));
        assert!(config(&testing).unwrap().egress().allow_private_targets);
        testing.push(("WACRM_ENV", "production"));
        let error = config(&testing).unwrap_err();
        assert!(error.to_string().contains("WACRM_ALLOW_PRIVATE_TARGETS"));
    }

    #[test]
    fn half_an_admin_is_an_error() {
        let key = STANDARD.encode([7u8; 32]);
        let error = config(&[
            ("WACRM_MASTER_KEY", &key),
            ("WACRM_JWT_SECRET", "x"),
            ("WACRM_ADMIN_EMAIL", "a@b.c"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("WACRM_ADMIN_PASSWORD"));
    }
}
