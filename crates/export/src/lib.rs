//! Review exports of one crisis: CSV with an HXL hashtag row, an Excel
//! workbook with one sheet per record type, JSON, and a self-contained
//! after-action report (one HTML file, charts inline as SVG, printable).
//!
//! Every export is written to a temporary file beside the target and renamed
//! over it once complete: a failed export leaves nothing half-written.

mod report;

use relevo_core::domain::VulnerableGroup;
use relevo_core::EntityId;
use relevo_store::{
    Event, Measures, Places, RequestView, Store, TaskView, TimelineFilter, WhoWhatWhere,
};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] relevo_store::Error),
    #[error("cannot write {path}: {detail}; nothing was written")]
    Write { path: PathBuf, detail: String },
    #[error("'{0}' is not an export format: use csv, 5w, flows, xlsx, json or report")]
    Format(String),
}

impl ExportError {
    /// The class of the failure, for the app and the CLI's exit status.
    pub fn code(&self) -> relevo_core::api::ErrorCode {
        match self {
            ExportError::Store(e) => e.code(),
            ExportError::Write { .. } => relevo_core::api::ErrorCode::Export,
            ExportError::Format(_) => relevo_core::api::ErrorCode::Validation,
        }
    }
}

pub type Result<T> = std::result::Result<T, ExportError>;

/// What an export can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The requests, with an HXL row.
    Csv,
    /// The 5W matrix as CSV, with an HXL row.
    #[serde(rename = "5w")]
    FiveW,
    /// The flow counts as CSV, with an HXL row.
    Flows,
    Xlsx,
    Json,
    Report,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "5w" | "3w" => Ok(Format::FiveW),
            "flows" | "flow" => Ok(Format::Flows),
            "xlsx" | "excel" => Ok(Format::Xlsx),
            "json" => Ok(Format::Json),
            "report" | "html" => Ok(Format::Report),
            _ => Err(ExportError::Format(text.to_owned())),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv | Format::FiveW | Format::Flows => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Report => "html",
        }
    }
}

/// How far an export has got: `done` of `total` steps.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub requests: u64,
    pub tasks: u64,
    pub flows: u64,
    pub alerts: u64,
}

/// Everything the exports show of a crisis, read once.
#[derive(Debug)]
pub struct Review {
    pub crisis: relevo_store::CrisisView,
    pub requests: Vec<RequestView>,
    pub tasks: Vec<TaskView>,
    pub events: Vec<Event>,
    pub measures: Measures,
    pub www: Vec<WhoWhatWhere>,
    pub areas: Vec<relevo_store::AreaCount>,
    /// Organisation ids of the holders of each request's tasks.
    pub implementers: HashMap<EntityId, Vec<String>>,
    /// Where the roster's sites lie.
    pub places: Places,
    /// Flow counts, newest first, and early-warning alerts.
    pub flows: Vec<relevo_store::FlowView>,
    pub alerts: Vec<relevo_store::AlertView>,
    pub made_at_ms: u64,
    /// Stripped for sharing outside the response ([`Review::shareable`]).
    pub shareable: bool,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Review {
    pub fn read(store: &Store, crisis: EntityId) -> Result<Review> {
        let view = store.crisis(crisis)?.ok_or(relevo_store::Error::NoCrisis)?;
        let requests = store.requests(crisis)?;
        let tasks = store.tasks(crisis)?;
        let now = now_ms();
        let mut implementers: HashMap<EntityId, Vec<String>> = HashMap::new();
        for t in &tasks {
            let Some(org) = t.holder.as_ref().and_then(|h| h.org.clone()) else {
                continue;
            };
            for r in store.task_requests(t.id)? {
                let orgs = implementers.entry(r).or_default();
                if !orgs.contains(&org) {
                    orgs.push(org.clone());
                }
            }
        }
        // One read of the timeline serves the export and the measures.
        let events = store.timeline(crisis, &TimelineFilter::default())?;
        Ok(Review {
            measures: store.measures_of(crisis, now, &events)?,
            events,
            www: store.who_what_where(crisis)?,
            areas: store.areas(crisis)?,
            crisis: view,
            requests,
            tasks,
            implementers,
            places: store.site_places()?,
            flows: store.flows(
                crisis,
                &relevo_store::FlowFilter {
                    limit: Some(u32::MAX),
                    ..Default::default()
                },
            )?,
            alerts: store.alerts(crisis, None)?,
            made_at_ms: now,
            shareable: false,
        })
    }

    /// The review as `audience` may see it.
    pub fn for_audience(self, audience: Audience) -> Review {
        match audience {
            Audience::Response => self,
            Audience::Shareable => self.shareable(),
        }
    }

    /// The review as it may leave the response: no free text anyone typed
    /// (descriptions, notes, remarks, item names, task titles, the changes
    /// the timeline records, refusal reasons) and no staff names or ids
    /// (authors, holders, who acknowledged). Sites stay: they are the
    /// crossings and shelters the "where" of a 3W/5W names. What stays is what a cluster or a donor needs: counts,
    /// places, sectors, priorities, statuses, dates, organisations and
    /// references. Every format written from it (CSV, 5W, flows, XLSX, JSON,
    /// report) is then shareable, as the IASC Operational Guidance on Data
    /// Responsibility and the IOM Data Protection Principles ask.
    pub fn shareable(mut self) -> Review {
        for r in &mut self.requests {
            r.description.clear();
            r.author_name = None;
            for item in &mut r.items {
                item.description.clear();
            }
        }
        for t in &mut self.tasks {
            t.title = t.reference.clone();
            t.description = None;
            t.author_name = None;
            if let Some(h) = &mut t.holder {
                h.person = None;
                h.person_name = None;
            }
        }
        for e in &mut self.events {
            e.summary = e.kind.clone();
            e.author_name = None;
            // A person's stable id would link their actions across exports.
            e.author = EntityId::from_bytes([0; 16]);
            e.changes.clear();
            e.text = None;
            // A refusal's reason can quote what was typed.
            if e.refused.is_some() {
                e.refused = Some("refused".into());
            }
        }
        for f in &mut self.flows {
            f.count.remarks = None;
            f.author_name = None;
        }
        for a in &mut self.alerts {
            a.raised_by = None;
            for ack in &mut a.acks {
                ack.by = None;
                ack.note = None;
            }
            for t in &mut a.tasks {
                t.title = t.reference.clone();
            }
        }
        for lag in &mut self.measures.sync_lag {
            lag.person = None;
        }
        self.shareable = true;
        self
    }
}

/// Who an export is for.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// The response team: the whole record (the default).
    #[default]
    Response,
    /// Outside the response: no free text, no staff names ([`Review::shareable`]).
    Shareable,
}

/// Writes `format` of a crisis to `path`, for `audience`.
pub fn export(
    store: &Store,
    crisis: EntityId,
    format: Format,
    audience: Audience,
    path: &Path,
    progress: Progress<'_>,
) -> Result<Written> {
    let review = Review::read(store, crisis)?.for_audience(audience);
    write(&review, format, path, progress)
}

/// Writes an already read review.
pub fn write(
    review: &Review,
    format: Format,
    path: &Path,
    progress: Progress<'_>,
) -> Result<Written> {
    let bytes = match format {
        Format::Csv => atomic(path, |w| csv_requests(review, w, progress))?,
        Format::Flows => atomic(path, |w| {
            let mut out = csv::Writer::from_writer(w);
            let cols = flow_columns();
            out.write_record(cols.iter().map(|c| c.0))?;
            out.write_record(cols.iter().map(|c| c.1))?;
            let total = review.flows.len() as u64;
            for (i, f) in review.flows.iter().enumerate() {
                out.write_record(flow_row(review, f))?;
                if i % 1000 == 0 {
                    progress(i as u64, total);
                }
            }
            out.flush()?;
            progress(total, total);
            Ok(())
        })?,
        Format::FiveW => atomic(path, |w| {
            let mut out = csv::Writer::from_writer(w);
            let cols = fivew_columns();
            out.write_record(cols.iter().map(|c| c.0))?;
            out.write_record(cols.iter().map(|c| c.1))?;
            for cell in &review.www {
                out.write_record(fivew_row(cell))?;
            }
            out.flush()?;
            progress(1, 1);
            Ok(())
        })?,
        Format::Json => atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &json(review)).map_err(std::io::Error::other)?;
            progress(1, 1);
            Ok(())
        })?,
        Format::Xlsx => {
            let data = xlsx(review, progress)?;
            atomic(path, |w| w.write_all(&data))?
        }
        Format::Report => {
            let html = report::html(review);
            progress(1, 1);
            atomic(path, |w| w.write_all(html.as_bytes()))?
        }
    };
    Ok(Written {
        path: path.to_owned(),
        bytes,
        requests: review.requests.len() as u64,
        tasks: review.tasks.len() as u64,
        flows: review.flows.len() as u64,
        alerts: review.alerts.len() as u64,
    })
}

/// Writes through a temporary file in the target's folder, renamed over the
/// target only once complete.
fn atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> Result<u64> {
    let fail = |detail: String| ExportError::Write {
        path: path.to_owned(),
        detail,
    };
    if path.is_dir() {
        return Err(fail("it is a folder".into()));
    }
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(fail(
            "it is a symbolic link, and Relevo does not write through links: give the path of a regular file".into(),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(fail(format!("the folder {} does not exist", dir.display())));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".relevo-export-")
        .tempfile_in(&dir)
        .map_err(|e| fail(e.to_string()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut w).map_err(|e| fail(e.to_string()))?;
        w.flush().map_err(|e| fail(e.to_string()))?;
    }
    tmp.as_file().sync_all().map_err(|e| fail(e.to_string()))?;
    let bytes = tmp
        .as_file()
        .metadata()
        .map(|m| m.len())
        .map_err(|e| fail(e.to_string()))?;
    tmp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    Ok(bytes)
}

fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn opt(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// HXL attributes for the vulnerable groups, which core HXL does not
/// cover: clearly named custom attributes on `#affected`.
pub fn vulnerable_tag(group: VulnerableGroup) -> &'static str {
    match group {
        VulnerableGroup::Uasc => "#affected+unaccompanied_separated_children",
        VulnerableGroup::PregnantLactating => "#affected+pregnant_lactating",
        VulnerableGroup::Disability => "#affected+with_disability",
        VulnerableGroup::Older => "#affected+older_persons",
        VulnerableGroup::ChronicIllness => "#affected+chronic_illness",
        VulnerableGroup::Other => "#affected+other_specific_needs",
    }
}

/// The requests table: a header row, an HXL hashtag row, one row per request.
pub fn request_columns() -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![
        ("Reference", "#meta+ref"),
        ("Crisis", "#crisis+name"),
        ("Country", "#country+code"),
        ("Admin area code", "#adm1+code"),
        ("Admin area", "#adm1+name"),
        ("Site", "#loc+name"),
        ("Latitude", "#geo+lat"),
        ("Longitude", "#geo+lon"),
        ("Sector", "#sector"),
        ("People", "#affected"),
        ("Women", "#affected+f+adults"),
        ("Men", "#affected+m+adults"),
        ("Girls", "#affected+f+children"),
        ("Boys", "#affected+m+children"),
        ("Female", "#affected+f"),
        ("Male", "#affected+m"),
        ("Children", "#affected+children"),
        ("Adults", "#affected+adults"),
        ("Elderly", "#affected+elderly"),
    ];
    cols.extend(
        VulnerableGroup::ALL
            .iter()
            .map(|g| (g.name_en(), vulnerable_tag(*g))),
    );
    cols.extend([
        ("Priority", "#severity+priority"),
        ("Status", "#status"),
        ("Implementing organisations", "#org+impl"),
        ("Reported", "#date+reported"),
        ("Needed by", "#date+deadline"),
        ("Description", "#description"),
    ]);
    cols
}

/// One request as a row of [`request_columns`].
pub fn request_row(review: &Review, r: &RequestView) -> Vec<String> {
    let p = &r.people;
    let place = review
        .places
        .of(r.country, &r.site)
        .cloned()
        .unwrap_or_default();
    let mut row = vec![
        r.reference.clone(),
        review.crisis.name.clone(),
        r.country.code().to_owned(),
        place.pcode.unwrap_or_default(),
        place.adm1.unwrap_or_default(),
        r.site.clone(),
        place.lat.map(|l| l.to_string()).unwrap_or_default(),
        place.lon.map(|l| l.to_string()).unwrap_or_default(),
        r.sector.slug().to_owned(),
        p.total.to_string(),
        opt(p.women),
        opt(p.men),
        opt(p.girls),
        opt(p.boys),
        opt(p.female()),
        opt(p.male()),
        opt(p.children()),
        opt(p.adults()),
        opt(p.age60_plus),
    ];
    for g in VulnerableGroup::ALL {
        row.push(
            r.vulnerable
                .iter()
                .find(|v| v.group == *g)
                .map(|v| v.count.to_string())
                .unwrap_or_default(),
        );
    }
    row.extend([
        r.priority.slug().to_owned(),
        r.status.slug().to_owned(),
        review
            .implementers
            .get(&r.id)
            .map(|o| o.join("; "))
            .unwrap_or_default(),
        iso(r.recorded_at_ms),
        r.needed_by_ms.map(|d| iso(d as u64)).unwrap_or_default(),
        r.description.clone(),
    ]);
    row
}

/// The 5W table: a header row, an HXL hashtag row, one row per cell. The
/// custom attributes: `#affected+specific_needs` counts the people in the
/// requests' vulnerable groups; `#activity+num+open` the tasks not yet done.
pub fn fivew_columns() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Organisation", "#org+impl+name"),
        ("Organisation id", "#org+impl+code"),
        ("Sector", "#sector"),
        ("Country", "#country+code"),
        ("Admin area code", "#adm1+code"),
        ("Admin area", "#adm1+name"),
        ("Start", "#date+start"),
        ("End", "#date+end"),
        ("Tasks", "#activity+num"),
        ("Open tasks", "#activity+num+open"),
        ("Requests", "#need+num"),
        ("People", "#affected"),
        ("Female", "#affected+f"),
        ("Male", "#affected+m"),
        ("Children", "#affected+children"),
        ("Elderly", "#affected+elderly"),
        ("With specific needs", "#affected+specific_needs"),
    ]
}

/// The flow counts table: a header row, an HXL hashtag row, one row per
/// count. People are in `#affected+incoming` or `#affected+outgoing` by the
/// count's direction; the largest nationality is `#country+origin` and all
/// of them are listed in `#country+origin+list` (`VE:200; HT:60`);
/// `#country+code+from` and `#country+code+next` are where the group came
/// from and is heading next, `#country+dest` its final destination.
pub fn flow_columns() -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![
        ("Reference", "#meta+ref"),
        ("Crisis", "#crisis+name"),
        ("Point", "#loc+code"),
        ("Point name", "#loc+name"),
        ("Country", "#country+code"),
        ("Admin area", "#adm1+name"),
        ("Latitude", "#geo+lat"),
        ("Longitude", "#geo+lon"),
        ("Start", "#date+start"),
        ("End", "#date"),
        ("Direction", "#meta+direction"),
        ("People entering", "#affected+incoming"),
        ("People leaving", "#affected+outgoing"),
        ("People", "#affected"),
        ("Female", "#affected+f"),
        ("Male", "#affected+m"),
        ("Children", "#affected+children"),
    ];
    cols.extend(
        VulnerableGroup::ALL
            .iter()
            .map(|g| (g.name_en(), vulnerable_tag(*g))),
    );
    cols.extend([
        ("Main nationality", "#country+origin"),
        ("Nationalities", "#country+origin+list"),
        ("Came from", "#country+code+from"),
        ("Heading into", "#country+code+next"),
        ("Destination", "#country+dest"),
        ("Transport", "#meta+transport"),
        ("Remarks", "#description"),
    ]);
    cols
}

/// The columns of [`flow_columns`] that hold numbers (people and groups).
const FLOW_NUMBERS: std::ops::RangeInclusive<usize> = 11..=22;

/// One count as a row of [`flow_columns`].
pub fn flow_row(review: &Review, f: &relevo_store::FlowView) -> Vec<String> {
    let c = &f.count;
    let p = &c.people;
    let place = review
        .places
        .of(c.country, &f.point_name)
        .cloned()
        .unwrap_or_default();
    let entering = c.direction == relevo_core::domain::Direction::Entering;
    let mut row = vec![
        f.reference.clone(),
        review.crisis.name.clone(),
        c.point.clone(),
        f.point_name.clone(),
        c.country.code().to_owned(),
        place.adm1.unwrap_or_default(),
        place.lat.map(|l| l.to_string()).unwrap_or_default(),
        place.lon.map(|l| l.to_string()).unwrap_or_default(),
        iso(c.start_ms.max(0) as u64),
        iso(c.end_ms.max(0) as u64),
        c.direction.slug().to_owned(),
        if entering {
            p.total.to_string()
        } else {
            String::new()
        },
        if entering {
            String::new()
        } else {
            p.total.to_string()
        },
        p.total.to_string(),
        opt(p.female()),
        opt(p.male()),
        opt(p.children()),
    ];
    for g in VulnerableGroup::ALL {
        row.push(
            c.vulnerable
                .iter()
                .find(|v| v.group == *g)
                .map(|v| v.count.to_string())
                .unwrap_or_default(),
        );
    }
    row.extend([
        c.nationalities
            .iter()
            .max_by_key(|n| n.count)
            .map(|n| n.code.clone())
            .unwrap_or_default(),
        c.nationalities
            .iter()
            .map(|n| format!("{}:{}", n.code, n.count))
            .collect::<Vec<_>>()
            .join("; "),
        c.from_country.clone().unwrap_or_default(),
        c.to_country.clone().unwrap_or_default(),
        c.destination.clone().unwrap_or_default(),
        c.transport.map(|t| t.slug().to_owned()).unwrap_or_default(),
        c.remarks.clone().unwrap_or_default(),
    ]);
    row
}

/// Where the 5W's numbers start.
const FIVEW_FIRST_NUMBER: usize = 8;

/// One cell of the 5W matrix as a row of [`fivew_columns`].
pub fn fivew_row(w: &WhoWhatWhere) -> Vec<String> {
    let p = &w.people;
    vec![
        w.org_name.clone().unwrap_or(w.org.clone()),
        w.org.clone(),
        w.sector.slug().to_owned(),
        w.country.map(|c| c.code().to_owned()).unwrap_or_default(),
        w.pcode.clone().unwrap_or_default(),
        w.adm1.clone().unwrap_or_default(),
        w.start_ms.map(iso).unwrap_or_default(),
        w.end_ms.map(iso).unwrap_or_default(),
        w.tasks.to_string(),
        w.open_tasks.to_string(),
        w.requests.to_string(),
        p.total.to_string(),
        p.female.to_string(),
        p.male.to_string(),
        p.children.to_string(),
        p.elderly.to_string(),
        p.vulnerable.to_string(),
    ]
}

fn csv_requests(
    review: &Review,
    w: &mut impl Write,
    progress: Progress<'_>,
) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let cols = request_columns();
    out.write_record(cols.iter().map(|c| c.0))?;
    out.write_record(cols.iter().map(|c| c.1))?;
    let total = review.requests.len() as u64;
    for (i, r) in review.requests.iter().enumerate() {
        out.write_record(request_row(review, r))?;
        if i % 1000 == 0 {
            progress(i as u64, total);
        }
    }
    out.flush()?;
    progress(total, total);
    Ok(())
}

#[derive(Serialize)]
struct JsonExport<'a> {
    format: &'static str,
    made_at: String,
    crisis: &'a relevo_store::CrisisView,
    requests: &'a [RequestView],
    tasks: &'a [TaskView],
    timeline: &'a [Event],
    measures: &'a Measures,
    who_what_where: &'a [WhoWhatWhere],
    areas: &'a [relevo_store::AreaCount],
    flows: &'a [relevo_store::FlowView],
    alerts: &'a [relevo_store::AlertView],
}

fn json(review: &Review) -> JsonExport<'_> {
    JsonExport {
        format: "relevo-review/1",
        made_at: iso(review.made_at_ms),
        crisis: &review.crisis,
        requests: &review.requests,
        tasks: &review.tasks,
        timeline: &review.events,
        measures: &review.measures,
        who_what_where: &review.www,
        areas: &review.areas,
        flows: &review.flows,
        alerts: &review.alerts,
    }
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Write {
        path: PathBuf::from("the workbook"),
        detail: e.to_string(),
    }
}

fn hours(ms: Option<f64>) -> String {
    ms.map(|m| format!("{:.1}", m / 3_600_000.0))
        .unwrap_or_default()
}

/// Writes a sheet's header row in bold.
fn header_row(
    sheet: &mut rust_xlsxwriter::Worksheet,
    names: &[&str],
    bold: &rust_xlsxwriter::Format,
) -> Result<()> {
    for (c, name) in names.iter().enumerate() {
        sheet
            .write_with_format(0, c as u16, *name, bold)
            .map_err(xlsx_error)?;
    }
    Ok(())
}

/// Rows in an Excel sheet.
const SHEET_ROWS: u32 = 1_048_576;

/// The workbook: Requests, Tasks, Timeline, Measures and 3W sheets.
fn xlsx(review: &Review, progress: Progress<'_>) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format as Cell, Workbook};
    let mut book = Workbook::new();
    let bold = Cell::new().set_bold();
    let total = (review.requests.len() + review.tasks.len() + review.events.len()) as u64;
    let mut done = 0u64;
    let mut tick = |n: u64, progress: &mut dyn FnMut(u64, u64)| {
        done += n;
        if done % 5000 < n {
            progress(done, total);
        }
    };
    {
        let sheet = book
            .add_worksheet()
            .set_name("Requests")
            .map_err(xlsx_error)?;
        let cols = request_columns();
        for (c, (name, tag)) in cols.iter().enumerate() {
            sheet
                .write_with_format(0, c as u16, *name, &bold)
                .map_err(xlsx_error)?;
            sheet.write(1, c as u16, *tag).map_err(xlsx_error)?;
        }
        let numeric: Vec<bool> = cols
            .iter()
            .map(|(_, t)| t.starts_with("#affected"))
            .collect();
        for (i, r) in review.requests.iter().enumerate() {
            let row = i as u32 + 2;
            if row == SHEET_ROWS - 1 {
                sheet
                    .write(
                        row,
                        0,
                        format!(
                            "{} more requests do not fit in a sheet: see the CSV export",
                            review.requests.len() - i
                        ),
                    )
                    .map_err(xlsx_error)?;
                break;
            }
            for (c, value) in request_row(review, r).into_iter().enumerate() {
                match value.parse::<f64>() {
                    Ok(n) if numeric[c] => sheet.write(row, c as u16, n),
                    _ => sheet.write(row, c as u16, value),
                }
                .map_err(xlsx_error)?;
            }
            tick(1, progress);
        }
        sheet.set_freeze_panes(2, 1).map_err(xlsx_error)?;
    }
    {
        let sheet = book.add_worksheet().set_name("Tasks").map_err(xlsx_error)?;
        let header = [
            "Reference",
            "Title",
            "Scope",
            "Sector",
            "Priority",
            "Status",
            "Holder",
            "Organisation",
            "Due",
            "Requests",
            "Created",
            "Overdue",
        ];
        header_row(sheet, &header, &bold)?;
        for (i, t) in review.tasks.iter().enumerate() {
            let row = i as u32 + 1;
            let scope = match t.scope {
                relevo_core::domain::TaskScope::National(c) => c.code().to_owned(),
                relevo_core::domain::TaskScope::Regional => "regional".into(),
            };
            let holder = t.holder.as_ref();
            let cells = [
                t.reference.clone(),
                t.title.clone(),
                scope,
                t.sector.slug().into(),
                t.priority.slug().into(),
                t.status.slug().into(),
                holder
                    .and_then(|h| h.person_name.clone())
                    .unwrap_or_default(),
                holder.and_then(|h| h.org.clone()).unwrap_or_default(),
                t.due_ms.map(|d| iso(d as u64)).unwrap_or_default(),
            ];
            for (c, v) in cells.iter().enumerate() {
                sheet.write(row, c as u16, v.as_str()).map_err(xlsx_error)?;
            }
            sheet.write(row, 9, t.requests).map_err(xlsx_error)?;
            sheet
                .write(row, 10, iso(t.created_at_ms))
                .map_err(xlsx_error)?;
            sheet.write(row, 11, t.overdue).map_err(xlsx_error)?;
            tick(1, progress);
        }
    }
    {
        let sheet = book
            .add_worksheet()
            .set_name("Timeline")
            .map_err(xlsx_error)?;
        let header = [
            "Made",
            "Received",
            "Device",
            "Seq",
            "Who",
            "Organisation",
            "Kind",
            "Record",
            "Country",
            "Sector",
            "What",
            "Significant",
            "Refused",
        ];
        header_row(sheet, &header, &bold)?;
        for (i, e) in review.events.iter().enumerate() {
            let row = i as u32 + 1;
            if row == SHEET_ROWS - 1 {
                sheet
                    .write(
                        row,
                        0,
                        format!(
                            "{} more events do not fit in a sheet: see the JSON export",
                            review.events.len() - i
                        ),
                    )
                    .map_err(xlsx_error)?;
                break;
            }
            let cells = [
                iso(e.made_at_ms),
                iso(e.received_at_ms),
                e.device_tag.clone(),
                e.seq.to_string(),
                e.author_name.clone().unwrap_or_default(),
                e.org.clone().unwrap_or_default(),
                e.kind.clone(),
                e.record.clone().unwrap_or_default(),
                e.country.map(|c| c.code().to_owned()).unwrap_or_default(),
                e.sector.map(|s| s.slug().to_owned()).unwrap_or_default(),
                e.summary.clone(),
            ];
            for (c, v) in cells.iter().enumerate() {
                sheet.write(row, c as u16, v.as_str()).map_err(xlsx_error)?;
            }
            sheet.write(row, 11, e.significant).map_err(xlsx_error)?;
            sheet
                .write(row, 12, e.refused.clone().unwrap_or_default())
                .map_err(xlsx_error)?;
            tick(1, progress);
        }
    }
    {
        let sheet = book
            .add_worksheet()
            .set_name("Measures")
            .map_err(xlsx_error)?;
        let header = [
            "By",
            "Group",
            "Requests",
            "With a task",
            "Hours to first task (median)",
            "(p90)",
            "With a delivery",
            "Hours to first delivery (median)",
            "(p90)",
            "Fulfilled",
            "Hours to fulfilled (median)",
            "(p90)",
        ];
        header_row(sheet, &header, &bold)?;
        for (i, g) in review.measures.response.iter().enumerate() {
            let row = i as u32 + 1;
            let cells = [
                g.by.clone(),
                g.group.clone(),
                g.requests.to_string(),
                g.to_first_task.count.to_string(),
                hours(g.to_first_task.median_ms),
                hours(g.to_first_task.p90_ms),
                g.to_first_fulfilment.count.to_string(),
                hours(g.to_first_fulfilment.median_ms),
                hours(g.to_first_fulfilment.p90_ms),
                g.to_fulfilled.count.to_string(),
                hours(g.to_fulfilled.median_ms),
                hours(g.to_fulfilled.p90_ms),
            ];
            for (c, v) in cells.iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(n) if c >= 2 => sheet.write(row, c as u16, n),
                    _ => sheet.write(row, c as u16, v.as_str()),
                }
                .map_err(xlsx_error)?;
            }
        }
    }
    {
        let sheet = book.add_worksheet().set_name("Flows").map_err(xlsx_error)?;
        let cols = flow_columns();
        let header: Vec<&str> = cols.iter().map(|c| c.0).collect();
        header_row(sheet, &header, &bold)?;
        for (c, col) in cols.iter().enumerate() {
            sheet.write(1, c as u16, col.1).map_err(xlsx_error)?;
        }
        for (i, f) in review
            .flows
            .iter()
            .take(SHEET_ROWS as usize - 2)
            .enumerate()
        {
            let row = i as u32 + 2;
            for (c, v) in flow_row(review, f).iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(n) if FLOW_NUMBERS.contains(&c) => sheet.write(row, c as u16, n),
                    _ => sheet.write(row, c as u16, v.as_str()),
                }
                .map_err(xlsx_error)?;
            }
        }
    }
    {
        let sheet = book
            .add_worksheet()
            .set_name("Alerts")
            .map_err(xlsx_error)?;
        let header = [
            "Reference",
            "Point",
            "Country",
            "Direction",
            "People in 24 h",
            "Daily baseline",
            "Test",
            "Raised",
            "Raised by",
            "Acknowledged for",
            "First acknowledged",
            "Tasks",
            "Downstream (earliest – latest)",
        ];
        header_row(sheet, &header, &bold)?;
        for (i, a) in review.alerts.iter().enumerate() {
            let row = i as u32 + 1;
            let acks = a
                .acks
                .iter()
                .map(|k| k.country.map(|c| c.code()).unwrap_or("region"))
                .collect::<Vec<_>>()
                .join(", ");
            let first_ack = a
                .acks
                .iter()
                .map(|k| k.at_ms)
                .min()
                .map(iso)
                .unwrap_or_default();
            let tasks = a
                .tasks
                .iter()
                .map(|t| t.reference.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let downstream = a
                .arrivals
                .iter()
                .map(|x| {
                    format!(
                        "{} ({}): {} – {}",
                        x.name,
                        x.arrival.country.code(),
                        iso(x.arrival.earliest_ms.max(0) as u64),
                        iso(x.arrival.latest_ms.max(0) as u64)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let cells: [String; 13] = [
                a.reference.clone(),
                a.point_name.clone(),
                a.country.code().to_owned(),
                a.direction.slug().to_owned(),
                a.surge.people.to_string(),
                a.surge
                    .baseline
                    .map(|b| format!("{b:.1}"))
                    .unwrap_or_default(),
                a.surge.by.clone(),
                iso(a.raised_at_ms),
                a.raised_by.clone().unwrap_or_default(),
                acks,
                first_ack,
                tasks,
                downstream,
            ];
            for (c, v) in cells.iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(n) if c == 4 || c == 5 => sheet.write(row, c as u16, n),
                    _ => sheet.write(row, c as u16, v.as_str()),
                }
                .map_err(xlsx_error)?;
            }
        }
    }
    {
        let sheet = book.add_worksheet().set_name("5W").map_err(xlsx_error)?;
        let header: Vec<&str> = fivew_columns().iter().map(|c| c.0).collect();
        header_row(sheet, &header, &bold)?;
        for (i, w) in review.www.iter().enumerate() {
            let row = i as u32 + 1;
            for (c, v) in fivew_row(w).iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(n) if c >= FIVEW_FIRST_NUMBER => sheet.write(row, c as u16, n),
                    _ => sheet.write(row, c as u16, v.as_str()),
                }
                .map_err(xlsx_error)?;
            }
        }
    }
    let data = book.save_to_buffer().map_err(xlsx_error)?;
    progress(total, total);
    Ok(data)
}
