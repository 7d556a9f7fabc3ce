// The sync status the background task in Rust reports, kept in one place
// for the header, the sync screen and the "not on the hub" marks.
import { listen } from '@tauri-apps/api/event';
import { api } from './api';
import type { SyncStatus } from './bindings';

class Sync {
  status = $state<SyncStatus>({
    state: 'alone',
    not_on_hub: 0,
    last_sync_ms: null,
    error: null,
    sent: 0,
    received: 0,
    to_send: 0,
    hub_url: null,
    forks: [],
    waiting: [],
    waiting_count: 0,
  });
  /** Called when a session moved ops either way: what is shown (and which
   * records are on the hub) changed. */
  onsynced: () => void = () => {};

  get enrolled(): boolean {
    return this.status.hub_url !== null;
  }

  async start(): Promise<void> {
    await listen<SyncStatus>('sync-status', (event) => {
      const s = event.payload;
      const moved = s.state === 'up-to-date' && (s.received > 0 || s.sent > 0);
      this.status = s;
      if (moved) this.onsynced();
    });
    await this.refresh();
  }

  /** Reads the status again (the unsent count changes with every local op). */
  async refresh(): Promise<void> {
    try {
      this.status = await api.syncStatus();
    } catch {
      // The header keeps the last status.
    }
  }

  /** After a local change: count it, and send it if the hub is there. */
  async changed(): Promise<void> {
    await this.refresh();
    if (this.enrolled && this.status.not_on_hub > 0 && this.status.state !== 'syncing') {
      await api.syncNow();
    }
  }
}

export const sync = new Sync();
