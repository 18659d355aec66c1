//! The one place every AWS call goes through: a concurrency bound shared
//! across services, call counting, progress, and classification of errors
//! into the snapshot's three states.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use indicatif::ProgressBar;
use tokio::sync::Semaphore;

use crate::model::{Observed, ReadError, ReadErrorKind};

/// Shared state of one collection run.
pub struct Ctx {
    sem: Semaphore,
    concurrency: usize,
    calls: Mutex<BTreeMap<String, u64>>,
    progress: ProgressBar,
    /// Batch operations the endpoint does not serve (learned once per run).
    unsupported: Mutex<std::collections::BTreeSet<String>>,
}

impl Ctx {
    /// A context allowing `concurrency` calls in flight at once.
    pub fn new(concurrency: usize, progress: ProgressBar) -> Self {
        Ctx {
            sem: Semaphore::new(concurrency.max(1)),
            concurrency: concurrency.max(1),
            calls: Mutex::new(BTreeMap::new()),
            progress,
            unsupported: Mutex::new(std::collections::BTreeSet::new()),
        }
    }

    /// Runs one API operation under the concurrency bound and counts it.
    /// `action` is the IAM action name, e.g. `s3:GetBucketPolicy`.
    pub async fn call<T, E>(
        &self,
        action: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        // The semaphore is never closed, so acquiring cannot fail; if it ever
        // did, running unbounded is still correct.
        let _permit = self.sem.acquire().await.ok();
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(action.to_string()).or_insert(0) += 1;
        }
        let out = fut.await;
        self.progress.inc(1);
        out
    }

    /// How many calls may be in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The call counts so far.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Whether the batch operation `action` was found unsupported earlier
    /// in the run (the reads then go one by one without asking again).
    pub fn batch_unsupported(&self, action: &str) -> bool {
        self.unsupported
            .lock()
            .map(|u| u.contains(action))
            .unwrap_or(false)
    }

    /// Records a failed batch call, whose resources are then read one by
    /// one: when the endpoint does not serve the operation (an AWS-compatible
    /// server lacking it), no later batch asks again, and the log says so
    /// once.
    pub fn batch_failed(&self, action: &str, error: &ReadError) {
        let unsupported = error.kind == ReadErrorKind::Unsupported
            || (error.kind == ReadErrorKind::Service && error.code.is_none());
        if !unsupported {
            tracing::info!("{action} failed ({}); reading one by one", error.message);
            return;
        }
        let first = self
            .unsupported
            .lock()
            .map(|mut u| u.insert(action.to_string()))
            .unwrap_or(false);
        if first {
            tracing::info!(
                "the endpoint does not serve {action} ({}); reading one by one for the rest of the run",
                error.message
            );
        }
    }

    /// The progress bar (hidden when stderr is not a terminal).
    pub fn progress(&self) -> &ProgressBar {
        &self.progress
    }
}

/// Turns an SDK error into a [`ReadError`], naming the IAM action.
pub fn read_error<E>(action: &str, err: &SdkError<E, HttpResponse>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().map(str::to_string);
            let status = ctx.raw().status().as_u16();
            let message = ctx
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            ReadError {
                kind: kind_of(code.as_deref(), status),
                action: action.to_string(),
                code,
                message,
            }
        }
        SdkError::TimeoutError(_) => ReadError {
            kind: ReadErrorKind::Transport,
            action: action.to_string(),
            code: None,
            message: "the call timed out".to_string(),
        },
        other => {
            let code = other.code().map(str::to_string);
            let status = other.raw_response().map(|r| r.status().as_u16());
            let kind = match status {
                Some(s) => kind_of(code.as_deref(), s),
                None => ReadErrorKind::Transport,
            };
            ReadError {
                kind,
                action: action.to_string(),
                code,
                // one line of what failed: never the SDK's debug output
                message: super::errors::classify(action, other, &super::errors::Reach::default())
                    .summary,
            }
        }
    }
}

fn kind_of(code: Option<&str>, status: u16) -> ReadErrorKind {
    let code = code.unwrap_or("");
    if code.contains("AccessDenied")
        || code.contains("Unauthorized")
        || code == "AuthorizationError"
        || code == "Forbidden"
        || status == 403
    {
        ReadErrorKind::AccessDenied
    } else if code.contains("Throttl")
        || code.contains("TooManyRequests")
        || code == "RequestLimitExceeded"
        || code == "SlowDown"
        || status == 429
    {
        ReadErrorKind::Throttled
    } else if code.contains("NotImplemented")
        || code == "InvalidAction"
        || code == "UnknownOperationException"
        || status == 501
    {
        ReadErrorKind::Unsupported
    } else {
        ReadErrorKind::Service
    }
}

/// True when the error says the resource does not exist: one of the given
/// codes, or a bare 404 without a code (as HeadBucket answers).
pub fn is_not_found<E>(err: &SdkError<E, HttpResponse>, codes: &[&str]) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => match ctx.err().code() {
            Some(code) => codes.contains(&code),
            None => ctx.raw().status().as_u16() == 404,
        },
        _ => false,
    }
}

/// Maps an SDK result into the three snapshot states.
pub fn observe<T, O, E>(
    action: &str,
    result: Result<O, SdkError<E, HttpResponse>>,
    not_found: &[&str],
    f: impl FnOnce(O) -> T,
) -> Observed<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(out) => Observed::ok(f(out)),
        Err(e) if is_not_found(&e, not_found) => Observed::Absent,
        Err(e) => Observed::Unknown {
            error: read_error(action, &e),
        },
    }
}

/// Formats an SDK timestamp as RFC 3339.
pub fn timestamp(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds() {
        assert_eq!(
            kind_of(Some("AccessDeniedException"), 400),
            ReadErrorKind::AccessDenied
        );
        assert_eq!(kind_of(None, 403), ReadErrorKind::AccessDenied);
        assert_eq!(
            kind_of(Some("ThrottlingException"), 400),
            ReadErrorKind::Throttled
        );
        assert_eq!(kind_of(Some("Throttling"), 400), ReadErrorKind::Throttled);
        assert_eq!(kind_of(None, 429), ReadErrorKind::Throttled);
        assert_eq!(
            kind_of(Some("NotImplemented"), 400),
            ReadErrorKind::Unsupported
        );
        assert_eq!(
            kind_of(Some("ValidationException"), 400),
            ReadErrorKind::Service
        );
    }
}
