//! Message templates, with their approval status: synced from the providers that
//! list them (`source: "sync"`), or registered by an admin for a provider that has
//! no list (`source: "manual"`). A sync never overwrites a manual template.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::templates;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = templates)]
pub struct Template {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub provider_template_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: String,
    pub components: serde_json::Value,
    pub status_reason: Option<String>,
    pub synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `sync` or `manual`.
    pub source: String,
    /// Meta's quality rating (`GREEN`, `YELLOW`, `RED`, `UNKNOWN`), from its webhook.
    pub quality_score: Option<String>,
    pub quality_updated_at: Option<DateTime<Utc>>,
    /// Set while Meta keeps the template locked against edits (it can still be sent).
    pub locked_at: Option<DateTime<Utc>>,
}

/// Where a template row came from.
pub const SOURCE_SYNC: &str = "sync";
pub const SOURCE_MANUAL: &str = "manual";

/// A template an admin registers by hand.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = templates)]
pub struct NewManualTemplate {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: String,
    pub components: serde_json::Value,
    pub source: String,
}

/// Changes to a manual template; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = templates)]
pub struct ManualTemplateChanges {
    pub category: Option<String>,
    pub status: Option<String>,
    pub components: Option<serde_json::Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Which template an account-level event names: by name, and language when given.
#[derive(Debug, Clone, Copy)]
pub struct TemplateKey<'a> {
    pub connection_id: Uuid,
    pub name: &'a str,
    pub language: Option<&'a str>,
}

/// What a template event changes besides the status.
#[derive(Debug, Clone, Copy)]
pub enum TemplateChange<'a> {
    Quality(&'a str),
    Category(&'a str),
    Locked(bool),
}

/// Applies a quality, category or lock event; returns the templates changed.
pub async fn apply_change(
    conn: &mut AsyncPgConnection,
    key: TemplateKey<'_>,
    change: TemplateChange<'_>,
) -> StoreResult<Vec<Template>> {
    let now = Utc::now();
    let target = || {
        let mut target = diesel::update(templates::table)
            .filter(templates::connection_id.eq(key.connection_id))
            .filter(templates::name.eq(key.name.to_owned()))
            .into_boxed();
        if let Some(language) = key.language {
            target = target.filter(templates::language.eq(language.to_owned()));
        }
        target
    };
    let changed = match change {
        TemplateChange::Quality(score) => {
            target()
                .set((
                    templates::quality_score.eq(Some(score.to_owned())),
                    templates::quality_updated_at.eq(Some(now)),
                    templates::updated_at.eq(now),
                ))
                .returning(Template::as_returning())
                .get_results(conn)
                .await?
        }
        TemplateChange::Category(category) => {
            target()
                .set((
                    templates::category.eq(Some(category.to_owned())),
                    templates::updated_at.eq(now),
                ))
                .returning(Template::as_returning())
                .get_results(conn)
                .await?
        }
        TemplateChange::Locked(locked) => {
            target()
                .set((
                    templates::locked_at.eq(locked.then_some(now)),
                    templates::updated_at.eq(now),
                ))
                .returning(Template::as_returning())
                .get_results(conn)
                .await?
        }
    };
    Ok(changed)
}

/// A template as a provider lists it.
#[derive(Debug, Clone)]
pub struct SyncedTemplate {
    pub provider_template_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    pub status: String,
    pub components: serde_json::Value,
}

#[derive(Debug, Default)]
pub struct TemplateFilter {
    pub connection_id: Option<Uuid>,
    pub status: Option<String>,
    pub name: Option<String>,
}

/// Inserts or refreshes each template of the connection (by name and language).
/// A manual template with the same name and language is left exactly as it is:
/// the admin registered it because the provider does not list it.
pub async fn upsert_all(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    synced: Vec<SyncedTemplate>,
) -> StoreResult<usize> {
    let now = Utc::now();
    let mut count = 0;
    for template in synced {
        let upsert = diesel::insert_into(templates::table)
            .values((
                templates::id.eq(Uuid::now_v7()),
                templates::connection_id.eq(connection_id),
                templates::provider_template_id.eq(&template.provider_template_id),
                templates::name.eq(&template.name),
                templates::language.eq(&template.language),
                templates::category.eq(&template.category),
                templates::status.eq(&template.status),
                templates::components.eq(&template.components),
                templates::synced_at.eq(now),
            ))
            .on_conflict((
                templates::connection_id,
                templates::name,
                templates::language,
            ))
            .do_update()
            .set((
                templates::provider_template_id.eq(&template.provider_template_id),
                templates::category.eq(&template.category),
                templates::status.eq(&template.status),
                templates::components.eq(&template.components),
                templates::synced_at.eq(now),
                templates::updated_at.eq(now),
            ));
        // `ON CONFLICT … DO UPDATE … WHERE source = 'sync'`: diesel's upsert filter,
        // spelled out because `QueryDsl::filter` is also in scope.
        count += diesel::query_dsl::methods::FilterDsl::filter(
            upsert,
            templates::source.eq(SOURCE_SYNC),
        )
        .execute(conn)
        .await?;
    }
    Ok(count)
}

/// Applies a status-change webhook; returns the templates changed.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    name: &str,
    language: Option<&str>,
    status: &str,
    reason: Option<&str>,
) -> StoreResult<Vec<Template>> {
    let mut target = diesel::update(templates::table)
        .filter(templates::connection_id.eq(connection_id))
        .filter(templates::name.eq(name))
        .into_boxed();
    if let Some(language) = language {
        target = target.filter(templates::language.eq(language.to_owned()));
    }
    Ok(target
        .set((
            templates::status.eq(status),
            templates::status_reason.eq(reason),
            templates::updated_at.eq(Utc::now()),
        ))
        .returning(Template::as_returning())
        .get_results(conn)
        .await?)
}

pub async fn insert_manual(
    conn: &mut AsyncPgConnection,
    template: NewManualTemplate,
) -> StoreResult<Template> {
    Ok(diesel::insert_into(templates::table)
        .values(template)
        .returning(Template::as_returning())
        .get_result(conn)
        .await?)
}

/// Changes a manual template; `NotFound` when `id` names no manual template.
pub async fn update_manual(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: ManualTemplateChanges,
) -> StoreResult<Template> {
    Ok(diesel::update(templates::table.find(id))
        .filter(templates::source.eq(SOURCE_MANUAL))
        .set(ManualTemplateChanges {
            updated_at: Some(Utc::now()),
            ..changes
        })
        .returning(Template::as_returning())
        .get_result(conn)
        .await?)
}

/// Deletes a manual template; `NotFound` when `id` names no manual template.
pub async fn delete_manual(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    let deleted = diesel::delete(templates::table.find(id))
        .filter(templates::source.eq(SOURCE_MANUAL))
        .execute(conn)
        .await?;
    if deleted == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

pub async fn find_for_send(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    name: &str,
    language: &str,
) -> StoreResult<Option<Template>> {
    Ok(templates::table
        .filter(templates::connection_id.eq(connection_id))
        .filter(templates::name.eq(name))
        .filter(templates::language.eq(language))
        .select(Template::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Template> {
    Ok(templates::table
        .find(id)
        .select(Template::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &TemplateFilter,
    page: PageRequest,
) -> StoreResult<Page<Template>> {
    let mut query = templates::table.select(Template::as_select()).into_boxed();
    if let Some(connection_id) = filter.connection_id {
        query = query.filter(templates::connection_id.eq(connection_id));
    }
    if let Some(status) = &filter.status {
        query = query.filter(templates::status.eq(status.clone()));
    }
    if let Some(name) = &filter.name {
        query = query.filter(templates::name.ilike(crate::like_pattern(name)));
    }
    let rows = crate::paginate!(query, templates::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |template| template.id))
}

/// The names and languages of a connection's approved templates.
pub async fn approved(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> StoreResult<Vec<(String, String)>> {
    Ok(templates::table
        .filter(templates::connection_id.eq(connection_id))
        .filter(templates::status.eq("APPROVED"))
        .select((templates::name, templates::language))
        .load(conn)
        .await?)
}
