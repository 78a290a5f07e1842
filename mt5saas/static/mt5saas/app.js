// Behaviour for data attributes, so pages need no inline script.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copyTarget);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// <form data-confirm="…">: ask before submitting (deletes and other things that cannot be undone).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// The dashboard's test-signal form: build the JSON body and the TradingView alert message.
function buildSignal(form) {
  const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
  const signal = { action: value("action") };
  if (value("action") !== "CLOSE_ALL") signal.symbol = value("symbol");
  if (value("action") === "BUY" || value("action") === "SELL") {
    signal.volume = value("volume");
    if (value("order_type") !== "market") { signal.order_type = value("order_type"); signal.price = value("price"); }
  }
  for (const leg of ["stop_loss", "take_profit"]) if (value(leg)) signal[leg] = value(leg);
  const accounts = [...form.querySelectorAll("input[name=accounts]:checked")].map((box) => box.value);
  if (accounts.length) signal.accounts = accounts;
  form.elements.body.value = JSON.stringify(signal, null, 1);
  // TradingView fills these placeholders when the alert fires.
  const message = { ...signal, action: "{{strategy.order.action}}", symbol: "{{ticker}}", comment: "{{strategy.order.id}}" };
  if (message.price !== undefined) message.price = "{{close}}";
  if (value("action") === "CLOSE" || value("action") === "CLOSE_ALL") message.action = signal.action;
  form.querySelector("#tv-message").value = JSON.stringify(message, null, 1);
}
document.querySelectorAll("form[data-signal-builder]").forEach((form) => {
  buildSignal(form);
  form.addEventListener("input", () => buildSignal(form));
  form.addEventListener("change", () => buildSignal(form));
});
