// The README's pictures, taken from the demo data: `node screenshots.mjs BASE_URL OUT_DIR`.
// scripts/screenshots.sh seeds a fresh portal and runs this, so the pictures stay true.
import { chromium } from "@playwright/test";

const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});

async function signedIn(email, password) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(`${base}/login`);
  await page.waitForSelector("#root[data-hydrated=true]");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
  // The signed-in header's logout button: waiting for the URL alone could still find the login
  // page's hydrated root and photograph the login form.
  await page.waitForSelector("#logout");
  await page.waitForSelector("#root[data-hydrated=true]");
  return page;
}

async function shot(page, name) {
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: false });
  console.log(`${out}/${name}.png`);
}

const owner = await signedIn("owner@acme.test", "acme-owner-pass");
const org = new URL(owner.url()).pathname.split("/")[2];
await shot(owner, "dashboard");

await owner.goto(`${base}/orgs/${org}/usage?metric=actions&range=7d`);
await owner.waitForSelector("#root[data-hydrated=true]");
// Points at the busiest hour, so the readout under the chart has figures to show.
const hours = owner.locator("#chart rect[data-hour]");
const busiest = await hours.evaluateAll((rects) => {
  const total = (rect) => [...(rect.querySelector("title")?.textContent ?? "").matchAll(/: ([\d,.]+)/g)]
    .reduce((sum, m) => sum + Number(m[1].replace(/,/g, "")), 0);
  return rects.reduce((best, rect, i) => (total(rect) > total(rects[best]) ? i : best), 0);
});
await hours.nth(busiest).hover();
await shot(owner, "usage");

await owner.goto(`${base}/orgs/${org}/invoices`);
await owner.locator("#invoices tbody a").first().click();
await owner.waitForSelector("#invoice-number");
await shot(owner, "invoice");

await owner.goto(`${base}/orgs/${org}/plan`);
await owner.waitForSelector("#root[data-hydrated=true]");
await owner.locator('[data-plan="Enterprise"]').getByRole("button", { name: "Preview change" }).click();
await owner.waitForSelector("#plan-preview");
await owner.locator("#plan-preview").scrollIntoViewIfNeeded();
await shot(owner, "plan-change");

const staff = await signedIn("admin@portal.test", "portal-admin-pass");
await staff.goto(`${base}/admin/orgs/${org}?tab=billing`);
await staff.waitForSelector("#root[data-hydrated=true]");
await staff.getByRole("button", { name: "Grant a credit…" }).click();
await shot(staff, "staff-customer");

await browser.close();
