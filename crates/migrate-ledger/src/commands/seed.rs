//! `seed`: the seed track, applied as `up` applies migrations, with the seeds' inputs.

use crate::cli::SeedArgs;
use crate::context::Ctx;
use crate::error::MigrateError;
use crate::seed::{CREDENTIALS_FILE, Settings};

pub(super) async fn run(ctx: &Ctx, args: &SeedArgs) -> Result<u8, MigrateError> {
    let model = match args.model.clone().filter(|m| !m.is_empty()) {
        Some(m) => Some(m),
        None => ctx.bundle_value("MOCK_INFERENCE_MODEL")?,
    };
    let settings = Settings {
        model: model.unwrap_or_else(|| "mock-gpt".to_string()),
        admin_email: args.admin_email.clone(),
        credentials_file: args
            .admin_credentials
            .clone()
            .unwrap_or_else(|| ctx.ws.state_dir().join(CREDENTIALS_FILE)),
    };
    super::up::run(ctx, &ctx.seeds, &args.flags, Some(settings)).await
}
