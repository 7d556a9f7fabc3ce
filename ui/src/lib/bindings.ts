// Generated from the Rust types by relevo-store's bindings test. Do not edit.
// Regenerate: RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-store bindings

export type EntityId = string;

export type Country = "BZ" | "CR" | "SV" | "GT" | "HN" | "NI" | "PA" | "DO" | "MX" | "US";

export type Sector = "cccm" | "early-recovery" | "education" | "shelter" | "food-security" | "health" | "nutrition" | "protection" | "child-protection" | "gbv" | "hlp" | "mine-action" | "telecoms" | "logistics" | "wash";

export type Priority = "critical" | "high" | "medium" | "low";

export type Role = "field-coordinator" | "national-director" | "regional-director" | "reviewer" | "administrator";

export type Rule = "required" | "unknown" | "negative" | "whole-number" | "at-least-one" | "too-large" | "too-long" | "breakdown-exceeds-total";

export type FieldError = { 
/**
 * The field, as named in the form and the CLI: `country`, `people.women`...
 */
field: string, rule: Rule, 
/**
 * The bound the rule refers to (a maximum length or count), if any.
 */
limit: number | null, 
/**
 * In English, for the CLI and logs; the UI translates `rule` instead.
 */
message: string, };

export type ErrorCode = "validation" | "not-initialised" | "already-initialised" | "no-crisis" | "forbidden" | "schema-too-new" | "corrupt" | "storage" | "internal";

export type ApiError = { code: ErrorCode, message: string, fields: Array<FieldError>, };

export type People = { total: number, women: number | null, men: number | null, girls: number | null, boys: number | null, };

export type RequestDraft = { country: string, site: string, sector: string, people_total: number | null, women: number | null, men: number | null, girls: number | null, boys: number | null, priority: string, description: string, };

export type IdentityDraft = { name: string, role: string, country: string, org: string, };

export type CrisisDraft = { name: string, 
/**
 * ISO codes of the affected countries.
 */
countries: Array<string>, };

export type IdentityView = { person_id: EntityId, name: string, role: Role, country: Country, org: string | null, device_id: string, device_tag: string, };

export type CrisisView = { id: EntityId, name: string, countries: Array<Country>, demo: boolean, 
/**
 * When it was opened (ms since the Unix epoch, by the opener's clock).
 */
opened_at_ms: number, };

export type RequestView = { id: EntityId, reference: string, crisis: EntityId, country: Country, site: string, sector: Sector, people: People, priority: Priority, description: string, 
/**
 * Who logged it, once their declaration is held.
 */
author_name: string | null, device_tag: string, 
/**
 * When it was logged (ms since the Unix epoch, by the logger's clock).
 */
recorded_at_ms: number, };

export type Snapshot = { identity: IdentityView | null, crisis: CrisisView | null, crises: Array<CrisisView>, };
