//! `vigil import`: every file read and imported as its own batch, each reported.

use std::io::BufRead;

use indicatif::ProgressBar;

use crate::formats::{self, ImportFormat};

use crate::prelude::*;

/// Reads a file (`-` is stdin) and parses it: one JSON document, else JSON lines.
pub(crate) fn read_alerts(
    file: &str,
    pb: &ProgressBar,
    format: ImportFormat,
) -> Result<Vec<Alert>, String> {
    let name = if file == "-" { "stdin" } else { file };
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        if let Ok(meta) = f.metadata() {
            pb.set_length(meta.len());
        }
        Box::new(io::BufReader::new(f))
    };
    let read_err = |e: io::Error| format!("cannot read {name}: {e}");
    let mut lines = reader.lines();
    // The first non-blank line tells JSON lines (a complete value on its own) from a document.
    let mut head = Vec::new();
    let mut first = None;
    for line in lines.by_ref() {
        let line = line.map_err(read_err)?;
        pb.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            head.push(line);
        } else {
            first = Some(line);
            break;
        }
    }
    let Some(first) = first else {
        return formats::parse_import(&head.join("\n"), format, defender_text);
    };
    let bare = first.trim_start_matches('\u{feff}');
    let json_line = serde_json::from_str::<serde_json::Value>(bare).is_ok();
    let defender_lines = json_line
        && match format {
            ImportFormat::Defender => true,
            ImportFormat::Auto => {
                matches!(
                    vigil_core::formats::detect(bare),
                    Ok(vigil_core::formats::Format::Defender)
                )
            }
            _ => false,
        };
    if defender_lines {
        // Defender JSON lines: parsed as they are read, never held whole.
        let mut stream = defender::AlertStream::new();
        for line in head.iter().map(String::as_str).chain([first.as_str()]) {
            stream.push_line(line).map_err(|e| e.to_string())?;
        }
        for line in lines {
            let line = line.map_err(read_err)?;
            pb.inc(line.len() as u64 + 1);
            stream.push_line(&line).map_err(|e| e.to_string())?;
        }
        return stream.finish().map_err(|e| e.to_string());
    }
    // A document, or another format: read whole (detection and these formats need it).
    let mut text = head.join("\n");
    if !head.is_empty() {
        text.push('\n');
    }
    text.push_str(&first);
    text.push('\n');
    for line in lines {
        let line = line.map_err(read_err)?;
        pb.inc(line.len() as u64 + 1);
        text.push_str(&line);
        text.push('\n');
    }
    formats::parse_import(&text, format, defender_text)
}

fn defender_text(text: &str) -> Result<Vec<Alert>, String> {
    defender::read_alerts(text).map_err(|e| e.to_string())
}

/// One file's import: its own all-or-nothing batch.
pub(crate) fn import_file(
    ctx: &Ctx,
    file: &str,
    format: ImportFormat,
    now: DateTime<Utc>,
) -> Result<IngestReport, String> {
    let pb = progress_bar(ctx, file);
    let result = read_alerts(file, &pb, format).and_then(|alerts| {
        // One ingest per file keeps the file atomic; the spinner shows it is working.
        spin(&pb, format!("storing {} alerts", alerts.len()));
        ctx.store
            .ingest(&ctx.tenant, &alerts, now)
            .map_err(|e| e.to_string())
    });
    pb.finish_and_clear();
    result
}

pub(crate) fn import(ctx: &mut Ctx, files: &[String], format: ImportFormat) -> Res<()> {
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
        match import_file(ctx, file, format, now) {
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
