import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, Page, ConsoleMessage } from "@playwright/test";

export const ACME_OWNER = { email: "owner@acme.test", password: "acme-owner-pass" };
export const ACME_MEMBER = { email: "member@acme.test", password: "acme-member-pass" };
export const GLOBEX_OWNER = { email: "owner@globex.test", password: "globex-owner-pass" };
export const INITECH_OWNER = { email: "owner@initech.test", password: "initech-owner-pass" };
export const VANDELAY_OWNER = { email: "owner@vandelay.test", password: "vandelay-owner-pass" };
export const STAFF = { email: "admin@portal.test", password: "portal-admin-pass" };

/** An amount in dollars as the portal shows it: `$1,842.50`. */
export const DOLLARS = /^\$\d{1,3}(,\d{3})*\.\d{2}$/;
/** A negative one: `-$51.61`. */
export const MINUS_DOLLARS = /^-\$\d{1,3}(,\d{3})*\.\d{2}$/;

/** `1,842,500` as shown → 1842500. */
export function figure(text: string | null): number {
  return Number((text ?? "").replace(/,/g, ""));
}

/**
 * Collects console errors and page errors; a journey ends by asserting there were none. Chromium
 * logs every 4xx answer as a console error, so a journey names the statuses it provokes on purpose
 * (a rejected form, a page visited after logging out).
 */
export function watchConsole(page: Page, expectedStatuses: number[] = []): string[] {
  const problems: string[] = [];
  page.on("console", (message: ConsoleMessage) => {
    const text = message.text();
    const expected = expectedStatuses.some((status) => text.includes(`status of ${status} `));
    if (message.type() === "error" && !(expected && text.startsWith("Failed to load resource"))) {
      problems.push(`console: ${text}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page: ${error.message}`));
  return problems;
}

/** Clicks before hydration are lost, so every interaction waits for the WASM to take over. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator("#root")).toHaveAttribute("data-hydrated", "true");
}

/** Fills and sends the login form, open and hydrated; the caller waits for what follows. */
export async function submitLogIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/**
 * Logs in and waits for the user's home page to load and hydrate. The redirect after logging in
 * loads the new page from the server, so until it arrives the hydrated login page is still shown.
 */
export async function logIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.goto("/login");
  await waitForHydration(page);
  await submitLogIn(page, who);
  await page.waitForURL((url) => url.pathname !== "/login");
  await waitForHydration(page);
}

/** Creates an API key on the open Namespaces page and answers its secret, shown once. */
export async function createApiKey(page: Page, name: string): Promise<string> {
  await page.getByLabel("New API key").fill(name);
  await page.getByRole("button", { name: "Create API key" }).click();
  const secret = (await page.locator("#new-api-key-secret").textContent()) ?? "";
  expect(secret).toMatch(/^bpk_/);
  return secret;
}

/** The link to `path` in the newest mail to `to` in the server's mail log folder (MAIL_DIR). */
export async function mailedLink(to: string, path: string): Promise<string> {
  const folder = process.env.MAIL_DIR;
  if (!folder) throw new Error("MAIL_DIR names the server's mail log folder");
  let link = "";
  await expect
    .poll(
      () => {
        const mails = readdirSync(folder)
          .filter((name) => name.endsWith(".eml"))
          .map((name) => readFileSync(join(folder, name), "utf8").replace(/=\r?\n/g, "").replace(/=3D/g, "="))
          .filter((mail) => mail.includes(`To: ${to}`) && mail.includes(path));
        const links = mails
          .flatMap((mail) => mail.match(/https?:\/\/[^\s"<>]+/g) ?? [])
          .map((found) => found.replace(/[.,;:)]+$/, ""));
        link = links.find((found) => found.includes(path)) ?? "";
        return link;
      },
      { timeout: 15_000 },
    )
    .toContain(path);
  return link;
}
