// The Pay page in Stripe mode: Stripe.js confirms the PaymentIntent that waits for the card
// holder, showing their bank's authentication; the payment's success then reaches the portal by
// Stripe's webhook. Loaded only on that page, and only in Stripe mode.
(() => {
  if (window.portalStripeConfirm) return;
  window.portalStripeConfirm = true;

  const loadStripe = () =>
    window.Stripe
      ? Promise.resolve(window.Stripe)
      : new Promise((resolve, reject) => {
          const script = document.createElement("script");
          script.src = "https://js.stripe.com/v3/";
          script.onload = () => resolve(window.Stripe);
          script.onerror = () => reject(new Error("Stripe could not be reached. Check your connection and try again."));
          document.head.appendChild(script);
        });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("#stripe-confirm");
    if (!button) return;
    const status = document.getElementById("stripe-status");
    const { publishableKey, clientSecret, paymentMethod } = button.dataset;
    button.disabled = true;
    status.textContent = "Opening your bank's confirmation…";
    try {
      const stripe = (await loadStripe())(publishableKey);
      const result = await stripe.confirmCardPayment(clientSecret, { payment_method: paymentMethod });
      if (result.error) {
        // A card error or a failed authentication leaves the PaymentIntent unpaid; anything else
        // (a lost connection) may not have, so the page waits for the portal's word instead.
        const settled = result.error.type === "card_error" || result.error.code === "payment_intent_authentication_failure";
        status.textContent = settled
          ? `${result.error.message} Nothing was charged; you can try again.`
          : `${result.error.message} If the payment went through, this page shows it in a moment.`;
        button.disabled = false;
      } else {
        status.textContent = "Confirmed. The invoice turns paid in a moment.";
      }
    } catch (error) {
      status.textContent = error.message;
      button.disabled = false;
    }
  });
})();
