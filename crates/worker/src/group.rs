//! Group statements: many tasks' small requests of one kind run as one batch
//! (one statement, or one transaction, for all of them) instead of one each.
//!
//! Nothing waits on a timer: the first request runs at once, alone, and those
//! that arrive while a batch runs make the next one. At low load a request
//! costs what it did alone; under load the batches grow by themselves, and a
//! round trip, a commit and its WAL flush are paid per batch. (Ingest
//! group-commits webhooks the same way; see `wacrm_api::ingest`.)

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

/// The requesting half, held by the tasks that ask. Cheap to clone.
pub struct Group<Request, Response> {
    requests: mpsc::Sender<(Request, oneshot::Sender<Response>)>,
}

impl<Request, Response> Clone for Group<Request, Response> {
    fn clone(&self) -> Self {
        Self {
            requests: self.requests.clone(),
        }
    }
}

impl<Request: Send + 'static, Response: Send + 'static> Group<Request, Response> {
    /// The handle, and the task that runs the batches (at most `max_batch`
    /// requests each) until every handle is dropped. `run` answers each
    /// request of its batch, in order.
    pub fn start<Run, Fut>(
        max_batch: usize,
        run: Run,
    ) -> (Self, impl Future<Output = ()> + Send + 'static)
    where
        Run: Fn(Vec<Request>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Response>> + Send,
    {
        let (requests, mut received) = mpsc::channel(max_batch * 4);
        let batches = async move {
            let mut batch = Vec::with_capacity(max_batch);
            while received.recv_many(&mut batch, max_batch).await > 0 {
                let (asked, answers): (Vec<Request>, Vec<oneshot::Sender<Response>>) =
                    batch.drain(..).unzip();
                // A panic loses this batch's answers (each caller sees
                // `None`), not the task: later batches still run.
                match AssertUnwindSafe(run(asked)).catch_unwind().await {
                    Ok(responses) => {
                        for (answer, response) in answers.into_iter().zip(responses) {
                            let _ = answer.send(response);
                        }
                    }
                    Err(_) => tracing::error!("a group statement panicked; its batch failed"),
                }
            }
        };
        (Self { requests }, batches)
    }

    /// [`Self::start`] with its task spawned on the current runtime.
    pub fn spawn<Run, Fut>(max_batch: usize, run: Run) -> Self
    where
        Run: Fn(Vec<Request>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<Response>> + Send,
    {
        let (group, batches) = Self::start(max_batch, run);
        tokio::spawn(batches);
        group
    }

    /// `request`'s answer, run with the others asked meanwhile; `None` when
    /// its batch failed without answering (a panic) or the task is gone.
    pub async fn ask(&self, request: Request) -> Option<Response> {
        let (answer, answered) = oneshot::channel();
        self.requests.send((request, answer)).await.ok()?;
        answered.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn requests_asked_while_a_batch_runs_make_the_next_batch() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let (gate_open, gate) = tokio::sync::watch::channel(false);
        let group = Group::spawn(64, move |batch: Vec<u32>| {
            seen.lock().unwrap().push(batch.len());
            let mut gate = gate.clone();
            async move {
                // The first batch waits until the others have been asked.
                let _ = gate.wait_for(|open| *open).await;
                batch.into_iter().map(|n| n * 2).collect::<Vec<_>>()
            }
        });
        let first = tokio::spawn({
            let group = group.clone();
            async move { group.ask(1).await }
        });
        while sizes.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let rest: Vec<_> = (2..=5)
            .map(|n| {
                let group = group.clone();
                tokio::spawn(async move { group.ask(n).await })
            })
            .collect();
        while group.requests.max_capacity() - group.requests.capacity() < 4 {
            tokio::task::yield_now().await;
        }
        gate_open.send(true).unwrap();
        assert_eq!(first.await.unwrap(), Some(2));
        let mut answers = Vec::new();
        for task in rest {
            answers.push(task.await.unwrap());
        }
        assert_eq!(answers, vec![Some(4), Some(6), Some(8), Some(10)]);
        // The first alone, at once; the four asked meanwhile together.
        assert_eq!(*sizes.lock().unwrap(), vec![1, 4]);
    }

    #[tokio::test]
    async fn a_panicking_batch_fails_its_requests_and_the_next_batch_runs() {
        let group = Group::spawn(8, |batch: Vec<u32>| async move {
            assert!(!batch.contains(&13), "unlucky");
            batch
        });
        assert_eq!(group.ask(13).await, None);
        assert_eq!(group.ask(7).await, Some(7));
    }
}
