// What the entry forms (requests, flow counts) share: how they save from the
// keyboard, and the vulnerable-group counts they send as a list.
import type { VulnerableDraft, VulnerableGroup } from './bindings';
import { numberOrNull } from './format';
import { VULNERABLE_GROUPS } from './vocab';

/** One box per vulnerable group; an empty box is null. */
export type GroupCounts = Record<VulnerableGroup, number | null>;

export const noGroups = (): GroupCounts =>
  Object.fromEntries(VULNERABLE_GROUPS.map((g) => [g, null])) as GroupCounts;

/** The groups given a count, in catalogue order (field errors name their
 * index in this list). */
export const vulnerableDrafts = (groups: GroupCounts): VulnerableDraft[] =>
  VULNERABLE_GROUPS.filter((g) => numberOrNull(groups[g]) !== null).map((g) => ({ group: g, count: numberOrNull(groups[g]) }));

/** Submitting the form and Ctrl+Enter (⌘+Enter) anywhere in it both save. */
export function saveKeys(save: () => Promise<void>) {
  return {
    onsubmit(event: SubmitEvent) {
      event.preventDefault();
      void save();
    },
    onkeydown(event: KeyboardEvent) {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void save();
      }
    },
  };
}
