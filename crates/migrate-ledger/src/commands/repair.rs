//! `repair --accept FILE`: an audited acceptance of an applied file whose checksum changed.

use devenv_core::exit;
use sqlx::Connection as _;

use crate::context::{self, Ctx};
use crate::error::{MigrateError, db};
use crate::ledger::{Audit, Track};
use crate::plan;
use crate::report::{self, Accepted, Repair};

pub(super) async fn run(
    ctx: &Ctx,
    track: &Track,
    accept: &str,
    note: &str,
) -> Result<u8, MigrateError> {
    let files = context::load_files(track)?;
    let file = files
        .iter()
        .find(|f| f.filename == accept)
        .ok_or_else(|| MigrateError::Usage {
            message: format!(
                "{accept} is not a file in {} — pass the file name as `status` lists it",
                track.dir.display()
            ),
        })?;
    let report = super::amend_ledger(ctx, track, async |work, table, rows| {
        let row = rows.iter().find(|r| r.filename == accept).ok_or_else(|| MigrateError::Usage {
            message: format!("{accept} is not applied, so there is nothing to accept — `migrate-ledger up` applies it"),
        })?;
        let unchanged = Repair {
            track: track.kind,
            filename: accept.to_string(),
            changed: false,
            accepted: None,
        };
        let Some(change) = plan::compare(file, row) else {
            return Ok((unchanged, false));
        };
        let note = format!(
            "{} change accepted{}{note}",
            change.as_str(),
            if note.is_empty() { "" } else { ": " }
        );
        let failed = || db(format!("record the acceptance of {accept}"));
        let mut tx = work.begin().await.map_err(failed())?;
        sqlx::query(&format!(
            "UPDATE {table} SET checksum = $1, normalized_checksum = $2 WHERE filename = $3"
        ))
        .bind(&file.checksum)
        .bind(&file.normalized_checksum)
        .bind(accept)
        .execute(&mut *tx)
        .await
        .map_err(failed())?;
        Audit {
            ledger: track.table,
            filename: accept,
            action: "accept",
            old_checksum: Some(&row.checksum),
            new_checksum: Some(&file.checksum),
            note: &note,
        }
        .record(&mut tx)
        .await?;
        tx.commit().await.map_err(failed())?;
        let accepted = Accepted {
            change: change.as_str(),
            old_checksum: row.checksum.clone(),
            new_checksum: file.checksum.clone(),
        };
        ctx.event("repair_accepted")
            .field("track", track.kind.as_str())
            .field("filename", accept)
            .field("change", accepted.change)
            .field("old_checksum", accepted.old_checksum.clone())
            .field("new_checksum", accepted.new_checksum.clone())
            .emit();
        Ok((
            Repair {
                changed: true,
                accepted: Some(accepted),
                ..unchanged
            },
            true,
        ))
    })
    .await?;
    report::print(ctx.format, &ctx.style, &report);
    Ok(exit::OK)
}
