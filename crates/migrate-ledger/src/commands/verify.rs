//! `verify`: files vs the ledger table vs the JSON ledger. Exit 3 when an applied file
//! changed, 1 for other differences.

use devenv_core::exit;

use crate::context::Ctx;
use crate::error::MigrateError;
use crate::ledger::{JsonLedger, Track};
use crate::plan::{Plan, State};
use crate::report::{self, Checksums, Difference, Verify};

pub(super) async fn run(ctx: &Ctx, track: &Track) -> Result<u8, MigrateError> {
    let (files, rows) = ctx.files_and_rows(track).await?;
    let json_ledger = JsonLedger::read(&track.json_path)?;
    let plan = Plan::new(&files, &rows);
    let mut diffs: Vec<Difference> = Vec::new();
    let mut changed = false;
    for e in &plan.entries {
        let table_sum = e.row.map(|r| r.checksum.clone());
        let json_sum = json_ledger
            .as_ref()
            .and_then(|j| j.applied.iter().find(|a| a.filename == e.filename))
            .map(|a| a.checksum.clone());
        let mut problems: Vec<String> = Vec::new();
        match e.state {
            State::Changed(c) => {
                changed = true;
                problems.push(format!("file differs from the table ({})", c.as_str()));
            }
            State::Missing => problems.push("recorded in the table but the file is gone".into()),
            State::InDoubt => {
                problems.push("in doubt: started without finishing (resolve it)".into())
            }
            State::Applied | State::Pending => {}
        }
        if json_ledger.is_some() && e.row.is_some_and(|r| !r.in_doubt()) {
            match &json_sum {
                None => {
                    problems.push("applied in the table but absent from the JSON ledger".into())
                }
                Some(j) if Some(j) != table_sum.as_ref() => {
                    problems.push("the JSON ledger's checksum differs from the table".into())
                }
                _ => {}
            }
        }
        if !problems.is_empty() {
            diffs.push(Difference {
                filename: Some(e.filename.clone()),
                problems,
                checksums: Some(Checksums {
                    file: e.file.map(|f| f.checksum.clone()),
                    table: table_sum,
                    json: json_sum,
                }),
            });
        }
    }
    if let Some(j) = &json_ledger {
        for a in j
            .applied
            .iter()
            .filter(|a| !rows.iter().any(|r| r.filename == a.filename))
        {
            diffs.push(Difference {
                filename: Some(a.filename.clone()),
                problems: vec!["in the JSON ledger but not in the table".into()],
                checksums: Some(Checksums {
                    file: None,
                    table: None,
                    json: Some(a.checksum.clone()),
                }),
            });
        }
    } else if !rows.is_empty() {
        diffs.push(Difference {
            filename: None,
            problems: vec![format!(
                "the JSON ledger {} is missing (`migrate-ledger up` rewrites it)",
                track.json_path.display()
            )],
            checksums: None,
        });
    }
    let code = if changed {
        exit::INTEGRITY
    } else if diffs.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    let report = Verify {
        track: track.kind,
        ok: diffs.is_empty(),
        pending: plan.count(|s| s == State::Pending),
        differences: diffs,
        applied: rows.len(),
    };
    report::print(ctx.format, &ctx.style, &report);
    Ok(code)
}
