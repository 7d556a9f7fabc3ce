import { describe, expect, it } from 'vitest';
import { countryChoices, countryName, FREQUENT } from './countries';

describe('country names', () => {
  it('name codes in the chosen language', () => {
    expect(countryName('VE', 'es')).toBe('Venezuela');
    expect(countryName('HT', 'es')).toBe('Haití');
    expect(countryName('us', 'en')).toMatch(/United States/);
  });

  it('leave an unknown code as it is', () => {
    expect(countryName('ZZ', 'es')).toBe('ZZ');
  });

  it('list the frequent countries first, and every country once', () => {
    const { frequent, others } = countryChoices('es');
    expect(frequent.map((c) => c.code).sort()).toEqual([...FREQUENT].sort());
    const codes = [...frequent, ...others].map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.length).toBeGreaterThan(240);
    expect(others.some((c) => FREQUENT.includes(c.code))).toBe(false);
  });

  it('sort by name in the language', () => {
    const { others } = countryChoices('es');
    const names = others.map((c) => c.name);
    expect(names).toEqual([...names].sort(new Intl.Collator('es').compare));
  });
});
