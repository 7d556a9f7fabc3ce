// Generated from the Rust types by relevo-store's bindings test. Do not edit.
// Regenerate: RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-store bindings

export type EntityId = string;

export type Country = "BZ" | "CR" | "SV" | "GT" | "HN" | "NI" | "PA" | "DO" | "MX" | "US";

export type Sector = "cccm" | "early-recovery" | "education" | "shelter" | "food-security" | "health" | "nutrition" | "protection" | "child-protection" | "gbv" | "hlp" | "mine-action" | "telecoms" | "logistics" | "wash";

export type Priority = "critical" | "high" | "medium" | "low";

export type Role = "field-coordinator" | "national-director" | "regional-director" | "reviewer" | "administrator";

export type Rule = "required" | "unknown" | "negative" | "whole-number" | "at-least-one" | "too-large" | "too-long" | "breakdown-exceeds-total" | "duplicate" | "bad-date" | "not-on-roster" | "unknown-reference" | "over-fulfilment" | "cycle";

export type FieldError = { 
/**
 * The field, as named in the form and the CLI: `country`, `people.women`...
 */
field: string, rule: Rule, 
/**
 * The bound the rule refers to (a maximum length or count), if any.
 */
limit: number | null, 
/**
 * In English, for the CLI and logs; the UI translates `rule` instead.
 */
message: string, };

export type ErrorCode = "validation" | "not-initialised" | "already-initialised" | "no-crisis" | "forbidden" | "not-found" | "lifecycle" | "conflict" | "schema-too-new" | "corrupt" | "storage" | "locked" | "offline" | "sync" | "revoked" | "enrolment" | "io" | "export" | "internal";

export type ApiError = { code: ErrorCode, message: string, fields: Array<FieldError>, 
/**
 * Values the UI puts into its translated message (a status, a field).
 */
args: { [key in string]: string }, };

export type People = { total: number, women: number | null, men: number | null, girls: number | null, boys: number | null, 
/**
 * By age band, where known.
 */
under5?: number | null, age5_17?: number | null, age18_59?: number | null, age60_plus?: number | null, };

export type RequestStatus = "new" | "triaged" | "in-progress" | "partly-fulfilled" | "fulfilled" | "closed" | "cancelled" | "duplicate";

export type VulnerableGroup = "uasc" | "pregnant-lactating" | "disability" | "older" | "chronic-illness" | "other";

export type Vulnerable = { group: VulnerableGroup, count: number, };

export type VulnerableDraft = { group: string, count: number | null, };

export type ItemLine = { quantity: number, unit: string, description: string, };

export type ItemDraft = { quantity: number | null, unit: string, description: string, };

export type RequestDraft = { country: string, site: string, sector: string, people_total: number | null, women: number | null, men: number | null, girls: number | null, boys: number | null, under5: number | null, age5_17: number | null, age18_59: number | null, age60_plus: number | null, vulnerable: Array<VulnerableDraft>, priority: string, 
/**
 * When it is needed by: `YYYY-MM-DD` (end of that day in the request's
 * country), `YYYY-MM-DDTHH:MM` (local time there) or RFC 3339.
 */
needed_by: string, items: Array<ItemDraft>, description: string, };

export type IdentityDraft = { name: string, role: string, country: string, org: string, };

export type CrisisDraft = { name: string, 
/**
 * ISO codes of the affected countries.
 */
countries: Array<string>, };

export type Action = "open-crisis" | "close-crisis" | "log-request" | "update-request" | "triage-request" | "add-note" | "create-task" | "assign-task" | "hand-over-task" | "escalate-task" | "update-held-task" | "link-requests" | "resolve-conflict" | "manage-roster" | "log-flow" | "acknowledge-alert" | "set-corridor";

export type IdentityView = { person_id: EntityId, name: string, role: Role, country: Country, org: string | null, device_id: string, device_tag: string, 
/**
 * What the person may do somewhere (their country, the region, a task
 * they hold), from the core's permission table: the app offers these
 * and never compares role names.
 */
may: Array<Action>, };

export type CrisisView = { id: EntityId, name: string, countries: Array<Country>, demo: boolean, closed: boolean, 
/**
 * When it was opened (ms since the Unix epoch, by the opener's clock).
 */
opened_at_ms: number, };

export type RequestView = { id: EntityId, reference: string, crisis: EntityId, country: Country, site: string, sector: Sector, people: People, priority: Priority, description: string, status: RequestStatus, 
/**
 * Deadline (ms since the Unix epoch, UTC).
 */
needed_by_ms: number | null, vulnerable: Array<Vulnerable>, items: Array<ItemLine>, duplicate_of: EntityId | null, 
/**
 * Fields with competing values.
 */
conflicts: number, 
/**
 * Tasks that answer it.
 */
tasks: number, 
/**
 * Who logged it, once their declaration is held.
 */
author_name: string | null, device_tag: string, 
/**
 * When it was logged (ms since the Unix epoch, by the logger's clock).
 */
recorded_at_ms: number, 
/**
 * The hub is known to hold the op that logged it.
 */
on_hub: boolean, };

export type Snapshot = { identity: IdentityView | null, crisis: CrisisView | null, crises: Array<CrisisView>, };

export type TaskStatus = "open" | "assigned" | "accepted" | "in-progress" | "blocked" | "done" | "cancelled";

export type TaskScope = { "national": Country } | "regional";

export type Holder = { person: EntityId | null, org: string | null, };

export type TaskDraft = { title: string, description: string, 
/**
 * `national` or `regional`.
 */
scope: string, 
/**
 * The country of a national task.
 */
country: string, sector: string, priority: string, 
/**
 * `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` (in the task's country) or RFC 3339.
 */
due: string, 
/**
 * References (`REQ-…`) or ids of the requests it answers.
 */
requests: Array<string>, 
/**
 * Person id of the first holder, if assigned straight away.
 */
holder_person: string, 
/**
 * Organisation id of the first holder.
 */
holder_org: string, };

export type HolderDraft = { 
/**
 * A person id from the roster.
 */
person: string, 
/**
 * An organisation id from the roster (`iom`, `mig-gt`...).
 */
org: string, };

export type FulfilmentDraft = { 
/**
 * The item line it answers (0-based), if any.
 */
item: number | null, what: string, quantity: number | null, unit: string, 
/**
 * Organisation id that delivered.
 */
by: string, 
/**
 * For a request without item lines: this delivery completes it.
 */
complete: boolean, };

export type HolderView = { person: EntityId | null, person_name: string | null, org: string | null, org_name: string | null, };

export type TaskView = { id: EntityId, reference: string, crisis: EntityId, title: string, description: string | null, scope: TaskScope, sector: Sector, priority: Priority, due_ms: number | null, status: TaskStatus, holder: HolderView | null, 
/**
 * Past its due date and not finished.
 */
overdue: boolean, 
/**
 * Fields with competing values.
 */
conflicts: number, 
/**
 * Requests it answers.
 */
requests: number, author_name: string | null, created_at_ms: number, 
/**
 * The hub is known to hold the op that created it.
 */
on_hub: boolean, };

export type TaskFilter = { 
/**
 * Tasks of one country (national tasks of it).
 */
country: Country | null, 
/**
 * `national` or `regional`.
 */
scope: string | null, sector: Sector | null, priority: Priority | null, status: TaskStatus | null, 
/**
 * Held by this person id.
 */
person: EntityId | null, 
/**
 * Held by this organisation id.
 */
org: string | null, overdue: boolean, 
/**
 * Only tasks with a conflict.
 */
conflicted: boolean, };

export type BoardColumn = { status: TaskStatus, 
/**
 * All tasks in this column that match the filters.
 */
count: number, 
/**
 * The first of them, most urgent first.
 */
tasks: Array<TaskView>, };

export type Board = { columns: Array<BoardColumn>, };

export type RequestFilter = { status: RequestStatus | null, country: Country | null, sector: Sector | null, priority: Priority | null, 
/**
 * Words in the site or description.
 */
text: string | null, conflicted: boolean, };

export type FieldChange = { field: string, 
/**
 * JSON text of the value.
 */
value: string, };

export type TimelineEntry = { 
/**
 * The op, `<device>/<seq>`.
 */
op: string, 
/**
 * The op kind: `task.handover`, `note.add`...
 */
kind: string, at_ms: number, author_name: string | null, device_tag: string, changes: Array<FieldChange>, text: string | null, significant: boolean, };

export type ConflictValue = { 
/**
 * The op that wrote it, `<device>/<seq>`: what a resolution names.
 */
op: string, 
/**
 * JSON text of the value.
 */
value: string, 
/**
 * The holder's names, when the field is a holder.
 */
holder: HolderView | null, author_name: string | null, device_tag: string, at_ms: number, 
/**
 * The provisional winner shown until someone resolves it.
 */
provisional: boolean, };

export type ConflictView = { record: EntityId, reference: string, 
/**
 * What people call the record besides its reference: a task's title,
 * a request's site, a crisis's name.
 */
label: string, 
/**
 * `request`, `task` or `crisis`.
 */
kind: string, field: string, values: Array<ConflictValue>, };

export type FulfilmentView = { item: number | null, what: string, quantity: number, unit: string, by: string | null, author_name: string | null, at_ms: number, };

export type RequestDetail = { request: RequestView, fulfilments: Array<FulfilmentView>, tasks: Array<TaskView>, timeline: Array<TimelineEntry>, conflicts: Array<ConflictView>, 
/**
 * What this device's person may do to it now.
 */
allowed: Array<string>, };

export type HolderChange = { holder: HolderView | null, kind: string, by_name: string | null, at_ms: number, note: string | null, 
/**
 * A competing value that lost (or has not yet won) a conflict.
 */
contested: boolean, };

export type TaskDetail = { task: TaskView, requests: Array<RequestView>, holders: Array<HolderChange>, timeline: Array<TimelineEntry>, conflicts: Array<ConflictView>, 
/**
 * What this device's person may do to it now: `assign`, `accept`,
 * `handover`, `start`, `block`, `done`, `cancel`, `escalate`, `link`,
 * `note`, `resolve`.
 */
allowed: Array<string>, };

export type Holding = { holder: HolderView, tasks: Array<TaskView>, };

export type PersonView = { id: EntityId, name: string, role: Role, country: Country, org: string | null, 
/**
 * Uses a device (declared themselves) rather than added by an administrator.
 */
declared: boolean, };

export type OrgKind = "migration-authority" | "un-agency" | "red-cross" | "ngo" | "government" | "other";

export type Org = { 
/**
 * A short lowercase id: `iom`, `mig-gt`, `cr-hn`.
 */
id: string, name: string, kind: OrgKind, country: Country | null, };

export type SiteKind = "border-crossing" | "shelter" | "reception-centre" | "transit-hub" | "flow-monitoring-point" | "other";

export type Site = { id: string, name: string, kind: SiteKind, country: Country, 
/**
 * Admin area P-code, kept as text (they nest and have exceptions).
 */
pcode: string | null, 
/**
 * The first-level admin area's name (department, province, state).
 */
adm1?: string | null, lat: number | null, lon: number | null, };

export type Roster = { people: Array<PersonView>, orgs: Array<Org>, sites: Array<Site>, };

export type PersonDraft = { name: string, role: string, country: string, org: string, };

export type ForkView = { device: string, tag: string, seq: number, kind: string, 
/**
 * The person the device belongs to, if known.
 */
author: string | null, received_at: number, reason: string, };

export type Waits = { "kind": "predecessor", seq: number, } | { "kind": "grant" } | { "kind": "time", wall_ms: number, } | { "kind": "op", device: string, tag: string, seq: number, } | { "kind": "nothing" };

export type WaitingView = { device: string, tag: string, seq: number, kind: string, 
/**
 * The person its device belongs to, if known.
 */
author: string | null, 
/**
 * When it says it was made (ms since 1970).
 */
made_ms: number, bytes: number, waits: Waits, 
/**
 * What it waits for, in words.
 */
why: string, };

export type SyncState = "alone" | "offline" | "syncing" | "up-to-date" | "error";

export type SyncStatus = { state: SyncState, 
/**
 * This device's ops not yet on the hub.
 */
not_on_hub: number, last_sync_ms: number | null, error: string | null, 
/**
 * Progress of the session under way: ops sent, received, still to send.
 */
sent: number, received: number, to_send: number, hub_url: string | null, 
/**
 * Ops quarantined as forks, for a director to look at.
 */
forks: Array<ForkView>, 
/**
 * Ops that wait here, each with what it waits for (the first
 * [`WAITING_SHOWN`]).
 */
waiting: Array<WaitingView>, 
/**
 * How many ops wait here in all.
 */
waiting_count: number, };

export type TimelineFilter = { 
/**
 * Events on records of this country (a regional task has none).
 */
country: Country | null, sector: Sector | null, 
/**
 * Made by this person.
 */
person: EntityId | null, 
/**
 * Made by someone of this organisation (its id).
 */
org: string | null, 
/**
 * On this record (its reference, `REQ-…` or `TSK-…`).
 */
record: string | null, 
/**
 * Made at or after (ms since the Unix epoch).
 */
from_ms: number | null, 
/**
 * Made at or before.
 */
to_ms: number | null, 
/**
 * Only significant notes.
 */
significant: boolean, };

export type Event = { 
/**
 * `<device>/<seq>`.
 */
op: string, device_tag: string, seq: number, 
/**
 * The op kind: `request.create`, `task.handover`…
 */
kind: string, 
/**
 * One line in English, for the command line and the exports.
 */
summary: string, 
/**
 * When it was made, by its device's clock.
 */
made_at_ms: number, 
/**
 * When this replica took it in (on the hub: when the hub received it).
 */
received_at_ms: number, 
/**
 * When the hub received it, as the hub told this device (on the hub,
 * its own receipt); `None` when not known here.
 */
hub_received_at_ms: number | null, author: EntityId, author_name: string | null, org: string | null, 
/**
 * The record's reference (or the crisis name).
 */
record: string | null, 
/**
 * `crisis`, `request` or `task`.
 */
record_kind: string | null, country: Country | null, sector: Sector | null, 
/**
 * Fields it wrote (JSON text of each value).
 */
changes: Array<FieldChange>, text: string | null, significant: boolean, 
/**
 * Why every replica refused it; a refused op changed nothing.
 */
refused: string | null, };

export type Basis = "made" | "received";

export type Span = { first_ms: number, last_ms: number, ops: number, };

export type AsOfView = { at_ms: number, basis: Basis, requests: Array<RequestView>, board: Board, };

export type Stat = { 
/**
 * How many records reached the milestone.
 */
count: number, median_ms: number | null, p90_ms: number | null, };

export type ResponseTimes = { 
/**
 * `all`, `country`, `sector` or `priority`.
 */
by: string, 
/**
 * The group's code (`GT`, `shelter`, `high`), empty for `all`.
 */
group: string, requests: number, 
/**
 * From logging a request to the first task that answers it.
 */
to_first_task: Stat, 
/**
 * To the first delivery recorded against it.
 */
to_first_fulfilment: Stat, 
/**
 * To its status becoming fulfilled.
 */
to_fulfilled: Stat, };

export type RecordRef = { reference: string, country: Country | null, sector: Sector, priority: Priority, at_ms: number, };

export type DeviceLag = { device_tag: string, person: string | null, lag: Stat, max_ms: number | null, };

export type Handovers = { tasks: number, handovers: number, tasks_handed_over: number, max_per_task: number, 
/**
 * Tasks by number of handovers: index 0 = none, 1 = one…
 */
distribution: Array<number>, };

export type AlertTimes = { raised: number, acknowledged: number, 
/**
 * Acknowledgements, one per country (or the region) per alert.
 */
acknowledgements: number, with_tasks: number, to_first_ack: Stat, to_first_task: Stat, };

export type Measures = { crisis: EntityId, 
/**
 * The moment overdue is judged at.
 */
at_ms: number, response: Array<ResponseTimes>, overdue: Array<RecordRef>, handovers: Handovers, 
/**
 * Open requests no task answers.
 */
without_task: Array<RecordRef>, sync_lag: Array<DeviceLag>, 
/**
 * Early warnings: how fast they were acknowledged and acted on.
 */
alerts: AlertTimes, };

export type PeopleSum = { total: number, female: number, male: number, children: number, elderly: number, 
/**
 * People counted in the requests' vulnerable groups.
 */
vulnerable: number, };

export type WhoWhatWhere = { 
/**
 * The organisation's id, or `unassigned`.
 */
org: string, org_name: string | null, sector: Sector, country: Country | null, 
/**
 * The first-level admin area of the requests' site, where known.
 */
adm1: string | null, 
/**
 * Its P-code, where an administrator recorded one.
 */
pcode: string | null, tasks: number, 
/**
 * Of which not yet done or cancelled.
 */
open_tasks: number, 
/**
 * Distinct requests its tasks answer.
 */
requests: number, 
/**
 * When its first task was created.
 */
start_ms: number | null, 
/**
 * When its last task was finished; none while any is still open.
 */
end_ms: number | null, 
/**
 * People in those requests, and the parts of them whose sex or age
 * was recorded.
 */
people: PeopleSum, };

export type AreaCount = { country: Country, adm1: string | null, pcode: string | null, 
/**
 * The mean position of the area's sites that have coordinates.
 */
lat: number | null, lon: number | null, requests: number, people: number, open: number, };

export type HeadsReport = { 
/**
 * Heads the hub signed that this device kept.
 */
kept: number, 
/**
 * Recomputed from the ops held here, and equal.
 */
consistent: number, 
/**
 * Name ops this device does not hold (yet): not checkable here.
 */
unchecked: number, 
/**
 * The first head that does not match the ops held here.
 */
problem: string | null, };

export type DeviceReport = { device: string, tag: string, ops: number, first: string | null, last: string | null, 
/**
 * When its first and last ops were made (ms since 1970).
 */
first_ms: number | null, last_ms: number | null, 
/**
 * The first op that does not check out, and why; `None` when intact.
 */
problem: string | null, };

export type VerifyReport = { devices: Array<DeviceReport>, 
/**
 * The hub's signed heads kept here, checked against the ops held.
 */
hub_heads: HeadsReport, };

export type Direction = "entering" | "leaving";

export type Transport = "foot" | "bus" | "car" | "truck" | "boat" | "train" | "other";

export type Nationality = { 
/**
 * ISO 3166-1 alpha-2, upper case.
 */
code: string, count: number, };

export type NationalityDraft = { code: string, count: number | null, };

export type FlowDraft = { 
/**
 * The point's site id: `gt-tecun-uman`.
 */
point: string, 
/**
 * The window: `YYYY-MM-DD` (start or end of that day at the point),
 * `YYYY-MM-DDTHH:MM` (local time at the point) or RFC 3339.
 */
start: string, end: string, direction: string, 
/**
 * Where the group came from and is heading next (ISO codes).
 */
from_country: string, to_country: string, total: number | null, women: number | null, men: number | null, girls: number | null, boys: number | null, nationalities: Array<NationalityDraft>, vulnerable: Array<VulnerableDraft>, 
/**
 * The country the group says it is heading for in the end.
 */
destination: string, transport: string, remarks: string, };

export type FlowCount = { point: string, 
/**
 * The point's country (the record's scope).
 */
country: Country, start_ms: number, end_ms: number, direction: Direction, from_country?: string | null, to_country?: string | null, 
/**
 * Total and the breakdown by sex and age (women, men, girls, boys).
 */
people: People, nationalities?: Array<Nationality>, vulnerable?: Array<Vulnerable>, destination?: string | null, transport?: Transport | null, remarks?: string | null, };

export type Segment = { from: string, to: string, days: number, };

export type SurgeRule = { 
/**
 * A surge: the last 24 hours over `factor` times the point's daily
 * baseline...
 */
factor: number, 
/**
 * ...or over this many people, whatever the baseline.
 */
absolute: number, 
/**
 * The baseline: the mean daily count over this many days before.
 */
baseline_days: number, 
/**
 * Below this many people nothing is a surge (3 after 1 is not one).
 */
min_people: number, };

export type Corridor = { segments: Array<Segment>, rule: SurgeRule, };

export type Surge = { 
/**
 * People counted at the point in the last 24 hours, in that direction.
 */
people: number, 
/**
 * The point's mean daily count over the baseline, if it has one.
 */
baseline: number | null, 
/**
 * `factor` or `absolute`: which test it passed.
 */
by: string, };

export type AlertArrival = { point: string, country: Country, earliest_ms: number, latest_ms: number, };

export type FlowView = { id: EntityId, reference: string, point_name: string, author_name: string | null, 
/**
 * When it was logged (the author's clock).
 */
logged_at_ms: number, on_hub: boolean, point: string, 
/**
 * The point's country (the record's scope).
 */
country: Country, start_ms: number, end_ms: number, direction: Direction, from_country?: string | null, to_country?: string | null, 
/**
 * Total and the breakdown by sex and age (women, men, girls, boys).
 */
people: People, nationalities?: Array<Nationality>, vulnerable?: Array<Vulnerable>, destination?: string | null, transport?: Transport | null, remarks?: string | null, };

export type FlowFilter = { point: string | null, country: Country | null, from_ms: number | null, to_ms: number | null, 
/**
 * At most this many, newest first (default 500).
 */
limit: number | null, };

export type ArrivalView = { name: string, point: string, country: Country, earliest_ms: number, latest_ms: number, };

export type AckView = { country: Country | null, by: string | null, at_ms: number, note: string | null, };

export type AlertTask = { id: EntityId, reference: string, title: string, scope: string, created_at_ms: number, };

export type AlertView = { id: EntityId, reference: string, point: string, point_name: string, country: Country, direction: Direction, surge: Surge, window_end_ms: number, raised_at_ms: number, raised_by: string | null, vulnerable: Array<Vulnerable>, arrivals: Array<ArrivalView>, 
/**
 * The countries it concerns: the point's and every one downstream.
 */
concerns: Array<Country>, acks: Array<AckView>, tasks: Array<AlertTask>, 
/**
 * It concerns the person using this device (their country, or the
 * region for a regional director).
 */
mine: boolean, 
/**
 * ...and is not yet acknowledged for them.
 */
awaiting_me: boolean, };

export type AlertTaskProposal = { 
/**
 * The alert's reference.
 */
alert: string, 
/**
 * The country the tasks prepare, and whose clock their due time reads.
 */
country: Country, 
/**
 * The point where the first people are expected.
 */
site: string, window_from_ms: number, window_to_ms: number, 
/**
 * The window has begun (or begins within [`ASAP_GRACE_MS`]): the
 * tasks are due as soon as possible, that long from now, and say so.
 */
asap: boolean, 
/**
 * The window has ended too.
 */
passed: boolean, due_ms: number, 
/**
 * One per task, ready for [`Store::create_alert_tasks`]; `due` is on
 * the wall clock of `country`.
 */
drafts: Array<TaskDraft>, };

export type PointFlow = { point: string, name: string, country: Country, lat: number | null, lon: number | null, last_day: number, last_week: number, 
/**
 * The mean daily count over the seven days before the last day (days
 * with counts only).
 */
daily_before: number | null, 
/**
 * The last day against that mean: 1.0 is steady, 2.0 twice as many.
 */
trend: number | null, };

export type SegmentFlow = { from: string, to: string, days: number, last_day: number, last_week: number, };

export type CorridorPicture = { at_ms: number, points: Array<PointFlow>, segments: Array<SegmentFlow>, };

export type Logged = { flow: FlowView, alert: AlertView | null, };

export type WindowSize = { width: number, height: number, };

export type Settings = { 
/**
 * `es` or `en`; none follows the system's language.
 */
lang: string | null, 
/**
 * The site last typed in the request form.
 */
last_site: string | null, 
/**
 * The counting point last chosen in the flow form.
 */
last_point: string | null, window: WindowSize | null, };
