import { beforeEach, describe, expect, it } from 'vitest';
import { i18n } from './i18n.svelte';
import { catalogues, type TextKey } from './messages';

const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();

describe('catalogues', () => {
  it('have the same keys in both languages', () => {
    const en = Object.keys(catalogues.en.text).sort();
    const es = Object.keys(catalogues.es.text).sort();
    expect(es).toEqual(en);
  });

  it('fill the same placeholders in both languages', () => {
    const differ = (Object.keys(catalogues.en.text) as TextKey[]).filter(
      (k) => placeholders(catalogues.en.text[k]).join() !== placeholders(catalogues.es.text[k]).join(),
    );
    expect(differ).toEqual([]);
  });

  it('have a plural form beside every singular one', () => {
    const orphans = Object.keys(catalogues.en.text)
      .filter((k) => k.endsWith('.one'))
      .filter((k) => !(k.slice(0, -4) in catalogues.en.text));
    expect(orphans).toEqual([]);
  });
});

describe('t', () => {
  beforeEach(() => i18n.set('es'));

  it('uses the singular for one, as a number or as formatted text', () => {
    expect(i18n.t('list.people', { count: 1 })).toBe('1 persona');
    expect(i18n.t('list.people', { count: '1' })).toBe('1 persona');
    expect(i18n.t('list.people', { count: 2 })).toBe('2 personas');
    expect(i18n.t('list.people', { count: 0 })).toBe('0 personas');
  });

  it('follows the chosen language', () => {
    i18n.set('en');
    expect(i18n.t('list.people', { count: 3 })).toBe('3 people');
    expect(document.documentElement.lang).toBe('en');
  });

  it('leaves a placeholder it was not given, so a missing value shows', () => {
    expect(i18n.t('list.people', {})).toContain('{count}');
  });
});
