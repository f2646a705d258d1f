import { test, expect } from "@playwright/test";
import { STAFF, logIn, waitForHydration, watchConsole } from "./helpers";

test("staff find a customer, suspend its service with a reason, lift it, and read the operations view", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, STAFF);
  await expect(page.locator("#organizations")).toContainText("Initech");
  await expect(page.locator("#signed-in-as")).toHaveText(`${STAFF.email} · staff`);
  // Each customer with its state and what it owes.
  await expect(page.locator("#organizations tr", { hasText: "Initech" }).locator(".status")).toHaveText("past due");
  await expect(page.locator("#organizations tr", { hasText: "Initech" }).locator(".owed")).toHaveText(/^\$[1-9][\d,]*\.\d\d$/);
  await waitForHydration(page);

  await page.getByLabel("Name, email, organization id or invoice number").fill("member@acme");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=member%40acme/);
  await expect(page.locator("#organizations tbody tr")).toHaveCount(1);
  await page.getByRole("link", { name: "Acme Corp" }).click();
  await expect(page.locator("#customer-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Activity" }).click();
  await expect(page.locator("#ledger")).toContainText("invoice.finalized");
  await page.getByRole("link", { name: "Overview" }).click();

  await page.getByRole("button", { name: "Suspend service…" }).click();
  const suspend = page.getByRole("dialog", { name: "Suspend every namespace?" });
  await expect(suspend).toContainText("stop accepting work");
  // The browser refuses the action until it has a reason.
  expect(await page.locator("#suspend-form").evaluate((form) => (form as HTMLFormElement).checkValidity())).toBe(false);
  await suspend.getByLabel("Reason (audit log)").fill("e2e abuse check");
  await suspend.getByRole("button", { name: "Suspend service", exact: true }).click();
  await expect(page.locator("#customer-status")).toHaveText("suspended");
  await expect(page.locator("#admin-namespaces")).toContainText("suspended since");

  await page.getByRole("button", { name: "Lift the suspension…" }).click();
  const lift = page.getByRole("dialog", { name: "Lift the suspension?" });
  await lift.getByLabel("Reason (audit log)").fill("e2e check done");
  await lift.getByRole("button", { name: "Lift suspension", exact: true }).click();
  await expect(page.locator("#customer-status")).toHaveText("active");
  await expect(page.locator("#admin-namespaces")).not.toContainText("suspended since");
  await expect(page.locator("#status-history")).toContainText("suspension lifted by staff");
  // The customer's own ingestion rate (far above what other journeys send), then the portal's again.
  await page.getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.locator("#ingest-quota")).toHaveText("The portal's setting, the same for every customer");
  await page.getByRole("button", { name: "Set the ingestion quota…" }).click();
  const quota = page.getByRole("dialog", { name: "Set this customer's ingestion quota?" });
  await quota.getByLabel("Events a second").fill("5,000,000");
  await quota.getByLabel("Reason (audit log)").fill("e2e contract check");
  await quota.getByRole("button", { name: "Set quota", exact: true }).click();
  await expect(page.locator("#ingest-quota")).toHaveText("5,000,000 events a second, set for this customer");
  await page.getByRole("button", { name: "Set the ingestion quota…" }).click();
  await quota.getByLabel("Events a second").fill("");
  await quota.getByLabel("Reason (audit log)").fill("e2e check done");
  await quota.getByRole("button", { name: "Set quota", exact: true }).click();
  await expect(page.locator("#ingest-quota")).toHaveText("The portal's setting, the same for every customer");

  await page.getByRole("link", { name: "Activity" }).click();
  await expect(page.locator('#audit-log tr[data-action="subscription.suspend"]')).toContainText("e2e abuse check");
  await expect(page.locator('#audit-log tr[data-action="organization.ingest_quota"]').first()).toContainText("e2e check done");

  await page.getByRole("link", { name: "Operations" }).click();
  await expect(page.locator("#job-queues")).toContainText("collections");
  await expect(page.locator("#rollup-lag")).toContainText(" s");
  expect(problems).toEqual([]);
});
