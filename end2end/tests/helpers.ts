import { expect, Page, ConsoleMessage } from "@playwright/test";

export const ACME_OWNER = { email: "owner@acme.test", password: "acme-owner-pass" };
export const ACME_MEMBER = { email: "member@acme.test", password: "acme-member-pass" };
export const GLOBEX_OWNER = { email: "owner@globex.test", password: "globex-owner-pass" };
export const STAFF = { email: "admin@portal.test", password: "portal-admin-pass" };

/** Collects console errors and page errors; a journey ends by asserting there were none. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page: ${error.message}`));
  return problems;
}

/** Clicks before hydration are lost, so every interaction waits for the WASM to take over. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator("#root")).toHaveAttribute("data-hydrated", "true");
}

export async function logIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Log in" }).click();
}
