//! One module per command.

pub(crate) mod check_expiry;
pub(crate) mod render;
pub(crate) mod sync;
pub(crate) mod vault_bootstrap;
