import { expect, test } from "@playwright/test";
import { ACME_MEMBER, ACME_OWNER, DOLLARS, GLOBEX_OWNER, STAFF, logIn, submitLogIn, waitForHydration, watchConsole } from "./helpers";

test("an owner logs in, creates a namespace and an API key, revokes it and logs out", async ({ page }) => {
  // 422: the invalid namespace name below; 401: the page opened again after logging out.
  const problems = watchConsole(page, [422, 401]);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await expect(page.locator("#dashboard-namespaces")).toContainText("payments-prod");
  await expect(page.locator("#estimate")).toHaveText(DOLLARS);
  await waitForHydration(page);

  await page.getByRole("link", { name: "Namespaces & API keys" }).click();
  await expect(page.getByRole("heading", { name: "Namespaces & API keys" })).toBeVisible();
  const name = `e2e-${Date.now().toString(36)}`;
  await page.getByLabel("New namespace").fill(name);
  await page.getByRole("button", { name: "Create namespace" }).click();
  await expect(page.locator("#namespaces")).toContainText(name);

  await page.getByLabel("New namespace").fill("Not A Label");
  await page.getByRole("button", { name: "Create namespace" }).click();
  await expect(page.locator("#namespace-name-error")).toContainText("lowercase letters");

  const keyName = `key ${name}`;
  await page.getByLabel("New API key").fill(keyName);
  await page.getByRole("button", { name: "Create API key" }).click();
  const secret = page.locator("#new-api-key-secret");
  await expect(secret).toHaveText(/^bpk_[A-Za-z0-9]{32}$/);
  const row = page.locator("#api-keys tr", { hasText: keyName });
  await expect(row.locator(".key-status")).toHaveText("active");

  await row.getByRole("button", { name: `Revoke ${keyName}` }).click();
  await expect(page.getByRole("dialog", { name: `Revoke ${keyName}?` })).toBeVisible();
  await row.getByRole("button", { name: "Revoke key", exact: true }).click();
  await expect(row.locator(".key-status")).toHaveText("revoked");

  await page.reload();
  await waitForHydration(page);
  await expect(page.locator("#new-api-key-secret")).toHaveCount(0);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/login$/);
  expect(problems).toEqual([]);
});

// Navigating in the browser instead, the dashboard waited about two seconds for its WASM chunks,
// the login form still on screen, before it fetched anything to show.
test("logging in loads the home page from the server, its data already in the document", async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto("/login");
  await waitForHydration(page);
  const home = page.waitForResponse((response) => response.request().isNavigationRequest() && /\/orgs\/[^/]+$/.test(response.url()));
  await submitLogIn(page, ACME_OWNER);
  const document = await (await home).text();
  expect(document).toContain("Acme Corp");
  expect(document).toContain("payments-prod");
  await waitForHydration(page);
  await expect(page.locator("#dashboard-namespaces")).toContainText("payments-prod");
  expect(problems).toEqual([]);
});

test("a wrong password shows one generic error", async ({ page }) => {
  const problems = watchConsole(page, [401]);
  await page.goto("/login");
  await waitForHydration(page);
  await submitLogIn(page, { email: ACME_OWNER.email, password: "not the password" });
  await expect(page.locator("#login-error")).toHaveText("email or password is wrong");
  await expect(page).toHaveURL(/\/login$/);
  expect(problems).toEqual([]);
});

test("a member sees the organization but cannot create keys", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_MEMBER);
  await expect(page.locator("#role")).toHaveText("member");
  await page.getByRole("link", { name: "Namespaces & API keys" }).click();
  await expect(page.locator("#member-note")).toHaveText("Only owners can create or revoke keys.");
  await expect(page.getByRole("button", { name: "Create API key" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Create namespace" })).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("a user of one organization opening another's pages gets not found", async ({ page, request }) => {
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  const acmeUrl = page.url();

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await logIn(page, GLOBEX_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Globex");

  const response = await page.goto(acmeUrl);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await expect(page.locator("body")).not.toContainText("Acme Corp");
  const namespaces = await page.goto(`${acmeUrl}/namespaces`);
  expect(namespaces?.status()).toBe(404);
  await expect(page.locator("body")).not.toContainText("payments-prod");
});

test("a staff admin reaches the admin page; no page logs console errors", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, STAFF);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.locator("#organizations")).toContainText("Acme Corp");
  await expect(page.locator("#organizations")).toContainText("Globex");
  await waitForHydration(page);
  await page.goto("/login");
  await waitForHydration(page);
  expect(problems).toEqual([]);
});

test("every load of a page carries its scripts' nonce in its policy and hydrates", async ({ page }) => {
  const problems = watchConsole(page);
  await logIn(page, ACME_OWNER);
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  const billingDetails = page.url().replace(/\/?$/, "/billing-details");
  for (let load = 0; load < 5; load++) {
    const response = await page.goto(billingDetails);
    const policy = response?.headers()["content-security-policy"] ?? "";
    const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
    expect(nonce, policy).toBeTruthy();
    expect(await response?.text()).toContain(`nonce="${nonce}"`);
    await waitForHydration(page);
  }
  await expect(page.getByRole("heading", { name: "Billing details" })).toBeVisible();
  expect(problems).toEqual([]);
});
