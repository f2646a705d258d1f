import { expect, test, Page } from "@playwright/test";
import { logIn, mailedLink, waitForHydration, watchConsole } from "./helpers";

const PASSWORD = "violet tractor mango 17";
const NEW_PASSWORD = "amber kettle orbit 42";

async function submitAfterHydration(page: Page, url: string) {
  await page.goto(url);
  await waitForHydration(page);
}

test("a visitor signs up, confirms by the mailed link, lands on the new organization, and resets a forgotten password", async ({ page }) => {
  // 422: the weak password tried first.
  const problems = watchConsole(page, [422]);
  const email = `grace+${Date.now()}@hooli.test`;
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Create an account" }).click();
  await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();
  await waitForHydration(page);

  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Organization name").fill("Hooli");
  await page.getByLabel("Password").fill("password1234");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#signup-password-error")).toContainText("too easy to guess");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#signup-sent")).toContainText("Check your inbox");

  const confirmLink = await mailedLink(email, "/signup/confirm");
  await submitAfterHydration(page, confirmLink);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Confirm and continue" }).click();
  await expect(page.getByRole("heading", { name: "Choose a plan to start" })).toBeVisible();
  await waitForHydration(page);
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(page.locator("#organization-name")).toHaveText("Hooli");
  await page.locator("#choose-plan-prompt").getByRole("link", { name: "See the plans and their free trials" }).click();
  await expect(page.locator("#choose-plan")).toBeVisible();
  await page.locator('[data-plan="Business"]').getByRole("button", { name: "Start 14-day free trial" }).click();
  await expect(page.locator("#current-plan")).toHaveText("Business");
  await expect(page.locator("#subscription-status")).toHaveText("trialing");

  // The dashboard's first steps: the plan is ticked, a namespace and a key follow from its links.
  await page.getByRole("link", { name: "Dashboard" }).click();
  const steps = page.locator("#get-started");
  await expect(steps.locator('[data-step="plan"]')).toHaveClass(/done/);
  await steps.getByRole("link", { name: "Create a namespace" }).click();
  await page.getByLabel("New namespace").fill("checkout");
  await page.getByRole("button", { name: "Create namespace" }).click();
  // The page reads its lists again after the namespace is created: the key's name waits for that.
  await expect(page.locator("#namespaces")).toContainText("checkout");
  await expect(page.locator("#toasts")).toContainText("Namespace created.");
  await page.getByLabel("New API key").fill("production");
  await page.getByRole("button", { name: "Create API key" }).click();
  await expect(page.locator("#new-api-key-secret")).toHaveText(/^bpk_/);
  await page.getByRole("link", { name: "Dashboard" }).click();
  await expect(steps.locator('[data-step="namespace"]')).toHaveClass(/done/);
  await expect(steps.locator('[data-step="key"]')).toHaveClass(/done/);
  await expect(steps.locator('[data-step="event"]')).not.toHaveClass(/done/);
  await expect(page.locator("#first-event-command")).toContainText('"namespace": "checkout"');
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Log in to the billing portal" })).toBeVisible();

  await waitForHydration(page);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  // The log-in form has an Email field too: wait for the route to change before filling one in.
  await expect(page.getByRole("heading", { name: "Reset your password" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Send a reset link" }).click();
  await expect(page.locator("#reset-sent")).toBeVisible();
  const resetLink = await mailedLink(email, "/password-reset/confirm");
  await submitAfterHydration(page, resetLink);
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.locator("#password-changed")).toBeVisible();

  await page.getByRole("link", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Log in to the billing portal" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#organization-name")).toHaveText("Hooli");
  expect(problems).toEqual([]);
});

test("an owner invites a teammate, who accepts by the mailed link and lands in the organization", async ({ page, browser }) => {
  const problems = watchConsole(page);
  const email = `dana+${Date.now()}@acme.test`;
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill("owner@acme.test");
  await page.getByLabel("Password").fill("acme-owner-pass");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Team" }).click();
  await expect(page.getByRole("heading", { name: "Team" })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Role").selectOption("member");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.locator("#invite-sent")).toBeVisible();
  await expect(page.locator("#invitations tr", { hasText: email })).toBeVisible();

  const invited = await browser.newPage();
  const invitedProblems = watchConsole(invited);
  await submitAfterHydration(invited, await mailedLink(email, "/invitation"));
  await invited.getByLabel("Password").fill(PASSWORD);
  await invited.getByRole("button", { name: "Accept invitation" }).click();
  await expect(invited.locator("#organization-name")).toHaveText("Acme Corp");
  await expect(invited.locator("#role")).toHaveText("member");

  await page.reload();
  await waitForHydration(page);
  await expect(page.locator("#members tr", { hasText: email })).toBeVisible();
  await expect(page.locator("#no-invitations")).toBeVisible();
  await page.getByRole("button", { name: `Remove ${email}` }).click();
  await expect(page.getByRole("dialog", { name: `Remove ${email} from the team?` })).toBeVisible();
  await page.getByRole("button", { name: "Remove from the team", exact: true }).click();
  await expect(page.locator("#members tr", { hasText: email })).toHaveCount(0);

  // In no organization any more, the teammate logs in to a page that says so, not to one that is not there.
  await logIn(invited, { email, password: PASSWORD });
  await expect(invited).toHaveURL(/\/no-organization$/);
  await expect(invited.getByRole("heading", { name: "You are not in an organization" })).toBeVisible();
  await expect(invited.locator("#no-organization")).toContainText(email);
  await invited.getByRole("button", { name: "Log out" }).click();
  await expect(invited.getByRole("heading", { name: "Log in to the billing portal" })).toBeVisible();
  expect(problems).toEqual([]);
  expect(invitedProblems).toEqual([]);
});

test("staff create a customer on a trial, and its first owner accepts the mailed invitation and finds it ready", async ({ page, browser }) => {
  const problems = watchConsole(page);
  const owner = `erlich+${Date.now()}@aviato.test`;
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill("admin@portal.test");
  await page.getByLabel("Password").fill("portal-admin-pass");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator("#organizations")).toBeVisible();
  await waitForHydration(page);
  await page.getByText("New customer").click();
  await page.getByLabel("Organization name").fill("Aviato");
  await page.getByLabel("Billing email").fill("ap@aviato.test");
  await page.getByLabel("Plan").selectOption("Business");
  await page.getByLabel("Free trial in days (optional, up to 90)").fill("30");
  await page.getByLabel("First owner's email").fill(owner);
  await page.getByLabel("Reason (audit log): the deal or contract").fill("Contract signed by phone");
  await page.getByRole("button", { name: "Create customer and invite the owner" }).click();
  await expect(page.locator("#customer-name")).toHaveText("Aviato");
  await expect(page).toHaveURL(/\/admin\/orgs\/org_/);

  const invited = await browser.newPage();
  const invitedProblems = watchConsole(invited);
  await submitAfterHydration(invited, await mailedLink(owner, "/invitation"));
  await invited.getByLabel("Password").fill(PASSWORD);
  await invited.getByRole("button", { name: "Accept invitation" }).click();
  await expect(invited.locator("#organization-name")).toHaveText("Aviato");
  await expect(invited.locator("#role")).toHaveText("owner");
  await waitForHydration(invited);
  await invited.getByRole("link", { name: "Plan", exact: true }).click();
  await expect(invited.locator("#current-plan")).toHaveText("Business");
  await expect(invited.locator("#subscription-status")).toHaveText("trialing");
  expect(problems).toEqual([]);
  expect(invitedProblems).toEqual([]);
});
