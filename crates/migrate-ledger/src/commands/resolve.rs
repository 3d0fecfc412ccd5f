//! `resolve --applied|--failed FILE`: settles an in-doubt no-transaction file, audited.

use devenv_core::exit;
use sqlx::Connection as _;

use crate::context::{self, Ctx};
use crate::error::{MigrateError, db};
use crate::ledger::{Audit, Track};
use crate::report::{self, Resolution, Resolve};

pub(super) async fn run(
    ctx: &Ctx,
    track: &Track,
    name: &str,
    how: Resolution,
    note: &str,
) -> Result<u8, MigrateError> {
    let files = context::load_files(track)?;
    let file = files.iter().find(|f| f.filename == name);
    super::amend_ledger(ctx, track, async |work, table, rows| {
        let row = rows.iter().find(|r| r.filename == name && r.in_doubt()).ok_or_else(|| MigrateError::Usage {
            message: format!("{name} is not in doubt (`migrate-ledger status` lists in-doubt files); nothing to resolve"),
        })?;
        let failed = || db(format!("resolve {name}"));
        let mut tx = work.begin().await.map_err(failed())?;
        match how {
            Resolution::Applied => {
                let (sum, norm) = file.map_or((&row.checksum, &row.normalized_checksum), |f| {
                    (&f.checksum, &f.normalized_checksum)
                });
                sqlx::query(&format!(
                    "UPDATE {table} SET state = 'applied', checksum = $1, normalized_checksum = $2 WHERE filename = $3"
                ))
                .bind(sum)
                .bind(norm)
                .bind(name)
                .execute(&mut *tx)
                .await
            }
            Resolution::Failed => {
                sqlx::query(&format!("DELETE FROM {table} WHERE filename = $1"))
                    .bind(name)
                    .execute(&mut *tx)
                    .await
            }
        }
        .map_err(failed())?;
        Audit {
            ledger: track.table,
            filename: name,
            action: how.action(),
            old_checksum: Some(&row.checksum),
            new_checksum: None,
            note,
        }
        .record(&mut tx)
        .await?;
        tx.commit().await.map_err(failed())?;
        Ok(((), true))
    })
    .await?;
    ctx.event("resolved")
        .field("track", track.kind.as_str())
        .field("filename", name)
        .field("as", how.as_str())
        .emit();
    let report = Resolve {
        track: track.kind,
        filename: name.to_string(),
        resolved_as: how,
    };
    report::print(ctx.format, &ctx.style, &report);
    Ok(exit::OK)
}
