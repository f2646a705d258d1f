import { expect, test, Page } from "@playwright/test";
import { ACME_OWNER, STAFF, logIn, waitForHydration, watchConsole } from "./helpers";
import { organizationPages, publicPages, staffPages } from "./pages";

/** How far the page scrolls sideways: 0 when everything fits the viewport's width. */
async function sidewaysScroll(page: Page, path: string): Promise<number> {
  await page.goto(path);
  await waitForHydration(page);
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

test.describe("on a 390 px phone", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("no page of a customer or of staff scrolls sideways", async ({ page }) => {
    // Twenty-five pages, each hydrated and measured: more than the default 30 s on a busy machine.
    test.setTimeout(120_000);
    const problems = watchConsole(page);
    const overflowing: string[] = [];
    const check = async (paths: string[]) => {
      for (const path of paths) {
        const by = await sidewaysScroll(page, path);
        if (by > 0) overflowing.push(`${path} by ${by}px`);
      }
    };
    await check(publicPages);
    const pages = await organizationPages(page, ACME_OWNER);
    const org = pages[0].split("/")[2];
    await check(pages);
    await check(await staffPages(page, STAFF, org));
    expect(overflowing).toEqual([]);
    expect(problems).toEqual([]);
  });

  test("an invoice's lines become one block per line, each figure under its column's name", async ({ page }) => {
    const pages = await organizationPages(page, ACME_OWNER);
    const invoice = pages.find((path) => /\/invoices\/[^/]+$/.test(path));
    expect(invoice).toBeDefined();
    await page.goto(invoice!);
    const amount = page.locator("#invoice-lines tbody td[data-label='Amount']").first();
    await expect(amount).toBeVisible();
    expect(await amount.evaluate((cell) => getComputedStyle(cell).display)).toBe("block");
    const label = await amount.evaluate((cell) => getComputedStyle(cell, "::before").content);
    expect(label).toBe('"Amount"');
    await expect(page.locator("#invoice-lines thead")).toHaveCSS("position", "absolute");
  });
});

test.describe("with the system in dark mode", () => {
  test.use({ colorScheme: "dark" });

  test("pages are drawn dark, with light text", async ({ page }) => {
    await logIn(page, ACME_OWNER);
    await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
    const luminance = (color: string) => {
      const [r, g, b] = (color.match(/\d+/g) ?? []).slice(0, 3).map((c) => Number(c) / 255);
      const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const [background, text] = await page.evaluate(() => {
      const style = getComputedStyle(document.documentElement);
      return [style.backgroundColor, style.color];
    });
    expect(luminance(background)).toBeLessThan(0.05);
    const contrast = (luminance(text) + 0.05) / (luminance(background) + 0.05);
    expect(contrast).toBeGreaterThan(7);
  });
});
