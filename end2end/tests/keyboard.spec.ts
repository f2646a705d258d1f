import { expect, test, Locator, Page } from "@playwright/test";
import { ACME_OWNER, waitForHydration, watchConsole } from "./helpers";

/** Presses Tab until `target` has the focus, as someone without a mouse moves through a page. */
async function tabTo(page: Page, target: Locator, limit = 120): Promise<void> {
  for (let presses = 0; presses < limit; presses++) {
    if (await target.evaluate((element) => element === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${limit} presses of Tab never reached ${target}`);
}

test("a customer does it all by keyboard: logs in, reads the usage table, previews a plan change, updates the card", async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto("/login");
  await waitForHydration(page);
  await tabTo(page, page.getByLabel("Email"));
  await page.keyboard.type(ACME_OWNER.email);
  await tabTo(page, page.getByLabel("Password"));
  await page.keyboard.type(ACME_OWNER.password);
  await page.keyboard.press("Enter");
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);

  await tabTo(page, page.getByRole("link", { name: "Usage", exact: true }));
  await page.keyboard.press("Enter");
  const totals = page.locator("#usage-totals");
  await expect(totals).toContainText("payments-prod");
  await expect(totals.locator("tbody tr").first()).toBeVisible();
  // The view is drawn again for other days, another range or series; the focus stays on what
  // changed it.
  const days = page.getByRole("button", { name: "Show these days" });
  await tabTo(page, days);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/range=custom/);
  await expect(days, "the focus stays on the button").toBeFocused();
  const period = page.getByRole("link", { name: "Current billing period" });
  await tabTo(page, period);
  await page.keyboard.press("Enter");
  await expect(period).toHaveAttribute("aria-current", "true");
  await expect(period, "the focus stays on the range chosen").toBeFocused();
  const staging = page.locator('.legend a[data-namespace="payments-staging"]');
  await tabTo(page, staging);
  await page.keyboard.press("Enter");
  await expect(staging).toHaveAttribute("aria-pressed", "false");
  await expect(staging, "the focus stays on the series hidden").toBeFocused();
  // The chart's dashed lines go on at each namespace's pace: the table says it without pointing.
  await expect(totals.locator("thead")).toContainText("Pace so far");
  await expect(totals.locator('tr[data-namespace="payments-prod"] td.pace')).toHaveText(/^[1-9][\d,.]*$/);

  await tabTo(page, page.getByRole("link", { name: "Plan", exact: true }));
  await page.keyboard.press("Enter");
  await tabTo(page, page.locator('[data-plan="Essentials"]').getByRole("button", { name: "Preview change" }));
  await page.keyboard.press("Enter");
  await expect(page.locator("#plan-preview")).toContainText("→ Essentials");
  await expect(page.locator("#plan-preview"), "the focus moves to the preview").toBeFocused();

  await tabTo(page, page.getByRole("link", { name: "Payment", exact: true }));
  await page.keyboard.press("Enter");
  await tabTo(page, page.getByLabel("Card number"));
  await page.keyboard.type("4242 4242 4242 4242");
  await page.keyboard.press("Tab");
  await page.keyboard.type("12");
  await page.keyboard.press("Tab");
  await page.keyboard.type("2031");
  await page.keyboard.press("Enter");
  await expect(page.locator("#card-on-file")).toContainText("•••• 4242");
  expect(problems).toEqual([]);
});
