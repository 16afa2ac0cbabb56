//! `vigil import`: every file read and imported as its own batch, each reported.

use indicatif::ProgressBar;

use crate::prelude::*;

/// Reads a file (`-` is stdin) and parses it: one JSON document, else JSON lines.
pub(crate) fn read_alerts(file: &str, pb: &ProgressBar) -> Result<Vec<Alert>, String> {
    let text = if file == "-" {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?
    };
    spin(pb, format!("reading {} bytes", text.len()));
    defender::read_alerts(&text).map_err(|e| e.to_string())
}

/// One file's import: its own all-or-nothing batch.
pub(crate) fn import_file(
    ctx: &Ctx,
    file: &str,
    now: DateTime<Utc>,
) -> Result<IngestReport, String> {
    let pb = progress_bar(ctx, file);
    let result = read_alerts(file, &pb).and_then(|alerts| {
        // One ingest per file keeps the file atomic; the spinner shows it is working.
        spin(&pb, format!("storing {} alerts", alerts.len()));
        ctx.store
            .ingest(&ctx.tenant, &alerts, now)
            .map_err(|e| e.to_string())
    });
    pb.finish_and_clear();
    result
}

pub(crate) fn import(ctx: &mut Ctx, files: &[String]) -> Res<()> {
    let now = Utc::now();
    let (mut new, mut updated, mut suppressed, mut failed) = (0, 0, 0, 0);
    let mut failed_names: Vec<&str> = Vec::new();
    let mut per_file = Vec::new();
    // Every file is read and imported, each as its own batch; one report entry per file.
    for file in files {
        let name = if file == "-" {
            "<stdin>"
        } else {
            file.as_str()
        };
        match import_file(ctx, file, now) {
            Ok(report) => {
                new += report.new;
                updated += report.updated;
                suppressed += report.suppressed;
                per_file.push(json!({
                    "file": name, "new": report.new, "updated": report.updated,
                    "suppressed": report.suppressed,
                }));
                if !ctx.json {
                    out!(
                        ctx,
                        "{name}: {} new, {} updated, {} suppressed",
                        report.new,
                        report.updated,
                        report.suppressed
                    );
                }
            }
            Err(error) => {
                failed += 1;
                failed_names.push(name);
                per_file.push(json!({ "file": name, "error": error }));
                if !ctx.json {
                    out!(ctx, "{name}: error: {error} (nothing was imported from it)");
                }
            }
        }
    }
    if ctx.json {
        print_json(
            ctx,
            &json!({"new": new, "updated": updated, "suppressed": suppressed,
                    "failed": failed, "files": per_file}),
        )?;
    } else if files.len() > 1 {
        out!(
            ctx,
            "total: {new} new, {updated} updated, {suppressed} suppressed, {failed} file(s) failed"
        );
    }
    if failed > 0 {
        ctx.out.flush()?;
        return Err(Failures(format!(
            "{failed} of {} file(s) could not be imported: {} (each failed file imported nothing; \
             the report above says why)",
            files.len(),
            failed_names.join(", ")
        ))
        .into());
    }
    Ok(())
}
