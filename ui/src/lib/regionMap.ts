// The region's map, shared by the review's 3W map and the corridor: the
// bundled world-atlas TopoJSON drawn with d3-geo (no tiles, no network),
// framed on the corridor (southern Mexico to Panama, and the Dominican
// Republic) rather than on the whole of Mexico.
import { geoMercator, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { FeatureCollection, Geometry } from 'geojson';
import type { GeometryCollection, Topology } from 'topojson-specification';
import world from 'world-atlas/countries-50m.json';
import type { Country } from './bindings';

export const W = 640;
export const H = 420;

/** ISO 3166 numeric codes, as world-atlas names countries. */
export const NUMERIC: Record<Country, string> = {
  BZ: '084', CR: '188', SV: '222', GT: '320', HN: '340', NI: '558', PA: '591', DO: '214', MX: '484', US: '840',
};
export const REGION: Country[] = ['MX', 'GT', 'BZ', 'SV', 'HN', 'NI', 'CR', 'PA', 'DO'];

const topology = world as unknown as Topology<{ countries: GeometryCollection }>;
const countries = (feature(topology, topology.objects.countries) as FeatureCollection<Geometry, { name: string }>).features;
const byId = new Map(countries.map((f) => [String(f.id), f]));

export const projection = geoMercator().fitExtent(
  [[8, 8], [W - 8, H - 8]],
  { type: 'MultiPoint', coordinates: [[-94.5, 7], [-68.2, 20.5]] },
);
const path = geoPath(projection);

/** Every country's outline; a few shapes (disputed areas) have no id, so
 * they are keyed by position. */
export const shapes = countries
  .map((f, key) => ({ key, id: String(f.id ?? ''), d: path(f) ?? '' }))
  .filter((s) => s.d);

export const inRegion = (id: string): boolean => REGION.some((r) => NUMERIC[r] === id);

// Mexico's centre lies far outside the frame: label it in the south.
const LABEL_AT: Record<string, [number, number]> = { '484': [-92.9, 17.4] };

/** Where a country's label goes, by its numeric id. */
export function centre(id: string): [number, number] | null {
  if (LABEL_AT[id]) return projection(LABEL_AT[id]);
  const f = byId.get(id);
  if (!f) return null;
  const c = path.centroid(f);
  return Number.isFinite(c[0]) ? c : null;
}

/** A point on the map, from longitude and latitude. */
export const place = (lon: number, lat: number): [number, number] | null => projection([lon, lat]);

/** UTC offsets of the region's countries (none keeps daylight saving time),
 * for times typed at a point in its own zone. */
export const UTC_OFFSET: Record<Country, number> = {
  BZ: -6, CR: -6, SV: -6, GT: -6, HN: -6, NI: -6, PA: -5, DO: -4, MX: -6, US: -5,
};
