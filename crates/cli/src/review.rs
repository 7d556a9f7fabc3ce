//! `relevo timeline`, `asof`, `measures` and `export`: reviewing a crisis.

use crate::print_json;
use clap::{Args, ValueEnum};
use relevo_core::domain::{Country, Sector};
use relevo_store::{format_ms, Basis, Error, Stat, Store, TaskFilter, TimelineFilter};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TimelineArgs {
    #[arg(long)]
    json: bool,
    /// Only events on records of this country (ISO code)
    #[arg(long)]
    country: Option<String>,
    /// Only this sector (shelter, wash, health…)
    #[arg(long)]
    sector: Option<String>,
    /// Only events made by this person (id)
    #[arg(long)]
    person: Option<String>,
    /// Only events made by people of this organisation (id, such as iom)
    #[arg(long)]
    org: Option<String>,
    /// Only events on this record (REQ-… or TSK-…)
    #[arg(long)]
    record: Option<String>,
    /// Made at or after this moment (2026-11-20, 2026-11-20T14:30 UTC, or RFC 3339)
    #[arg(long)]
    from: Option<String>,
    /// Made at or before this moment
    #[arg(long)]
    to: Option<String>,
    /// Only significant notes
    #[arg(long)]
    significant: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// The requests, with an HXL row
    Csv,
    /// Who does what where, when and for whom, with an HXL row
    #[value(name = "5w")]
    FiveW,
    /// The flow counts, with an HXL row
    Flows,
    Xlsx,
    Json,
    Report,
}

/// A moment typed by a person: RFC 3339, or a date and time in UTC, or a
/// bare date (its end, UTC).
pub fn moment(text: &str) -> Result<u64, Error> {
    let t = text.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis().max(0) as u64);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc().timestamp_millis().max(0) as u64);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let end = d
            .and_hms_milli_opt(23, 59, 59, 999)
            .expect("a valid time of day");
        return Ok(end.and_utc().timestamp_millis().max(0) as u64);
    }
    Err(Error::Invalid(format!(
        "'{text}' is not a moment: write 2026-11-20, 2026-11-20T14:30 (UTC) or 2026-11-20T14:30:00-06:00"
    )))
}

fn current(store: &Store) -> Result<relevo_core::EntityId, Error> {
    Ok(store.current_crisis()?.ok_or(Error::NoCrisis)?.id)
}

fn parse_country(text: &str) -> Result<Country, Error> {
    Country::parse(text).ok_or_else(|| {
        Error::Invalid(format!(
            "'{text}' is not a country code; use one of: {}",
            Country::slugs()
        ))
    })
}

fn parse_sector(text: &str) -> Result<Sector, Error> {
    Sector::parse(text).ok_or_else(|| {
        Error::Invalid(format!(
            "'{text}' is not a sector; use one of: {}",
            Sector::slugs()
        ))
    })
}

pub fn timeline(store: &Store, a: TimelineArgs) -> Result<(), Error> {
    let crisis = current(store)?;
    let filter = TimelineFilter {
        country: a.country.as_deref().map(parse_country).transpose()?,
        sector: a.sector.as_deref().map(parse_sector).transpose()?,
        person: a
            .person
            .as_deref()
            .map(|p| {
                p.parse()
                    .map_err(|_| Error::Invalid(format!("'{p}' is not a person id")))
            })
            .transpose()?,
        org: a.org,
        record: a.record,
        from_ms: a.from.as_deref().map(moment).transpose()?.map(|m| m as i64),
        to_ms: a.to.as_deref().map(moment).transpose()?.map(|m| m as i64),
        significant: a.significant,
    };
    let events = store.timeline(crisis, &filter)?;
    if a.json {
        print_json(&events);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    for e in &events {
        let who = e.author_name.as_deref().unwrap_or("?");
        let mark = if e.significant { "!" } else { " " };
        let refused = e
            .refused
            .as_ref()
            .map(|r| format!("  [REFUSED: {r}]"))
            .unwrap_or_default();
        let line = format!(
            "{} {mark} {:<22} {}#{:<4} {}{refused}",
            format_ms(e.made_at_ms),
            who,
            e.device_tag,
            e.seq,
            e.summary
        );
        let _ = writeln!(out, "{}", relevo_core::text::terminal_safe(&line));
    }
    let _ = writeln!(out, "{} events", events.len());
    Ok(())
}

pub fn as_of(store: &Store, at: &str, received: bool, json: bool) -> Result<(), Error> {
    let crisis = current(store)?;
    let at = moment(at)?;
    let basis = if received {
        Basis::Received
    } else {
        Basis::Made
    };
    let then = store.as_of(crisis, at, basis)?;
    let requests = then.requests(crisis)?;
    let board = then.board(crisis, &TaskFilter::default())?;
    if json {
        print_json(&serde_json::json!({
            "at": at,
            "basis": basis,
            "requests": requests,
            "board": board,
        }));
        return Ok(());
    }
    println!(
        "As of {} ({}):",
        format_ms(at),
        match basis {
            Basis::Made => "what had been done by then",
            Basis::Received => "what this device had received by then",
        }
    );
    println!("{} requests", requests.len());
    for r in &requests {
        println!(
            "  {:<18} {:<16} {:<14} {:>5} people  {}",
            r.reference,
            r.status.slug(),
            r.sector.slug(),
            r.people.total,
            r.site
        );
    }
    println!("Task board:");
    for c in &board.columns {
        println!("  {:<12} {}", c.status.slug(), c.count);
        for t in &c.tasks {
            let holder = t
                .holder
                .as_ref()
                .and_then(|h| h.person_name.clone().or(h.org.clone()))
                .unwrap_or_default();
            println!("    {:<18} {:<40} {holder}", t.reference, t.title);
        }
    }
    Ok(())
}

fn hours(s: &Stat) -> String {
    match (s.median_ms, s.p90_ms) {
        (Some(m), Some(p)) => format!(
            "{:>3} · median {:>6.1} h · p90 {:>6.1} h",
            s.count,
            m / 3_600_000.0,
            p / 3_600_000.0
        ),
        _ => format!("{:>3} · none yet", s.count),
    }
}

pub fn measures(store: &Store, json: bool) -> Result<(), Error> {
    let crisis = current(store)?;
    let m = store.measures(crisis, crate::now_ms())?;
    if json {
        print_json(&m);
        return Ok(());
    }
    println!("Response times (requests reaching each step · median · 90th percentile):");
    for g in &m.response {
        let label = if g.by == "all" {
            "all".to_owned()
        } else {
            format!("{} {}", g.by, g.group)
        };
        println!("  {label} ({} requests)", g.requests);
        println!("    to first task        {}", hours(&g.to_first_task));
        println!("    to first delivery    {}", hours(&g.to_first_fulfilment));
        println!("    to fulfilled         {}", hours(&g.to_fulfilled));
    }
    println!("Overdue tasks: {}", m.overdue.len());
    for t in &m.overdue {
        println!("  {}  due {}", t.reference, format_ms(t.at_ms));
    }
    let h = &m.handovers;
    println!(
        "Handovers: {} over {} tasks; {} tasks changed hands, at most {} times",
        h.handovers, h.tasks, h.tasks_handed_over, h.max_per_task
    );
    println!("Open requests without any task: {}", m.without_task.len());
    for r in &m.without_task {
        println!("  {}  logged {}", r.reference, format_ms(r.at_ms));
    }
    let a = &m.alerts;
    println!(
        "Early-warning alerts: {} raised, {} acknowledged ({} acknowledgements), {} turned into tasks",
        a.raised, a.acknowledged, a.acknowledgements, a.with_tasks
    );
    println!("    to first acknowledgement {}", hours(&a.to_first_ack));
    println!("    to first task            {}", hours(&a.to_first_task));
    println!("Sync lag per device (made → received here):");
    for d in &m.sync_lag {
        println!(
            "  {} {:<24} {}",
            d.device_tag,
            d.person.as_deref().unwrap_or(""),
            hours(&d.lag)
        );
    }
    Ok(())
}

pub fn export(
    store: &Store,
    format: ExportFormat,
    audience: relevo_export::Audience,
    file: PathBuf,
) -> Result<(), relevo_export::ExportError> {
    let crisis = current(store)?;
    let format = match format {
        ExportFormat::Csv => relevo_export::Format::Csv,
        ExportFormat::FiveW => relevo_export::Format::FiveW,
        ExportFormat::Flows => relevo_export::Format::Flows,
        ExportFormat::Xlsx => relevo_export::Format::Xlsx,
        ExportFormat::Json => relevo_export::Format::Json,
        ExportFormat::Report => relevo_export::Format::Report,
    };
    let mut last = 0;
    let written = relevo_export::export(
        store,
        crisis,
        format,
        audience,
        &file,
        &mut |done, total| {
            // A line per tenth, for large exports.
            if total >= 10_000 && done * 10 / total.max(1) != last {
                last = done * 10 / total.max(1);
                eprintln!("  {done} of {total}");
            }
        },
    )?;
    println!(
        "wrote {}{} ({} bytes: {} requests, {} tasks, {} flow counts, {} alerts)",
        written.path.display(),
        match audience {
            relevo_export::Audience::Shareable => {
                ", shareable: no free text, no staff names"
            }
            relevo_export::Audience::Response => ", the whole record: for the response team only",
        },
        written.bytes,
        written.requests,
        written.tasks,
        written.flows,
        written.alerts
    );
    Ok(())
}
