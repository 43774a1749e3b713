//! The retry policy: temporary failures are retried with a doubling wait,
//! or the wait the server asked for (`Retry-After`), up to a limit.

use std::time::Duration;

use super::ApplyOptions;
use crate::endpoint::{EndpointError, ErrorKind};

/// The longest `Retry-After` wait honoured. A server that asks for more
/// gets a failed item now (the next apply tries it again) rather than an
/// apply that hangs for hours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Retries temporary failures with a doubling wait, or the wait the
/// endpoint asked for (`Retry-After`, up to [`MAX_RETRY_AFTER`]);
/// `sleep` waits.
pub(super) fn with_retries<T>(
    options: &ApplyOptions,
    mut attempt: impl FnMut() -> Result<T, EndpointError>,
    mut sleep: impl FnMut(Duration),
) -> Result<T, EndpointError> {
    let mut wait = options.backoff;
    let mut tries = 1;
    loop {
        match attempt() {
            Err(mut e) if e.kind == ErrorKind::Transient && tries < options.attempts.max(1) => {
                if let Some(asked) = e.retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
                    e.message = format!(
                        "{} (the server asked to wait {} s before retrying, more than the {} s \
                         snapsync waits: not retried; the next apply tries again)",
                        e.message,
                        asked.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    );
                    return Err(e);
                }
                sleep(e.retry_after.unwrap_or(wait));
                wait = wait.saturating_mul(2).min(Duration::from_secs(60));
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ApplyOptions {
        ApplyOptions {
            attempts: 4,
            backoff: Duration::from_millis(200),
            ..ApplyOptions::default()
        }
    }

    fn transient(retry_after: Option<Duration>) -> EndpointError {
        EndpointError {
            kind: ErrorKind::Transient,
            message: "PUT x: the server answered HTTP 503".into(),
            retry_after,
        }
    }

    #[test]
    fn transient_failures_are_retried_with_a_doubling_wait() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result = with_retries(
            &options(),
            || {
                calls += 1;
                if calls < 4 {
                    Err(transient(None))
                } else {
                    Ok(calls)
                }
            },
            |w| waits.push(w),
        );
        assert_eq!(result.expect("fourth attempt succeeds"), 4);
        assert_eq!(waits, [200, 400, 800].map(Duration::from_millis).to_vec());
    }

    #[test]
    fn retry_after_is_the_wait_when_the_server_gives_one() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result = with_retries(
            &options(),
            || {
                calls += 1;
                if calls == 1 {
                    Err(transient(Some(Duration::from_secs(7))))
                } else {
                    Ok(())
                }
            },
            |w| waits.push(w),
        );
        assert!(result.is_ok());
        assert_eq!(waits, vec![Duration::from_secs(7)]);
    }

    #[test]
    fn attempts_run_out_with_the_last_error_and_other_errors_are_not_retried() {
        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(transient(None))
            },
            |_| {},
        )
        .expect_err("never succeeds");
        assert_eq!(calls, 4);
        assert_eq!(error.kind, ErrorKind::Transient);

        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(EndpointError::new(ErrorKind::PreconditionFailed, "412"))
            },
            |_| panic!("a conflict is not retried"),
        )
        .expect_err("fails");
        assert_eq!(calls, 1);
        assert_eq!(error.kind, ErrorKind::PreconditionFailed);
    }

    #[test]
    fn a_retry_after_beyond_the_limit_fails_the_item_at_once_and_says_why() {
        let mut calls = 0;
        let error = with_retries(
            &options(),
            || -> Result<(), _> {
                calls += 1;
                Err(transient(Some(Duration::from_secs(3600))))
            },
            |_| panic!("no hour-long wait"),
        )
        .expect_err("fails");
        assert_eq!(calls, 1);
        assert!(
            error
                .message
                .contains("asked to wait 3600 s before retrying, more than the 120 s"),
            "{}",
            error.message
        );
    }
}
