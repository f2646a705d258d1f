import { expect, Page } from "@playwright/test";
import { logIn } from "./helpers";

/** The pages anyone can open: logging in, signing up, and the pages a mailed link opens (here
 * with a token that is no good, so each shows its form and then its refusal). */
export const publicPages = [
  "/login",
  "/signup",
  "/password-reset",
  "/signup/confirm?token=not-a-token",
  "/password-reset/confirm?token=not-a-token",
  "/invitation?token=not-a-token",
];

/** Every page of Acme as `who` sees it: the organization's pages, its first invoice and that invoice's Pay page. */
export async function organizationPages(page: Page, who: { email: string; password: string }): Promise<string[]> {
  await logIn(page, who);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  const org = new URL(page.url()).pathname.split("/")[2];
  await page.goto(`/orgs/${org}/invoices`);
  const invoice = await page.locator("#invoices tbody a").first().getAttribute("href");
  const sections = ["", "/usage", "/budgets", "/webhooks", "/invoices", "/plan", "/payment", "/billing-details", "/namespaces", "/team", "/preferences"];
  expect(invoice).toBeTruthy();
  return [...sections.map((section) => `/orgs/${org}${section}`), invoice!, `${invoice}/pay`];
}

/** The staff console's pages, each section of `org`'s among them, after logging in as `who` instead. */
export async function staffPages(page: Page, who: { email: string; password: string }, org: string): Promise<string[]> {
  await page.goto("/login");
  await page.context().clearCookies();
  await logIn(page, who);
  await expect(page.locator("#organizations")).toBeVisible();
  const customer = ["overview", "billing", "payments", "usage", "activity"].map((tab) => `/admin/orgs/${org}?tab=${tab}`);
  return ["/admin", ...customer, "/admin/operations", "/admin/coupons"];
}
