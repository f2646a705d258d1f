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

/** Relative luminance (WCAG) of a computed `rgb(…)` color. */
function luminance(color: string): number {
  const [r, g, b] = (color.match(/\d+/g) ?? []).slice(0, 3).map((c) => Number(c) / 255);
  const linear = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

test.describe("with the system in dark mode", () => {
  test.use({ colorScheme: "dark" });

  test("the usage chart is drawn dark too: its paper, labels and lines, and the legend in the lines' colors", async ({
    page,
  }) => {
    const pages = await organizationPages(page, ACME_OWNER);
    await page.goto(pages.find((path) => path.endsWith("/usage"))!);
    const chart = page.locator("#chart svg");
    await expect(chart).toBeVisible();
    const drawn = await chart.evaluate((svg) => {
      const style = (element: Element | null) => (element ? getComputedStyle(element) : null);
      return {
        paper: style(svg.querySelector("rect"))!.fill,
        label: style(svg.querySelector("text"))!.fill,
        lines: [...svg.querySelectorAll("polyline[stroke-width='2']")].map((line) => getComputedStyle(line).stroke),
        swatches: [...document.querySelectorAll(".legend .swatch")].map((swatch) => getComputedStyle(swatch).backgroundColor),
      };
    });
    expect(luminance(drawn.paper)).toBeLessThan(0.05);
    expect(contrast(drawn.label, drawn.paper)).toBeGreaterThan(4.5);
    expect(drawn.lines.length).toBeGreaterThan(0);
    for (const line of drawn.lines) expect(contrast(line, drawn.paper)).toBeGreaterThan(3);
    expect(drawn.swatches.length).toBeGreaterThan(1);
    for (const swatch of drawn.swatches) expect(drawn.lines).toContain(swatch);
  });

  test("pages are drawn dark, with light text", async ({ page }) => {
    await logIn(page, ACME_OWNER);
    await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
    const [background, text] = await page.evaluate(() => {
      const style = getComputedStyle(document.documentElement);
      return [style.backgroundColor, style.color];
    });
    expect(luminance(background)).toBeLessThan(0.05);
    expect(contrast(text, background)).toBeGreaterThan(7);
  });
});
