// The only place the UI talks to Rust. The commands and every type they
// carry are generated from the Rust ones (bindings.ts, by relevo-app's
// bindings test); here each command is wrapped once so that every failure,
// even one the IPC layer raises itself, arrives as an ApiError with a code
// the UI can branch on.
import { commands, type ApiError } from './bindings';

export type { ApiError };
export type { Format as ExportFormat, Written, Imported } from './bindings';

function isApiError(e: unknown): e is ApiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

export function asApiError(e: unknown): ApiError {
  return isApiError(e) ? e : { code: 'internal', message: String(e), fields: [], args: {} };
}

type Commands = typeof commands;

function wrapped<K extends keyof Commands>(name: K): Commands[K] {
  const command = commands[name] as (...args: unknown[]) => Promise<unknown>;
  return (async (...args: unknown[]) => {
    try {
      return await command(...args);
    } catch (e) {
      throw asApiError(e);
    }
  }) as Commands[K];
}

export const api = Object.fromEntries(
  (Object.keys(commands) as (keyof Commands)[]).map((name) => [name, wrapped(name)]),
) as Commands;
