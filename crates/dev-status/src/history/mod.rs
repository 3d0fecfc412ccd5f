//! The health history: every run's results appended to `.devenv/health/` (`record`, through
//! devenv-core's `health_history`, which owns the file format, rotation and reading) and the
//! per-service summary `dev-status history` prints (`summary`).

pub mod record;
pub mod summary;
