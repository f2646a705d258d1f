import { expect, test } from "@playwright/test";
import { ACME_OWNER, DOLLARS, createApiKey, figure, logIn, waitForHydration, watchConsole } from "./helpers";

test("usage sent through the API appears on the open Usage page without a reload", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);

  await page.getByRole("link", { name: "Namespaces & API keys" }).click();
  const secret = await createApiKey(page, `usage ${Date.now()}`);

  await page.getByRole("link", { name: "Usage" }).click();
  await expect(page.getByRole("heading", { name: "Usage", exact: true })).toBeVisible();
  await expect(page.locator("#chart svg")).toBeVisible();
  await expect(page.locator("#estimate")).toHaveText(DOLLARS);
  const total = page.locator('#usage-totals tr[data-namespace="payments-prod"] .total');
  const before = figure(await total.textContent());
  // Marks this document: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));

  const response = await page.request.post("/v1/usage/events", {
    headers: { Authorization: `Bearer ${secret}` },
    data: [
      { id: `pw-${Date.now()}`, namespace: "payments-prod", metric: "actions", quantity: 42, timestamp: new Date().toISOString() },
    ],
  });
  expect(response.status()).toBe(200);
  expect((await response.json()).accepted).toBe(1);

  await expect(total).toHaveText((before + 42).toLocaleString("en-US"), { timeout: 3_000 });
  // The demo's usage stops an hour before it was loaded, so this hour holds only the new event.
  const column = (await page.locator("#usage-hourly thead th").allTextContents()).indexOf("payments-prod");
  expect(column).toBeGreaterThan(0); // 0 is the hour column; -1 would make nth() pick the last cell
  await expect(page.locator("#usage-hourly tbody tr").last().locator("td").nth(column)).toHaveText("42");
  expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);

  // Broken down by action type: the demo's actions carry one; the event above carried none.
  await page.locator("#breakdown").getByRole("link", { name: "Action type" }).click();
  await expect(page).toHaveURL(/by=action_type/);
  await expect(page.locator("#usage-totals thead th").first()).toHaveText("Action type");
  await expect(page.locator(".legend")).toHaveAttribute("aria-label", "Action types on the chart");
  await expect(page.locator("#unspecified-note")).toHaveText("Unspecified: usage whose events carried no action type.");
  const valueTotals = (await page.locator("#usage-totals tbody .total").allTextContents()).map(figure);
  expect(figure(await page.locator("#usage-grand-total").textContent())).toBe(valueTotals.reduce((a, b) => a + b, 0));
  expect(figure(await page.locator('#usage-totals tr[data-namespace="Activity"] .total').textContent())).toBeGreaterThan(0);
  expect(figure(await page.locator('#usage-totals tr[data-namespace="Unspecified"] .total').textContent())).toBeGreaterThanOrEqual(42);
  await waitForHydration(page);
  const signals = page.locator('#usage-totals tr[data-namespace="Signal"] .total');
  const signalsBefore = figure(await signals.textContent());
  const typed = await page.request.post("/v1/usage/events", {
    headers: { Authorization: `Bearer ${secret}` },
    data: [
      {
        id: `pw-typed-${Date.now()}`,
        namespace: "payments-prod",
        metric: "actions",
        quantity: 7,
        timestamp: new Date().toISOString(),
        dimensions: { action_type: "signal" },
      },
    ],
  });
  expect((await typed.json()).accepted).toBe(1);
  await expect(signals).toHaveText((signalsBefore + 7).toLocaleString("en-US"), { timeout: 3_000 });
  // A value whose name has a space hides like a namespace; the CSV follows the breakdown.
  await page.locator('.legend a[data-namespace="Workflow start"]').click();
  await expect(page).toHaveURL(/hide=Workflow%20start/);
  await expect(page.locator('.legend a[data-namespace="Workflow start"]')).toHaveAttribute("aria-pressed", "false");
  await expect(page.locator("#usage-csv")).toHaveAttribute("href", /by=action_type/);
  await page.locator("#breakdown").getByRole("link", { name: "Namespace" }).click();
  await expect(page.locator("#usage-totals thead th").first()).toHaveText("Namespace");

  await page.getByRole("link", { name: "Active storage" }).click();
  await expect(page).toHaveURL(/metric=active_storage_gbh/);
  await expect(page.locator("figcaption")).toContainText("Active storage per hour (GBh)");
  expect(problems).toEqual([]);
});

test("the chart answers a pointed-at hour with the hourly table's figures, hides a namespace and shows chosen days", async ({
  page,
}) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await page.goto(page.url() + "/usage?metric=actions&range=7d");
  await waitForHydration(page);

  // The table's busiest row, and the same hour on the chart.
  const namespaces = (await page.locator("#usage-hourly thead th").allTextContents()).slice(1);
  const row = page.locator("#usage-hourly tbody tr").first();
  const hour = (await row.locator("td").first().textContent()) ?? "";
  const cells = (await row.locator("td").allTextContents()).slice(1);
  const hours = page.locator("#chart rect[data-hour]");
  const index = await hours.evaluateAll(
    (rects, hour) => rects.findIndex((rect) => (rect.querySelector("title")?.textContent ?? "").startsWith(hour)),
    hour,
  );
  expect(index).toBeGreaterThanOrEqual(0);
  await hours.nth(index).hover();

  const readout = page.locator("#chart-readout");
  await expect(readout.locator(".readout-hour")).toHaveText(hour);
  await expect(readout.locator("li")).toHaveText(namespaces.map((ns, i) => `${ns}: ${cells[i]} actions`));

  // The legend hides a namespace from the chart, and the tables keep it.
  const staging = page.locator('.legend a[data-namespace="payments-staging"]');
  await expect(staging).toHaveAttribute("aria-pressed", "true");
  await staging.click();
  await expect(page).toHaveURL(/hide=payments-staging/);
  await expect(staging).toHaveAttribute("aria-pressed", "false");
  await expect(page.locator("#chart title").first()).not.toContainText("payments-staging:");
  await expect(page.locator('#usage-totals tr[data-namespace="payments-staging"]')).toBeVisible();

  // Chosen days: the form keeps the metric, and the caption names the span.
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel("From", { exact: true }).fill(weekAgo);
  await page.getByLabel("To", { exact: true }).fill(today);
  await page.getByRole("button", { name: "Show these days" }).click();
  await expect(page).toHaveURL(new RegExp(`range=custom&hide=payments-staging&from=${weekAgo}&to=${today}`));
  await expect(page.locator("figcaption")).toContainText(`${weekAgo} 00:00 UTC to`);
  await expect(page.locator("figcaption")).toContainText("the last hour is still in progress");
  expect(problems).toEqual([]);
});
