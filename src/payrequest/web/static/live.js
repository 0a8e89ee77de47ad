// Live updates for staff and customer pages, and the customer card's send form.
//
// The server streams small notices over Server-Sent Events ("customer 12 changed"). Elements
// marked data-live="customer:12 request:pr-..." re-fetch their fragment from data-live-src when
// a notice names one of their topics; the server renders the fragment, as it did the page.
// EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed.

const LOCALES = { nb: "nb-NO", da: "da-DK", en: "en-GB" };

function topicsOf(notice) {
  const topics = new Set(["all", `event:${notice.name}`]);
  if (notice.customer_id !== null) topics.add(`customer:${notice.customer_id}`);
  if (notice.reference) topics.add(`request:${notice.reference}`);
  topics.add(`${notice.type}:${notice.aggregate_id}`);
  return topics;
}

function saveState(root) {
  const checked = [...root.querySelectorAll("input[type=checkbox][name=invoice_ids]:checked")]
    .map((box) => box.value);
  const phone = root.querySelector("input[name=phone]");
  const focused = document.activeElement && root.contains(document.activeElement)
    ? document.activeElement.id : null;
  return { checked, phone: phone ? phone.value : null, focused };
}

function restoreState(root, state) {
  for (const value of state.checked) {
    const box = root.querySelector(`input[name=invoice_ids][value="${value}"]`);
    if (box) box.checked = true;
  }
  const phone = root.querySelector("input[name=phone]");
  if (phone && state.phone !== null) phone.value = state.phone;
  if (state.focused) document.getElementById(state.focused)?.focus();
}

const waiting = new Map();

function refresh(element) {
  if (waiting.has(element)) return;
  waiting.set(element, setTimeout(async () => {
    waiting.delete(element);
    const response = await fetch(element.dataset.liveSrc, { credentials: "same-origin" });
    if (!response.ok) return;
    const html = await response.text();
    const state = saveState(element);
    const selector = element.dataset.liveSelect;
    if (selector) {
      const part = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
      const current = element.querySelector(selector);
      if (part && current) current.replaceWith(part);
    } else {
      element.innerHTML = html;
    }
    restoreState(element, state);
    enhance(element);
    element.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
  }, 60));
}

function connect() {
  const url = document.body.dataset.liveStream;
  if (!url) return;
  const indicator = document.querySelector("[data-live-state]");
  const stream = new EventSource(url);
  stream.onopen = () => indicator?.setAttribute("data-on", "");
  stream.onerror = () => indicator?.removeAttribute("data-on");
  stream.addEventListener("change", (event) => {
    const topics = topicsOf(JSON.parse(event.data));
    for (const element of document.querySelectorAll("[data-live]")) {
      if (element.dataset.live.split(" ").some((topic) => topics.has(topic))) refresh(element);
    }
  });
  window.payrequestStream = stream;
}

function formatMoney(minor, currency) {
  const language = document.documentElement.lang || "en";
  return new Intl.NumberFormat(LOCALES[language] || "en-GB", { style: "currency", currency })
    .format(minor / 100);
}

function updateTotal(form) {
  const output = form.querySelector("[data-request-total]");
  const button = form.querySelector("[data-send-button]");
  if (!output) return;
  const totals = new Map();
  for (const box of form.querySelectorAll("input[name=invoice_ids]:checked")) {
    const currency = box.dataset.currency;
    totals.set(currency, (totals.get(currency) || 0) + Number(box.dataset.open));
  }
  if (totals.size === 0) output.textContent = "—";
  else output.textContent = [...totals].map(([c, v]) => formatMoney(v, c)).join(" + ");
  if (button) button.disabled = totals.size !== 1;
}

const timers = new WeakMap();

function checkPhone(input) {
  const hint = input.parentElement.querySelector("[data-phone-hint]")
    || input.form?.querySelector("[data-phone-hint]");
  clearTimeout(timers.get(input));
  if (!input.value.trim()) {
    if (hint) hint.textContent = "";
    input.removeAttribute("aria-invalid");
    return;
  }
  timers.set(input, setTimeout(async () => {
    const country = input.dataset.country
      || input.form?.querySelector("select[name=country]")?.value || "NO";
    const query = new URLSearchParams({ phone: input.value, country });
    const response = await fetch(`/api/phone-check?${query}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const result = await response.json();
    input.setAttribute("aria-invalid", result.ok ? "false" : "true");
    if (hint) {
      hint.textContent = result.ok ? `✓ ${result.pretty}` : result.message;
      hint.dataset.ok = result.ok ? "yes" : "no";
    }
  }, 250));
}

function enhance(root) {
  for (const form of root.querySelectorAll("[data-send-form]")) {
    updateTotal(form);
    form.addEventListener("change", () => updateTotal(form));
  }
  for (const input of root.querySelectorAll("[data-phone-check]")) {
    input.addEventListener("input", () => checkPhone(input));
    if (input.value) checkPhone(input);
  }
}

enhance(document);
connect();
