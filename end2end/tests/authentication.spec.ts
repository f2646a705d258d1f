import { expect, test } from "@playwright/test";
import { VANDELAY_OWNER, logIn, mailedLink, waitForHydration, watchConsole } from "./helpers";

test("a customer whose bank asks to confirm the payment follows the mailed link, approves it, and watches the invoice turn paid", async ({ page }) => {
  const problems = watchConsole(page);
  // The automatic charge of Vandelay's first invoice waits for the card holder (card 3155).
  const link = await mailedLink("billing@vandelay.test", "/pay");
  await logIn(page, VANDELAY_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Vandelay Industries");
  await waitForHydration(page);
  const banner = page.locator("#past-due-banner");
  await expect(banner).toContainText("Your bank asks you to confirm this payment");
  await expect(banner.getByRole("link", { name: "Confirm payment" })).toHaveAttribute("href", new URL(link).pathname);

  await page.goto(link);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Confirm your payment" })).toBeVisible();
  await expect(page.locator("#pay-status")).toContainText("visa •••• 3155");

  // Failing the bank's step charges nothing; the payment keeps waiting.
  await page.getByRole("button", { name: "Fail authentication" }).click();
  await expect(page.locator("#pay-notice")).toContainText("nothing was charged");
  await expect(banner).toBeVisible();

  await page.getByRole("button", { name: "Confirm payment" }).click();
  await expect(page.locator("#pay-status")).toHaveAttribute("data-step", "paid");
  await expect(page.locator("#pay-status")).toContainText("is paid");
  await expect(banner).toHaveCount(0);
  await page.getByRole("link", { name: "View the invoice" }).click();
  await expect(page.locator("#invoice-status")).toHaveText("paid");
  expect(problems).toEqual([]);
});
