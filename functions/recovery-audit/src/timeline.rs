//! An instance's last year (or week) as an SVG chart: a row per resource, every present recovery point
//! a mark coloured by its longest tier (hollow and red-edged when it is not restorable,
//! orange-edged and dashed when it serves a weekly or monthly slot late), the continuous
//! backup window as a band, the promised points that are missing as red ticks under the row,
//! and those taken late as dashed orange ticks at their own slot. Plain SVG text, no script:
//! the page must open anywhere, offline.

use std::fmt::Write;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::audit::ResourceAudit;
use lifeboat::drill::records::DrillOutcome;
use lifeboat::policy::Tier;

/// The year the policy's longest tier keeps, and the week an emergency usually needs.
pub const YEAR: TimeDelta = TimeDelta::days(366);
pub const WEEK: TimeDelta = TimeDelta::days(7);
const WIDTH: f64 = 1000.0;
const LABEL: f64 = 180.0;
const ROW: f64 = 34.0;
const TOP: f64 = 24.0;

/// The chart of `resources` over the `span` up to `at`, with each restore drill as a line
/// across every row, green when it succeeded and red when it failed.
pub fn chart(
    resources: &[ResourceAudit],
    drills: &[DrillOutcome],
    at: DateTime<Utc>,
    span: TimeDelta,
) -> String {
    let height = TOP + ROW * resources.len() as f64 + 8.0;
    let from = at - span;
    let x = |t: DateTime<Utc>| {
        let share = (t - from).num_seconds() as f64 / span.num_seconds() as f64;
        LABEL + share.clamp(0.0, 1.0) * (WIDTH - LABEL - 10.0)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" data-days="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="recovery points of the last {} days">"#,
        span.num_days(),
        span.num_days()
    );
    if span > TimeDelta::days(31) {
        gridlines(&mut svg, months_between(from, at), "%b %y", height, &x);
    } else {
        gridlines(&mut svg, days_between(from, at), "%a %d", height, &x);
    }
    for d in drills.iter().filter(|d| d.started_at >= from) {
        let outcome = if d.succeeded { "succeeded" } else { "failed" };
        let _ = write!(
            svg,
            r#"<line class="drill {outcome}" x1="{0:.1}" x2="{0:.1}" y1="14" y2="{1}"><title>restore drill {2} {outcome} ({3})</title></line>"#,
            x(d.started_at),
            height - 4.0,
            d.started_at.to_rfc3339(),
            escape(&d.drill_id)
        );
    }
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
        for p in r.points.iter().filter(|p| p.slot.start() >= from) {
            let tier = p.tiers.iter().max().copied().unwrap_or(Tier::Hourly);
            let state = if p.restorable {
                "restorable"
            } else {
                "unrestorable"
            };
            let (late_class, late_title) = if p.late.is_empty() {
                ("", String::new())
            } else {
                let stands_for: Vec<String> = p.late.iter().map(|(t, s)| format!("{t} of {s}")).collect();
                (
                    " late",
                    format!(", taken late for the {}", stands_for.join(" and ")),
                )
            };
            let _ = write!(
                svg,
                r#"<circle class="point {}{late_class} {state}" data-slot="{}" cx="{:.1}" cy="{}" r="{}"><title>{} {} ({state}){late_title}</title></circle>"#,
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
            for slot in t.missing.iter().filter(|s| s.start() >= from) {
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
            for late in t.late.iter().filter(|l| l.slot.start() >= from) {
                let _ = write!(
                    svg,
                    r#"<line class="late {}" data-slot="{}" data-taken="{}" x1="{:.1}" x2="{:.1}" y1="{}" y2="{}"><title>{} point of {} taken late, at {}</title></line>"#,
                    t.tier.as_str(),
                    late.slot,
                    late.taken,
                    x(late.slot.start()),
                    x(late.slot.start()),
                    y + 22.0,
                    y + 30.0,
                    t.tier.as_str(),
                    late.slot,
                    late.taken
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

/// A faint line and a label at each of `marks`.
fn gridlines(
    svg: &mut String,
    marks: Vec<DateTime<Utc>>,
    format: &str,
    height: f64,
    x: &impl Fn(DateTime<Utc>) -> f64,
) {
    for t in marks {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{0:.1}" x2="{0:.1}" y1="14" y2="{1}"/><text class="grid" x="{2:.1}" y="11">{3}</text>"#,
            x(t),
            height - 4.0,
            x(t) + 2.0,
            t.format(format)
        );
    }
}

/// The first instants of the months after `from`, up to `to`.
fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    use chrono::Datelike;
    let first = from.date_naive().with_day(1).expect("day 1 exists");
    std::iter::successors(Some(first), |m| m.checked_add_months(chrono::Months::new(1)))
        .skip(1)
        .map(|m| m.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .take_while(|t| *t <= to)
        .collect()
}

/// The midnights after `from`, up to `to`.
fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    std::iter::successors(Some(from.date_naive()), |d| d.succ_opt())
        .skip(1)
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .take_while(|t| *t <= to)
        .collect()
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

#[cfg(test)]
mod tests {
    use lifeboat::audit::coverage::LatePoint;
    use lifeboat::audit::{PointMark, TierCoverage, WindowCheck};
    use lifeboat::catalog::ResourceKey;
    use lifeboat::schedule::Slot;

    use super::*;

    fn slot(t: &str) -> Slot {
        Slot::containing(t.parse().unwrap())
    }

    fn resource(name: &str) -> ResourceAudit {
        ResourceAudit {
            resource: ResourceKey::rds(name),
            instance_id: "acme".into(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            since: Some(slot("2026-01-31T23:00:00Z")),
            tiers: vec![TierCoverage {
                tier: Tier::Weekly,
                promised: 2,
                restorable: 1,
                missing: vec![slot("2026-11-28T23:00:00Z")],
                late: vec![],
            }],
            window: WindowCheck {
                wanted_days: Some(3),
                found: None,
                meets_policy: false,
            },
            points: vec![
                PointMark {
                    slot: slot("2026-01-31T23:00:00Z"),
                    tiers: vec![Tier::Monthly],
                    restorable: true,
                    late: Default::default(),
                },
                PointMark {
                    slot: slot("2026-11-21T23:00:00Z"),
                    tiers: vec![Tier::Hourly, Tier::Weekly],
                    restorable: true,
                    late: Default::default(),
                },
                PointMark {
                    slot: slot("2026-12-02T10:00:00Z"),
                    tiers: vec![Tier::Hourly],
                    restorable: false,
                    late: Default::default(),
                },
            ],
            findings: vec![],
        }
    }

    #[test]
    fn each_point_is_a_mark_of_its_longest_tier_and_each_missing_point_a_tick() {
        let at = "2026-12-03T06:30:00Z".parse().unwrap();
        let drill = |t: &str, succeeded| DrillOutcome {
            drill_id: "drill-acme".into(),
            started_at: t.parse().unwrap(),
            succeeded,
        };
        let drills = [
            drill("2025-11-01T06:00:00Z", true),
            drill("2026-11-23T06:00:00Z", false),
            drill("2026-11-30T06:00:00Z", true),
        ];
        let svg = chart(&[resource("acme-db"), resource("acme<db>")], &drills, at, YEAR);
        assert_eq!(
            svg.matches(r#"<line class="drill succeeded""#).count(),
            1,
            "the older than a year left out"
        );
        assert_eq!(svg.matches(r#"<line class="drill failed""#).count(), 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"<g class="resource""#).count(), 2);
        assert_eq!(svg.matches(r#"class="point monthly restorable""#).count(), 2);
        assert_eq!(svg.matches(r#"class="point weekly restorable""#).count(), 2);
        assert_eq!(svg.matches(r#"class="point hourly unrestorable""#).count(), 2);
        assert_eq!(
            svg.matches(r#"class="missing weekly" data-slot="2026-11-28T23:00:00Z""#)
                .count(),
            2
        );
        assert_eq!(
            svg.matches(r#"<text class="grid""#).count(),
            12,
            "a label per month"
        );
        assert!(
            svg.contains("acme&lt;db&gt;") && !svg.contains("acme<db>"),
            "names are escaped"
        );
    }

    #[test]
    fn a_week_s_chart_leaves_out_what_is_older_and_labels_days() {
        let at = "2026-12-03T06:30:00Z".parse().unwrap();
        let svg = chart(&[resource("acme-db")], &[], at, WEEK);
        assert!(!svg.contains(r#"class="drill""#));
        assert_eq!(svg.matches("<circle").count(), 1, "only the point of 2 December");
        assert_eq!(svg.matches(r#"class="missing"#).count(), 1);
        assert_eq!(
            svg.matches(r#"<text class="grid""#).count(),
            7,
            "a label per midnight"
        );
    }

    #[test]
    fn a_point_taken_late_is_a_dashed_mark_and_its_slot_a_dashed_tick_not_a_missing_one() {
        let at = "2026-12-03T06:30:00Z".parse().unwrap();
        let mut r = resource("acme-db");
        let missed = slot("2026-11-28T23:00:00Z");
        let taken = slot("2026-11-29T00:00:00Z");
        r.tiers[0].missing.clear();
        r.tiers[0].late.push(LatePoint { slot: missed, taken });
        r.points.push(PointMark {
            slot: taken,
            tiers: vec![Tier::Hourly, Tier::Weekly],
            restorable: true,
            late: [(Tier::Weekly, missed)].into(),
        });
        let svg = chart(&[r], &[], at, WEEK);
        assert_eq!(svg.matches(r#"class="missing"#).count(), 0, "{svg}");
        assert!(
            svg.contains(
                r#"<line class="late weekly" data-slot="2026-11-28T23:00:00Z" data-taken="2026-11-29T00:00:00Z""#
            ),
            "{svg}"
        );
        assert!(
            svg.contains(r#"<circle class="point weekly late restorable" data-slot="2026-11-29T00:00:00Z""#),
            "{svg}"
        );
        assert!(
            svg.contains("taken late for the weekly of 2026-11-28T23:00:00Z"),
            "{svg}"
        );
        assert_eq!(
            svg.matches(r#"class="point weekly restorable""#).count(),
            0,
            "the week's on-time weekly is older than the chart"
        );
    }
}
