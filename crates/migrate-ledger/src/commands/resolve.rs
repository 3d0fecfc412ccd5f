//! `resolve --applied|--failed FILE`: settles an in-doubt no-transaction file, audited.

use devenv_core::exit;

use crate::context::{self, Ctx};
use crate::error::{MigrateError, db};
use crate::ledger::{Audit, Track};
use crate::report::{self, Resolution, Resolve, TrackFile};

pub(super) async fn run(
    ctx: &Ctx,
    track: &Track,
    name: &str,
    how: Resolution,
    note: &str,
) -> Result<u8, MigrateError> {
    let files = context::load_files(track)?;
    let file = files.iter().find(|f| f.filename == name);
    let what = format!("resolve {name}");
    super::amend_ledger(ctx, track, &what, async |tx, table, rows| {
        let not_in_doubt = || MigrateError::Usage {
            message: format!(
                "{name} is not in doubt (`migrate-ledger status` lists in-doubt files); \
                 nothing to resolve"
            ),
        };
        let row = rows
            .iter()
            .find(|r| r.filename == name && r.in_doubt())
            .ok_or_else(not_in_doubt)?;
        let (sum, norm) = file.map_or((&row.checksum, &row.normalized_checksum), |f| {
            (&f.checksum, &f.normalized_checksum)
        });
        let sql = match how {
            Resolution::Applied => format!(
                "UPDATE {table} SET state = 'applied', checksum = $2, normalized_checksum = $3 WHERE filename = $1"
            ),
            Resolution::Failed => format!("DELETE FROM {table} WHERE filename = $1"),
        };
        let mut change = sqlx::query(&sql).bind(name);
        if how == Resolution::Applied {
            change = change.bind(sum).bind(norm);
        }
        change.execute(&mut *tx).await.map_err(db(&what))?;
        let audit = Audit {
            filename: name.to_string(),
            action: how.action(),
            old_checksum: Some(row.checksum.clone()),
            new_checksum: None,
            note: note.to_string(),
        };
        Ok(((), Some(audit)))
    })
    .await?;
    ctx.event("resolved")
        .field("track", track.kind.as_str())
        .field("filename", name)
        .field("as", how.as_str())
        .emit();
    let report = Resolve {
        file: TrackFile::new(track.kind, name),
        resolved_as: how,
    };
    report::print(ctx.format, &ctx.style, &report);
    Ok(exit::OK)
}
