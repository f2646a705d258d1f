import { createHmac } from "node:crypto";
import { createServer, IncomingHttpHeaders } from "node:http";
import { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { ACME_OWNER, createApiKey, logIn, waitForHydration, watchConsole } from "./helpers";

/** A customer's receiver on loopback, keeping what it is sent. */
async function startReceiver(): Promise<{ url: string; received: { headers: IncomingHttpHeaders; body: string }[]; close: () => void }> {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, close: () => server.close() };
}

/** The Standard Webhooks check, written out: HMAC-SHA256 of `id.timestamp.body` with the secret's bytes. */
function signedBy(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`).digest("base64");
  return String(headers["webhook-signature"]).split(" ").includes(`v1,${expected}`);
}

test("an owner registers a webhook endpoint, usage crosses a budget, and the signed event shows in the delivery log", async ({ page }) => {
  const problems = watchConsole(page);
  const receiver = await startReceiver();
  try {
    await logIn(page, ACME_OWNER);
    await expect(page.locator("#organization-name")).toHaveText("Acme Corp");
    await waitForHydration(page);
    const namespace = `hooked-${Date.now()}`;
    await page.getByRole("link", { name: "Namespaces & API keys" }).click();
    await page.getByLabel("New namespace").fill(namespace);
    await page.getByRole("button", { name: "Create namespace" }).click();
    await expect(page.locator("#namespaces")).toContainText(namespace);
    const key = await createApiKey(page, `webhooks ${Date.now()}`);

    await page.getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByRole("heading", { name: "Webhooks", exact: true })).toBeVisible();
    await waitForHydration(page);
    await page.getByLabel("Endpoint URL").fill(receiver.url);
    // Only the budget's events: the others are unticked.
    for (const type of ["invoice.finalized", "invoice.paid", "invoice.payment_failed", "subscription.updated", "credit.granted"]) {
      await page.getByLabel(new RegExp(type.replace(".", "\\."))).uncheck();
    }
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = (await page.locator("#webhook-secret-value").textContent()) ?? "";
    expect(secret).toMatch(/^whsec_/);
    await expect(page.locator("#webhook-secret")).toBeFocused();
    const endpoint = page.locator("section.endpoint", { hasText: receiver.url });
    await expect(endpoint).toContainText("Receives: namespace.capped, usage.threshold_crossed.");
    await expect(endpoint.locator(".endpoint-state .status")).toHaveText("enabled");

    const budget = await page.request.put("/v1/budgets", {
      headers: { Authorization: `Bearer ${key}` },
      data: [{ namespace, measure: "actions", limit: 1000, thresholds: [50] }],
    });
    expect(budget.status()).toBe(200);
    const usage = await page.request.post("/v1/usage/events", {
      headers: { Authorization: `Bearer ${key}` },
      data: [{ id: `${namespace}-1`, namespace, metric: "actions", quantity: 600, timestamp: new Date().toISOString() }],
    });
    expect(usage.status()).toBe(200);

    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const { headers, body } = receiver.received[0];
    expect(signedBy(secret, headers, body)).toBe(true);
    const event = JSON.parse(body);
    expect(event.type).toBe("usage.threshold_crossed");
    expect(event.data.threshold_percent).toBe(50);
    expect(event.data.measured).toBe(600);

    await page.reload();
    await waitForHydration(page);
    const delivery = endpoint.locator("tr", { hasText: "usage.threshold_crossed" });
    await expect(delivery.locator(".status")).toHaveText("delivered");
    await expect(delivery).toContainText(String(headers["webhook-id"]));
    await expect(delivery.locator(".attempts li")).toContainText("HTTP 200");

    await delivery.getByRole("button", { name: "Send again" }).click();
    await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(2);
    expect(receiver.received[1].headers["webhook-id"]).toBe(headers["webhook-id"]);

    // Disabled (after confirming), it receives nothing more; the budget goes too.
    await endpoint.getByRole("button", { name: "Disable…" }).click();
    await page.getByRole("button", { name: "Disable endpoint" }).click();
    await expect(endpoint.locator(".endpoint-state .status")).toHaveText("disabled: disabled by an owner");
    const cleared = await page.request.put("/v1/budgets", { headers: { Authorization: `Bearer ${key}` }, data: [] });
    expect(cleared.status()).toBe(200);
    expect(problems).toEqual([]);
  } finally {
    receiver.close();
  }
});
