//! The async runtime of a binary's `run()`: built, used for one body, then shut down without
//! waiting for stragglers (a probe cancelled at its deadline may leave a blocking DNS lookup
//! behind; the process must not wait for it).

use crate::exit;
use crate::output::Failure;

/// Builds the runtime `builder` describes (with every driver enabled), runs `body` on it and
/// returns its output; a runtime that cannot start is a [`Failure`] with exit code `FAILED`.
pub fn block_on<F: std::future::Future>(
    mut builder: tokio::runtime::Builder,
    body: F,
) -> Result<F::Output, Failure> {
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| Failure::new(exit::FAILED, format!("cannot start the async runtime: {e}")))?;
    let output = runtime.block_on(body);
    runtime.shutdown_background();
    Ok(output)
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_the_body_to_completion() {
        let out = super::block_on(tokio::runtime::Builder::new_current_thread(), async {
            tokio::task::yield_now().await;
            41 + 1
        });
        assert_eq!(out.unwrap(), 42);
    }
}
