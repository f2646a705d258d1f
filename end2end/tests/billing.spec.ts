import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { ACME_MEMBER, ACME_OWNER, DOLLARS, MINUS_DOLLARS, STAFF, logIn, waitForHydration, watchConsole } from "./helpers";

test("a member reads the finalized demo invoice line by line", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_MEMBER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Invoices" }).click();
  await expect(page.getByRole("heading", { name: "Invoices" })).toBeVisible();
  await expect(page.locator("#balance-due")).toHaveText(DOLLARS);
  const row = page.locator("#invoices tbody tr").first();
  await expect(row).toContainText("open");
  await row.getByRole("link", { name: /^INV-\d{4}-000001$/ }).click();

  await expect(page.locator("#invoice-number")).toHaveText(/^INV-\d{4}-000001$/);
  await expect(page.locator("#invoice-status")).toHaveText("open");
  const lines = page.locator("#invoice-lines tbody tr");
  await expect(lines.first()).toContainText("Business plan");
  const usageLine = page.locator("#invoice-lines tr.usage", { hasText: "payments-prod" }).first();
  await expect(usageLine).toContainText("tier");
  await expect(usageLine).toContainText("Actions under Business");
  await expect(page.locator("#invoice-amount-due")).toHaveText(DOLLARS);
  expect(problems).toEqual([]);
});

test("an owner downloads the invoice as a PDF named after its number", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Invoices" }).click();
  await page.locator("#invoices tbody tr").first().getByRole("link", { name: /^INV-\d{4}-000001$/ }).click();
  const number = (await page.locator("#invoice-number").textContent()) ?? "";
  expect(number).toMatch(/^INV-\d{4}-000001$/);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Download PDF" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${number}.pdf`);
  const pdf = await readFile(await download.path());
  expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
  expect(pdf.length).toBeGreaterThan(1500);
  // Still on the invoice: the download did not navigate away.
  await expect(page.locator("#invoice-number")).toHaveText(number);
  expect(problems).toEqual([]);
});

test("an owner previews an upgrade with its proration and confirms it", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Plan", exact: true }).click();
  await expect(page.locator("#current-plan")).toHaveText("Business");

  await page.locator('[data-plan="Enterprise"]').getByRole("button", { name: "Preview change" }).click();
  const preview = page.locator("#plan-preview");
  await expect(preview).toContainText("Business → Enterprise");
  await expect(page.locator("#preview-credit")).toHaveText(MINUS_DOLLARS);
  await expect(page.locator("#preview-charge")).toHaveText(DOLLARS);
  await expect(page.locator("#preview-days")).toHaveText(/^\d+\.\d of \d+ days$/);
  await expect(preview).toContainText("rated under Business");

  await page.getByRole("button", { name: "Confirm change" }).click();
  await expect(page.locator("#change-confirmed")).toBeVisible();
  await expect(page.locator("#current-plan")).toHaveText("Enterprise");
  expect(problems).toEqual([]);
});

test("an owner cancels at the period end, saying why, and takes it back", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Plan", exact: true }).click();
  await page.getByText("Cancel the subscription").click();
  await expect(page.locator("#cancel-effect")).toContainText("That period is invoiced as usual");
  await page.getByLabel("Why are you leaving? (optional)").fill("Trying another region");
  await page.getByRole("button", { name: "Cancel at period end" }).click();
  await expect(page.locator("#cancels-at")).toContainText("Cancels at the end of this period");

  await page.getByRole("button", { name: "Keep my subscription" }).click();
  await expect(page.locator("#cancels-at")).toHaveCount(0);
  await expect(page.getByText("Cancel the subscription")).toBeVisible();
  expect(problems).toEqual([]);
});

test("staff grant a credit once, with the amount checked, and the customer's credit balance shows it", async ({ page }) => {
  // 422: the zero amount below.
  const problems = watchConsole(page, [422]);
  await logIn(page, STAFF);
  await expect(page.locator("#organizations")).toContainText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Acme Corp" }).click();
  await expect(page.locator("#customer-name")).toHaveText("Acme Corp");
  await waitForHydration(page);

  await page.getByRole("link", { name: "Billing" }).click();
  await page.getByRole("button", { name: "Grant a credit…" }).click();
  const dialog = page.getByRole("dialog", { name: "Grant a credit?" });
  await dialog.getByLabel("Amount").fill("0");
  await dialog.getByLabel("Reason (audit log)").fill("e2e goodwill");
  await dialog.getByRole("button", { name: "Issue credit" }).click();
  await expect(dialog.locator("#credit-amount-error")).toContainText("more than zero");

  await dialog.getByLabel("Amount").fill("25.00");
  await dialog.getByRole("button", { name: "Issue credit" }).click();
  await expect(page.locator("#credit-issued")).toHaveText("Credit of $25.00 issued.");
  await expect(page.locator("#credit-balance")).toHaveText("$25.00");
  await expect(page.locator("#credits")).toContainText("e2e goodwill");
  expect(problems).toEqual([]);
});

test("staff create a coupon and its code; an owner previews the code, applies it and sees it in the estimate", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, STAFF);
  await expect(page.locator("#organizations")).toContainText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Coupons" }).click();
  await expect(page.getByRole("heading", { name: "New coupon" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Name (staff only)").fill("Spring launch");
  await page.getByLabel("Percentage (20) or amount (25.00)").fill("15");
  await page.getByLabel("Duration").selectOption("repeating");
  await page.getByLabel("Number of invoices (repeating only)").fill("3");
  await page.getByRole("button", { name: "Create coupon" }).click();
  const coupon = page.locator('[data-coupon="Spring launch"]');
  await expect(coupon.locator(".coupon-terms")).toHaveText("15% off the next 3 invoices");
  await coupon.getByLabel("New code").fill("spring15");
  await coupon.getByRole("button", { name: "Add code" }).click();
  await expect(coupon.locator("table.codes")).toContainText("SPRING15");
  await expect(coupon.locator("table.codes")).toContainText("0 redeemed");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Plan", exact: true }).click();
  await page.getByRole("textbox", { name: "Code", exact: true }).fill("spring15");
  await page.getByRole("button", { name: "Preview", exact: true }).click();
  await expect(page.locator("#promotion-preview")).toContainText("15% off the next 3 invoices");
  await expect(page.locator("#promotion-so-far")).toHaveText(DOLLARS);
  await expect(page.locator("#promotion-discount")).toHaveText(MINUS_DOLLARS);
  await page.getByRole("button", { name: "Apply code" }).click();
  await expect(page.locator("#discount-code")).toHaveText("SPRING15");
  await expect(page.locator("#discount-remaining")).toHaveText("3 invoices left");

  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page.locator("#estimate-discount")).toContainText("off with SPRING15");
  expect(problems).toEqual([]);
});
