// The only place the UI talks to Rust. Every command is typed with the
// bindings generated from the Rust types; every failure arrives as an
// ApiError with a code the UI can branch on.
import { invoke } from '@tauri-apps/api/core';
import type {
  ApiError,
  Board,
  ConflictView,
  CrisisDraft,
  CrisisView,
  FulfilmentDraft,
  HolderDraft,
  Holding,
  IdentityDraft,
  IdentityView,
  RequestDetail,
  RequestDraft,
  RequestFilter,
  RequestView,
  Roster,
  Snapshot,
  SyncStatus,
  TaskDetail,
  TaskDraft,
  TaskFilter,
  AreaCount,
  AsOfView,
  Basis,
  Event,
  Measures,
  Span,
  TimelineFilter,
  VerifyReport,
  WhoWhatWhere,
  AlertTaskProposal,
  Settings,
  AlertView,
  Corridor,
  CorridorPicture,
  Country,
  FlowDraft,
  FlowFilter,
  FlowView,
  Logged,
} from './bindings';

export type ExportFormat = 'csv' | '5w' | 'flows' | 'xlsx' | 'json' | 'report';

export interface Written {
  path: string;
  bytes: number;
  requests: number;
  tasks: number;
  flows: number;
  alerts: number;
}

export type { ApiError };

function isApiError(e: unknown): e is ApiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isApiError(e)) throw e;
    const internal: ApiError = { code: 'internal', message: String(e), fields: [], args: {} };
    throw internal;
  }
}

export interface Imported {
  ops: number;
  applied: number;
  duplicates: number;
  pending: number;
  forked: number;
  refused: string[];
  refused_ops: number;
  made_by: string;
}

export const api = {
  settings: () => call<Settings>('settings'),
  saveSettings: (changes: Partial<Settings>) => call<Settings>('save_settings', { changes }),
  reviewSpan: (basis: Basis) => call<Span>('review_span', { basis }),
  reviewAsOf: (at: number, basis: Basis) => call<AsOfView>('review_as_of', { at, basis }),
  reviewTimeline: (filter: TimelineFilter) => call<Event[]>('review_timeline', { filter }),
  reviewMeasures: () => call<Measures>('review_measures'),
  reviewWhere: () => call<WhoWhatWhere[]>('review_where'),
  reviewAreas: () => call<AreaCount[]>('review_areas'),
  defaultExportPath: (format: ExportFormat, lang: string) => call<string>('default_export_path', { format, lang }),
  reviewExport: (format: ExportFormat, path: string, shareable: boolean) =>
    call<Written>('review_export', { format, path, audience: shareable ? 'shareable' : 'response' }),
  verifyLog: () => call<VerifyReport>('verify_log'),
  syncStatus: () => call<SyncStatus>('sync_status'),
  syncNow: () => call<null>('sync_now'),
  enrol: (url: string, code: string) => call<IdentityView>('enrol', { url, code }),
  exportBundle: (path: string, forVector: string) =>
    call<number>('export_bundle', { path, forVector: forVector || null }),
  importBundle: (path: string) => call<Imported>('import_bundle', { path }),
  systemLocale: () => call<string | null>('system_locale'),
  snapshot: () => call<Snapshot>('snapshot'),
  unlock: (passphrase: string | null) => call<void>('unlock', { passphrase }),
  initIdentity: (draft: IdentityDraft) => call<IdentityView>('init_identity', { draft }),
  loadDemo: () => call<CrisisView>('load_demo'),
  openCrisis: (draft: CrisisDraft) => call<CrisisView>('open_crisis', { draft }),
  closeCrisis: () => call<CrisisView>('close_crisis'),
  selectCrisis: (id: string) => call<null>('select_crisis', { id }),
  addRequest: (draft: RequestDraft) => call<RequestView>('add_request', { draft }),
  listRequests: (filter: RequestFilter) => call<RequestView[]>('list_requests', { filter }),
  requestDetail: (reference: string) => call<RequestDetail>('request_detail', { reference }),
  updateRequest: (reference: string, draft: RequestDraft) =>
    call<RequestDetail>('update_request', { reference, draft }),
  setRequestStatus: (reference: string, status: string, duplicate = '') =>
    call<RequestDetail>('set_request_status', { reference, status, duplicate }),
  fulfilRequest: (reference: string, draft: FulfilmentDraft) =>
    call<RequestDetail>('fulfil_request', { reference, draft }),
  addNote: (reference: string, note: string, significant: boolean) =>
    call<null>('add_note', { reference, note, significant }),
  board: (filter: TaskFilter) => call<Board>('board', { filter }),
  taskDetail: (reference: string) => call<TaskDetail>('task_detail', { reference }),
  addTask: (draft: TaskDraft) => call<TaskDetail>('add_task', { draft }),
  assignTask: (reference: string, holder: HolderDraft) => call<TaskDetail>('assign_task', { reference, holder }),
  acceptTask: (reference: string) => call<TaskDetail>('accept_task', { reference }),
  handOverTask: (reference: string, holder: HolderDraft, note: string) =>
    call<TaskDetail>('hand_over_task', { reference, holder, note }),
  setTaskStatus: (reference: string, status: string, reason = '') =>
    call<TaskDetail>('set_task_status', { reference, status, reason }),
  escalateTask: (reference: string, note: string) => call<TaskDetail>('escalate_task', { reference, note }),
  linkRequests: (reference: string, requests: string[], link: boolean) =>
    call<TaskDetail>('link_requests', { reference, requests, link }),
  conflicts: () => call<ConflictView[]>('conflicts'),
  resolveConflict: (reference: string, field: string, choose: string) =>
    call<ConflictView[]>('resolve_conflict', { reference, field, choose }),
  holdings: () => call<Holding[]>('holdings'),
  roster: () => call<Roster>('roster'),
  logFlow: (draft: FlowDraft) => call<Logged>('log_flow', { draft }),
  listFlows: (filter: FlowFilter) => call<FlowView[]>('list_flows', { filter }),
  alerts: () => call<AlertView[]>('alerts'),
  alertsAwaitingMe: () => call<AlertView[]>('alerts_awaiting_me'),
  acknowledgeAlert: (alert: string, note: string) => call<AlertView>('acknowledge_alert', { alert, note }),
  proposeAlertTasks: (alert: string, country: Country | null, lang: string) =>
    call<AlertTaskProposal>('propose_alert_tasks', { alert, country, lang }),
  createAlertTasks: (alert: string, drafts: TaskDraft[]) => call<AlertView>('create_alert_tasks', { alert, drafts }),
  corridorPicture: () => call<CorridorPicture>('corridor_picture'),
  corridor: () => call<Corridor>('corridor'),
  setCorridor: (corridor: Corridor) => call<Corridor>('set_corridor', { corridor }),
};

export function asApiError(e: unknown): ApiError {
  return isApiError(e) ? e : { code: 'internal', message: String(e), fields: [], args: {} };
}
