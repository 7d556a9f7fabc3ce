// How an early-warning alert reads, for the banner and the alert list.
import type { AlertView, ArrivalView, Country, IdentityView } from './bindings';
import { wallTime } from './dates';
import { i18n, numberFormat } from './i18n.svelte';

export function headline(a: AlertView): string {
  const main = i18n.t('alert.headline', {
    people: i18n.number(a.surge.people),
    point: a.point_name,
    country: i18n.country(a.country),
  });
  const why =
    a.surge.by === 'factor' && a.surge.baseline !== null
      ? i18n.t('alert.factor', {
          factor: numberFormat(i18n.lang, { maximumFractionDigits: 1 }).format(a.surge.people / Math.max(1, a.surge.baseline)),
          baseline: i18n.number(Math.round(a.surge.baseline)),
        })
      : i18n.t('alert.absolute');
  return `${main} — ${why}`;
}

/** When people are expected at a point, on that point's clock, named:
 * a director in Panama reads a Guatemalan window in Guatemalan time. */
export function expected(x: ArrivalView): string {
  return i18n.t('alert.expected', {
    point: x.name,
    country: i18n.country(x.country),
    from: wallTime(x.earliest_ms, x.country, i18n.lang),
    to: wallTime(x.latest_ms, x.country, i18n.lang),
    zone: i18n.t('alertTasks.zone', { country: i18n.country(x.country) }),
  });
}

/** Who has acknowledged an alert and who has not yet: each country it
 * concerns, and the region (`null`). */
export function acknowledgements(a: AlertView): { acked: (Country | null)[]; missing: (Country | null)[] } {
  const scopes: (Country | null)[] = [...a.concerns, null];
  const done = (c: Country | null) => a.acks.some((k) => k.country === c);
  return { acked: scopes.filter(done), missing: scopes.filter((c) => !done(c)) };
}

/** The scope a person acknowledges for: their country, or the region. */
export const myScope = (me: IdentityView): Country | null => (me.role === 'regional-director' ? null : me.country);

/** The arrival window that matters to this person has ended by `now`. */
export function windowEnded(a: AlertView, me: IdentityView | null, now: number): boolean {
  const x = arrivalFor(a, me);
  return x !== null && x.latest_ms < now;
}

/** The arrival that matters to this person: the first in their country, or
 * (for the region) the first in another country than the alert's. */
export function arrivalFor(a: AlertView, me: IdentityView | null): ArrivalView | null {
  if (!me) return a.arrivals[0] ?? null;
  if (me.role === 'regional-director') {
    return a.arrivals.find((x) => x.country !== a.country) ?? a.arrivals[0] ?? null;
  }
  return a.arrivals.find((x) => x.country === me.country) ?? null;
}

/** Tasks for this person's country (or any, for the region) already made
 * from the alert. */
export function prepared(a: AlertView, me: IdentityView): boolean {
  return a.tasks.some((t) => me.role === 'regional-director' || t.scope === me.country);
}

export function groups(a: AlertView): string {
  return a.vulnerable.map((v) => `${i18n.number(v.count)} ${i18n.vulnerable(v.group).toLowerCase()}`).join(', ');
}

export function ackScope(c: Country | null): string {
  return c === null ? i18n.t('alert.region') : i18n.country(c);
}
