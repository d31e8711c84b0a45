//! The selective part of a restore's report: per table, what was extracted and why, the plan
//! measured before confirmation, and what the merge inserted and skipped (with the skipped
//! keys, up to a hundred per table).

use std::fmt::Write;

use serde_json::{json, Value};

use super::selective::{SelectiveRun, SkipReason};

pub fn json_section(selective: &SelectiveRun) -> Value {
    json!({
        "manifest": selective.manifest,
        "resources": selective.extracts.iter().map(|e| json!({
            "resource": e.resource.to_string(),
            "keys_not_found": e.keys_not_found,
            "tables": e.tables.iter().map(|t| json!({
                "table": t.table,
                "rows": t.rows,
                "key": t.key,
                "why": t.reasons,
                "sha256": t.sha256,
                "batches": t.batches.len(),
                "plan": t.plan,
                "merged": selective.table_result(&e.resource, &t.table),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

pub fn markdown_section(md: &mut String, selective: &SelectiveRun) {
    let _ = writeln!(md, "\n## Selective restore\n");
    if let Some(m) = &selective.manifest {
        let _ = writeln!(
            md,
            "Extract manifest: `{m}` (batches beside it, gzip, SHA-256 per batch and table).\n"
        );
    }
    for e in &selective.extracts {
        let _ = writeln!(md, "### {}\n", e.resource);
        if e.keys_not_found > 0 {
            let _ = writeln!(
                md,
                "{} selected keys are not at the recovery point.\n",
                e.keys_not_found
            );
        }
        let _ = writeln!(
            md,
            "| table | extracted | why | plan: insert / present / conflicts | inserted | skipped: present / conflict / parent missing |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for t in &e.tables {
            let r = selective.table_result(&e.resource, &t.table);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} / {} / {} | {} | {} / {} / {} |",
                t.table,
                t.rows,
                t.reasons.join("; "),
                t.plan.insert,
                t.plan.present,
                t.plan.conflicts,
                r.inserted,
                r.present,
                r.conflicts,
                r.parent_missing
            );
        }
        for t in &e.tables {
            let r = selective.table_result(&e.resource, &t.table);
            if r.skipped.is_empty() {
                continue;
            }
            let _ = writeln!(md, "\nSkipped in {} (never changed):\n", t.table);
            for s in &r.skipped {
                let why = match s.reason {
                    SkipReason::Present => "production has this key",
                    SkipReason::Conflict => "a unique value is held by another production row",
                    SkipReason::ParentMissing => {
                        "a row it references is in neither production nor the extract"
                    }
                };
                let _ = writeln!(md, "- `{}`: {why}", s.key);
            }
        }
    }
}
