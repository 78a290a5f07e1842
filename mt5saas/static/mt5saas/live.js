// Live updates for pages that carry [data-live-stream]: one EventSource on /events/.
//
// Rows are not built here: the server's row template stays the one source of row markup, so
// on an order event (a deal, a closed trade on the Journal) the page reloads its rows
// fragments through htmx (debounced, one request per fragment for a burst of events).
// Account figures are plain numbers and are set from the event JSON directly.
(() => {
  const root = document.querySelector("[data-live-stream]");
  if (!root || !window.EventSource) return;
  const indicator = document.querySelector("[data-live-status]");
  let lastId = Number(root.dataset.liveSince || 0);
  // A resumed stream replays a few events it may have sent already (at least once): keep
  // the recent ids and handle each event once.
  const seen = new Set();
  let source = null;
  let refreshTimer = null;

  function show(state) {
    if (!indicator) return;
    indicator.textContent = state;
    indicator.dataset.liveState = state;
    indicator.className = "badge " + (state === "connected" ? "text-bg-success" : "text-bg-warning");
  }

  // A box names the events that reload it (data-live-on="deal trade_closed"); the pages that
  // list orders reload on these by default. No kind (the stream (re)opened): every box.
  const ROW_KINDS = "order signal copy_event";
  const pending = new Set();
  function refreshRows(kind) {
    document.querySelectorAll("[data-live-rows]").forEach((box) => {
      if (!kind || (box.dataset.liveOn || ROW_KINDS).split(/\s+/).includes(kind)) pending.add(box);
    });
    if (!pending.size) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const boxes = [...pending];
      pending.clear();
      // Each box is its request's source: htmx keeps one request per source and, with none
      // given, would send them all from <body> and drop all but the first and the last.
      boxes.forEach((box) => {
        if (window.htmx) window.htmx.ajax("GET", box.dataset.liveRows, { source: box, target: box, swap: "innerHTML" });
      });
    }, 100);
  }

  function updateAccount(event) {
    document.querySelectorAll(`[data-live-account="${event.account}"] [data-field]`).forEach((cell) => {
      const value = event[cell.dataset.field];
      if (value !== undefined && value !== null) cell.textContent = value;
    });
  }

  // A refused signal's errors as the history words them (webhooks.Signal.error_lines).
  function errorLines(errors) {
    return Object.entries(errors || {}).flatMap(([name, messages]) =>
      [].concat(messages).map((message) => {
        const text = String(message);
        return ["body", "non_field_errors"].includes(name) || text.startsWith(name) ? text : `${name}: ${text}`;
      }));
  }

  // One line of the feed: what happened, from the event's own fields.
  function describe(event) {
    const words = (...parts) => parts.filter((part) => part !== undefined && part !== null && part !== "").join(" ");
    if (event.type === "signal") return words(event.action, event.symbol, event.status);  // "refused", "unfilled"
    if (event.type === "deal") {
      return event.symbol
        ? words(event.side, event.volume, event.symbol, event.entry, "@", event.price, event.reason, event.profit, event.currency)
        : words(event.kind, event.profit, event.currency);  // a deposit, a withdrawal, a credit
    }
    if (event.type === "trade_closed") {
      return words(event.side, event.volume, event.symbol, "closed", event.close_reason, event.profit, event.currency);
    }
    if (event.type === "journal_reloaded") return words(event.deals, "deal(s) read from account", event.account);
    return event.message || event.event || "";
  }

  function addToFeed(event) {
    const feed = document.querySelector("[data-live-feed]");
    if (!feed) return;
    const item = document.createElement("li");
    item.className = "list-group-item small";
    const what = describe(event);
    const time = window.mt5saas ? window.mt5saas.formatTime(new Date()) : new Date().toISOString();
    item.textContent = `${time} ${event.type} ${what}`.trim();
    for (const line of errorLines(event.errors)) {
      const detail = document.createElement("div");
      detail.className = "text-body-secondary";
      detail.textContent = line;
      item.append(detail);
    }
    feed.prepend(item);
    while (feed.children.length > 20) feed.lastElementChild.remove();
  }

  function handle(message) {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    if (event.event_id) {
      if (seen.has(event.event_id)) return;
      seen.add(event.event_id);
      if (seen.size > 2000) seen.delete(seen.values().next().value);
      lastId = Math.max(lastId, event.event_id);
    }
    if (typeof event.type === "string") refreshRows(event.type);
    if (event.type === "account") updateAccount(event);
    // Orders have their table; a deal of one of our orders says what the order's row says already.
    const ours = event.type === "deal" && event.order !== null && event.order !== undefined;
    if (event.type !== "order" && event.type !== "account" && !ours) addToFeed(event);
  }

  function connect() {
    // EventSource resends Last-Event-ID itself after a drop; a new one starts from ?since=.
    source = new EventSource(`/events/?since=${lastId}`);
    source.onopen = () => { show("connected"); refreshRows(); };
    source.onmessage = handle;
    source.onerror = () => {
      show("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an error status while the server restarted): start again.
        setTimeout(connect, 2000);
      }
    };
  }
  show("connecting");
  connect();
})();
