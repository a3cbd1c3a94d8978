import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Synthesising a stack takes a second or two.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
