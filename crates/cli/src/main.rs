//! `relevo`: a Relevo device on the command line.
//!
//! A thin shell over `relevo-store`: parse, call, print. Errors go to stderr
//! with one exit status per class of error (`ErrorCode::exit_status`, listed
//! by `relevo --help`; 2 for a command line clap cannot parse); a log that
//! does not verify exits as `corrupt` after naming the first bad op of each
//! device.

// Every line printed goes through `out`, which shows control characters and
// bidirectional overrides in people's text as escapes instead of handing
// them to the terminal.
macro_rules! println {
    () => { $crate::out::line("") };
    ($($arg:tt)*) => { $crate::out::line(&format!($($arg)*)) };
}
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::out::error_line(&format!($($arg)*)) };
}

mod out;

use chrono::{Local, TimeZone};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use relevo_core::domain::{
    CrisisDraft, IdentityDraft, ItemDraft, PersonDraft, RequestDraft, TaskDraft, VulnerableDraft,
};
use relevo_store::{
    Error, FulfilmentDraft, HolderDraft, RequestFilter, Store, TaskFilter, TaskView,
};
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
    /// Response tasks: create, assign, hand over, escalate
    #[command(subcommand)]
    Task(TaskCommand),
    /// Notes (activity log) on a request or a task
    #[command(subcommand)]
    Note(NoteCommand),
    /// Fields with competing values written offline, and their resolution
    #[command(subcommand)]
    Conflicts(ConflictCommand),
    /// The people on the roster (who can hold tasks)
    #[command(subcommand)]
    People(PeopleCommand),
    /// Flow counts at monitoring points (border crossings, transit hubs, shelters)
    #[command(subcommand)]
    Flow(flows::FlowCommand),
    /// Sites on the roster: crossings, shelters, monitoring points
    #[command(subcommand)]
    Site(flows::SiteCommand),
    /// Early-warning alerts raised by surges: list, acknowledge, turn into tasks
    #[command(subcommand)]
    Alerts(flows::AlertsCommand),
    /// The corridor: its legs, travel times, the surge rule, people along it
    #[command(subcommand)]
    Corridor(flows::CorridorCommand),
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
    /// Enrol this device with a hub using an invitation code
    Enrol {
        /// The hub's address, such as https://hub.example.org
        #[arg(long)]
        hub: String,
        /// The invitation, as the hub printed it (with its certificate's
        /// fingerprint after '#' when the hub serves TLS itself)
        #[arg(long)]
        code: String,
        /// Allow plain http to a hub on another machine (refused by
        /// default: the token and the records would cross the network
        /// unencrypted). Kept for later syncs
        #[arg(long)]
        allow_http: bool,
    },
    /// Sync with the hub now: send what it lacks, take in what this device lacks
    Sync {
        /// Another address for the same hub (just this once)
        #[arg(long)]
        hub: Option<String>,
    },
    /// Bundle files, for places with no network at all
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Sync state: the hub, the last sync, ops not yet on the hub, the version vector
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Ops that wait here (for earlier ops of their device, ops they name,
    /// their device's grant or their time), each with what it waits for.
    /// Dropped ops are not refused: they come back if a device sends them
    /// again
    Waiting(Held),
    /// Ops quarantined as forks (another history of a device)
    Forks(Held),
    /// Everything that happened in the current crisis, oldest first
    Timeline(review::TimelineArgs),
    /// The requests and the task board as they stood at a moment
    Asof {
        /// 2026-11-20 (end of day), 2026-11-20T14:30 (UTC) or RFC 3339
        time: String,
        /// By when this device received each op, not when it was made
        #[arg(long)]
        received: bool,
        #[arg(long)]
        json: bool,
    },
    /// Response times, overdue tasks, handovers, requests without a task, sync lag
    Measures {
        #[arg(long)]
        json: bool,
    },
    /// Export the current crisis: CSV with HXL (requests, 5W or flow counts), Excel, JSON or an after-action report.
    /// By default the whole record, for the response team; --shareable for anyone outside it
    Export {
        #[arg(value_enum)]
        format: review::ExportFormat,
        file: PathBuf,
        /// For sharing outside the response (a cluster, a donor): no free
        /// text (descriptions, notes, remarks, task titles) and no staff
        /// names; counts, places, sectors, dates and organisations stay
        #[arg(long)]
        shareable: bool,
    },
}

/// What `waiting` and `forks` take.
#[derive(Args, Debug)]
struct Held {
    /// Drop them instead (all, or only --device's)
    #[arg(long)]
    drop: bool,
    /// Only this device's (64 hex digits)
    #[arg(long)]
    device: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum BundleCommand {
    /// Write this device's ops to FILE (all, or only those another device lacks)
    Export {
        file: PathBuf,
        /// The other device's `relevo status --json` output (or its "vector"
        /// part): only the ops it lacks are written
        #[arg(long)]
        for_vector: Option<PathBuf>,
    },
    /// Take in the ops of a bundle FILE, checked whole before any is kept
    Import { file: PathBuf },
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
    /// Close the current crisis (regional directors)
    Close,
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
    /// Correct a request's details (only the options given change)
    Update(UpdateRequest),
    /// Move a request along its lifecycle: triaged, in-progress,
    /// partly-fulfilled, fulfilled, closed, cancelled, duplicate
    Status {
        reference: String,
        status: String,
        /// The request this one duplicates (with `duplicate`)
        #[arg(long, default_value = "")]
        of: String,
    },
    /// Record what was delivered against a request
    Fulfil {
        reference: String,
        /// What was delivered
        #[arg(long)]
        what: String,
        #[arg(long, allow_negative_numbers = true)]
        quantity: f64,
        #[arg(long)]
        unit: String,
        /// The item line it answers (1 = first)
        #[arg(long)]
        item: Option<u32>,
        /// Organisation id that delivered (iom, rc-gt, ...)
        #[arg(long, default_value = "")]
        by: String,
        /// For a request without item lines: this completes it
        #[arg(long)]
        complete: bool,
    },
    /// List the requests of the current crisis, newest first
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        sector: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        /// Words in the site, description or reference
        #[arg(long)]
        text: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A request with its deliveries, tasks, timeline and conflicts
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct UpdateRequest {
    reference: String,
    #[arg(long)]
    site: Option<String>,
    #[arg(long)]
    sector: Option<String>,
    #[arg(long)]
    priority: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    people: Option<i64>,
    /// YYYY-MM-DD (end of that day in the request's country), YYYY-MM-DDTHH:MM or RFC 3339
    #[arg(long)]
    needed_by: Option<String>,
    /// Replace the item lines: QUANTITY:UNIT:DESCRIPTION, repeatable
    #[arg(long = "item")]
    items: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum TaskCommand {
    /// Create a task in the current crisis; prints its reference
    Add {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        /// national or regional
        #[arg(long, default_value = "national")]
        scope: String,
        /// The country of a national task
        #[arg(long, default_value = "")]
        country: String,
        #[arg(long)]
        sector: String,
        #[arg(long)]
        priority: String,
        #[arg(long, default_value = "")]
        due: String,
        /// Requests it answers (references), repeatable
        #[arg(long = "request")]
        requests: Vec<String>,
        /// Assign at once to a person id from `relevo people list`
        #[arg(long, default_value = "")]
        person: String,
        /// Assign at once to an organisation id (iom, mig-gt, rc-hn, ...)
        #[arg(long, default_value = "")]
        org: String,
    },
    /// Give an open task its holder
    Assign(HolderArgs),
    /// Take on a task you hold
    Accept { reference: String },
    /// Hand a task to another holder, with a note for them
    Handover {
        #[command(flatten)]
        holder: HolderArgs,
        #[arg(long)]
        note: String,
    },
    /// in-progress, blocked (with --reason), done or cancelled
    Status {
        reference: String,
        status: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Take a national task to the regional level
    Escalate {
        reference: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Link requests to a task (or unlink them with --remove)
    Link {
        reference: String,
        #[arg(required = true)]
        requests: Vec<String>,
        #[arg(long)]
        remove: bool,
    },
    /// The task board: tasks of the current crisis with filters
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        country: Option<String>,
        /// national or regional
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        sector: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        /// Held by this person id
        #[arg(long)]
        person: Option<String>,
        /// Held by this organisation id
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// A task with its requests, holder history and timeline
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct HolderArgs {
    reference: String,
    /// Person id from `relevo people list`
    #[arg(long, default_value = "")]
    person: String,
    /// Organisation id (iom, mig-gt, rc-hn, ...)
    #[arg(long, default_value = "")]
    org: String,
}

#[derive(Subcommand, Debug)]
enum NoteCommand {
    /// Add a note to a request or task
    Add {
        reference: String,
        text: String,
        /// Mark it significant (shown first in the review)
        #[arg(long)]
        significant: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConflictCommand {
    /// Conflicts in the current crisis, each value numbered
    List {
        #[arg(long)]
        json: bool,
    },
    /// Keep one competing value (its number from `list`, or its op)
    Resolve {
        reference: String,
        field: String,
        choose: String,
    },
}

#[derive(Subcommand, Debug)]
enum PeopleCommand {
    /// Put a person on the roster (administrators)
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        country: String,
        #[arg(long, default_value = "")]
        org: String,
    },
    /// People on the roster, with their ids
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
    /// YYYY-MM-DD (end of that day in the request's country), YYYY-MM-DDTHH:MM or RFC 3339
    #[arg(long, default_value = "")]
    needed_by: String,
    /// What is needed: QUANTITY:UNIT:DESCRIPTION, repeatable
    #[arg(long = "item")]
    items: Vec<String>,
    /// Vulnerable group and count: uasc=3, pregnant-lactating=2, disability, older, chronic-illness, other
    #[arg(long = "vulnerable")]
    vulnerable: Vec<String>,
}

/// `120:kits:Kits de higiene` -> an item line (the form validates it).
fn item(text: &str) -> ItemDraft {
    let mut parts = text.splitn(3, ':');
    let quantity = parts.next().and_then(|q| q.trim().parse::<f64>().ok());
    ItemDraft {
        quantity,
        unit: parts.next().unwrap_or("").into(),
        description: parts.next().unwrap_or("").into(),
    }
}

fn vulnerable(text: &str) -> VulnerableDraft {
    let (group, count) = text.split_once('=').unwrap_or((text, ""));
    VulnerableDraft {
        group: group.into(),
        count: count.trim().parse().ok(),
    }
}

/// A time in this machine's zone, with the offset shown.
fn when(ms: u64) -> String {
    Local
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M %:z").to_string())
        .unwrap_or_default()
}

fn parse_filter<T>(
    value: Option<String>,
    parse: fn(&str) -> Option<T>,
    what: &str,
    known: fn() -> String,
) -> Result<Option<T>, Error> {
    value
        .map(|v| {
            parse(&v).ok_or_else(|| {
                Error::Invalid(format!(
                    "'{v}' is not a known {what}; use one of: {}",
                    known()
                ))
            })
        })
        .transpose()
}

fn print_task(t: &TaskView) {
    let holder = t
        .holder
        .as_ref()
        .map(|h| {
            [h.person_name.clone(), h.org.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .unwrap_or_else(|| "-".into());
    let scope = match t.scope {
        relevo_core::domain::TaskScope::National(c) => c.code().to_owned(),
        relevo_core::domain::TaskScope::Regional => "regional".into(),
    };
    let flags = format!(
        "{}{}",
        if t.overdue { " OVERDUE" } else { "" },
        if t.conflicts > 0 { " CONFLICT" } else { "" }
    );
    println!(
        "{:<18} {:<11} {:<8} {:<8} {:<14} {:<28} {}{flags}",
        t.reference, t.status, t.priority, scope, t.sector, holder, t.title
    );
}

mod flows;
mod net;
mod review;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn main() -> ExitCode {
    // `relevo timeline | head` ends quietly, as command-line tools do,
    // instead of failing on the closed pipe.
    sigpipe::reset();
    // The exit statuses, one per class of error, close `relevo --help`.
    let matches = Cli::command()
        .after_help(relevo_core::api::ErrorCode::exit_table())
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(code) => code,
        Err(e) => fail(e.code(), &e.to_string()),
    }
}

/// Says what went wrong and exits with its class's status (see
/// `relevo --help`).
fn fail(code: relevo_core::api::ErrorCode, message: &str) -> ExitCode {
    eprintln!("error: {}", message.replace('\n', "\nerror: "));
    ExitCode::from(code.exit_status())
}

fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, Error> {
    flag.or_else(|| dirs::data_dir().map(|d| d.join(APP_IDENTIFIER))).ok_or_else(|| {
        Error::Io(std::io::Error::other("no data folder could be found for this user: pass --data-dir or set RELEVO_DATA_DIR"))
    })
}

/// Asks for the data folder's passphrase at the terminal. Nobody answers
/// when stdin is not a terminal: a script sets RELEVO_PASSPHRASE instead.
fn ask_passphrase(prompt: relevo_store::Prompt) -> Option<zeroize::Zeroizing<String>> {
    use relevo_store::Prompt;
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let read = |label: &str| {
        rpassword::prompt_password(label)
            .ok()
            .map(zeroize::Zeroizing::new)
    };
    match prompt {
        Prompt::Choose => {
            eprintln!(
                "No system keyring answers here, so this data folder will be encrypted with a \
                 passphrase ({} characters or more). Keep it safe: without it the data cannot be read.",
                relevo_store::keys::MIN_PASSPHRASE_CHARS
            );
            for _ in 0..3 {
                let first = read("New passphrase: ")?;
                if read("Repeat it: ")?.as_str() == first.as_str() {
                    return Some(first);
                }
                eprintln!("The two passphrases differ; try again.");
            }
            None
        }
        Prompt::Enter => read("Passphrase: "),
        Prompt::Retry => {
            eprintln!("That passphrase does not open this data folder.");
            read("Passphrase: ")
        }
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("views serialise")
    );
}

fn task(store: &mut Store, cmd: TaskCommand) -> Result<(), Error> {
    match cmd {
        TaskCommand::Add {
            title,
            description,
            scope,
            country,
            sector,
            priority,
            due,
            requests,
            person,
            org,
        } => {
            let id = store.add_task(&TaskDraft {
                title,
                description,
                scope,
                country,
                sector,
                priority,
                due,
                requests,
                holder_person: person,
                holder_org: org,
            })?;
            let t = store
                .task(id)?
                .ok_or(Error::Invalid("the task just made is missing".into()))?;
            println!("{}", t.reference);
        }
        TaskCommand::Assign(h) => {
            store.assign_task(
                &h.reference,
                &HolderDraft {
                    person: h.person,
                    org: h.org,
                },
            )?;
            println!("{} assigned", h.reference);
        }
        TaskCommand::Accept { reference } => {
            store.accept_task(&reference)?;
            println!("{reference} accepted");
        }
        TaskCommand::Handover { holder, note } => {
            store.hand_over_task(
                &holder.reference,
                &HolderDraft {
                    person: holder.person,
                    org: holder.org,
                },
                &note,
            )?;
            println!("{} handed over", holder.reference);
        }
        TaskCommand::Status {
            reference,
            status,
            reason,
        } => {
            store.set_task_status(&reference, &status, &reason)?;
            println!("{reference} {status}");
        }
        TaskCommand::Escalate { reference, note } => {
            store.escalate_task(&reference, &note)?;
            println!("{reference} escalated to regional");
        }
        TaskCommand::Link {
            reference,
            requests,
            remove,
        } => {
            store.link_requests(&reference, &requests, !remove)?;
            println!("{reference} {}", if remove { "unlinked" } else { "linked" });
        }
        TaskCommand::List {
            status,
            country,
            scope,
            sector,
            priority,
            person,
            org,
            overdue,
            json,
        } => {
            use relevo_core::domain::{Country, Priority, Sector, TaskStatus};
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            let filter = TaskFilter {
                status: parse_filter(status, TaskStatus::parse, "task status", TaskStatus::slugs)?,
                country: parse_filter(country, Country::parse, "country", Country::slugs)?,
                scope,
                sector: parse_filter(sector, Sector::parse, "sector", Sector::slugs)?,
                priority: parse_filter(priority, Priority::parse, "priority", Priority::slugs)?,
                person: person
                    .map(|p| {
                        p.parse()
                            .map_err(|_| Error::Invalid(format!("'{p}' is not a person id")))
                    })
                    .transpose()?,
                org,
                overdue,
                conflicted: false,
            };
            let board = store.board(crisis.id, &filter)?;
            if json {
                print_json(&board);
            } else {
                for column in &board.columns {
                    if column.count == 0 {
                        continue;
                    }
                    println!("## {} ({})", column.status, column.count);
                    for t in &column.tasks {
                        print_task(t);
                    }
                }
            }
        }
        TaskCommand::Show { reference, json } => {
            let d = store.task_detail(&reference)?;
            if json {
                print_json(&d);
            } else {
                print_task(&d.task);
                for r in &d.requests {
                    println!("  answers {}  {} · {}", r.reference, r.site, r.description);
                }
                println!("  holders:");
                for h in &d.holders {
                    let who = h
                        .holder
                        .as_ref()
                        .map(|h| {
                            [h.person_name.clone(), h.org.clone()]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" / ")
                        })
                        .unwrap_or_default();
                    let contested = if h.contested { "  (competing)" } else { "" };
                    println!(
                        "    {}  {:<14} {who}  by {}  {}{contested}",
                        when(h.at_ms),
                        h.kind,
                        h.by_name.as_deref().unwrap_or("?"),
                        h.note.as_deref().unwrap_or("")
                    );
                }
                for e in &d.timeline {
                    println!(
                        "  {}  {:<16} {}  {}",
                        when(e.at_ms),
                        e.kind,
                        e.author_name.as_deref().unwrap_or(&e.device_tag),
                        e.text.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(())
}

/// Rebuilds smaller than this pass in about a second and show nothing.
const LARGE_REBUILD: u64 = 20_000;

/// Shows the progress of a large full rebuild of the views (after an
/// upgrade, at enrolment, for an as-of) on stderr: a bar on a terminal, and
/// for a script a line when it starts and one when it ends.
fn show_rebuilds() {
    use indicatif::{ProgressBar, ProgressStyle};
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let bar: std::sync::Mutex<Option<ProgressBar>> = std::sync::Mutex::new(None);
    relevo_store::observe_rebuilds(move |p| {
        if p.total < LARGE_REBUILD {
            return;
        }
        let Ok(mut bar) = bar.lock() else { return };
        if p.done == 0 {
            if terminal {
                let shown = ProgressBar::new(p.total).with_style(
                    ProgressStyle::with_template(
                        "Rebuilding the views from the log [{bar:30}] {percent}% ({human_pos} of {human_len} ops, {eta} left)",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                *bar = Some(shown);
            } else {
                eprintln!("Rebuilding the views from the log ({} ops)...", p.total);
            }
        }
        if let Some(shown) = bar.as_ref() {
            shown.set_position(p.done);
        }
        if p.done == p.total {
            if let Some(shown) = bar.take() {
                shown.finish_and_clear();
            }
            eprintln!("The views are rebuilt from {} ops.", p.total);
        }
    });
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    show_rebuilds();
    let (mut store, _) = Store::unlock_dir(&data_dir(cli.data_dir)?, &mut ask_passphrase)?;
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
        Command::Crisis(CrisisCommand::Close) => {
            let c = store.close_crisis()?;
            println!("closed  {}", c.name);
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
                needed_by: a.needed_by,
                items: a.items.iter().map(|i| item(i)).collect(),
                vulnerable: a.vulnerable.iter().map(|v| vulnerable(v)).collect(),
                ..Default::default()
            };
            println!("{}", store.add_request(&draft)?.reference);
        }
        Command::Request(RequestCommand::Update(u)) => {
            let current = store.request_detail(&u.reference)?.request;
            let mut draft = current.to_request().to_draft();
            if let Some(v) = u.site {
                draft.site = v;
            }
            if let Some(v) = u.sector {
                draft.sector = v;
            }
            if let Some(v) = u.priority {
                draft.priority = v;
            }
            if let Some(v) = u.description {
                draft.description = v;
            }
            if let Some(v) = u.people {
                draft.people_total = Some(v as f64);
            }
            if let Some(v) = u.needed_by {
                draft.needed_by = v;
            }
            if !u.items.is_empty() {
                draft.items = u.items.iter().map(|i| item(i)).collect();
            }
            let r = store.update_request(&u.reference, &draft)?;
            println!("{}  updated", r.reference);
        }
        Command::Request(RequestCommand::Status {
            reference,
            status,
            of,
        }) => {
            let r = store.set_request_status(&reference, &status, &of)?;
            println!("{}  {}", r.reference, r.status);
        }
        Command::Request(RequestCommand::Fulfil {
            reference,
            what,
            quantity,
            unit,
            item,
            by,
            complete,
        }) => {
            let r = store.fulfil_request(
                &reference,
                &FulfilmentDraft {
                    item: item.map(|i| i.saturating_sub(1)),
                    what,
                    quantity: Some(quantity),
                    unit,
                    by,
                    complete,
                },
            )?;
            println!("{}  {}", r.reference, r.status);
        }
        Command::Request(RequestCommand::Show { reference, json }) => {
            let d = store.request_detail(&reference)?;
            if json {
                print_json(&d);
            } else {
                let r = &d.request;
                println!(
                    "{}  {}  {}  {} · {} · {} people",
                    r.reference,
                    r.status,
                    r.priority,
                    r.country.code(),
                    r.site,
                    r.people.total
                );
                println!("  {}", r.description);
                for (i, line) in r.items.iter().enumerate() {
                    println!(
                        "  item {}: {} {} {}",
                        i + 1,
                        line.quantity,
                        line.unit,
                        line.description
                    );
                }
                for f in &d.fulfilments {
                    println!(
                        "  delivered {} {} {} by {}  {}",
                        f.quantity,
                        f.unit,
                        f.what,
                        f.by.as_deref().unwrap_or("-"),
                        when(f.at_ms)
                    );
                }
                for t in &d.tasks {
                    print_task(t);
                }
                for e in &d.timeline {
                    let changes = e
                        .changes
                        .iter()
                        .map(|c| format!("{}={}", c.field, c.value))
                        .collect::<Vec<_>>()
                        .join(" ");
                    println!(
                        "  {}  {:<16} {}  {changes} {}",
                        when(e.at_ms),
                        e.kind,
                        e.author_name.as_deref().unwrap_or(&e.device_tag),
                        e.text.as_deref().unwrap_or("")
                    );
                }
            }
        }
        Command::Request(RequestCommand::List {
            status,
            country,
            sector,
            priority,
            text,
            json,
        }) => {
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            use relevo_core::domain::{Country, Priority, RequestStatus, Sector};
            let filter = RequestFilter {
                status: parse_filter(
                    status,
                    RequestStatus::parse,
                    "request status",
                    RequestStatus::slugs,
                )?,
                country: parse_filter(country, Country::parse, "country", Country::slugs)?,
                sector: parse_filter(sector, Sector::parse, "sector", Sector::slugs)?,
                priority: parse_filter(priority, Priority::parse, "priority", Priority::slugs)?,
                text,
                conflicted: false,
            };
            let requests = store.find_requests(crisis.id, &filter, u32::MAX)?;
            if json {
                print_json(&requests);
            } else {
                for r in requests {
                    println!(
                        "{:<18} {:<16} {:<8} {} {:<16} {:>6}  {}",
                        r.reference,
                        r.status,
                        r.priority,
                        r.country.code(),
                        r.sector,
                        r.people.total,
                        r.site
                    );
                }
            }
        }
        Command::Task(cmd) => task(&mut store, cmd)?,
        Command::Note(NoteCommand::Add {
            reference,
            text,
            significant,
        }) => {
            store.add_note(&reference, &text, significant)?;
            println!("noted on {reference}");
        }
        Command::Conflicts(ConflictCommand::List { json }) => {
            let crisis = store.current_crisis()?.ok_or(Error::NoCrisis)?;
            let conflicts = store.conflicts(Some(crisis.id), None)?;
            if json {
                print_json(&conflicts);
            } else {
                for c in &conflicts {
                    println!("{} {}", c.reference, c.field);
                    for (i, v) in c.values.iter().enumerate() {
                        let shown = if v.provisional {
                            "  (shown for now)"
                        } else {
                            ""
                        };
                        println!(
                            "  {}. {}  set by {} on {}{shown}",
                            i + 1,
                            v.value,
                            v.author_name.as_deref().unwrap_or(&v.device_tag),
                            when(v.at_ms)
                        );
                    }
                }
            }
        }
        Command::Conflicts(ConflictCommand::Resolve {
            reference,
            field,
            choose,
        }) => {
            store.resolve_conflict(&reference, &field, &choose)?;
            println!("{reference} {field} resolved");
        }
        Command::People(PeopleCommand::Add {
            name,
            role,
            country,
            org,
        }) => {
            let id = store.add_person(&PersonDraft {
                name,
                role,
                country,
                org,
            })?;
            println!("{id}");
        }
        Command::People(PeopleCommand::List { json }) => {
            let people = store.roster()?.people;
            if json {
                print_json(&people);
            } else {
                for p in people {
                    println!(
                        "{}  {:<32} {:<18} {}  {}",
                        p.id,
                        p.name,
                        p.role,
                        p.country.code(),
                        p.org.unwrap_or_default()
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
        Command::Enrol { .. }
        | Command::Sync { .. }
        | Command::Bundle(_)
        | Command::Status { .. }
        | Command::Waiting(_)
        | Command::Forks(_) => {
            return Ok(net::run(&mut store, cli.command)
                .unwrap_or_else(|e| fail(e.code(), &e.to_string())));
        }
        Command::Timeline(a) => review::timeline(&store, a)?,
        Command::Asof {
            time,
            received,
            json,
        } => review::as_of(&store, &time, received, json)?,
        Command::Measures { json } => review::measures(&store, json)?,
        Command::Flow(cmd) => flows::flow(&mut store, cmd)?,
        Command::Site(cmd) => flows::site(&mut store, cmd)?,
        Command::Alerts(cmd) => flows::alerts(&mut store, cmd)?,
        Command::Corridor(cmd) => flows::corridor(&mut store, cmd)?,
        Command::Export {
            format,
            file,
            shareable,
        } => {
            let audience = if shareable {
                relevo_export::Audience::Shareable
            } else {
                relevo_export::Audience::Response
            };
            if let Err(e) = review::export(&store, format, audience, file) {
                return Ok(fail(e.code(), &e.to_string()));
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
            if !json {
                let h = &report.hub_heads;
                match &h.problem {
                    Some(p) => println!("hub heads: {} kept, BROKEN: {p}", h.kept),
                    None if h.kept > 0 => println!(
                        "hub heads: {} kept, {} match this log, {} not checkable yet",
                        h.kept, h.consistent, h.unchecked
                    ),
                    None => {}
                }
            }
            if !report.intact() {
                let first = report
                    .devices
                    .iter()
                    .find_map(|d| d.problem.clone())
                    .or_else(|| report.hub_heads.problem.clone())
                    .unwrap_or_default();
                // A log that does not verify is a damaged record.
                return Ok(fail(
                    relevo_core::api::ErrorCode::Corrupt,
                    &format!("the log does not verify: {first}"),
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
