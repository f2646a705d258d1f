import { expect, test } from "@playwright/test";
import { ACME_OWNER, DOLLARS, logIn, waitForHydration, watchConsole } from "./helpers";

test("the dashboard's tiles agree with the pages they link to", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  const dashboard = page.url();
  const balance = (await page.locator("#tile-balance-due").textContent()) ?? "";
  expect(balance).toMatch(DOLLARS);
  const plan = (await page.locator("#tile-plan strong").textContent()) ?? "";
  const latest = (await page.locator("#invoices tbody tr a").first().textContent()) ?? "";
  const credit = (await page.locator("#tile-credit").textContent()) ?? "";
  expect(credit).toMatch(DOLLARS);
  const status = (await page.locator("#tile-plan .status").textContent()) ?? "";
  const estimate = (await page.locator("#estimate").textContent()) ?? "";
  expect(estimate).toMatch(DOLLARS);

  await page.locator("#tile-balance").click();
  await expect(page.getByRole("heading", { name: "Invoices" })).toBeVisible();
  await expect(page.locator("#balance-due")).toHaveText(balance);
  await expect(page.locator("#invoices tbody tr a").first()).toHaveText(latest);
  await expect(page.locator("#credit-balance")).toHaveText(credit);

  await page.goto(dashboard);
  await waitForHydration(page);
  await page.locator("#tile-plan").click();
  await expect(page.locator("#current-plan")).toHaveText(plan);
  await expect(page.locator("#subscription-status")).toHaveText(status);

  await page.goto(dashboard);
  await waitForHydration(page);
  await page.getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.locator("#estimate")).toHaveText(estimate);
  expect(problems).toEqual([]);
});
