import { test, expect, Request } from "@playwright/test";
import { ACME_OWNER, waitForHydration } from "./helpers";

// What a first visit downloads, compressed as served: the main module and the chunks of the pages
// shown (each page's own chunk and the shared chunks it needs).
// Raised from 250 KiB when pages gained time zones, the chart's readout and staff dialogs (the
// login page itself did not grow; shared code did): a guard against growth, not the goal.
const FIRST_PAGE_BUDGET_BYTES = 260 * 1024;

test("the WASM a first visit downloads: the login page, then the dashboard", async ({ page }) => {
  const wasm: Promise<number>[] = [];
  page.on("requestfinished", (request: Request) => {
    if (request.url().endsWith(".wasm")) wasm.push(request.sizes().then((sizes) => sizes.responseBodySize));
  });
  const transferred = async () => (await Promise.all(wasm)).reduce((sum, bytes) => sum + bytes, 0);

  await page.goto("/login");
  await waitForHydration(page);
  const loginFiles = wasm.length;
  const loginBytes = await transferred();

  await page.getByLabel("Email").fill(ACME_OWNER.email);
  await page.getByLabel("Password").fill(ACME_OWNER.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#dashboard-namespaces")).toContainText("payments-prod");
  await waitForHydration(page);
  const bothBytes = await transferred();

  console.log(
    `WASM transferred: login page ${loginBytes} bytes in ${loginFiles} files; ` +
      `login and dashboard ${bothBytes} bytes in ${wasm.length} files`,
  );
  expect(loginFiles).toBeGreaterThan(1);
  expect(loginBytes).toBeLessThan(FIRST_PAGE_BUDGET_BYTES);
  expect(bothBytes).toBeGreaterThan(loginBytes);
});

// Leptos would add a preload link for each WASM chunk of a page's lazy routes, about 400 on an
// organization's page, after the body was rendered: they cost a third of the rendering, and came
// on some requests and not others (dropped when the head had gone), so eight requests of a page
// showed them.
test("an organization's pages carry no link per WASM chunk", async ({ page }) => {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill(ACME_OWNER.email);
  await page.getByLabel("Password").fill(ACME_OWNER.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#dashboard-namespaces")).toContainText("payments-prod");
  const dashboard = new URL(page.url()).pathname;
  for (const path of [dashboard, `${dashboard}/usage`, `${dashboard}/invoices`]) {
    for (let i = 0; i < 8; i++) {
      const response = await page.request.get(path);
      expect(response.status()).toBe(200);
      expect(await response.text(), `${path}, request ${i + 1}`).not.toMatch(/chunk_\d+\.wasm/);
    }
  }
});
