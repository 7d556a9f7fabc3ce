// Every country by name, in the chosen language, for the boxes that take an
// ISO code (where a group came from and is heading): field staff pick
// "Venezuela", not "VE".
import countries from 'i18n-iso-countries';
import en from 'i18n-iso-countries/langs/en.json';
import es from 'i18n-iso-countries/langs/es.json';
import type { Lang } from './messages';

countries.registerLocale(en);
countries.registerLocale(es);

/** The region's members and observers and the origins most often counted
 * in its flows, listed first. */
export const FREQUENT = ['VE', 'HT', 'CU', 'EC', 'CO', 'CN', 'GT', 'HN', 'SV', 'NI', 'CR', 'PA', 'MX', 'US', 'BZ', 'DO'];

export interface CountryName {
  code: string;
  name: string;
}

/** A code's name (`VE` → "Venezuela"), or the code itself if unknown. */
export const countryName = (code: string, lang: Lang): string =>
  countries.getName(code.toUpperCase(), lang, { select: 'alias' }) ?? code;

/** The frequent countries, then all the others, each group by name. */
export function countryChoices(lang: Lang): { frequent: CountryName[]; others: CountryName[] } {
  const collator = new Intl.Collator(lang);
  const all = Object.entries(countries.getNames(lang, { select: 'alias' }))
    .map(([code, name]) => ({ code, name }))
    .sort((a, b) => collator.compare(a.name, b.name));
  return {
    frequent: all.filter((c) => FREQUENT.includes(c.code)),
    others: all.filter((c) => !FREQUENT.includes(c.code)),
  };
}
