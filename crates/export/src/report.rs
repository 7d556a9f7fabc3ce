//! The after-action report: one HTML file with its charts inline as SVG
//! (no script, no network), laid out to print on A4.

use crate::{hours, Review};
use relevo_store::{format_ms, Stat};
use std::collections::BTreeMap;
use std::fmt::Write;

fn esc(text: &str) -> String {
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

const COLOURS: [&str; 4] = ["#1f5f99", "#d9822b", "#3c8d5a", "#8a4f9e"];

/// Horizontal bars, one group per category, one bar per series.
fn bars(
    title: &str,
    unit: &str,
    categories: &[String],
    series: &[(&str, Vec<Option<f64>>)],
) -> String {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let bar = 14.0;
    let gap = 10.0;
    // About 6.5 px per character at 11 px.
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * 6.5 + 12.0).max(80.0);
    let plot_w = 420.0;
    let group_h = bar * series.len() as f64 + gap;
    let legend_h = 22.0;
    let height = legend_h + group_h * categories.len().max(1) as f64 + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{height}" viewBox="0 0 {} {height}" font-family="sans-serif" font-size="11">"#,
        esc(title),
        esc(title),
        label_w + plot_w + 80.0,
        label_w + plot_w + 80.0
    );
    for (i, (name, _)) in series.iter().enumerate() {
        let x = label_w + i as f64 * 150.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="4" width="12" height="12" fill="{}"/><text x="{}" y="14">{}</text>"#,
            COLOURS[i % COLOURS.len()],
            x + 16.0,
            esc(name)
        );
    }
    for (c, category) in categories.iter().enumerate() {
        let y0 = legend_h + c as f64 * group_h;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y0 + group_h / 2.0,
            esc(category)
        );
        for (s, (_, values)) in series.iter().enumerate() {
            let y = y0 + s as f64 * bar;
            match values.get(c).copied().flatten() {
                Some(v) => {
                    let w = (v / max * plot_w).max(1.0);
                    let _ = write!(
                        svg,
                        r#"<rect class="bar" x="{label_w}" y="{y}" width="{w:.1}" height="{}" fill="{}"/><text x="{:.1}" y="{}">{} {}</text>"#,
                        bar - 2.0,
                        COLOURS[s % COLOURS.len()],
                        label_w + w + 4.0,
                        y + bar - 4.0,
                        if v.fract() == 0.0 {
                            format!("{v:.0}")
                        } else {
                            format!("{v:.1}")
                        },
                        esc(unit)
                    );
                }
                None => {
                    let _ = write!(
                        svg,
                        r##"<text x="{}" y="{}" fill="#777">none yet</text>"##,
                        label_w + 2.0,
                        y + bar - 4.0
                    );
                }
            }
        }
    }
    svg.push_str("</svg></figure>");
    svg
}

fn stat_cells(s: &Stat) -> String {
    format!(
        "<td>{}</td><td>{}</td><td>{}</td>",
        s.count,
        hours(s.median_ms),
        hours(s.p90_ms)
    )
}

fn h(ms: Option<f64>) -> Option<f64> {
    ms.map(|m| m / 3_600_000.0)
}

pub(crate) fn html(r: &Review) -> String {
    let mut out = String::new();
    let name = esc(&r.crisis.name);
    let first = r.events.first().map(|e| e.made_at_ms);
    let last = r.events.last().map(|e| e.made_at_ms);
    let people: u64 = r.requests.iter().map(|q| u64::from(q.people.total)).sum();
    let fulfilled = r
        .requests
        .iter()
        .filter(|q| {
            matches!(
                q.status,
                relevo_core::domain::RequestStatus::Fulfilled
                    | relevo_core::domain::RequestStatus::Closed
            )
        })
        .count();
    let open_requests = r.requests.iter().filter(|q| q.status.is_open()).count();
    let conflicted = r.requests.iter().filter(|q| q.conflicts > 0).count()
        + r.tasks.iter().filter(|t| t.conflicts > 0).count();
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>After-action report: {name}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 60em; color: #1d2733; }}
h1 {{ font-size: 1.6em; margin-bottom: 0.2em; }} h2 {{ border-bottom: 2px solid #1f5f99; padding-bottom: 0.2em; margin-top: 1.6em; }}
.facts {{ display: flex; flex-wrap: wrap; gap: 1em; }} .fact {{ border: 1px solid #ccd; border-radius: 6px; padding: 0.5em 1em; }}
.fact b {{ display: block; font-size: 1.5em; }}
table {{ border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }} th, td {{ border: 1px solid #ccd; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #eef2f7; }} td.n {{ text-align: right; }}
figure.chart {{ margin: 1em 0; }} figcaption {{ font-weight: bold; margin-bottom: 0.3em; }}
.significant {{ background: #fff4d6; }}
@media print {{ body {{ margin: 0; max-width: none; }} h2 {{ page-break-after: avoid; }} figure, table {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>After-action report: {name}</h1>
<p>Countries: {countries}. First recorded {first}; last recorded {last}. Report made {made} from the signed operation log ({ops} operations in this crisis).</p>
<p class="audience"><b>{audience}</b></p>
<div class="facts">
<div class="fact"><b>{requests}</b>requests</div>
<div class="fact"><b>{people}</b>people in them</div>
<div class="fact"><b>{tasks}</b>tasks</div>
<div class="fact"><b>{fulfilled}</b>requests fulfilled</div>
<div class="fact"><b>{open_requests}</b>requests still open</div>
<div class="fact"><b>{overdue}</b>tasks overdue</div>
</div>
"#,
        countries = r
            .crisis
            .countries
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(", "),
        first = first.map(format_ms).unwrap_or_else(|| "never".into()),
        last = last.map(format_ms).unwrap_or_else(|| "never".into()),
        made = format_ms(r.made_at_ms),
        audience = if r.shareable {
            "Shareable version: free text and staff names are left out."
        } else {
            "Full record, for the response team only: it holds free text and staff names. Do not share it outside the response."
        },
        ops = r.events.len(),
        requests = r.requests.len(),
        tasks = r.tasks.len(),
        overdue = r.measures.overdue.len(),
    );

    // Response times.
    out.push_str("<h2>How fast the response was</h2>\n<p>Hours from logging a request to the first task that answers it, to the first delivery, and to its being fulfilled (by the clock of the device that made each step).</p>\n");
    let by_country: Vec<_> = r
        .measures
        .response
        .iter()
        .filter(|g| g.by == "country" || g.by == "all")
        .collect();
    let categories: Vec<String> = by_country
        .iter()
        .map(|g| {
            if g.by == "all" {
                "All countries".into()
            } else {
                g.group.clone()
            }
        })
        .collect();
    out.push_str(&bars(
        "Median hours, by country",
        "h",
        &categories,
        &[
            (
                "to first task",
                by_country
                    .iter()
                    .map(|g| h(g.to_first_task.median_ms))
                    .collect(),
            ),
            (
                "to first delivery",
                by_country
                    .iter()
                    .map(|g| h(g.to_first_fulfilment.median_ms))
                    .collect(),
            ),
            (
                "to fulfilled",
                by_country
                    .iter()
                    .map(|g| h(g.to_fulfilled.median_ms))
                    .collect(),
            ),
        ],
    ));
    out.push_str("<table><tr><th>By</th><th>Group</th><th>Requests</th><th>With a task</th><th>Median h</th><th>p90 h</th><th>With a delivery</th><th>Median h</th><th>p90 h</th><th>Fulfilled</th><th>Median h</th><th>p90 h</th></tr>\n");
    for g in &r.measures.response {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td>{}{}{}</tr>",
            esc(&g.by),
            esc(&g.group),
            g.requests,
            stat_cells(&g.to_first_task),
            stat_cells(&g.to_first_fulfilment),
            stat_cells(&g.to_fulfilled)
        );
    }
    out.push_str("</table>\n");

    // Needs by sector.
    let mut sectors: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for q in &r.requests {
        let e = sectors.entry(q.sector.name_en()).or_default();
        e.0 += 1;
        e.1 += u64::from(q.people.total);
    }
    out.push_str("<h2>What was needed</h2>\n");
    let names: Vec<String> = sectors.keys().map(|s| s.to_string()).collect();
    out.push_str(&bars(
        "Requests by sector",
        "",
        &names,
        &[(
            "requests",
            sectors.values().map(|v| Some(v.0 as f64)).collect(),
        )],
    ));
    out.push_str("<table><tr><th>Sector</th><th>Requests</th><th>People</th></tr>\n");
    for (s, (n, p)) in &sectors {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{p}</td></tr>",
            esc(s)
        );
    }
    out.push_str("</table>\n");

    // 5W.
    out.push_str("<h2>Who did what where, when and for whom</h2>\n<table><tr><th>Organisation</th><th>Sector</th><th>Country</th><th>Admin area</th><th>From</th><th>To</th><th>Tasks</th><th>Requests</th><th>People</th><th>Female</th><th>Male</th><th>Children</th><th>Specific needs</th></tr>\n");
    for w in &r.www {
        let p = &w.people;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(w.org_name.as_deref().unwrap_or(&w.org)),
            esc(w.sector.name_en()),
            w.country.map(|c| c.code()).unwrap_or("regional"),
            esc(w.adm1.as_deref().unwrap_or("")),
            w.start_ms.map(format_ms).unwrap_or_default(),
            w.end_ms.map(format_ms).unwrap_or_else(|| "ongoing".into()),
            w.tasks,
            w.requests,
            p.total,
            p.female,
            p.male,
            p.children,
            p.vulnerable
        );
    }
    out.push_str("</table>\n");

    // The movement and its early warnings.
    if !r.flows.is_empty() || !r.alerts.is_empty() {
        let mut points: BTreeMap<(String, &str), (u64, u64)> = BTreeMap::new();
        for f in &r.flows {
            let e = points
                .entry((f.point_name.clone(), f.count.country.code()))
                .or_default();
            e.0 += 1;
            e.1 += u64::from(f.count.people.total);
        }
        let _ = write!(
            out,
            "<h2>The movement and early warning</h2>\n<p>{} flow counts at {} points, {} people counted in all.</p>\n",
            r.flows.len(),
            points.len(),
            points.values().map(|v| v.1).sum::<u64>()
        );
        let names: Vec<String> = points.keys().map(|(n, c)| format!("{n} ({c})")).collect();
        out.push_str(&bars(
            "People counted per point",
            "",
            &names,
            &[(
                "people",
                points.values().map(|v| Some(v.1 as f64)).collect(),
            )],
        ));
        let a = &r.measures.alerts;
        let _ = writeln!(
            out,
            "<p>{} early-warning alerts; {} acknowledged ({} acknowledgements by country or region), {} turned into tasks. Hours to the first acknowledgement: median {}, 90th percentile {}. Hours to the first task: median {}, 90th percentile {}.</p>",
            a.raised,
            a.acknowledged,
            a.acknowledgements,
            a.with_tasks,
            hours(a.to_first_ack.median_ms),
            hours(a.to_first_ack.p90_ms),
            hours(a.to_first_task.median_ms),
            hours(a.to_first_task.p90_ms)
        );
        if !r.alerts.is_empty() {
            out.push_str("<table><tr><th>Alert</th><th>Where</th><th>People in 24 h</th><th>Raised</th><th>Acknowledged for</th><th>Tasks</th><th>First expected downstream</th></tr>\n");
            for a in &r.alerts {
                let acks = a
                    .acks
                    .iter()
                    .map(|k| {
                        format!(
                            "{} ({})",
                            k.country.map(|c| c.code()).unwrap_or("region"),
                            format_ms(k.at_ms)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let next = a
                    .arrivals
                    .iter()
                    .find(|x| x.arrival.country != a.country)
                    .map(|x| {
                        format!(
                            "{} ({}) from {}",
                            x.name,
                            x.arrival.country.code(),
                            format_ms(x.arrival.earliest_ms.max(0) as u64)
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{} ({})</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&a.reference),
                    esc(&a.point_name),
                    a.country.code(),
                    a.surge.people,
                    format_ms(a.raised_at_ms),
                    esc(if acks.is_empty() { "not yet" } else { &acks }),
                    a.tasks
                        .iter()
                        .map(|t| esc(&t.reference))
                        .collect::<Vec<_>>()
                        .join(", "),
                    esc(&next)
                );
            }
            out.push_str("</table>\n");
        }
    }

    // Unresolved.
    let _ = write!(
        out,
        "<h2>Unresolved</h2>\n<p>{} open requests, {} without any task; {} overdue tasks; {} records with competing values not yet resolved.</p>\n",
        open_requests,
        r.measures.without_task.len(),
        r.measures.overdue.len(),
        conflicted
    );
    if !r.measures.without_task.is_empty() {
        out.push_str("<table><tr><th>Request without a task</th><th>Country</th><th>Sector</th><th>Priority</th><th>Logged</th></tr>\n");
        for q in r.measures.without_task.iter().take(200) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&q.reference),
                q.country.map(|c| c.code()).unwrap_or(""),
                q.sector.slug(),
                q.priority.slug(),
                format_ms(q.at_ms)
            );
        }
        out.push_str("</table>\n");
    }
    if !r.measures.overdue.is_empty() {
        out.push_str("<table><tr><th>Overdue task</th><th>Country</th><th>Sector</th><th>Priority</th><th>Due</th></tr>\n");
        for t in r.measures.overdue.iter().take(200) {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.reference),
                t.country.map(|c| c.code()).unwrap_or("regional"),
                t.sector.slug(),
                t.priority.slug(),
                format_ms(t.at_ms)
            );
        }
        out.push_str("</table>\n");
    }

    // Handovers and sync lag.
    let hv = &r.measures.handovers;
    let _ = write!(
        out,
        "<h2>Continuity</h2>\n<p>{} of {} tasks changed hands ({} handovers; at most {} for one task).</p>\n",
        hv.tasks_handed_over, hv.tasks, hv.handovers, hv.max_per_task
    );
    let devices: Vec<String> = r
        .measures
        .sync_lag
        .iter()
        .map(|d| match &d.person {
            Some(p) => format!("{} ({})", d.device_tag, p),
            None => d.device_tag.clone(),
        })
        .collect();
    out.push_str(&bars(
        "Sync lag per device: median hours from making an op to its being received",
        "h",
        &devices,
        &[(
            "median",
            r.measures
                .sync_lag
                .iter()
                .map(|d| h(d.lag.median_ms))
                .collect(),
        )],
    ));
    out.push_str("<table><tr><th>Device</th><th>Ops</th><th>Median h</th><th>p90 h</th><th>Longest h</th></tr>\n");
    for (d, label) in r.measures.sync_lag.iter().zip(&devices) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(label),
            d.lag.count,
            hours(d.lag.median_ms),
            hours(d.lag.p90_ms),
            hours(d.max_ms)
        );
    }
    out.push_str("</table>\n");

    // Significant notes.
    let notes: Vec<_> = r.events.iter().filter(|e| e.significant).collect();
    if !notes.is_empty() {
        out.push_str("<h2>Significant notes</h2>\n<table><tr><th>When</th><th>Who</th><th>Record</th><th>Note</th></tr>\n");
        for e in notes {
            let _ = writeln!(
                out,
                "<tr class=\"significant\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                format_ms(e.made_at_ms),
                esc(e.author_name.as_deref().unwrap_or(&e.device_tag)),
                esc(e.record.as_deref().unwrap_or("")),
                esc(e.text.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
