import { defineConfig, devices } from "@playwright/test";

// Debian's Chromium, started the way this machine allows (no sandbox as root, no background network).
const chromiumArgs = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./wait-for-server.ts",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  // Pages read times in the browser's zone: the journeys run in UTC wherever the machine is.
  use: { baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000", timezoneId: "UTC" },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: chromiumArgs },
      },
    },
  ],
});
