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

// Times written by scripts read like the server's (mt5saas/display.py): "2026-05-01 14:03:22 +02:00",
// in the trader's zone (<html data-time-zone>), "UTC" for a zero offset.
function formatTime(date) {
  const zone = document.documentElement.dataset.timeZone || "UTC";
  const parts = {};
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
  });
  for (const part of format.formatToParts(date)) parts[part.type] = part.value;
  const offset = parts.timeZoneName.replace("GMT", "");  // "GMT+05:30"; "GMT" or "GMT+00:00" at zero
  const zoneLabel = /^([+-]00:00)?$/.test(offset) ? "UTC" : offset;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${zoneLabel}`;
}
window.mt5saas = { formatTime };

// Before sign-in, and while the trader has no time zone, the browser's goes with every request
// (a cookie): the server takes it as the trader's (accounts.middleware.TimeZoneMiddleware).
(() => {
  if (!("timeZoneUnset" in document.documentElement.dataset)) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `time_zone=${zone}; path=/; max-age=31536000; SameSite=Lax${secure}`;
})();
