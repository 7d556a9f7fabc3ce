// The person's language: chosen in the header, remembered on this device,
// defaulting to the OS locale (Spanish for any es-* locale).
import { catalogues, type Lang, type TextKey } from './messages';
import type { ApiError, Country, ErrorCode, Priority, Role, Rule, Sector } from './bindings';

const STORAGE_KEY = 'relevo.lang';

function savedLang(): Lang | null {
  const saved = localStorage.getItem(STORAGE_KEY);
  return saved === 'en' || saved === 'es' ? saved : null;
}

const fromLocale = (locale: string): Lang => (locale.toLowerCase().startsWith('es') ? 'es' : 'en');

function fill(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

class I18n {
  lang = $state<Lang>(savedLang() ?? fromLocale(navigator.language));

  /** Follows the OS language (as Rust reads it) unless the person chose one. */
  adoptSystemLocale(locale: string | null): void {
    if (savedLang() === null && locale) {
      this.lang = fromLocale(locale);
      document.documentElement.lang = this.lang;
    }
  }

  set(lang: Lang): void {
    this.lang = lang;
    localStorage.setItem(STORAGE_KEY, lang);
    document.documentElement.lang = lang;
  }

  t = (key: TextKey, params?: Record<string, string | number>): string =>
    fill(catalogues[this.lang].text[key], params);
  country = (c: Country): string => catalogues[this.lang].country[c];
  sector = (s: Sector): string => catalogues[this.lang].sector[s];
  priority = (p: Priority): string => catalogues[this.lang].priority[p];
  role = (r: Role): string => catalogues[this.lang].role[r];
  rule = (r: Rule, limit: number | null): string =>
    fill(catalogues[this.lang].rule[r], { limit: limit === null ? '' : this.number(limit) });
  error = (c: ErrorCode): string => catalogues[this.lang].error[c];
  /** What a failed action tells the person: field problems are shown next to
   * the fields, so the summary only says nothing was saved; anything else is
   * explained, with Rust's detail for a support call. */
  failure = (e: ApiError): string =>
    e.code === 'validation' && e.fields.length > 0 ? this.t('form.fixErrors') : `${this.error(e.code)} ${e.message}`;

  number = (n: number): string => new Intl.NumberFormat(this.lang).format(n);
  /** In the viewer's time zone, with the zone named: the region spans
   * UTC-6 to UTC-4, and a time without its zone misleads. */
  dateTime = (ms: number): string =>
    new Intl.DateTimeFormat(this.lang, {
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
