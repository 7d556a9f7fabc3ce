//! Exports of a real crisis (the demo scenario in a real database file),
//! checked by independent readers: the CSV by Python's libhxl, the workbook
//! by openpyxl, the report by headless Chromium (its screenshot must show
//! the charts). The Python packages and Chromium are installed by
//! `./dev setup`; a missing one fails the test with what to install.

use relevo_export::{export, request_columns, Audience, Format};
use relevo_store::{Scale, Store};
use std::path::{Path, PathBuf};
use std::process::Command;

const DAY: u64 = 86_400_000;

fn demo(dir: &Path) -> (Store, relevo_core::EntityId) {
    let mut store =
        Store::open(&dir.join("relevo.db"), &relevo_store::DbKey::random()).expect("open");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let scenario = store
        .generate_scenario(Scale::DEMO, now - 8 * DAY)
        .expect("scenario");
    (store, scenario.crisis)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_owned()
}

/// The Python with libhxl and openpyxl: `RELEVO_PYTHON`, or the virtual
/// environment `./dev setup` makes.
fn python() -> PathBuf {
    let p = std::env::var_os("RELEVO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pyenv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run ./dev setup (it makes a Python environment with libhxl and openpyxl)",
        p.display()
    );
    p
}

fn run_python(script: &str, arg: &Path) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn csv_has_an_hxl_row_that_libhxl_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("requests.csv");
    let mut seen = Vec::new();
    let written = export(
        &store,
        crisis,
        Format::Csv,
        Audience::Response,
        &path,
        &mut |d, t| seen.push((d, t)),
    )
    .expect("csv");
    let requests = store.requests(crisis).expect("requests");
    assert_eq!(written.requests as usize, requests.len());
    assert_eq!(seen.last().map(|p| p.0), Some(requests.len() as u64));
    // libhxl finds the hashtag row and reads every request.
    let out = run_python(
        r##"
import sys, hxl
src = hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True))
tags = [c.display_tag for c in src.columns]
rows = list(src)
print(len(rows))
print("|".join(tags))
print(sum(int(r.get("#affected") or 0) for r in rows))
print(rows[0].get("#country+code"), rows[0].get("#sector"), rows[0].get("#date+reported"))
print(sum(1 for r in rows if r.get("#adm1+name")), sum(1 for r in rows if -93 < float(r.get("#geo+lon") or 0) < -70))
"##,
        &path,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], requests.len().to_string());
    let expected: Vec<&str> = request_columns().iter().map(|c| c.1).collect();
    assert_eq!(lines[1], expected.join("|"));
    let people: u64 = requests.iter().map(|r| u64::from(r.people.total)).sum();
    assert_eq!(lines[2], people.to_string());
    let first = &requests[0];
    assert!(
        lines[3].starts_with(&format!("{} {}", first.country.code(), first.sector.slug())),
        "{}",
        lines[3]
    );
    // The demo's requests are at the built-in crossings: every one has its
    // admin area and a position in the region.
    assert_eq!(lines[4], format!("{0} {0}", requests.len()));
}

#[test]
fn the_5w_csv_has_an_hxl_row_and_adds_up_to_the_tasks() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("5w.csv");
    export(
        &store,
        crisis,
        Format::FiveW,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("5w");
    let out = run_python(
        r##"
import sys, hxl
src = hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True))
rows = list(src)
print("|".join(c.display_tag for c in src.columns))
print(sum(int(r.get("#activity+num")) for r in rows))
print(sum(int(r.get("#affected")) for r in rows))
print(sum(1 for r in rows if r.get("#adm1+name") and r.get("#date+start")))
print(len(rows))
"##,
        &path,
    );
    let lines: Vec<&str> = out.lines().collect();
    let expected: Vec<&str> = relevo_export::fivew_columns().iter().map(|c| c.1).collect();
    assert_eq!(lines[0], expected.join("|"));
    let tasks = store.tasks(crisis).expect("t").len();
    assert_eq!(lines[1], tasks.to_string(), "every task is in one cell");
    let www = store.who_what_where(crisis).expect("5w");
    let people: u64 = www.iter().map(|w| w.people.total).sum();
    assert_eq!(lines[2], people.to_string());
    assert!(people > 0);
    let rows: usize = lines[4].parse().expect("rows");
    assert_eq!(rows, www.len());
    let placed: usize = lines[3].parse().expect("placed");
    assert!(
        placed * 2 > rows,
        "most cells have an admin area: {placed} of {rows}"
    );
}

#[test]
fn the_flow_counts_csv_has_an_hxl_row_that_libhxl_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("flows.csv");
    let written = export(
        &store,
        crisis,
        Format::Flows,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("flows");
    assert!(written.bytes > 0);
    let out = run_python(
        r##"
import sys, hxl
src = hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True))
rows = list(src)
print("|".join(c.display_tag for c in src.columns))
print(len(rows))
n = lambda r, t: int(r.get(t) or 0)
print(sum(n(r, "#affected") for r in rows))
print(sum(1 for r in rows if n(r, "#affected+incoming") + n(r, "#affected+outgoing") == n(r, "#affected")))
print(sorted(set(r.get("#country+origin") for r in rows)))
print(sum(1 for r in rows if r.get("#adm1+name") and r.get("#geo+lat")))
"##,
        &path,
    );
    let lines: Vec<&str> = out.lines().collect();
    let expected: Vec<&str> = relevo_export::flow_columns().iter().map(|c| c.1).collect();
    assert_eq!(lines[0], expected.join("|"));
    let flows = store
        .flows(
            crisis,
            &relevo_store::FlowFilter {
                limit: Some(u32::MAX),
                ..Default::default()
            },
        )
        .expect("flows");
    assert_eq!(lines[1], flows.len().to_string());
    let people: u64 = flows.iter().map(|f| u64::from(f.count.people.total)).sum();
    assert_eq!(lines[2], people.to_string());
    assert_eq!(
        lines[3],
        flows.len().to_string(),
        "each count is incoming or outgoing"
    );
    assert_eq!(
        lines[4], "['VE']",
        "Venezuelans are the largest group in the demo"
    );
    assert_eq!(
        lines[5],
        flows.len().to_string(),
        "every demo point is placed"
    );
}

#[test]
fn the_workbook_opens_in_openpyxl_with_a_sheet_per_record_type() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("crisis.xlsx");
    export(
        &store,
        crisis,
        Format::Xlsx,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("xlsx");
    let out = run_python(
        r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
for ws in wb.worksheets:
    rows = list(ws.iter_rows(values_only=True))
    print(ws.title, len(rows), rows[0][0])
"#,
        &path,
    );
    let sheets: Vec<Vec<&str>> = out.lines().map(|l| l.split(' ').collect()).collect();
    let names: Vec<&str> = sheets.iter().map(|s| s[0]).collect();
    assert_eq!(
        names,
        ["Requests", "Tasks", "Timeline", "Measures", "Flows", "Alerts", "5W"]
    );
    let requests = store.requests(crisis).expect("r").len();
    let tasks = store.tasks(crisis).expect("t").len();
    // Requests: header + hashtag row + one per request.
    assert_eq!(sheets[0][1], (requests + 2).to_string());
    assert_eq!(sheets[1][1], (tasks + 1).to_string());
    assert_eq!(sheets[0][2], "Reference");
}

#[test]
fn json_holds_every_record_and_the_measures() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("crisis.json");
    export(
        &store,
        crisis,
        Format::Json,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("json");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("valid JSON");
    assert_eq!(v["format"], "relevo-review/1");
    assert_eq!(
        v["requests"].as_array().expect("requests").len(),
        store.requests(crisis).expect("r").len()
    );
    assert!(!v["measures"]["response"].as_array().expect("m").is_empty());
    assert!(!v["timeline"].as_array().expect("tl").is_empty());
}

/// Counts the pixels of one colour in a PNG.
fn pixels_of(png: &Path, rgb: [u8; 3]) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let step = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p[0] == rgb[0] && p[1] == rgb[1] && p[2] == rgb[2])
        .count()
}

#[test]
fn the_report_renders_its_charts_in_headless_chromium_without_network() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let path = dir.path().join("report.html");
    export(
        &store,
        crisis,
        Format::Report,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("report");
    let html = std::fs::read_to_string(&path).expect("read");
    // Self-contained: nothing to fetch.
    for needle in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(needle), "the report refers out: {needle}");
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("Chromium is missing: run ./dev setup (it installs Debian's chromium)");
    let shot = dir.path().join("report.png");
    let profile = dir.path().join("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1100,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", path.display()))
        .output()
        .expect("run chromium");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first chart's bars are drawn in the first series colour.
    let blue = pixels_of(&shot, [0x1f, 0x5f, 0x99]);
    assert!(
        blue > 2_000,
        "only {blue} pixels of chart bars in the screenshot"
    );
}

#[test]
fn an_export_that_cannot_be_written_says_why_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    let missing = dir.path().join("no-such-folder/report.html");
    let e = export(
        &store,
        crisis,
        Format::Report,
        Audience::Response,
        &missing,
        &mut |_, _| {},
    )
    .expect_err("missing folder");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(e.to_string().contains("nothing was written"), "{e}");
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).expect("mkdir");
    let e = export(
        &store,
        crisis,
        Format::Csv,
        Audience::Response,
        &folder,
        &mut |_, _| {},
    )
    .expect_err("folder");
    assert!(e.to_string().contains("is a folder"), "{e}");
    // An existing export is replaced whole or not at all.
    let path = dir.path().join("keep.csv");
    std::fs::write(&path, "earlier export").expect("write");
    export(
        &store,
        crisis,
        Format::Csv,
        Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("csv");
    assert!(std::fs::read_to_string(&path)
        .expect("r")
        .starts_with("Reference,"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".relevo-export-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Shared outside the response, an export holds no free text anyone typed
/// and no staff name, in any format; libhxl still reads the CSV.
#[test]
fn a_shareable_export_holds_no_free_text_or_staff_names() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = demo(dir.path());
    // What must not leave: every description, item, title, note, remark
    // and name the record holds.
    let mut secret: Vec<String> = Vec::new();
    for r in store.requests(crisis).expect("requests") {
        secret.push(r.description.clone());
        secret.extend(r.items.iter().map(|i| i.description.clone()));
        secret.extend(r.author_name.clone());
    }
    for t in store.tasks(crisis).expect("tasks") {
        secret.push(t.title.clone());
        secret.extend(t.description.clone());
        secret.extend(t.author_name.clone());
        secret.extend(t.holder.and_then(|h| h.person_name));
    }
    for f in store
        .flows(
            crisis,
            &relevo_store::FlowFilter {
                limit: Some(u32::MAX),
                ..Default::default()
            },
        )
        .expect("flows")
    {
        secret.extend(f.count.remarks.clone());
        secret.extend(f.author_name.clone());
    }
    for a in store.alerts(crisis, None).expect("alerts") {
        secret.extend(a.raised_by.clone());
        for ack in a.acks {
            secret.extend(ack.by);
            secret.extend(ack.note);
        }
    }
    // Staff ids link one person's actions across exports.
    for e in store
        .timeline(crisis, &relevo_store::TimelineFilter::default())
        .expect("timeline")
    {
        secret.push(e.author.to_string());
    }
    // Short words ("Agua") could also be a sector's or a place's name.
    secret.retain(|s| s.chars().count() >= 8);
    secret.sort();
    secret.dedup();
    assert!(
        secret.len() > 20,
        "the demo holds free text and names: {secret:?}"
    );

    let text_of = |path: &Path, format: Format| -> String {
        if format == Format::Xlsx {
            run_python(
                "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(''.join(z.read(n).decode('utf-8', 'replace') for n in z.namelist()))",
                path,
            )
        } else {
            std::fs::read_to_string(path).expect("read")
        }
    };
    // The full record holds them (so the check below can fail)...
    let full = dir.path().join("full.json");
    export(
        &store,
        crisis,
        Format::Json,
        Audience::Response,
        &full,
        &mut |_, _| {},
    )
    .expect("full");
    let full_text = text_of(&full, Format::Json);
    // As written, or escaped inside a JSON string.
    let appears = |text: &str, s: &str| {
        let escaped = serde_json::to_string(s).expect("json");
        text.contains(s) || text.contains(&escaped[1..escaped.len() - 1])
    };
    let held = secret.iter().filter(|s| appears(&full_text, s)).count();
    assert!(
        held > 10,
        "the full export holds the free text ({held} found)"
    );
    // ...a shareable export, in every format, holds none.
    for format in [
        Format::Csv,
        Format::FiveW,
        Format::Flows,
        Format::Json,
        Format::Report,
        Format::Xlsx,
    ] {
        let path = dir
            .path()
            .join(format!("shareable-{format:?}.{}", format.extension()));
        export(
            &store,
            crisis,
            format,
            Audience::Shareable,
            &path,
            &mut |_, _| {},
        )
        .expect("shareable");
        let text = text_of(&path, format);
        for s in &secret {
            assert!(!appears(&text, s), "{format:?} holds {s:?}");
        }
    }
    let report = std::fs::read_to_string(dir.path().join("shareable-Report.html")).expect("report");
    assert!(
        report.contains("Shareable version"),
        "the report says what it is"
    );
    // libhxl reads the shareable CSV: every request, its people and places.
    let out = run_python(
        r##"
import sys, hxl
rows = list(hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True)))
print(len(rows), sum(int(r.get("#affected") or 0) for r in rows), sum(1 for r in rows if r.get("#description")))
"##,
        &dir.path().join("shareable-Csv.csv"),
    );
    let requests = store.requests(crisis).expect("requests");
    let people: u64 = requests.iter().map(|r| u64::from(r.people.total)).sum();
    assert_eq!(out.trim(), format!("{} {people} 0", requests.len()));
}
