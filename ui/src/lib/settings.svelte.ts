// The person's and the device's settings (language, last site and point),
// kept by Rust in the data folder: a second data folder on this machine
// starts from its own, not from the web view's storage.
import { api } from './api';
import type { Settings } from './bindings';

const NONE: Settings = { lang: null, last_site: null, last_point: null, window: null };

class SettingsStore {
  current = $state<Settings>({ ...NONE });

  async load(): Promise<void> {
    try {
      this.current = await api.settings();
    } catch {
      // The defaults: the app works without its settings.
    }
  }

  /** Keeps the fields given; the others stay as they are. Best effort: a
   * setting not kept never stops the work. */
  async save(changes: Partial<Settings>): Promise<void> {
    this.current = { ...this.current, ...changes };
    try {
      this.current = await api.saveSettings(changes);
    } catch {
      // Kept for this session only.
    }
  }
}

export const settings = new SettingsStore();
