//! The S3 objects of one state key, reached from the synchronous [`super::super::StateStore`]
//! through a runtime of their own: the state object `KEY`, the lock `KEY.lock`, the journal
//! `KEY.journal` and the secret key `KEY.secret`.

use super::super::StateError;
use crate::cloud::CloudError;
use crate::cloud::aws::objects::{Condition, Object, ObjectStore, is_refused};
use std::future::Future;

/// Which object of a state key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    State,
    Lock,
    Journal,
    Secret,
}

pub(super) struct Remote {
    runtime: Option<tokio::runtime::Runtime>,
    store: ObjectStore,
    key: String,
}

/// A write S3 refused because its condition did not hold, or another failure.
pub(super) enum PutError {
    Refused,
    Failed(StateError),
}

impl Remote {
    pub(super) fn new(runtime: tokio::runtime::Runtime, store: ObjectStore, key: &str) -> Self {
        Remote {
            runtime: Some(runtime),
            store,
            key: key.to_string(),
        }
    }

    /// Runs `f` to its end on this remote's runtime, from any thread (also one of another
    /// runtime's: the work runs on a thread of its own).
    pub(super) fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the remote");
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(f))
                .join()
                .expect("an S3 call does not panic")
        })
    }

    pub(super) fn key(&self, part: Part) -> String {
        match part {
            Part::State => self.key.clone(),
            Part::Lock => format!("{}.lock", self.key),
            Part::Journal => format!("{}.journal", self.key),
            Part::Secret => format!("{}.secret", self.key),
        }
    }

    /// `s3://bucket/KEY[.part]`.
    pub(super) fn url(&self, part: Part) -> String {
        self.store.url(&self.key(part))
    }

    fn failed(&self, part: Part, e: CloudError) -> StateError {
        StateError::Remote {
            at: self.url(part),
            message: e.to_string(),
        }
    }

    pub(super) fn get(&self, part: Part) -> Result<Option<Object>, StateError> {
        self.run(self.store.get(&self.key(part)))
            .map_err(|e| self.failed(part, e))
    }

    pub(super) fn put(
        &self,
        part: Part,
        body: Vec<u8>,
        condition: Option<Condition>,
    ) -> Result<String, PutError> {
        self.run(self.store.put(&self.key(part), body, condition.as_ref()))
            .map_err(|e| {
                if condition.is_some() && is_refused(&e) {
                    PutError::Refused
                } else {
                    PutError::Failed(self.failed(part, e))
                }
            })
    }

    pub(super) fn delete(&self, part: Part, etag: Option<&str>) -> Result<(), PutError> {
        self.run(self.store.delete(&self.key(part), etag))
            .map_err(|e| {
                if etag.is_some() && is_refused(&e) {
                    PutError::Refused
                } else {
                    PutError::Failed(self.failed(part, e))
                }
            })
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        // Never blocks, so a remote may be dropped inside another runtime's task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
