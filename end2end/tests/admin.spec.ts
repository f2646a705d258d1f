import { test, expect } from "@playwright/test";
import { STAFF, logIn, waitForHydration, watchConsole } from "./helpers";

test("staff find a customer, suspend its service with a reason, lift it, and read the operations view", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, STAFF);
  await expect(page.locator("#organizations")).toContainText("Initech");
  await waitForHydration(page);

  await page.getByLabel("Name, email, organization id or invoice number").fill("member@acme");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=member%40acme/);
  await expect(page.locator("#organizations tbody tr")).toHaveCount(1);
  await page.getByRole("link", { name: "Acme Corp" }).click();
  await expect(page.locator("#customer-name")).toHaveText("Acme Corp");
  await expect(page.locator("#ledger")).toContainText("invoice.finalized");
  await waitForHydration(page);

  await page.getByLabel("Suspend every namespace (reason)").fill("e2e abuse check");
  // The browser refuses the form until the action is confirmed.
  expect(await page.locator("#suspend-form").evaluate((form) => (form as HTMLFormElement).checkValidity())).toBe(false);
  await page.getByLabel("Confirm: suspend every namespace").check();
  await page.getByRole("button", { name: "Suspend service" }).click();
  await expect(page.locator("#customer-status")).toHaveText("suspended");
  await expect(page.locator("#admin-namespaces")).toContainText("suspended since");
  await expect(page.locator('#audit-log tr[data-action="subscription.suspend"]')).toContainText("e2e abuse check");

  await page.getByLabel("Lift the suspension (reason)").fill("e2e check done");
  await page.getByLabel("Confirm: lift the suspension").check();
  await page.getByRole("button", { name: "Lift suspension" }).click();
  await expect(page.locator("#customer-status")).toHaveText("active");
  await expect(page.locator("#admin-namespaces")).not.toContainText("suspended since");
  await expect(page.locator("#status-history")).toContainText("suspension lifted by staff");

  await page.getByRole("link", { name: "Operations" }).click();
  await expect(page.locator("#job-queues")).toContainText("collections");
  await expect(page.locator("#rollup-lag")).toContainText(" s");
  expect(problems).toEqual([]);
});
