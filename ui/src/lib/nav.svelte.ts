// Where the person is: which view, which record is open, and the shared
// roster for pickers. One small store instead of a router: the app has four
// views and two kinds of record.
import type { Country, IdentityView, Roster } from './bindings';

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
  /** The alert whose tasks are being previewed; `null` when closed. */
  alertTasks = $state<{ alert: string; country: Country | null } | null>(null);
  /** The alert banner folded to one line. */
  bannerFolded = $state(false);
  /** Bumped after every change so views reload what they show. */
  version = $state(0);

  changed(): void {
    this.version += 1;
  }

  /** Where each person starts: those who only read, in review; those who
   * make tasks, on the board; the others with the requests. */
  home(me: IdentityView): View {
    if (me.may.length === 0) return 'review';
    return me.may.includes('create-task') ? 'board' : 'requests';
  }
}

export const nav = new Nav();
