// Field values as people read them: stored as JSON, shown with names from
// the roster and words from the catalogue.
import type { Action, Holder, IdentityView, RequestStatus, TaskScope, TaskStatus } from './bindings';
import { i18n } from './i18n.svelte';
import { nav } from './nav.svelte';

/** May the person take `action` somewhere? From the permissions the core
 * computed for them (`IdentityView.may`); the UI compares no role names. */
export const may = (me: IdentityView | null | undefined, action: Action): boolean => !!me?.may.includes(action);

/** An emptied number box binds as null or NaN; drafts want null. */
export const numberOrNull = (n: number | null | undefined): number | null =>
  typeof n === 'number' && Number.isFinite(n) ? n : null;

/** An organisation's name from the roster ("OIM / IOM", not "iom"). */
export const orgName = (id: string): string => nav.roster.orgs.find((o) => o.id === id)?.name ?? id;

export function holderName(h: Holder | null): string {
  if (!h) return i18n.t('conflicts.nobody');
  const person = h.person ? (nav.roster.people.find((p) => p.id === h.person)?.name ?? h.person) : null;
  const org = h.org ? orgName(h.org) : null;
  return [person, org].filter(Boolean).join(' · ');
}

export function scopeName(s: TaskScope): string {
  return s === 'regional' ? i18n.t('task.regional') : `${i18n.t('task.national')} · ${i18n.country(s.national)}`;
}

/** One stored value, for a timeline or a conflict. */
export function formatValue(field: string, json: string, record: string): string {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return json;
  }
  if (v === null) return '—';
  switch (field) {
    case 'status':
      return record === 'task' ? i18n.taskStatus(v as TaskStatus) : i18n.requestStatus(v as RequestStatus);
    case 'holder':
      return holderName(v as Holder);
    case 'scope':
      return scopeName(v as TaskScope);
    case 'priority':
      return i18n.priority(v as 'high');
    case 'sector':
      return i18n.sector(v as 'wash');
    case 'due':
    case 'needed_by':
      return typeof v === 'number' ? i18n.dateTime(v) : String(v);
    case 'people':
      return i18n.t('list.people', { count: (v as { total: number }).total });
    default:
      if (field.startsWith('link/')) return v === true ? '✓' : '✗';
      return typeof v === 'string' ? v : JSON.stringify(v);
  }
}
