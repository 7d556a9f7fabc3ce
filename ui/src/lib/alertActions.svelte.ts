// Acknowledging an alert and making its tasks, from the banner or the
// alert list: one action at a time, its failure kept to show, and every
// view reloaded after it.
import { api, asApiError, type ApiError } from './api';
import type { Country } from './bindings';
import { nav } from './nav.svelte';

export class AlertActions {
  busy = $state(false);
  failure = $state<ApiError | null>(null);

  private async run(action: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    this.failure = null;
    try {
      await action();
      nav.changed();
    } catch (e) {
      this.failure = asApiError(e);
    } finally {
      this.busy = false;
    }
  }

  acknowledge = (reference: string): Promise<void> => this.run(() => api.acknowledgeAlert(reference, ''));

  /** Opens the preview of the alert's tasks. `country`: the director's
   * own; none for a regional director. */
  makeTasks = (reference: string, country: Country | null): void => {
    nav.alertTasks = { alert: reference, country };
  };
}
