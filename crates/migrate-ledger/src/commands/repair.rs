//! `repair --accept FILE`: an audited acceptance of an applied file whose checksum changed.

use devenv_core::exit;

use crate::context::{self, Ctx};
use crate::error::MigrateError;
use crate::ledger::{Audit, Track};
use crate::plan;
use crate::report::{self, Accepted, Repair, TrackFile};

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
    let what = format!("record the acceptance of {accept}");
    let accepted = super::amend_ledger(ctx, track, &what, async |tx, table, rows| {
        let row = rows.iter().find(|r| r.filename == accept).ok_or_else(|| MigrateError::Usage {
            message: format!("{accept} is not applied, so there is nothing to accept — `migrate-ledger up` applies it"),
        })?;
        let Some(change) = plan::compare(file, row) else {
            return Ok((None, None));
        };
        sqlx::query(&format!(
            "UPDATE {table} SET checksum = $1, normalized_checksum = $2 WHERE filename = $3"
        ))
        .bind(&file.checksum)
        .bind(&file.normalized_checksum)
        .bind(accept)
        .execute(&mut *tx)
        .await
        .map_err(crate::error::db(&what))?;
        let separator = if note.is_empty() { "" } else { ": " };
        let audit = Audit {
            filename: accept.to_string(),
            action: "accept",
            old_checksum: Some(row.checksum.clone()),
            new_checksum: Some(file.checksum.clone()),
            note: format!("{} change accepted{separator}{note}", change.as_str()),
        };
        let accepted = Accepted {
            change: change.as_str(),
            old_checksum: row.checksum.clone(),
            new_checksum: file.checksum.clone(),
        };
        Ok((Some(accepted), Some(audit)))
    })
    .await?;
    if let Some(a) = &accepted {
        ctx.event("repair_accepted")
            .field("track", track.kind.as_str())
            .field("filename", accept)
            .field("change", a.change)
            .field("old_checksum", a.old_checksum.clone())
            .field("new_checksum", a.new_checksum.clone())
            .emit();
    }
    let report = Repair {
        file: TrackFile::new(track.kind, accept),
        changed: accepted.is_some(),
        accepted,
    };
    report::print(ctx.format, &ctx.style, &report);
    Ok(exit::OK)
}
