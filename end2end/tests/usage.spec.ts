import { expect, test } from "@playwright/test";
import { ACME_OWNER, logIn, waitForHydration, watchConsole } from "./helpers";

test("usage sent through the API appears on the open Usage page without a reload", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);

  await page.getByRole("link", { name: "Namespaces & API keys" }).click();
  await page.getByLabel("New API key").fill(`usage ${Date.now()}`);
  await page.getByRole("button", { name: "Create API key" }).click();
  const secret = (await page.locator("#new-api-key-secret").textContent()) ?? "";
  expect(secret).toMatch(/^bpk_/);

  await page.getByRole("link", { name: "Usage" }).click();
  await expect(page.getByRole("heading", { name: "Usage", exact: true })).toBeVisible();
  await expect(page.locator("#chart svg")).toBeVisible();
  await expect(page.locator("#estimate")).toHaveText(/^\d+\.\d{2} USD$/);
  const total = page.locator('#usage-totals tr[data-namespace="payments-prod"] .total');
  const before = Number(await total.textContent());
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

  await expect(total).toHaveText(String(before + 42), { timeout: 3_000 });
  // The demo's usage stops an hour before it was loaded, so this hour holds only the new event.
  const column = (await page.locator("#usage-hourly thead th").allTextContents()).indexOf("payments-prod");
  expect(column).toBeGreaterThan(0); // 0 is the hour column; -1 would make nth() pick the last cell
  await expect(page.locator("#usage-hourly tbody tr").last().locator("td").nth(column)).toHaveText("42");
  expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);

  await page.getByRole("link", { name: "Active storage" }).click();
  await expect(page).toHaveURL(/metric=active_storage_gbh/);
  await expect(page.locator("figcaption")).toContainText("Active storage per hour (GBh)");
  expect(problems).toEqual([]);
});
