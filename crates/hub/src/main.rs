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
        #[command(flatten)]
        db: HubDb,
        #[arg(long, default_value = "127.0.0.1:8480")]
        listen: SocketAddr,
        /// Serve https with this certificate chain (PEM); make a self-signed one with `relevo-hub certificate`.
        #[arg(long, env = "RELEVO_HUB_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, env = "RELEVO_HUB_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve plain http on an address other machines reach: only behind
        /// a reverse proxy that terminates TLS.
        #[arg(long)]
        plain_http: bool,
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
    /// Makes a self-signed TLS certificate and key for the hub (if they do
    /// not exist yet) and prints the certificate's fingerprint, which
    /// invitations carry so that devices pin it.
    Certificate {
        /// The certificate file (PEM) to make or read.
        #[arg(long, env = "RELEVO_HUB_TLS_CERT")]
        tls_cert: PathBuf,
        /// The private key file (PEM) to make, readable by its owner alone.
        #[arg(long, env = "RELEVO_HUB_TLS_KEY")]
        tls_key: PathBuf,
        /// Names and addresses the certificate lists (repeat; devices check
        /// the pin, not the names).
        #[arg(long = "name", default_values_t = vec!["localhost".to_owned(), "127.0.0.1".to_owned()])]
        names: Vec<String>,
    },
    /// Prints a one-time invitation code for a person, role and country.
    Invite {
        #[command(flatten)]
        db: HubDb,
        /// The certificate the hub serves: its fingerprint is added to the
        /// invitation, and the device pins it.
        #[arg(long, env = "RELEVO_HUB_TLS_CERT")]
        tls_cert: Option<PathBuf>,
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
        #[command(flatten)]
        db: HubDb,
        /// The device id (64 hex digits).
        #[arg(long)]
        device: String,
        #[arg(long, default_value = "revoked by the hub administrator")]
        reason: String,
    },
}

/// The hub's database and the key file that encrypts it.
#[derive(clap::Args, Debug)]
struct HubDb {
    /// The hub's SQLite file (created on first use), encrypted with the key in --key-file.
    #[arg(long, env = "RELEVO_HUB_DB")]
    db: PathBuf,
    /// The file holding the database's key, readable by its owner alone
    /// (made on first use; default: the database's path with `.key` added).
    /// Keep it apart from the database's backups.
    #[arg(long, env = "RELEVO_HUB_KEY_FILE")]
    key_file: Option<PathBuf>,
}

impl HubDb {
    fn key_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| {
            let mut name = self.db.as_os_str().to_owned();
            name.push(".key");
            PathBuf::from(name)
        })
    }

    /// Opens (creating if needed) the hub's database.
    fn open(&self, name: &str) -> Result<relevo_store::Store> {
        let key_path = self.key_path();
        if !key_path.exists() && relevo_store::keys::is_encrypted(&self.db) {
            bail!(
                "{} is encrypted and its key file {} does not exist: give it with --key-file",
                self.db.display(),
                key_path.display()
            );
        }
        let key = relevo_store::DbKey::load_or_create(&key_path)?;
        open_store(&self.db, &key, name).with_context(|| format!("opening {}", self.db.display()))
    }

    /// Opens a hub database that must already exist.
    fn open_existing(&self) -> Result<relevo_store::Store> {
        if !self.db.exists() {
            bail!(
                "{} does not exist: give the hub's database (`--db`)",
                self.db.display()
            );
        }
        self.open("Relevo hub")
    }
}

/// What `waiting` and `forks` take.
#[derive(clap::Args, Debug)]
struct Held {
    #[command(flatten)]
    db: HubDb,
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
            tls_cert,
            tls_key,
            plain_http,
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
            let tls = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => {
                    Some(relevo_hub::serve::tls_acceptor(cert, key).map_err(anyhow::Error::msg)?)
                }
                _ => None,
            };
            if tls.is_none() && !listen.ip().is_loopback() && !plain_http {
                bail!(
                    "refusing to serve plain http on {listen}, an address other machines reach: \
                     sync tokens and records would cross the network unencrypted. Give \
                     --tls-cert and --tls-key (make a self-signed pair with `relevo-hub \
                     certificate`), or --plain-http if a reverse proxy in front of the hub \
                     terminates TLS"
                );
            }
            let store = db.open(&name)?;
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
                let pin = tls
                    .as_ref()
                    .map(|(_, pin)| relevo_sync::tls::show_pin(pin))
                    .unwrap_or_else(|| "none (plain http)".into());
                tracing::info!(
                    %listen,
                    tls = %pin,
                    hub = %hub.id(),
                    db = %db.db.display(),
                    open_files = files,
                    max_connections = server.max_connections,
                    per_address = server.per_address,
                    "relevo-hub serving"
                );
                relevo_hub::serve::serve(
                    listener,
                    relevo_hub::router_with(hub, http),
                    server,
                    tls.map(|(acceptor, _)| acceptor),
                    stop_signal(),
                )
                .await?;
                tracing::info!("relevo-hub stopped");
                anyhow::Ok(())
            })
        }
        Command::Certificate {
            tls_cert,
            tls_key,
            names,
        } => certificate(&tls_cert, &tls_key, names),
        Command::Invite {
            db,
            tls_cert,
            name,
            org,
            role,
            country,
            days,
            quiet,
        } => {
            let mut store = db.open("Relevo hub")?;
            let code = store.invite(
                &IdentityDraft {
                    name: name.clone(),
                    role,
                    country,
                    org,
                },
                days.saturating_mul(24 * 3600 * 1000),
            )?;
            let pin = match &tls_cert {
                Some(cert) => Some(cert_pin(cert)?),
                None => None,
            };
            let invitation = relevo_sync::http::Invitation { code, pin };
            if quiet {
                println!("{invitation}");
            } else {
                let scheme = if pin.is_some() { "https" } else { "http" };
                println!("Invitation for {name} (valid {days} days, one use):\n\n    {invitation}\n\nOn their device: relevo enrol --hub {scheme}://ADDRESS:PORT --code '{invitation}'");
            }
            Ok(())
        }
        Command::Waiting(held) => {
            let mut store = held.db.open_existing()?;
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
            let mut store = held.db.open_existing()?;
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
            let mut store = db.open("Relevo hub")?;
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

/// The fingerprint of the first certificate in a PEM file.
fn cert_pin(path: &std::path::Path) -> Result<relevo_sync::tls::Pin> {
    use rustls::pki_types::pem::PemObject;
    let cert = rustls::pki_types::CertificateDer::from_pem_file(path)
        .with_context(|| format!("reading the certificate {}", path.display()))?;
    Ok(relevo_sync::tls::fingerprint(cert.as_ref()))
}

/// `relevo-hub certificate`: a self-signed certificate and key, made once.
fn certificate(cert: &std::path::Path, key: &std::path::Path, names: Vec<String>) -> Result<()> {
    match (cert.exists(), key.exists()) {
        (true, true) => {}
        (false, false) => {
            let made = rcgen::generate_simple_self_signed(names.clone())
                .context("making a self-signed certificate")?;
            write_new(key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
            write_new(cert, made.cert.pem().as_bytes(), 0o644)?;
            println!(
                "Made a self-signed certificate for {} in {} (key in {}).",
                names.join(", "),
                cert.display(),
                key.display()
            );
        }
        _ => bail!(
            "only one of {} and {} exists: give both files of a pair, or two new paths",
            cert.display(),
            key.display()
        ),
    }
    let pin = relevo_sync::tls::show_pin(&cert_pin(cert)?);
    println!("Fingerprint: {pin}\nServe with: relevo-hub serve --tls-cert {} --tls-key {} ...\nInvitations made with --tls-cert carry this fingerprint; devices pin it.", cert.display(), key.display());
    Ok(())
}

/// Writes a file that must not exist yet, with `mode` (on Unix).
fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn parse_device(text: &str) -> Result<relevo_core::DeviceId> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("'{text}' is not a device id (64 hex digits)"))
}
