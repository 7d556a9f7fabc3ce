//! The CLI's network commands: enrol, sync, bundles and status.

use crate::{print_json, BundleCommand, Command};
use relevo_store::{Store, Vector};
use relevo_sync::{bundle, http, SyncError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

#[derive(Serialize)]
struct Status {
    device: Option<String>,
    tag: Option<String>,
    enrolled: bool,
    hub: Option<String>,
    hub_url: Option<String>,
    last_sync: Option<u64>,
    not_on_hub: u64,
    pending: u64,
    forks: Vec<relevo_store::ForkView>,
    /// Device id → highest seq held (demo devices excluded).
    vector: BTreeMap<String, u64>,
}

fn status(store: &Store) -> Result<Status, SyncError> {
    let enrolment = store.enrolment()?;
    Ok(Status {
        device: store.device().map(|d| d.to_string()),
        tag: store.device().map(|d| d.tag()),
        enrolled: enrolment.is_some(),
        hub: store.hub().map(|h| h.to_string()),
        hub_url: enrolment.map(|e| e.url),
        last_sync: store.last_sync()?,
        not_on_hub: store.not_on_hub()?,
        pending: store.pending_count()?,
        forks: store.forks()?,
        vector: store
            .sync_vector()?
            .into_iter()
            .map(|(d, n)| (d.to_string(), n))
            .collect(),
    })
}

fn when(ms: u64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub(crate) fn run(store: &mut Store, command: Command) -> Result<ExitCode, SyncError> {
    match command {
        Command::Enrol {
            hub,
            code,
            allow_http,
        } => {
            http::enrol_store(store, &hub, &code, allow_http)?;
            let me = store.identity()?.ok_or(SyncError::NotEnrolled)?;
            println!(
                "Enrolled with {hub} as {} ({}, {}). Run `relevo sync` to exchange the log.",
                me.name,
                me.role.slug(),
                me.country.slug()
            );
        }
        Command::Sync { hub } => {
            let mut err = std::io::stderr();
            let report = http::sync_store(store, hub.as_deref(), |p| {
                let _ = writeln!(
                    err,
                    "  sent {}, received {}{}",
                    p.sent,
                    p.received,
                    if p.more || p.to_send > 0 {
                        ", more to come"
                    } else {
                        ""
                    }
                );
            })?;
            println!(
                "Synced: {} op(s) sent, {} received in {} round(s); {} of this device's ops not on the hub.",
                report.sent,
                report.received,
                report.rounds,
                store.not_on_hub()?
            );
            if report.waiting_there > 0 {
                println!(
                    "{} op(s) sent wait on the hub for ops they name or for their time.",
                    report.waiting_there
                );
            }
            if report.pending > 0 {
                println!(
                    "{} op(s) received wait here for ops they name or for their time: see `relevo waiting`.",
                    report.pending
                );
            }
            if report.unmoved > 0 {
                println!(
                    "{} op(s) could not move in this session; the next sync tries again.",
                    report.unmoved
                );
            }
            if report.forked > 0 {
                println!(
                    "{} op(s) quarantined as forks: see `relevo status`.",
                    report.forked
                );
            }
            for r in &report.refused {
                eprintln!("refused: {r}");
            }
            if report.refused_count > report.refused.len() as u64 {
                eprintln!(
                    "refused: {} more",
                    report.refused_count - report.refused.len() as u64
                );
            }
        }
        Command::Bundle(BundleCommand::Export { file, for_vector }) => {
            let lacks = match for_vector {
                Some(path) => bundle::read_vector(&path)?,
                None => Vector::new(),
            };
            let (n, bytes) = bundle::export_to(store, &lacks, &file)?;
            println!(
                "Wrote {n} op(s) to {} ({bytes} bytes, encrypted for this network's devices).",
                file.display()
            );
        }
        Command::Bundle(BundleCommand::Import { file }) => {
            let data = std::fs::read(&file)
                .map_err(|e| SyncError::File(format!("could not read {}: {e}", file.display())))?;
            let r = bundle::import(store, &data)?;
            println!(
                "Imported {} op(s) from {}: {} new, {} already held, {} waiting, {} quarantined, {} refused.",
                r.ops, r.made_by, r.applied, r.duplicates, r.pending, r.forked, r.refused_ops
            );
            for why in &r.refused {
                eprintln!("refused: {why}");
            }
        }
        Command::Status { json } => {
            let s = status(store)?;
            if json {
                print_json(&s);
            } else {
                println!("Device: {}", s.tag.as_deref().unwrap_or("not set up"));
                match (&s.hub_url, &s.hub) {
                    (Some(url), Some(hub)) => println!("Hub: {url} ({})", &hub[..12]),
                    _ => println!("Hub: not enrolled (relevo enrol --hub URL --code CODE)"),
                }
                println!(
                    "Last sync: {}",
                    s.last_sync.map(when).unwrap_or_else(|| "never".into())
                );
                println!("Not on the hub: {} op(s) of this device", s.not_on_hub);
                if s.pending > 0 {
                    println!(
                        "Waiting for ops they name or their time: {} (see `relevo waiting`)",
                        s.pending
                    );
                }
                if !s.forks.is_empty() {
                    println!("Quarantined forks: {}", s.forks.len());
                    for f in &s.forks {
                        println!(
                            "  {}#{} {} ({}): {}",
                            f.tag,
                            f.seq,
                            f.kind,
                            f.author.as_deref().unwrap_or("unknown person"),
                            f.reason
                        );
                    }
                }
                println!("Version vector:");
                for (device, n) in &s.vector {
                    println!("  {}…  {n}", &device[..12]);
                }
            }
        }
        Command::Waiting(held) => {
            let device = held.device.as_deref().map(parse_device).transpose()?;
            if held.drop {
                let n = store.drop_waiting(device.as_ref())?;
                println!("Dropped {n} waiting op(s).");
            } else {
                show(
                    store.waiting_of(device.as_ref(), u64::MAX)?,
                    held.json,
                    "No op is waiting.",
                    "op(s) waiting; `relevo waiting --drop [--device ID]` drops them.",
                );
            }
        }
        Command::Forks(held) => {
            let device = held.device.as_deref().map(parse_device).transpose()?;
            if held.drop {
                let n = store.drop_forks(device.as_ref())?;
                println!("Dropped {n} quarantined fork(s).");
            } else {
                show(
                    store.forks_of(device.as_ref())?,
                    held.json,
                    "No fork is quarantined.",
                    "fork(s) quarantined; `relevo forks --drop [--device ID]` drops them.",
                );
            }
        }
        _ => unreachable!("only network commands are routed here"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a list a line each (or as JSON), then how many with `summary`.
fn show<T: std::fmt::Display + Serialize>(list: Vec<T>, json: bool, none: &str, summary: &str) {
    if json {
        print_json(&list);
    } else if list.is_empty() {
        println!("{none}");
    } else {
        for item in &list {
            println!("{item}");
        }
        println!("{} {summary}", list.len());
    }
}

fn parse_device(text: &str) -> Result<relevo_core::DeviceId, SyncError> {
    text.parse().map_err(|_| {
        SyncError::Store(relevo_store::Error::Invalid(format!(
            "'{text}' is not a device id (64 hex digits)"
        )))
    })
}
