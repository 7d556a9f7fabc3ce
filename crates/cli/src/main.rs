//! `relevo`: a Relevo device on the command line.
//!
//! A thin shell over `relevo-store`: parse, call, print. Errors go to stderr
//! with exit status 1 (2 for a command line clap cannot parse); verification
//! failures exit 1 after naming the first bad op of each device.

use clap::{Args, Parser, Subcommand};
use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_store::{Error, Store};
use std::path::PathBuf;
use std::process::ExitCode;

/// The folder Tauri uses for the app's data (its bundle identifier), so the
/// app and the CLI share one database by default.
const APP_IDENTIFIER: &str = "org.relevo.app";

#[derive(Parser, Debug)]
#[command(
    name = "relevo",
    version,
    about = "Coordinate the response to a migration crisis, offline first."
)]
struct Cli {
    /// Folder holding this device's database [default: the app's data folder]
    #[arg(long, global = true, env = "RELEVO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Set up this device: who uses it (creates the device key)
    Init {
        #[arg(long)]
        name: String,
        /// field-coordinator, national-director, regional-director, reviewer or administrator
        #[arg(long)]
        role: String,
        /// ISO code of the country you work in (BZ CR SV GT HN NI PA DO MX US)
        #[arg(long)]
        country: String,
        /// Your organisation
        #[arg(long, default_value = "")]
        org: String,
    },
    /// Crises: open one, list them
    #[command(subcommand)]
    Crisis(CrisisCommand),
    /// Load the demo crisis (kept on this device only) and make it current
    Demo,
    /// Humanitarian assistance requests
    #[command(subcommand)]
    Request(RequestCommand),
    /// Print the raw op log
    Log {
        #[arg(long)]
        json: bool,
    },
    /// Check every signature and hash chain; exit 1 naming the first bad op
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CrisisCommand {
    /// Open a crisis and make it current
    Open {
        #[arg(long)]
        name: String,
        /// Affected countries, comma-separated ISO codes
        #[arg(long, value_delimiter = ',', required = true)]
        countries: Vec<String>,
    },
    /// List crises (the current one marked *)
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum RequestCommand {
    /// Log a request in the current crisis; prints its reference
    Add(AddRequest),
    /// List the requests of the current crisis, newest first
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct AddRequest {
    /// ISO code of the country the need is in
    #[arg(long)]
    country: String,
    /// Site or place: border post, shelter, town
    #[arg(long)]
    site: String,
    /// shelter, health, wash, food-security, protection, child-protection, gbv, logistics, ...
    #[arg(long)]
    sector: String,
    /// People affected in all
    #[arg(long, allow_negative_numbers = true)]
    people: i64,
    #[arg(long, allow_negative_numbers = true)]
    women: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    men: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    girls: Option<i64>,
    #[arg(long, allow_negative_numbers = true)]
    boys: Option<i64>,
    /// critical, high, medium or low
    #[arg(long)]
    priority: String,
    #[arg(long)]
    description: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', "\nerror: "));
            ExitCode::FAILURE
        }
    }
}

fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, Error> {
    flag.or_else(|| dirs::data_dir().map(|d| d.join(APP_IDENTIFIER))).ok_or_else(|| {
        Error::Io(std::io::Error::other("no data folder could be found for this user: pass --data-dir or set RELEVO_DATA_DIR"))
    })
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("views serialise")
    );
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    let mut store = Store::open_dir(&data_dir(cli.data_dir)?)?;
    match cli.command {
        Command::Init {
            name,
            role,
            country,
            org,
        } => {
            let me = store.init_identity(&IdentityDraft {
                name,
                role,
                country,
                org,
            })?;
            println!(
                "{} · {} · {} · device {}",
                me.name, me.role, me.country, me.device_tag
            );
        }
        Command::Crisis(CrisisCommand::Open { name, countries }) => {
            let c = store.open_crisis(&CrisisDraft { name, countries })?;
            println!("{}", c.id);
        }
        Command::Crisis(CrisisCommand::List { json }) => {
            let crises = store.crises()?;
            let current = store.current_crisis()?.map(|c| c.id);
            if json {
                print_json(&crises);
            } else {
                for c in crises {
                    let mark = if Some(c.id) == current { "*" } else { " " };
                    let countries = c
                        .countries
                        .iter()
                        .map(|c| c.code())
                        .collect::<Vec<_>>()
                        .join(",");
                    let demo = if c.demo { " (demo)" } else { "" };
                    println!("{mark} {}  {}{demo}  [{countries}]", c.id, c.name);
                }
            }
        }
        Command::Demo => {
            let c = store.load_demo()?;
            println!("{}  {}", c.id, c.name);
        }
        Command::Request(RequestCommand::Add(a)) => {
            let draft = RequestDraft {
                country: a.country,
                site: a.site,
                sector: a.sector,
                people_total: Some(a.people as f64),
                women: a.women.map(|n| n as f64),
                men: a.men.map(|n| n as f64),
                girls: a.girls.map(|n| n as f64),
                boys: a.boys.map(|n| n as f64),
                priority: a.priority,
                description: a.description,
            };
            println!("{}", store.add_request(&draft)?.reference);
        }
        Command::Request(RequestCommand::List { json }) => {
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            let requests = store.requests(crisis.id)?;
            if json {
                print_json(&requests);
            } else {
                for r in requests {
                    println!(
                        "{:<18} {:<8} {} {:<16} {:>6}  {}",
                        r.reference,
                        r.priority,
                        r.country.code(),
                        r.sector,
                        r.people.total,
                        r.site
                    );
                }
            }
        }
        Command::Log { json } => {
            let entries = store.log_entries()?;
            if json {
                print_json(&entries);
            } else {
                for e in entries {
                    let refused = e
                        .refused
                        .map(|r| format!("  REFUSED: {r}"))
                        .unwrap_or_default();
                    println!(
                        "{}#{:<5} {}  {:<16} {}{refused}",
                        e.device_tag, e.seq, e.hlc, e.kind, e.payload
                    );
                }
            }
        }
        Command::Verify { json } => {
            let report = store.verify()?;
            if json {
                print_json(&report);
            } else {
                for d in &report.devices {
                    match &d.problem {
                        None => println!("{}  {} ops  intact", d.tag, d.ops),
                        Some(p) => println!("{}  {} ops  BROKEN: {p}", d.tag, d.ops),
                    }
                }
            }
            if !report.intact() {
                let first = report
                    .devices
                    .iter()
                    .find_map(|d| d.problem.clone())
                    .unwrap_or_default();
                eprintln!("error: the log does not verify: {first}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
