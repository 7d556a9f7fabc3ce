// The person's language: chosen in the header, remembered in the data
// folder's settings, defaulting to the OS locale (Spanish for any es-*
// locale).
import { catalogues, type Lang, type TextKey } from './messages';
import type {
  ApiError,
  Country,
  ErrorCode,
  Priority,
  RequestStatus,
  Role,
  Rule,
  Sector,
  TaskStatus,
  VulnerableGroup,
} from './bindings';

// Formatters are costly to build (ICU sets each one up), and a list
// formats several numbers and dates per row: each is built once per
// language and set of options.
const formats = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();

function cached<F extends Intl.DateTimeFormat | Intl.NumberFormat>(key: string, make: () => F): F {
  let f = formats.get(key) as F | undefined;
  if (!f) {
    f = make();
    formats.set(key, f);
  }
  return f;
}

export function dateFormat(lang: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return cached(`d|${lang}|${JSON.stringify(options)}`, () => new Intl.DateTimeFormat(lang, options));
}

export function numberFormat(lang: string, options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  return cached(`n|${lang}|${JSON.stringify(options)}`, () => new Intl.NumberFormat(lang, options));
}

const fromLocale = (locale: string): Lang => (locale.toLowerCase().startsWith('es') ? 'es' : 'en');

function fill(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

class I18n {
  lang = $state<Lang>(fromLocale(navigator.language));
  /** Called with the language the person chooses, to keep it (the app
   * keeps it in the data folder's settings). */
  onchoose: ((lang: Lang) => void) | null = null;

  /** Starts in the language chosen before in this data folder, else in the
   * OS language (as Rust reads it). */
  start(chosen: string | null, locale: string | null): void {
    if (chosen === 'es' || chosen === 'en') this.lang = chosen;
    else if (locale) this.lang = fromLocale(locale);
    document.documentElement.lang = this.lang;
  }

  set(lang: Lang): void {
    this.lang = lang;
    document.documentElement.lang = lang;
    this.onchoose?.(lang);
  }

  /** A text; with `count` 1, its singular (`key.one`) where it has one. */
  t = (key: TextKey, params?: Record<string, string | number>): string => {
    const text = catalogues[this.lang].text;
    const one = `${key}.one`;
    const single = params?.count === 1 || params?.count === '1';
    const template = single && one in text ? text[one as TextKey] : text[key];
    return fill(template, params);
  };
  country = (c: Country): string => catalogues[this.lang].country[c];
  sector = (s: Sector): string => catalogues[this.lang].sector[s];
  priority = (p: Priority): string => catalogues[this.lang].priority[p];
  role = (r: Role): string => catalogues[this.lang].role[r];
  rule = (r: Rule, limit: number | null): string =>
    fill(catalogues[this.lang].rule[r], { limit: limit === null ? '' : this.number(limit) });
  error = (c: ErrorCode): string => catalogues[this.lang].error[c];
  requestStatus = (s: RequestStatus): string => catalogues[this.lang].requestStatus[s];
  taskStatus = (s: TaskStatus): string => catalogues[this.lang].taskStatus[s];
  vulnerable = (g: VulnerableGroup): string => catalogues[this.lang].vulnerable[g];
  kind = (k: string): string => catalogues[this.lang].kind[k] ?? k;
  field = (f: string): string => catalogues[this.lang].field[f] ?? f;
  /** A status name whatever the record: requests and tasks share some slugs. */
  status = (record: string, s: string): string =>
    record === 'task'
      ? (catalogues[this.lang].taskStatus[s as TaskStatus] ?? s)
      : (catalogues[this.lang].requestStatus[s as RequestStatus] ?? s);

  /** What a failed action tells the person, in their language: field
   * problems are shown next to the fields, so the summary only says nothing
   * was saved; refusals say which role, scope or status stands in the way. */
  failure = (e: ApiError): string => {
    const a = e.args ?? {};
    const c = catalogues[this.lang];
    switch (e.code) {
      case 'validation':
        return e.fields.length > 0 ? this.t('form.fixErrors') : `${this.error(e.code)} ${e.message}`;
      case 'forbidden': {
        const why = a.why ?? 'role';
        const key = `fail.forbidden.${why}` as TextKey;
        const role = c.role[a.role as Role] ?? a.role;
        const needs = (a.needs ?? '')
          .split(',')
          .filter((r) => r)
          .map((r) => c.role[r as Role] ?? r)
          .join(', ');
        return key in c.text ? this.t(key, { role, action: c.action[a.action ?? ''] ?? a.action ?? '', needs }) : e.message;
      }
      case 'lifecycle': {
        const record = (a.record ?? 'task') as 'request' | 'task' | 'crisis';
        return this.t('fail.lifecycle', {
          record: c.record[record] ?? record,
          from: this.status(record, a.from ?? '').toLowerCase(),
        });
      }
      case 'conflict':
        return this.t('fail.conflict', { field: this.field(a.field ?? '') });
      case 'not-found':
        return this.t('fail.notFound', { reference: a.reference ?? '' });
      default:
        return `${this.error(e.code)} ${e.message}`;
    }
  };

  number = (n: number): string => numberFormat(this.lang).format(n);
  /** A day and time, in the viewer's zone, for compact lists. */
  date = (ms: number): string =>
    dateFormat(this.lang, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(ms);
  /** In the viewer's time zone, with the zone named: the region spans
   * UTC-6 to UTC-4, and a time without its zone misleads. */
  dateTime = (ms: number): string =>
    dateFormat(this.lang, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      timeZoneName: 'short',
    }).format(ms);
}

export const i18n = new I18n();
document.documentElement.lang = i18n.lang;
