//! The first admin: from `WACRM_ADMIN_EMAIL`/`WACRM_ADMIN_PASSWORD` at start, or
//! `wacrm create-admin`. Never overwrites an existing account.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{PgPool, staff};

use crate::auth::password;
use crate::validation::Checks;

pub enum Outcome {
    Created(Uuid),
    AlreadyExists(Uuid),
}

pub async fn ensure_admin(
    pool: &PgPool,
    email: &str,
    secret: &SecretString,
) -> anyhow::Result<Outcome> {
    let mut checks = Checks::default();
    let email = checks.email("email", email);
    checks.password("password", secret.expose_secret());
    checks
        .finish()
        .map_err(|error| anyhow::anyhow!("the admin account is invalid: {error}"))?;
    let mut conn = pool.get().await?;
    if let Some(existing) = staff::find_by_email(&mut conn, &email).await? {
        return Ok(Outcome::AlreadyExists(existing.id));
    }
    let password_hash = password::hash(secret.expose_secret().to_owned())
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let created = staff::insert(
        &mut conn,
        staff::NewStaff {
            id: Uuid::now_v7(),
            name: "Administrator".into(),
            email,
            phone: None,
            phone_normalized: None,
            password_hash,
            is_active: true,
            permissions: vec![Permission::ADMIN.as_str().to_owned()],
        },
    )
    .await?;
    Ok(Outcome::Created(created.id))
}
