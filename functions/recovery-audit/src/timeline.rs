//! An instance's last year as an SVG chart: a row per resource, every present recovery point
//! a mark coloured by its longest tier (hollow and red-edged when it is not restorable), the
//! continuous backup window as a band, and the promised points that are missing as red
//! ticks under the row. Plain SVG text, no script: the page must open anywhere, offline.

use std::fmt::Write;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::audit::ResourceAudit;
use lifeboat::policy::Tier;

/// How far back the chart reaches.
pub const SPAN: TimeDelta = TimeDelta::days(366);
const WIDTH: f64 = 1000.0;
const LABEL: f64 = 180.0;
const ROW: f64 = 34.0;
const TOP: f64 = 24.0;

/// The chart of `resources` at `at`.
pub fn chart(resources: &[ResourceAudit], at: DateTime<Utc>) -> String {
    let height = TOP + ROW * resources.len() as f64 + 8.0;
    let from = at - SPAN;
    let x = |t: DateTime<Utc>| {
        let share = (t - from).num_seconds() as f64 / SPAN.num_seconds() as f64;
        LABEL + share.clamp(0.0, 1.0) * (WIDTH - LABEL - 10.0)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="recovery points of the last year">"#
    );
    months(&mut svg, from, at, height, &x);
    for (i, r) in resources.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = write!(
            svg,
            r#"<g class="resource" data-resource="{}"><text x="4" y="{}" class="label">{}</text>"#,
            escape(&r.resource.to_string()),
            y + 16.0,
            escape(&r.resource.to_string())
        );
        let _ = write!(
            svg,
            r#"<line x1="{LABEL}" x2="{}" y1="{}" y2="{}" class="axis"/>"#,
            WIDTH - 10.0,
            y + 12.0,
            y + 12.0
        );
        if let Some(w) = r.window.found {
            let _ = write!(
                svg,
                r#"<rect class="window" x="{:.1}" y="{}" width="{:.1}" height="16"><title>continuous backup window {} to {}</title></rect>"#,
                x(w.earliest),
                y + 4.0,
                (x(w.latest) - x(w.earliest)).max(1.0),
                w.earliest.to_rfc3339(),
                w.latest.to_rfc3339()
            );
        }
        for p in &r.points {
            let tier = p.tiers.iter().max().copied().unwrap_or(Tier::Hourly);
            let state = if p.restorable {
                "restorable"
            } else {
                "unrestorable"
            };
            let _ = write!(
                svg,
                r#"<circle class="point {} {state}" data-slot="{}" cx="{:.1}" cy="{}" r="{}"><title>{} {} ({state})</title></circle>"#,
                tier.as_str(),
                p.slot,
                x(p.slot.start()),
                y + 12.0,
                radius(tier),
                p.slot,
                p.tiers.iter().map(|t| t.as_str()).collect::<Vec<_>>().join("+"),
            );
        }
        for t in &r.tiers {
            for slot in &t.missing {
                let _ = write!(
                    svg,
                    r#"<line class="missing {}" data-slot="{slot}" x1="{:.1}" x2="{:.1}" y1="{}" y2="{}"><title>missing {} point {slot}</title></line>"#,
                    t.tier.as_str(),
                    x(slot.start()),
                    x(slot.start()),
                    y + 22.0,
                    y + 30.0,
                    t.tier.as_str()
                );
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn radius(tier: Tier) -> f64 {
    match tier {
        Tier::Hourly => 2.0,
        Tier::Weekly => 4.0,
        Tier::Monthly => 6.0,
    }
}

/// A faint line and label at each month's start.
fn months(
    svg: &mut String,
    from: DateTime<Utc>,
    at: DateTime<Utc>,
    height: f64,
    x: &impl Fn(DateTime<Utc>) -> f64,
) {
    use chrono::Datelike;
    let mut month = from
        .date_naive()
        .with_day(1)
        .expect("day 1 exists")
        .checked_add_months(chrono::Months::new(1));
    while let Some(m) = month.filter(|m| m.and_hms_opt(0, 0, 0).expect("midnight").and_utc() <= at) {
        let t = m.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let _ = write!(
            svg,
            r#"<line class="month" x1="{0:.1}" x2="{0:.1}" y1="14" y2="{1}"/><text class="month" x="{2:.1}" y="11">{3}</text>"#,
            x(t),
            height - 4.0,
            x(t) + 2.0,
            m.format("%b %y")
        );
        month = m.checked_add_months(chrono::Months::new(1));
    }
}

/// Text safe inside HTML and SVG, in content and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
