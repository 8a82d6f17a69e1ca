//! Removes a runner's finished leased jobs in batches: one statement (and one
//! commit) for every job that finished while the previous batch was being
//! removed, instead of one each. Deliveries finish hundreds a second, and a
//! round trip each was a tenth of their database work.
//!
//! Nothing waits on a timer: the first completion goes at once, and those
//! that arrive meanwhile make the next batch (group commit). A job's task
//! waits for its removal before it frees its slot, so the next job of its
//! ordering key is never held back by a row that is about to go. A crash
//! before the removal leaves the job to its lease, and it runs again, as any
//! job whose outcome was not recorded does.

use wacrm_persistence::{PgPool, jobs};

use crate::group::Group;

/// The most jobs one statement removes.
const BATCH: usize = 512;

/// Whether a finished job was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Yes,
    /// Not under this claim any more: taken over while it ran.
    TakenOver,
    /// The statement failed (logged); the job runs again after its lease.
    Failed,
}

/// The sending half, held by the runner's job tasks.
#[derive(Clone)]
pub struct Completions {
    /// A finished job's id and claim token.
    group: Group<(i64, uuid::Uuid), Removed>,
}

impl Completions {
    /// The handle, and the task that removes the jobs until every handle is
    /// dropped.
    pub fn start(pool: PgPool) -> (Self, impl Future<Output = ()>) {
        let (group, removing) = Group::start(BATCH, move |held| remove(pool.clone(), held));
        (Self { group }, removing)
    }

    /// Removes job `id`, finished under claim `token`, with the others
    /// finishing now.
    pub async fn complete(&self, id: i64, token: uuid::Uuid) -> Removed {
        self.group.ask((id, token)).await.unwrap_or(Removed::Failed)
    }
}

async fn remove(pool: PgPool, held: Vec<(i64, uuid::Uuid)>) -> Vec<Removed> {
    let removed = async {
        let mut conn = pool.get().await?;
        jobs::complete_many(&mut conn, &held).await
    }
    .await;
    if let Err(error) = &removed {
        tracing::error!(%error, jobs = held.len(), "cannot remove finished jobs; they run again when their leases expire");
    }
    held.iter()
        .map(|(id, _)| match &removed {
            Ok(ids) if ids.contains(id) => Removed::Yes,
            Ok(_) => Removed::TakenOver,
            Err(_) => Removed::Failed,
        })
        .collect()
}
