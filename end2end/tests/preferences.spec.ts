import { expect, test } from "@playwright/test";
import { ACME_MEMBER, logIn, waitForHydration, watchConsole } from "./helpers";

test.use({ timezoneId: "Asia/Tokyo" });

test("times read in the browser's zone until a person chooses another on their preferences page", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_MEMBER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  const org = new URL(page.url()).pathname.split("/")[2];
  await page.goto(`/orgs/${org}/usage`);
  await expect(page.locator("#watermark")).toHaveText(/ JST$/);

  await waitForHydration(page);
  await page.locator("#signed-in-as").getByRole("link", { name: ACME_MEMBER.email }).click();
  await expect(page.getByRole("heading", { name: "Your preferences" })).toBeVisible();
  const zone = page.getByLabel("Show times in");
  await expect(zone.locator("option:checked")).toHaveText("My browser's time zone (Asia/Tokyo)");
  await expect(page.locator("#time-zone-now")).toHaveText(/ JST$/);

  await zone.selectOption("America/New_York");
  await page.getByRole("button", { name: "Save time zone" }).click();
  await expect(page.locator("#time-zone-now")).toHaveText(/ E[SD]T$/);
  await page.goto(`/orgs/${org}/usage`);
  await expect(page.locator("#watermark")).toHaveText(/ E[SD]T$/);

  // Back to the browser's zone, as the other journeys expect.
  await page.goto(`/orgs/${org}/preferences`);
  await waitForHydration(page);
  await page.getByLabel("Show times in").selectOption("");
  await page.getByRole("button", { name: "Save time zone" }).click();
  await expect(page.locator("#time-zone-now")).toHaveText(/ JST$/);
  expect(problems).toEqual([]);
});
