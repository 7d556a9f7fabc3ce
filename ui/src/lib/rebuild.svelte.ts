// A full rebuild of the views from the log (after an upgrade, when the
// store opens; for an as-of view of the past) reports its progress as the
// `rebuild-progress` event: the start screen and the review show it.
import { listen } from '@tauri-apps/api/event';
import type { Progress } from './bindings';

class Rebuild {
  /** The rebuild under way, or null. */
  current = $state<Progress | null>(null);

  async start() {
    await listen<Progress>('rebuild-progress', (event) => {
      const p = event.payload;
      this.current = p.done >= p.total ? null : p;
    });
  }
}

export const rebuild = new Rebuild();
