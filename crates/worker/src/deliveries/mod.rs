//! The database work of deliveries, grouped (see [`crate::group`]): the
//! start of every send claimed meanwhile in one transaction, the record of
//! every accepted send in another. A campaign delivers up to a thousand
//! messages a second; one send's start and record were a dozen round trips
//! and two commits, and PostgreSQL spent its time on those rather than on
//! the rows. What a delivery decides stays in `jobs::deliver_message`.

mod record;
mod start;

use wacrm_persistence::PgPool;
use wacrm_persistence::secrets::Cipher;

pub use record::{SentRecord, status_event};
pub use start::{Start, StartRequest, Started};

use crate::group::Group;

/// The most deliveries one batch starts or records.
const BATCH: usize = 256;

/// The handle deliveries ask through. Cheap to clone.
#[derive(Clone)]
pub struct Deliveries {
    starts: Group<StartRequest, Start>,
    records: Group<SentRecord, Result<(), String>>,
}

impl Deliveries {
    /// Spawns the two batch tasks on the current runtime.
    pub fn start(pool: PgPool, cipher: Cipher) -> Self {
        let starts = {
            let pool = pool.clone();
            Group::spawn(BATCH, move |requests| {
                start::start_all(pool.clone(), cipher.clone(), requests)
            })
        };
        let records = Group::spawn(BATCH, move |sends| record::record_all(pool.clone(), sends));
        Self { starts, records }
    }

    /// Starts the delivery of `request` (with the others starting now).
    pub async fn start_send(&self, request: StartRequest) -> Start {
        self.starts
            .ask(request)
            .await
            .unwrap_or_else(|| Start::Failed("the delivery starter failed".into()))
    }

    /// Records an accepted send (with the others accepted now).
    pub async fn record_sent(&self, record: SentRecord) -> Result<(), String> {
        self.records
            .ask(record)
            .await
            .unwrap_or_else(|| Err("the send recorder failed".into()))
    }
}
