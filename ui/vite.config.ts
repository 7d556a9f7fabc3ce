/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app is loaded from the embedded dist/ folder; nothing is fetched at
// run time, so everything (fonts included) must be bundled.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // Keep scripts and styles as files: the CSP forbids inline ones.
    assetsInlineLimit: 0,
    // The bundle carries the review map's shapes (world-atlas, about
    // 750 kB): everything is local, nothing is fetched at run time.
    chunkSizeWarningLimit: 1400,
  },
  // Unit tests of the UI's own logic (formatting, plurals, alerts, dates);
  // the WebDriver tests drive the real window.
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'jsdom',
  },
});
