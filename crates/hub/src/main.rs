//! `relevo-hub`: serve a hub, invite people, revoke devices.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use relevo_core::domain::IdentityDraft;
use relevo_hub::{open_store, Hub, Limits};
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
    },
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
        } => {
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
                tracing::info!(%listen, hub = %hub.id(), db = %db.display(), "relevo-hub serving");
                axum::serve(listener, relevo_hub::router(hub))
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await?;
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
