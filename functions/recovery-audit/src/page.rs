//! The day's audit as one self-contained HTML page (inline style and SVG, no script, no
//! font or image from elsewhere): the fleet's findings first, then per customer instance its
//! coverage, its findings, a table of tiers and timelines of its last week and year.

use std::fmt::Write;

use lifeboat::audit::report::Note;
use lifeboat::audit::{AuditReport, Finding, InstanceAudit};
use lifeboat::drill::records::DrillOutcome;

use crate::timeline::{chart, escape, WEEK, YEAR};

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:14px;color:#555}\
.ok{color:#1a7f37}.short{color:#c62828;font-weight:bold}\
ul.findings li{margin:2px 0}.kind{font-family:monospace;background:#f4f4f4;padding:0 4px}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}\
svg .label{font-size:11px}svg line.grid{stroke:#eee}svg text.grid{font-size:9px;fill:#666}svg .axis{stroke:#ccc}\
svg .window{fill:#b3d4fc;opacity:.6}svg .point{stroke:#333;stroke-width:.5}\
svg .hourly{fill:#9e9e9e}svg .weekly{fill:#1565c0}svg .monthly{fill:#6a1b9a}\
svg .unrestorable{fill:#fff;stroke:#c62828;stroke-width:1.5}svg line.missing{stroke:#c62828;stroke-width:1.5}\
svg .point.late.restorable{stroke:#ef6c00;stroke-width:1.5;stroke-dasharray:2 1}svg line.late{stroke:#ef6c00;stroke-width:1.5;stroke-dasharray:2 1}\
ul.notes li{margin:2px 0;color:#8a4b00}svg line.drill{stroke:#1a7f37;stroke-width:2}svg line.drill.failed{stroke:#c62828;stroke-dasharray:4 2}";

/// Where each instance's own page is, from this page (a fanned-out audit's day page links
/// to them instead of drawing every instance's timelines: a fleet's would not fit one page).
pub type InstanceLinks<'a> = &'a dyn Fn(&str) -> String;

/// The page of `report`; with `links`, each instance's timelines are on its own page.
pub fn render(report: &AuditReport, links: Option<InstanceLinks>) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Lifeboat audit {}</title><style>{STYLE}</style></head><body>",
        report.generated_at.format("%Y-%m-%d")
    );
    let _ = write!(
        html,
        "<h1>Lifeboat recovery audit, {}</h1><p id=\"summary\">{} instances; {} below full coverage; {} exposures found; {} findings.</p>",
        report.generated_at.to_rfc3339(),
        report.instances.len(),
        report.instances.iter().filter(|i| i.coverage_percent < 100.0).count(),
        report.exposures.len(),
        report.all_findings().count()
    );
    html.push_str("<section id=\"fleet\"><h2>Fleet findings</h2>");
    findings(&mut html, &report.findings);
    html.push_str("</section>");
    html.push_str("<p class=\"legend\">Marks: monthly (large, purple), weekly (blue), hourly (small, grey); hollow red: not restorable; red ticks below a row: promised points that are missing; dashed orange: a weekly or monthly point taken late (the mark at the point, the tick at the slot it stands for); blue band: the continuous backup window; green line: the last successful restore drill.</p>");
    for instance in &report.instances {
        instance_section(&mut html, instance, report, links);
    }
    html.push_str("</body></html>");
    html
}

fn instance_section(
    html: &mut String,
    instance: &InstanceAudit,
    report: &AuditReport,
    links: Option<InstanceLinks>,
) {
    let class = if instance.coverage_percent < 100.0 {
        "short"
    } else {
        "ok"
    };
    let _ = write!(
        html,
        "<section class=\"instance\" data-instance=\"{0}\"><h2>{0} <span class=\"coverage {class}\">{1}% covered</span></h2><p>{2} of {3} promised points restorable.</p>",
        escape(&instance.instance_id),
        instance.coverage_percent,
        instance.restorable,
        instance.promised
    );
    let _ = write!(
        html,
        "<p class=\"drill\">{}</p>",
        match &instance.latest_drill {
            Some(d) => format!(
                "Last successful restore drill: {} ({}), restore time {}.",
                d.started_at.format("%Y-%m-%d %H:%M UTC"),
                escape(&d.drill_id),
                d.restore_seconds
                    .map_or("unknown".to_string(), |s| format!("{s} s"))
            ),
            None => "No successful restore drill on record.".to_string(),
        }
    );
    let failed: Vec<&DrillOutcome> = instance.drills.iter().filter(|d| !d.succeeded).collect();
    if let Some(last) = failed.last() {
        let _ = write!(
            html,
            "<p class=\"drill failed\">{} failed restore drill(s) in the last year; the latest {} ({}): its report is under drills/{}/.</p>",
            failed.len(),
            last.started_at.format("%Y-%m-%d %H:%M UTC"),
            escape(&last.drill_id),
            escape(&lifeboat::inventory::instance_key(&instance.instance_id))
        );
    }
    findings(html, &instance.findings);
    notes(html, &instance.notes);
    html.push_str("<table class=\"tiers\"><tr><th>resource</th><th>policy</th><th>tier</th><th>promised</th><th>restorable</th><th>window</th></tr>");
    for r in &instance.resources {
        let window = match (r.window.wanted_days, r.window.meets_policy) {
            (None, _) => "not asked".to_string(),
            (Some(d), true) => format!("{d} days: met"),
            (Some(d), false) => format!("{d} days: NOT met"),
        };
        for t in &r.tiers {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.resource.to_string()),
                escape(&r.policy),
                t.tier.as_str(),
                t.promised,
                t.restorable,
                window
            );
        }
    }
    html.push_str("</table>");
    if let Some(link) = links {
        let _ = write!(
            html,
            "<p class=\"timelines\"><a href=\"{0}\">Its timelines and every recovery point: {0}</a></p></section>",
            escape(&link(&instance.instance_id))
        );
        return;
    }
    html.push_str("<h3>The last seven days</h3>");
    html.push_str(&chart(
        &instance.resources,
        &instance.drills,
        report.generated_at,
        WEEK,
    ));
    html.push_str("<h3>The last year</h3>");
    html.push_str(&chart(
        &instance.resources,
        &instance.drills,
        report.generated_at,
        YEAR,
    ));
    html.push_str("</section>");
}

/// What is not wrong but worth knowing (points taken late); nothing when there is none.
fn notes(html: &mut String, notes: &[Note]) {
    if notes.is_empty() {
        return;
    }
    html.push_str("<ul class=\"notes\">");
    for n in notes {
        let _ = write!(
            html,
            "<li class=\"note\"><b>{}</b>: {}</li>",
            escape(&n.subject),
            escape(&n.what)
        );
    }
    html.push_str("</ul>");
}

fn findings(html: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        html.push_str("<p class=\"none\">No findings.</p>");
        return;
    }
    html.push_str("<ul class=\"findings\">");
    for f in findings {
        let kind = serde_json::to_value(f.kind).ok();
        let _ = write!(
            html,
            "<li class=\"finding\"><span class=\"kind\">{}</span> <b>{}</b>: {}</li>",
            escape(kind.as_ref().and_then(|k| k.as_str()).unwrap_or("?")),
            escape(&f.subject),
            escape(&f.what)
        );
    }
    html.push_str("</ul>");
}
