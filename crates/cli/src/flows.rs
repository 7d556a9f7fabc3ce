//! `relevo flow`, `relevo alerts` and `relevo corridor`: the movement and
//! its early warnings.

use crate::{parse_filter, print_json, vulnerable, when};
use clap::{Args, Subcommand};
use relevo_core::domain::{Corridor, Country, FlowDraft, NationalityDraft};
use relevo_store::{AlertView, Error, FlowFilter, Store};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum FlowCommand {
    /// Log a flow count at a monitoring point (a group tally: no personal data)
    Add(Box<AddFlow>),
    /// Counts of the current crisis, newest first
    List {
        /// Only this point (its id, such as gt-tecun-uman)
        #[arg(long)]
        point: Option<String>,
        /// Only points in this country
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The points counts can be logged at, with their ids
    Points {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct AddFlow {
    /// The point's id (see `relevo flow points`)
    #[arg(long)]
    point: String,
    /// Start of the window: YYYY-MM-DD, YYYY-MM-DDTHH:MM (at the point) or RFC 3339
    #[arg(long)]
    start: String,
    /// End of the window, in the same forms (a bare date: the end of that day)
    #[arg(long)]
    end: String,
    /// entering or leaving
    #[arg(long)]
    direction: String,
    /// People counted in all
    #[arg(long, allow_negative_numbers = true)]
    people: f64,
    #[arg(long, allow_negative_numbers = true)]
    women: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    men: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    girls: Option<f64>,
    #[arg(long, allow_negative_numbers = true)]
    boys: Option<f64>,
    /// ISO code of the country the group came from
    #[arg(long, default_value = "")]
    from: String,
    /// ISO code of the country the group is heading into next
    #[arg(long, default_value = "")]
    to: String,
    /// Nationality and count: VE=120, repeatable
    #[arg(long = "nationality")]
    nationalities: Vec<String>,
    /// Vulnerable group and count: uasc=3, pregnant-lactating=2, disability, older, chronic-illness, other
    #[arg(long = "vulnerable")]
    vulnerable: Vec<String>,
    /// ISO code of the country the group says it is heading for in the end
    #[arg(long, default_value = "")]
    destination: String,
    /// foot, bus, car, truck, boat, train or other
    #[arg(long, default_value = "")]
    transport: String,
    #[arg(long, default_value = "")]
    remarks: String,
}

#[derive(Subcommand, Debug)]
pub enum SiteCommand {
    /// Add a site (crossing, shelter, monitoring point), or correct a built-in one by its id (administrators)
    Add {
        /// Lowercase id: gt-casa-migrante-tecun
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// border-crossing, shelter, reception-centre, transit-hub, flow-monitoring-point or other
        #[arg(long)]
        kind: String,
        #[arg(long)]
        country: String,
        /// First-level admin area (department, province, state)
        #[arg(long, default_value = "")]
        adm1: String,
        /// Admin area P-code
        #[arg(long, default_value = "")]
        pcode: String,
        #[arg(long, allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, allow_negative_numbers = true)]
        lon: Option<f64>,
    },
}

pub fn site(store: &mut Store, cmd: SiteCommand) -> Result<(), Error> {
    match cmd {
        SiteCommand::Add {
            id,
            name,
            kind,
            country,
            adm1,
            pcode,
            lat,
            lon,
        } => {
            let s = store.add_site(&relevo_core::domain::SiteDraft {
                id,
                name,
                kind,
                country,
                adm1,
                pcode,
                lat,
                lon,
            })?;
            println!("{}  {} ({})", s.id, s.name, s.country.code());
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Early-warning alerts of the current crisis, newest first
    List {
        /// Only those that concern this country
        #[arg(long)]
        country: Option<String>,
        /// Only those waiting for your acknowledgement
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an alert for your country (or, as a regional director, the region)
    Ack {
        /// The alert's reference (ALR-…)
        alert: String,
        #[arg(long, default_value = "")]
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// Turn an alert into tasks in one step: prepare shelter and pre-position
    /// health staff at the first point downstream in a country
    Tasks {
        alert: String,
        /// The country to prepare [default: yours; a regional director's: the first downstream]
        #[arg(long)]
        country: Option<String>,
        /// Language of the task titles: es or en
        #[arg(long, default_value = "es")]
        lang: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CorridorCommand {
    /// The corridor, the surge rule, and people per point and leg now
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Replace the corridor and the surge rule from a JSON file (regional directors);
    /// `relevo corridor show --json` prints one to start from
    Set { file: PathBuf },
}

/// A country given on the command line, if any.
fn country(text: Option<String>) -> Result<Option<Country>, Error> {
    parse_filter(text, Country::parse, "country", Country::slugs)
}

fn nationality(text: &str) -> NationalityDraft {
    let (code, count) = text.split_once('=').unwrap_or((text, ""));
    NationalityDraft {
        code: code.into(),
        count: count.trim().parse().ok(),
    }
}

fn print_alert(a: &AlertView) {
    println!(
        "{}  {} people at {} ({}, {}) in the 24 h to {}{}{}",
        a.reference,
        a.surge.people,
        a.point_name,
        a.country.code(),
        a.direction.slug(),
        when(a.window_end_ms.max(0) as u64),
        a.surge
            .baseline
            .map(|b| format!(
                ", {:.1}× the daily {:.0}",
                a.surge.people as f64 / b.max(1.0),
                b
            ))
            .unwrap_or_default(),
        if a.awaiting_me {
            "  [awaiting your acknowledgement]"
        } else {
            ""
        }
    );
    for v in &a.vulnerable {
        println!(
            "    among them {} {}",
            v.count,
            v.group.name_en().to_lowercase()
        );
    }
    for x in &a.arrivals {
        println!(
            "    expected at {} ({}) between {} and {}",
            x.name,
            x.arrival.country.code(),
            when(x.arrival.earliest_ms.max(0) as u64),
            when(x.arrival.latest_ms.max(0) as u64)
        );
    }
    for k in &a.acks {
        println!(
            "    acknowledged for {} by {} at {}",
            k.country.map(|c| c.code()).unwrap_or("the region"),
            k.by.as_deref().unwrap_or("?"),
            when(k.at_ms)
        );
    }
    for t in &a.tasks {
        println!("    task {}  {}", t.reference, t.title);
    }
}

pub fn flow(store: &mut Store, cmd: FlowCommand) -> Result<(), Error> {
    match cmd {
        FlowCommand::Add(a) => {
            let a = *a;
            let logged = store.log_flow(&FlowDraft {
                point: a.point,
                start: a.start,
                end: a.end,
                direction: a.direction,
                from_country: a.from,
                to_country: a.to,
                total: Some(a.people),
                women: a.women,
                men: a.men,
                girls: a.girls,
                boys: a.boys,
                nationalities: a.nationalities.iter().map(|n| nationality(n)).collect(),
                vulnerable: a.vulnerable.iter().map(|v| vulnerable(v)).collect(),
                destination: a.destination,
                transport: a.transport,
                remarks: a.remarks,
            })?;
            println!(
                "{}  {} people at {}",
                logged.flow.reference, logged.flow.count.people.total, logged.flow.point_name
            );
            if let Some(alert) = logged.alert {
                println!("SURGE: alert raised");
                print_alert(&alert);
            }
        }
        FlowCommand::List {
            point,
            country: c,
            json,
        } => {
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            let flows = store.flows(
                crisis.id,
                &FlowFilter {
                    point,
                    country: country(c)?,
                    ..Default::default()
                },
            )?;
            if json {
                print_json(&flows);
            } else {
                for f in flows {
                    println!(
                        "{:<18} {}  {:<22} {} {:<8} {:>6}  {}",
                        f.reference,
                        when(f.count.end_ms.max(0) as u64),
                        f.point_name,
                        f.count.country.code(),
                        f.count.direction.slug(),
                        f.count.people.total,
                        f.count
                            .nationalities
                            .iter()
                            .map(|n| format!("{}={}", n.code, n.count))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
        FlowCommand::Points { json } => {
            let points = store.sites()?;
            if json {
                print_json(&points);
            } else {
                for p in points {
                    println!(
                        "{:<24} {}  {:<22} {}",
                        p.id,
                        p.country.code(),
                        p.name,
                        p.adm1.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

pub fn alerts(store: &mut Store, cmd: AlertsCommand) -> Result<(), Error> {
    match cmd {
        AlertsCommand::List {
            country: c,
            mine,
            json,
        } => {
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            let alerts: Vec<AlertView> = store
                .alerts(crisis.id, country(c)?)?
                .into_iter()
                .filter(|a| !mine || a.awaiting_me)
                .collect();
            if json {
                print_json(&alerts);
            } else if alerts.is_empty() {
                println!("no alerts");
            } else {
                for a in &alerts {
                    print_alert(a);
                }
            }
        }
        AlertsCommand::Ack { alert, note, json } => {
            let a = store.acknowledge_alert(&alert, &note)?;
            if json {
                print_json(&a);
            } else {
                println!("{} acknowledged", a.reference);
            }
        }
        AlertsCommand::Tasks {
            alert,
            country: c,
            lang,
        } => {
            let made = store.tasks_from_alert(&alert, country(c)?, &lang)?;
            for id in made {
                if let Some(t) = store.task(id)? {
                    println!("{}  {}", t.reference, t.title);
                }
            }
        }
    }
    Ok(())
}

pub fn corridor(store: &mut Store, cmd: CorridorCommand) -> Result<(), Error> {
    match cmd {
        CorridorCommand::Show { json } => {
            let corridor = store.corridor()?;
            let picture = match store.current_crisis()? {
                Some(c) => Some(store.corridor_picture(c.id, crate::now_ms())?),
                None => None,
            };
            if json {
                print_json(&serde_json::json!({
                    "corridor": corridor,
                    "picture": picture,
                }));
                return Ok(());
            }
            let r = &corridor.rule;
            println!(
                "surge: over {}× the daily mean of the last {} days, or over {} people, in 24 h (at least {})",
                r.factor, r.baseline_days, r.absolute, r.min_people
            );
            for s in &corridor.segments {
                let flow = picture
                    .as_ref()
                    .and_then(|p| p.segments.iter().find(|g| g.from == s.from && g.to == s.to))
                    .map(|g| format!("  {:.0} in 24 h, {:.0} in 7 days", g.last_day, g.last_week))
                    .unwrap_or_default();
                println!("{:<22} → {:<22} {:>5.2} days{flow}", s.from, s.to, s.days);
            }
            if let Some(p) = picture {
                println!();
                for x in p.points.iter().filter(|x| x.last_week > 0) {
                    println!(
                        "{:<22} {}  {:>6} in 24 h  {:>7} in 7 days  {}",
                        x.name,
                        x.country.code(),
                        x.last_day,
                        x.last_week,
                        x.trend
                            .map(|t| format!("trend {t:.2}×"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        CorridorCommand::Set { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", file.display())))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::Invalid(format!("{} is not JSON: {e}", file.display())))?;
            // Either a corridor, or what `corridor show --json` prints.
            let value = value.get("corridor").cloned().unwrap_or(value);
            let corridor: Corridor = serde_json::from_value(value).map_err(|e| {
                Error::Invalid(format!(
                    "{} is not a corridor (segments and rule): {e}",
                    file.display()
                ))
            })?;
            store.set_corridor(&corridor)?;
            println!(
                "corridor set: {} legs, surge over {}× or {} people",
                corridor.segments.len(),
                corridor.rule.factor,
                corridor.rule.absolute
            );
        }
    }
    Ok(())
}
