//! Launch time and memory of the real app, against an empty Tauri window
//! measured in the same run (the floor WebKit and Tauri set).
//!
//! For each of ten launches of a device holding the demo crisis: the time
//! from the app's process start (read from /proc, to 10 ms) to the frame
//! that painted the first requests (the UI marks it with the performance
//! mark `first-request-painted`, two animation frames after the rows were
//! rendered; read on the page's clock, so WebDriver's own delays do not
//! count). Then the resident memory of the app
//! and every process it started (WebKit's web and network processes), idle
//! three seconds after start, and after visiting every view; the app
//! process alone as well. The baseline is the same binary with
//! `RELEVO_EMPTY_WINDOW=1`: the same window loading an empty page of the
//! app's own assets instead of the app, timed to that page loaded.
//!
//! `./dev bench-app` builds the release app and runs this against it
//! (`RELEVO_APP_BINARY`); needs a display, tauri-driver and WebKitWebDriver
//! like the end-to-end tests.

use relevo_e2e::{open_store, Device, Session};
use std::time::{Duration, Instant};

const RUNS: usize = 10;

/// Seconds since boot, as /proc counts them (clock ticks of 10 ms).
fn uptime_s() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// When process `pid` started, in seconds since boot.
fn started_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 22 of stat is the start time; `after` begins at field 3.
    let ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    Some(ticks / 100.0)
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Memory {
    all_kib: u64,
    app_kib: u64,
}

fn memory(s: &Session) -> Memory {
    let pids = s.app_processes();
    Memory {
        all_kib: pids.iter().map(|p| rss_kib(*p)).sum(),
        app_kib: pids.first().map(|p| rss_kib(*p)).unwrap_or(0),
    }
}

/// Seconds since the Unix epoch, now.
fn epoch_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Waits until `moment` (a script answering the moment, in ms since the
/// epoch, or null) answers, polling every 10 ms; returns the moment in
/// seconds since the epoch. The moment is the page's own clock, so how
/// long WebDriver takes to ask does not count.
async fn moment(s: &Session, script: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(v) = s.client().execute(script, vec![]).await {
            if let Some(ms) = v.as_f64() {
                return ms / 1000.0;
            }
        }
        assert!(Instant::now() < deadline, "never ready: {script}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The UI marks the frame that painted the first requests.
const FIRST_REQUEST: &str = "const m = performance.getEntriesByName('first-request-painted')[0]; \
    return m ? performance.timeOrigin + m.startTime : null;";
/// The empty window: the frame that painted its empty page (marked two
/// animation frames after the page ran, as the app marks its first rows).
const PAGE_COMPLETE: &str = "const m = location.pathname === '/empty.html' \
      && performance.getEntriesByName('first-frame-painted')[0]; \
    return m ? performance.timeOrigin + m.startTime : null;";

/// One launch: seconds from process start to `ready`, the memory idle
/// after start and, with `tour`, after visiting every view.
async fn launch(device: &Device, empty: bool, tour: bool) -> (f64, Memory, Option<Memory>) {
    let extra = std::env::var("RELEVO_BENCH_ENV").unwrap_or_default();
    let mut env: Vec<(&str, &str)> = extra
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if empty {
        env.push(("RELEVO_EMPTY_WINDOW", "1"));
    }
    let env = env.as_slice();
    let s = device.launch_with_env("es_GT.UTF-8", env).await;
    let ready = moment(&s, if empty { PAGE_COMPLETE } else { FIRST_REQUEST }).await;
    let pids = s.app_processes();
    // When the process started, on the epoch clock: boot time (now less
    // the uptime) plus the start time /proc gives since boot.
    let boot = epoch_s() - uptime_s();
    let start = boot
        + pids
            .first()
            .and_then(|p| started_s(*p))
            .expect("the app's process");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = memory(&s);
    let toured = if tour {
        for view in [
            "requests",
            "board",
            "holders",
            "conflicts",
            "sync",
            "review",
            "movement",
        ] {
            s.click(&format!("#nav-{view}")).await;
            tokio::time::sleep(Duration::from_millis(800)).await;
            if view == "review" {
                for part in ["asof", "timeline", "measures", "where", "export"] {
                    s.click(&format!("#review-tab-{part}")).await;
                    tokio::time::sleep(Duration::from_millis(800)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(memory(&s))
    } else {
        None
    };
    s.quit().await;
    (ready - start, idle, toured)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let app = relevo_e2e::app_binary();
    println!("app: {}", app.display());
    let device = Device::new();
    {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&relevo_core::domain::IdentityDraft {
                name: "Ana López".into(),
                role: "field-coordinator".into(),
                country: "GT".into(),
                org: "iom".into(),
            })
            .expect("identity");
        store.load_demo().expect("demo");
    }
    // One launch first: WebKit's caches and the page cache warm, as on a
    // laptop that has run the app before.
    let _ = launch(&device, false, false).await;
    let mut app_times = Vec::new();
    let mut empty_times = Vec::new();
    let mut idle = Vec::new();
    let mut empty_idle = Vec::new();
    for i in 0..RUNS {
        // Alternate, so that a slow moment of the machine hits both.
        let (t, m, _) = launch(&device, true, false).await;
        empty_times.push(t);
        empty_idle.push(m);
        let (t, m, _) = launch(&device, false, false).await;
        app_times.push(t);
        idle.push(m);
        println!(
            "run {i}: app {:.3} s, empty window {:.3} s",
            app_times[i], empty_times[i]
        );
    }
    let (_, after_start, toured) = launch(&device, false, true).await;
    let toured = toured.expect("toured");
    let app_t = median(app_times.clone());
    let empty_t = median(empty_times.clone());
    let idle_all = median(idle.iter().map(|m| mib(m.all_kib)).collect());
    let idle_app = median(idle.iter().map(|m| mib(m.app_kib)).collect());
    let empty_all = median(empty_idle.iter().map(|m| mib(m.all_kib)).collect());
    let empty_app = median(empty_idle.iter().map(|m| mib(m.app_kib)).collect());
    println!();
    println!(
        "first request painted: median {app_t:.3} s of {RUNS} (min {:.3}, max {:.3}); \
         empty Tauri window complete: median {empty_t:.3} s; ratio {:.2}x",
        app_times.iter().copied().fold(f64::MAX, f64::min),
        app_times.iter().copied().fold(0.0, f64::max),
        app_t / empty_t
    );
    println!(
        "memory idle after start: all processes {idle_all:.0} MiB (app process {idle_app:.0} MiB); \
         empty window: all {empty_all:.0} MiB (app {empty_app:.0} MiB); ratio {:.2}x",
        idle_all / empty_all
    );
    println!(
        "memory after visiting every view: all processes {:.0} MiB (app process {:.0} MiB; \
         {:.0} MiB when that launch was idle)",
        mib(toured.all_kib),
        mib(toured.app_kib),
        mib(after_start.all_kib)
    );
}
