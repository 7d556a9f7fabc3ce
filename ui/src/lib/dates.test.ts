import { describe, expect, it } from 'vitest';
import { displayFormat, isoFormat, wallInput, wallTime, ZONES } from './dates';
import { COUNTRIES } from './vocab';

describe('date formats', () => {
  it('store ISO whatever the language', () => {
    expect(isoFormat(false)).toBe('Y-m-d');
    expect(isoFormat(true)).toBe('Y-m-d\\TH:i');
  });

  it('show day/month/year in Spanish and spell the month in English', () => {
    expect(displayFormat('es', false)).toBe('d/m/Y');
    expect(displayFormat('es', true)).toBe('d/m/Y H:i');
    expect(displayFormat('en', false)).toBe('M j, Y');
    expect(displayFormat('es', true, true)).toBe('dd/mm/aaaa hh:mm');
  });
});

describe('wall clocks of the region', () => {
  // 2026-11-30 22:37 UTC.
  const ms = Date.UTC(2026, 10, 30, 22, 37);

  it('name a zone for every country', () => {
    for (const c of COUNTRIES) expect(ZONES[c]).toMatch(/^America\//);
  });

  it('read a moment on the clock of the country', () => {
    expect(wallInput(ms, 'GT')).toBe('2026-11-30T16:37');
    expect(wallInput(ms, 'PA')).toBe('2026-11-30T17:37');
    expect(wallInput(ms, 'DO')).toBe('2026-11-30T18:37');
  });

  it('cross midnight where the clock does', () => {
    const late = Date.UTC(2026, 11, 1, 3, 7);
    expect(wallInput(late, 'GT')).toBe('2026-11-30T21:07');
    expect(wallInput(Date.UTC(2026, 11, 1, 5, 30), 'DO')).toBe('2026-12-01T01:30');
  });

  it('show a 24-hour time in the chosen language', () => {
    expect(wallTime(ms, 'GT', 'es')).toContain('16:37');
    expect(wallTime(ms, 'GT', 'es')).toMatch(/nov/);
    expect(wallTime(ms, 'GT', 'en')).toMatch(/Nov 30/);
  });
});
