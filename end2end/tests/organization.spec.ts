import { expect, test } from "@playwright/test";
import { INITECH_OWNER, logIn, waitForHydration, watchConsole } from "./helpers";

test("an owner's refused billing details keep what was typed; the corrected ones are saved and shown normalized", async ({ page }) => {
  // 422: the malformed tax id below.
  const problems = watchConsole(page, [422]);
  await logIn(page, INITECH_OWNER);
  await waitForHydration(page);
  await page.getByRole("link", { name: "Billing details" }).click();
  await expect(page.getByRole("heading", { name: "Billing details" })).toBeVisible();

  await page.getByLabel("Legal name").fill("Initech LLC");
  await page.getByLabel("Address", { exact: true }).fill("4120 Freidrich Lane");
  await page.getByLabel("Postal code").fill("78744");
  await page.getByLabel("City").fill("Austin");
  await page.getByLabel("Country").selectOption("DE");
  await page.getByLabel(/^Tax id/).fill("DE12");
  await page.getByRole("button", { name: "Save billing details" }).click();
  await expect(page.locator("#billing-tax-id-error")).toContainText("DE123456789");
  await expect(page.getByLabel("Country")).toHaveValue("DE");
  await expect(page.getByLabel("Legal name")).toHaveValue("Initech LLC");

  await page.getByLabel(/^Tax id/).fill("de 123 456 789");
  await page.getByRole("button", { name: "Save billing details" }).click();
  await expect(page.locator("#billing-details-saved")).toHaveText("Billing details saved.");
  await expect(page.getByLabel(/^Tax id/)).toHaveValue("DE123456789");
  await expect(page.getByLabel("Country")).toHaveValue("DE");

  await page.reload();
  await waitForHydration(page);
  await expect(page.getByLabel(/^Tax id/)).toHaveValue("DE123456789");
  await expect(page.getByLabel("City")).toHaveValue("Austin");
  expect(problems).toEqual([]);
});
