import { expect, test } from "@playwright/test";
import { ACME_OWNER, createApiKey, logIn, waitForHydration, watchConsole } from "./helpers";

test("an owner sets a budget with an 80% alert and a hard cap, and the open dashboard shows the alert and the cap as usage arrives", async ({
  page,
}) => {
  // The refused limit below is answered 422.
  const problems = watchConsole(page, [422]);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  const dashboard = page.url();
  await waitForHydration(page);

  // A namespace of its own, so the budget counts only this test's usage, and a key to send it.
  const namespace = `budgeted-${Date.now()}`;
  await page.getByRole("link", { name: "Namespaces & API keys" }).click();
  await page.getByLabel("New namespace").fill(namespace);
  await page.getByRole("button", { name: "Create namespace" }).click();
  await expect(page.locator("#namespaces")).toContainText(namespace);
  const secret = await createApiKey(page, `budgets ${Date.now()}`);

  await page.getByRole("link", { name: "Budgets" }).click();
  await expect(page.getByRole("heading", { name: "Budgets", exact: true })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("For", { exact: true }).selectOption({ label: namespace });
  await page.getByLabel("Counts", { exact: true }).selectOption({ label: "Actions (actions)" });
  await page.getByLabel("Budget per period").fill("1000");
  await page.getByLabel("Alert at (% of the budget)").fill("80");
  await page.getByLabel(/Hard cap/).check();
  await page.getByRole("button", { name: "Save budget" }).click();
  const row = page.locator("#budgets tbody tr", { hasText: namespace });
  await expect(row).toContainText("1,000 actions");
  await expect(row.locator(".budget-status")).toHaveText("within budget");

  // A refused limit names its field and keeps the budget as it was.
  await page.getByLabel("Budget per period").fill("a lot");
  await page.getByRole("button", { name: "Save budget" }).click();
  await expect(page.locator("#budget-limit-error")).toContainText("must be");
  await expect(row).toContainText("1,000 actions");

  await page.goto(dashboard);
  await waitForHydration(page);
  const send = async (id: string, quantity: number) => {
    const response = await page.request.post("/v1/usage/events", {
      headers: { Authorization: `Bearer ${secret}` },
      data: [{ id, namespace, metric: "actions", quantity, timestamp: new Date().toISOString() }],
    });
    expect(response.status()).toBe(200);
  };
  await send(`${namespace}-1`, 850);
  const alert = page.locator("#alerts li", { hasText: `${namespace} reached 80% of its 1,000 actions budget` });
  await expect(alert).toBeVisible({ timeout: 5_000 });
  await send(`${namespace}-2`, 200);
  await expect(page.locator("#alerts li.danger", { hasText: `${namespace} is capped` })).toBeVisible({ timeout: 5_000 });
  const card = page.locator("#dashboard-namespaces li", { hasText: namespace });
  await expect(card.locator(".status.capped")).toHaveText("capped");
  // The forecast's budgets say it too, on the dashboard and on the Usage page.
  const outlook = page.locator("#budget-outlook li", { hasText: namespace });
  await expect(outlook).toContainText("1,050 actions of 1,000 actions (105%)");
  await expect(outlook.locator(".budget-reach")).toHaveText("capped: the hard cap is reached");

  // Dismissed, the threshold's alert goes; the cap stays while it stops work.
  await alert.getByRole("button", { name: "Dismiss this alert" }).click();
  await expect(alert).toHaveCount(0);
  await expect(page.locator("#alerts li.danger", { hasText: `${namespace} is capped` })).toBeVisible();

  await page.getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.locator("#budget-outlook li", { hasText: namespace })).toContainText("(105%)");
  await page.goto(dashboard);
  await waitForHydration(page);

  // Removing the budget (after confirming) lifts the cap.
  await page.getByRole("link", { name: "Budgets" }).click();
  await waitForHydration(page);
  await expect(row.locator(".budget-status")).toHaveText("capped");
  await row.getByRole("button", { name: "Remove…" }).click();
  await page.getByRole("button", { name: "Remove budget" }).click();
  await expect(row).toHaveCount(0);
  await page.goto(dashboard);
  await expect(page.locator("#alerts li", { hasText: namespace })).toHaveCount(0);
  expect(problems).toEqual([]);
});
