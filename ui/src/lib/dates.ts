// How dates are typed and shown in each language, and how times are named
// in the region's zones. Pure functions, unit-tested.
import type { Country } from './bindings';
import type { Lang } from './messages';
import { dateFormat } from './i18n.svelte';

/** flatpickr's format of the stored value: the ISO form the native
 * `<input type="date">` and `datetime-local` gave, which Rust parses. */
export const isoFormat = (time: boolean): string => (time ? 'Y-m-d\\TH:i' : 'Y-m-d');

/** flatpickr's format shown to the person, or (`hint`) the pattern written
 * out as a placeholder. Spanish reads day/month/year; English spells the
 * month, so that 03/04 is never ambiguous. Times are 24-hour in both. */
export function displayFormat(lang: Lang, time: boolean, hint = false): string {
  if (lang === 'es') {
    if (hint) return time ? 'dd/mm/aaaa hh:mm' : 'dd/mm/aaaa';
    return time ? 'd/m/Y H:i' : 'd/m/Y';
  }
  if (hint) return time ? 'Mon d, yyyy hh:mm' : 'Mon d, yyyy';
  return time ? 'M j, Y H:i' : 'M j, Y';
}

/** Each country's main time zone (none of the members keeps daylight
 * saving time; Mexico and the United States span several). */
export const ZONES: Record<Country, string> = {
  BZ: 'America/Belize',
  CR: 'America/Costa_Rica',
  SV: 'America/El_Salvador',
  GT: 'America/Guatemala',
  HN: 'America/Tegucigalpa',
  NI: 'America/Managua',
  PA: 'America/Panama',
  DO: 'America/Santo_Domingo',
  MX: 'America/Mexico_City',
  US: 'America/New_York',
};

/** A day and time as the clock on the wall of `country` shows it. */
export function wallTime(ms: number, country: Country, lang: Lang): string {
  return dateFormat(lang, {
    timeZone: ZONES[country],
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(ms);
}

/** `YYYY-MM-DDTHH:MM` on the wall clock of `country`: the form a task's due
 * time takes (Rust reads it in the task's country). */
export function wallInput(ms: number, country: Country): string {
  const parts = dateFormat('en-CA', {
    timeZone: ZONES[country],
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ms);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}`;
}
