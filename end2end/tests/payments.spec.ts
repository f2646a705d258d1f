import { expect, test } from "@playwright/test";
import { INITECH_OWNER, logIn, waitForHydration, watchConsole } from "./helpers";

test("a past-due owner replaces the declined card and watches the banner go as the invoice is paid", async ({ page }) => {
  // 422: the mistyped card number below.
  const problems = watchConsole(page, [422]);
  await logIn(page, INITECH_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Initech");
  await waitForHydration(page);
  const banner = page.locator("#past-due-banner");
  await expect(banner).toContainText("Payment past due");
  await expect(banner).toContainText("Your card was declined.");
  await expect(page.locator("#suspends-in")).toContainText("10 days");

  await banner.getByRole("link", { name: "Update payment method" }).click();
  await expect(page.getByRole("heading", { name: "Payment method" })).toBeVisible();
  await expect(page.locator("#card-on-file")).toContainText("•••• 0341");
  await expect(page.locator("#payments tbody tr").first()).toContainText("failed");

  await page.getByLabel("Card number").fill("4242 4242 4242 4241");
  await page.getByLabel("Expiry month").fill("12");
  await page.getByLabel("Expiry year").fill("2031");
  await page.getByRole("button", { name: "Save card" }).click();
  await expect(page.locator("#number-error")).toContainText("not a valid card number");
  await expect(banner).toBeVisible();

  await page.getByLabel("Card number").fill("4242 4242 4242 4242");
  await page.getByRole("button", { name: "Save card" }).click();
  await expect(page.locator("#card-saved")).toHaveText("Card saved. Nothing is past due.");
  await expect(page.locator("#card-on-file")).toContainText("•••• 4242");
  await expect(banner).toHaveCount(0);
  await expect(page.locator("#payments tbody tr").first()).toContainText("succeeded");

  await page.getByRole("link", { name: "Invoices" }).click();
  await expect(page.locator("#invoices tbody tr").first()).toContainText("paid");
  await expect(banner).toHaveCount(0);
  expect(problems).toEqual([]);
});
