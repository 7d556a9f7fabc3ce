// Where the person is: which view, which record is open, and the shared
// roster for pickers. One small store instead of a router: the app has four
// views and two kinds of record.
import type { Roster, Role } from './bindings';

export type View = 'requests' | 'board' | 'holders' | 'conflicts' | 'sync' | 'review' | 'movement';

class Nav {
  view = $state<View>('requests');
  /** The request whose detail is open. */
  request = $state<string | null>(null);
  /** The task whose detail is open. */
  task = $state<string | null>(null);
  /** Requests chosen for a new task; `null` when the task form is closed. */
  newTask = $state<string[] | null>(null);
  roster = $state<Roster>({ people: [], orgs: [], sites: [] });
  /** Bumped after every change so views reload what they show. */
  version = $state(0);

  changed(): void {
    this.version += 1;
  }

  /** Where each role starts. */
  home(role: Role): View {
    if (role === 'reviewer') return 'review';
    return role === 'national-director' || role === 'regional-director' ? 'board' : 'requests';
  }
}

export const nav = new Nav();
