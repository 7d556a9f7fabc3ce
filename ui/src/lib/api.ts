// The only place the UI talks to Rust. Every command is typed with the
// bindings generated from the Rust types; every failure arrives as an
// ApiError with a code the UI can branch on.
import { invoke } from '@tauri-apps/api/core';
import type {
  ApiError,
  CrisisDraft,
  CrisisView,
  IdentityDraft,
  IdentityView,
  RequestDraft,
  RequestView,
  Snapshot,
} from './bindings';

export type { ApiError };

function isApiError(e: unknown): e is ApiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isApiError(e)) throw e;
    const internal: ApiError = { code: 'internal', message: String(e), fields: [] };
    throw internal;
  }
}

export const api = {
  systemLocale: () => call<string | null>('system_locale'),
  snapshot: () => call<Snapshot>('snapshot'),
  initIdentity: (draft: IdentityDraft) => call<IdentityView>('init_identity', { draft }),
  loadDemo: () => call<CrisisView>('load_demo'),
  openCrisis: (draft: CrisisDraft) => call<CrisisView>('open_crisis', { draft }),
  selectCrisis: (id: string) => call<null>('select_crisis', { id }),
  addRequest: (draft: RequestDraft) => call<RequestView>('add_request', { draft }),
  listRequests: () => call<RequestView[]>('list_requests'),
};

export function asApiError(e: unknown): ApiError {
  return isApiError(e) ? e : { code: 'internal', message: String(e), fields: [] };
}
