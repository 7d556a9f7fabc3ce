//! `relevo-hub`: serve a hub, invite people, revoke devices.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use relevo_core::domain::IdentityDraft;
use relevo_core::text::terminal_safe;
use relevo_hub::serve::{raise_file_limit, ServerLimits, RESERVED_FILES};
use relevo_hub::{open_store, HttpLimits, Hub, Limits};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "relevo-hub",
    version,
    about = "Relevo's hub: stores and relays every enrolled device's log"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serves the hub's API (health, enrol, sync) on ADDR.
    Serve {
        /// The hub's SQLite file (created on first use).
        #[arg(long, env = "RELEVO_HUB_DB")]
        db: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8480")]
        listen: SocketAddr,
        /// The network's name, recorded when the hub is created.
        #[arg(long, default_value = "Relevo hub")]
        name: String,
        /// Sync requests per second each device may make.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Requests a device may make at once after a quiet spell.
        #[arg(long, default_value_t = 40)]
        burst: u32,
        /// Connections open at once (default: what the open-file limit allows, at most 16384).
        #[arg(long)]
        max_connections: Option<usize>,
        /// Connections open at once from one address.
        #[arg(long, default_value_t = 64)]
        per_address: usize,
        /// Enrolment attempts per minute from one address.
        #[arg(long, default_value_t = 10)]
        enrol_per_minute: u32,
        /// Failed authentications per minute from one address before it is refused for a minute.
        #[arg(long, default_value_t = 30)]
        failures_per_minute: u32,
        /// Seconds a client has to send a request's headers (and that an idle connection is kept).
        #[arg(long, default_value_t = 20)]
        header_timeout: u64,
        /// Seconds a request body has before it must arrive at 1 KiB a second or more.
        #[arg(long, default_value_t = 20)]
        body_grace: u64,
    },
    /// Lists ops that wait (for earlier ops of their device, the ops they
    /// name, their grant or their time), each with what it waits for.
    Waiting(Held),
    /// Lists ops quarantined as forks (another history of a device).
    Forks(Held),
    /// Prints a one-time invitation code for a person, role and country.
    Invite {
        #[arg(long, env = "RELEVO_HUB_DB")]
        db: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        org: String,
        /// field-coordinator, national-director, regional-director, reviewer or administrator.
        #[arg(long)]
        role: String,
        /// ISO code of the person's country (GT, HN, SV, ...).
        #[arg(long)]
        country: String,
        /// Days the code can be used.
        #[arg(long, default_value_t = 7)]
        days: u64,
        /// Print the code only (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Stops accepting a device's ops (a lost or stolen laptop).
    Revoke {
        #[arg(long, env = "RELEVO_HUB_DB")]
        db: PathBuf,
        /// The device id (64 hex digits).
        #[arg(long)]
        device: String,
        #[arg(long, default_value = "revoked by the hub administrator")]
        reason: String,
    },
}

/// What `waiting` and `forks` take.
#[derive(clap::Args, Debug)]
struct Held {
    #[arg(long, env = "RELEVO_HUB_DB")]
    db: PathBuf,
    /// Drop them instead (all, or only --device's).
    #[arg(long)]
    drop: bool,
    /// Only this device's (64 hex digits).
    #[arg(long)]
    device: Option<String>,
    #[arg(long)]
    json: bool,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("relevo-hub: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            db,
            listen,
            name,
            rate,
            burst,
            max_connections,
            per_address,
            enrol_per_minute,
            failures_per_minute,
            header_timeout,
            body_grace,
        } => {
            let files = raise_file_limit();
            let mut server = ServerLimits::for_file_limit(files);
            if let Some(n) = max_connections {
                let most = files.saturating_sub(RESERVED_FILES);
                if n == 0 || n as u64 > most {
                    bail!("--max-connections must be between 1 and {most} (the open-file limit is {files})");
                }
                server.max_connections = n;
            }
            if per_address == 0 {
                bail!("--per-address must be 1 or more");
            }
            server.per_address = per_address.min(server.max_connections);
            if header_timeout == 0 || body_grace == 0 {
                bail!("--header-timeout and --body-grace must be 1 second or more");
            }
            server.header_timeout = std::time::Duration::from_secs(header_timeout);
            let http = HttpLimits {
                body_grace: std::time::Duration::from_secs(body_grace),
                enrol_per_minute: NonZeroU32::new(enrol_per_minute)
                    .context("--enrol-per-minute must be 1 or more")?,
                failures_per_minute: NonZeroU32::new(failures_per_minute)
                    .context("--failures-per-minute must be 1 or more")?,
            };
            let store =
                open_store(&db, &name).with_context(|| format!("opening {}", db.display()))?;
            let limits = Limits {
                per_device_per_second: NonZeroU32::new(rate).context("--rate must be 1 or more")?,
                burst: NonZeroU32::new(burst).context("--burst must be 1 or more")?,
                ..Limits::default()
            };
            let hub = Arc::new(Hub::new(store, limits)?);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("listening on {listen}"))?;
                tracing::info!(
                    %listen,
                    hub = %hub.id(),
                    db = %db.display(),
                    open_files = files,
                    max_connections = server.max_connections,
                    per_address = server.per_address,
                    "relevo-hub serving"
                );
                relevo_hub::serve::serve(
                    listener,
                    relevo_hub::router_with(hub, http),
                    server,
                    stop_signal(),
                )
                .await?;
                tracing::info!("relevo-hub stopped");
                anyhow::Ok(())
            })
        }
        Command::Invite {
            db,
            name,
            org,
            role,
            country,
            days,
            quiet,
        } => {
            let mut store = open_store(&db, "Relevo hub")?;
            let code = store.invite(
                &IdentityDraft {
                    name: name.clone(),
                    role,
                    country,
                    org,
                },
                days.saturating_mul(24 * 3600 * 1000),
            )?;
            if quiet {
                println!("{code}");
            } else {
                println!("Invitation for {name} (valid {days} days, one use):\n\n    {code}\n\nOn their device: relevo enrol --hub URL --code {code}");
            }
            Ok(())
        }
        Command::Waiting(held) => {
            let mut store = open_existing(&held.db)?;
            let device = held.device.as_deref().map(parse_device).transpose()?;
            if held.drop {
                let n = store.drop_waiting(device.as_ref())?;
                println!("Dropped {n} waiting op(s).");
            } else {
                show(
                    store.waiting_of(device.as_ref(), u64::MAX)?,
                    held.json,
                    "No op is waiting.",
                    "op(s) waiting; drop them with `relevo-hub waiting --drop [--device ID]`.",
                )?;
            }
            Ok(())
        }
        Command::Forks(held) => {
            let mut store = open_existing(&held.db)?;
            let device = held.device.as_deref().map(parse_device).transpose()?;
            if held.drop {
                let n = store.drop_forks(device.as_ref())?;
                println!("Dropped {n} quarantined fork(s).");
            } else {
                show(
                    store.forks_of(device.as_ref())?,
                    held.json,
                    "No fork is quarantined.",
                    "fork(s) quarantined; drop them with `relevo-hub forks --drop [--device ID]`.",
                )?;
            }
            Ok(())
        }
        Command::Revoke { db, device, reason } => {
            let mut store = open_store(&db, "Relevo hub")?;
            let Ok(id) = device.parse() else {
                bail!("'{device}' is not a device id (64 hex digits)");
            };
            let op = store.revoke_device(id, &reason)?;
            println!("Revoked {} (hub op #{}).", id.tag(), op.body.seq);
            Ok(())
        }
    }
}

/// Ends when the process is asked to stop (Ctrl-C or SIGTERM).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Prints a list a line each (or as JSON), people's text made safe for a
/// terminal, then how many with `summary`.
fn show<T: std::fmt::Display + serde::Serialize>(
    list: Vec<T>,
    json: bool,
    none: &str,
    summary: &str,
) -> Result<()> {
    if json {
        println!("{}", terminal_safe(&serde_json::to_string_pretty(&list)?));
    } else if list.is_empty() {
        println!("{none}");
    } else {
        for item in &list {
            println!("{}", terminal_safe(&item.to_string()));
        }
        println!("{} {summary}", list.len());
    }
    Ok(())
}

/// A hub database that must already exist.
fn open_existing(db: &std::path::Path) -> Result<relevo_store::Store> {
    if !db.exists() {
        bail!(
            "{} does not exist: give the hub's database (`--db`)",
            db.display()
        );
    }
    Ok(open_store(db, "Relevo hub")?)
}

fn parse_device(text: &str) -> Result<relevo_core::DeviceId> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("'{text}' is not a device id (64 hex digits)"))
}
