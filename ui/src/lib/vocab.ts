// The closed vocabularies in display order, taken from the catalogue (whose
// keys the type checker holds to the generated Rust unions).
import type { Country, Priority, RequestStatus, Role, Sector, TaskStatus, VulnerableGroup } from './bindings';
import { catalogues } from './messages';

const keys = <K extends string>(record: Record<K, string>): K[] => Object.keys(record) as K[];

export const COUNTRIES: Country[] = keys(catalogues.en.country);
export const SECTORS: Sector[] = keys(catalogues.en.sector);
export const PRIORITIES: Priority[] = keys(catalogues.en.priority);
export const ROLES: Role[] = keys(catalogues.en.role);
export const REQUEST_STATUSES: RequestStatus[] = keys(catalogues.en.requestStatus);
export const TASK_STATUSES: TaskStatus[] = keys(catalogues.en.taskStatus);
export const VULNERABLE_GROUPS: VulnerableGroup[] = keys(catalogues.en.vulnerable);
