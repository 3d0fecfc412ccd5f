//! `new`: the next numbered migration (or seed) file, from a template.

use devenv_core::exit;

use crate::context::Ctx;
use crate::error::MigrateError;
use crate::files;
use crate::ledger::Track;
use crate::report::{self, New, TrackFile};

pub(super) fn run(ctx: &Ctx, track: &Track, name: &str) -> Result<u8, MigrateError> {
    let files = files::load(&track.dir, true)?;
    let filename = files::next_name(&files, name)?;
    let path = track.dir.join(&filename);
    std::fs::create_dir_all(&track.dir).map_err(|e| MigrateError::Io {
        message: format!("cannot create {}: {e}", track.dir.display()),
    })?;
    let template = format!(
        "-- {filename}: describe what this migration does and why.\n-- Runs in its own transaction; put `{}` on the first line to opt out.\n\n",
        files::NO_TRANSACTION_MARKER
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, template.as_bytes()))
        .map_err(|e| MigrateError::Io {
            message: format!("cannot create {}: {e}", path.display()),
        })?;
    report::print(
        ctx.format,
        &ctx.style,
        &New {
            file: TrackFile::new(track.kind, &filename),
            path: path.display().to_string(),
        },
    );
    Ok(exit::OK)
}
