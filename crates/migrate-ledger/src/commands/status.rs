//! `status`: applied / pending / changed / in-doubt / missing files.

use devenv_core::exit;

use crate::context::Ctx;
use crate::error::MigrateError;
use crate::ledger::Track;
use crate::plan::Plan;
use crate::report::{self, Status};

pub(super) async fn run(ctx: &Ctx, track: &Track) -> Result<u8, MigrateError> {
    let (files, rows) = ctx.files_and_rows(track).await?;
    let plan = Plan::new(&files, &rows);
    report::print(
        ctx.format,
        &ctx.style,
        &Status::new(&plan, track.kind, &track.dir),
    );
    Ok(exit::OK)
}
