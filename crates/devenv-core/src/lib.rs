//! devenv-core: the contracts every devenv binary shares (see the project
//! README): exit codes, the redactor, the dotenv bundle, the stack and its ports,
//! output rules, correlation ids, the workflow state and the event stream.

pub mod bundle;
pub mod bundle_expiry;
pub mod completions;
pub mod credentials;
pub mod duration;
pub mod events;
pub mod exit;
pub mod health_history;
pub mod ids;
pub mod logging;
pub mod netproc;
pub mod output;
pub mod paths;
pub mod pidfile;
pub mod redact;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod stack;
pub mod state;
pub mod tools;
pub mod yaml;

/// An environment lookup over fixed pairs, for the `from_vars` constructors' tests.
#[cfg(test)]
fn test_vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}
