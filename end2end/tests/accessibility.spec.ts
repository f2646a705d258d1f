import AxeBuilder from "@axe-core/playwright";
import { expect, test, Page } from "@playwright/test";
import { ACME_OWNER, STAFF, logIn, waitForHydration } from "./helpers";
import { organizationPages, publicPages, staffPages } from "./pages";

/** What axe finds that is serious or critical on the page at `path`, one line per rule. */
async function seriousViolations(page: Page, path: string): Promise<string[]> {
  await page.goto(path);
  await waitForHydration(page);
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => {
      const where = violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join(", ");
      return `${path}: ${violation.id} (${violation.impact}) at ${where}`;
    });
}

for (const colorScheme of ["light", "dark"] as const) {
  test.describe(`in the ${colorScheme} theme`, () => {
    test.use({ colorScheme });

    test("every page passes the accessibility check with nothing serious or critical", async ({ page }) => {
      // Twenty-five pages, each hydrated and checked: more than the default 30 s on a busy machine.
      test.setTimeout(150_000);
      const found: string[] = [];
      for (const path of publicPages) found.push(...(await seriousViolations(page, path)));
      const pages = await organizationPages(page, ACME_OWNER);
      for (const path of pages) found.push(...(await seriousViolations(page, path)));
      for (const path of await staffPages(page, STAFF, pages[0].split("/")[2])) {
        found.push(...(await seriousViolations(page, path)));
      }
      expect(found).toEqual([]);
    });
  });
}
