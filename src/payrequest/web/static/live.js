// Live updates for staff and customer pages, and the customer card's send form.
//
// The server streams small notices over Server-Sent Events ("customer 12 changed"). Elements
// marked data-live="customer:12 request:pr-..." re-fetch their fragment from data-live-src when
// a notice names one of their topics; the server renders the fragment, as it did the page.
// EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed.

import "./countdown.js"; // waiting requests on the card count down to their expiry

const LOCALES = { nb: "nb-NO", da: "da-DK", en: "en-GB" };

function topicsOf(notice) {
  const topics = new Set(["all", `event:${notice.name}`]);
  if (notice.customer_id !== null) topics.add(`customer:${notice.customer_id}`);
  if (notice.reference) topics.add(`request:${notice.reference}`);
  topics.add(`${notice.type}:${notice.aggregate_id}`);
  return topics;
}

// What a person typed, ticked or opened inside a live fragment survives its re-render: fields
// by id, ticks and radio choices by form and value, folded sections by their id or position in
// their row, and the field being typed in keeps the focus and the caret.
function fieldKey(field) {
  if (field.type === "checkbox" || field.type === "radio") {
    return `${field.form?.getAttribute("action") || ""}|${field.name}|${field.value}`;
  }
  return field.id && field.type !== "hidden" ? `#${field.id}` : null;
}

function detailsKey(details) {
  if (details.id) return `#${details.id}`;
  const row = details.closest("[data-request]");
  return row ? `${row.dataset.request}|${[...row.querySelectorAll("details")].indexOf(details)}` : null;
}

function saveState(root) {
  const fields = new Map();
  for (const field of root.querySelectorAll("input, select")) {
    const key = fieldKey(field);
    if (!key) continue;
    const ticked = field.type === "checkbox" || field.type === "radio";
    fields.set(key, { value: ticked ? field.checked : field.value, edited: field.dataset.edited });
  }
  const opened = new Map();
  for (const details of root.querySelectorAll("details")) {
    const key = detailsKey(details);
    if (key) opened.set(key, details.open);
  }
  const active = document.activeElement;
  const focused = active && root.contains(active) ? active.id : null;
  const caret = focused && typeof active.selectionStart === "number"
    ? [active.selectionStart, active.selectionEnd] : null;
  return { fields, opened, focused, caret };
}

function restoreState(root, state) {
  for (const field of root.querySelectorAll("input, select")) {
    const saved = state.fields.get(fieldKey(field));
    if (!saved) continue;
    if (field.type === "checkbox" || field.type === "radio") field.checked = saved.value;
    else field.value = saved.value;
    if (saved.edited) field.dataset.edited = saved.edited;
  }
  for (const details of root.querySelectorAll("details")) {
    const open = state.opened.get(detailsKey(details));
    if (open !== undefined) details.open = open;
  }
  const focused = state.focused ? document.getElementById(state.focused) : null;
  if (focused && focused !== document.activeElement) {
    focused.focus();
    if (state.caret) focused.setSelectionRange?.(...state.caret);
  }
}

// data-live-select names the parts of a fragment to replace (the rest of the element, e.g. a
// form being filled in, stays as it is). The fragment renders every part, empty or not, in the
// same order; a part whose HTML has not changed is left alone.
function replaceParts(element, html, selector) {
  const parts = new DOMParser().parseFromString(html, "text/html").querySelectorAll(selector);
  const current = element.querySelectorAll(selector);
  if (parts.length !== current.length) return;
  current.forEach((old, i) => {
    if (!old.isEqualNode(parts[i])) old.replaceWith(parts[i]);
  });
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
    if (selector) replaceParts(element, html, selector);
    else element.innerHTML = html;
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

function plainAmount(minor) {
  const language = document.documentElement.lang || "en";
  return new Intl.NumberFormat(LOCALES[language] || "en-GB", {
    minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false,
  }).format(minor / 100);
}

// The send form: the total of the ticked invoices, the amount to request (kept in step with
// the total until the person types their own), and whether Send may be pressed.
function updateTotal(form) {
  const output = form.querySelector("[data-request-total]");
  if (!output) return;
  const totals = new Map();
  for (const box of form.querySelectorAll("input[name=invoice_ids]:checked")) {
    const currency = box.dataset.currency;
    totals.set(currency, (totals.get(currency) || 0) + Number(box.dataset.open));
  }
  if (totals.size === 0) output.textContent = "—";
  else output.textContent = [...totals].map(([c, v]) => formatMoney(v, c)).join(" + ");
  const amount = form.querySelector("[data-request-amount]");
  const [single] = totals.size === 1 ? [...totals] : [];
  if (amount && !amount.dataset.edited) amount.value = single ? plainAmount(single[1]) : "";
  const currency = form.querySelector("[data-request-currency]");
  if (currency && single) currency.value = single[0];
  updateSubmit(form, totals.size === 1);
}

// A push needs a number that the server has checked; a QR code / link or a card payment link
// needs none.
function updateSubmit(form, ready = true) {
  const button = form.querySelector("[data-send-button]") || form.querySelector("button[type=submit]");
  const card = form.querySelector("input[name=flow][value=card]")?.checked;
  const qr = card || form.querySelector("input[name=flow][value=qr]")?.checked;
  const phone = form.querySelector("input[name=phone]");
  const note = form.querySelector("[data-qr-note]");
  if (note) note.hidden = !qr || card;
  const cardNote = form.querySelector("[data-card-note]");
  if (cardNote) cardNote.hidden = !card;
  // The number and the expiry are MobilePay's: a card link needs neither, and sends neither.
  for (const field of form.querySelectorAll("[data-mobilepay-only]")) {
    field.hidden = Boolean(card);
    for (const input of field.querySelectorAll("input, select")) input.disabled = Boolean(card);
  }
  const numberOk = qr || !phone || phone.getAttribute("aria-invalid") === "false";
  if (phone && !qr && !phone.value.trim()) showHint(phone, phone.dataset.emptyHint || "", "no");
  if (phone && qr && phone.getAttribute("aria-invalid") !== "false") showHint(phone, "", "");
  if (button) button.disabled = !ready || !numberOk;
  if (button?.dataset.cardLabel) {
    button.textContent = card ? button.dataset.cardLabel : button.dataset.label;
  }
}

function showHint(input, text, ok) {
  const hint = input.parentElement.querySelector("[data-phone-hint]");
  if (!hint) return;
  hint.textContent = text;
  hint.dataset.ok = ok;
}

// Only the forms that send a request wait for the number; a customer's own form saves with
// an empty or unchecked number (the server checks it and says what is wrong).
function updateForm(form) {
  if (form.matches("[data-send-form]")) updateTotal(form);
  else if (form.matches("[data-retry-form]")) updateSubmit(form);
}

const timers = new WeakMap();

function checkPhone(input) {
  const hint = input.parentElement.querySelector("[data-phone-hint]")
    || input.form?.querySelector("[data-phone-hint]");
  clearTimeout(timers.get(input));
  input.removeAttribute("aria-invalid"); // unknown until the server has checked it
  if (!input.value.trim()) {
    if (hint) hint.textContent = "";
    if (input.form) updateForm(input.form);
    return;
  }
  if (input.form) updateForm(input.form);
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
    if (input.form) updateForm(input.form);
  }, 250));
}

function updateExpiry(select) {
  const day = select.parentElement.querySelector("[data-expiry-date]");
  if (!day) return;
  day.hidden = select.value !== "custom";
  day.required = select.value === "custom";
}

// A success message about a request goes once the live status of that request arrives:
// when the card shows it in another state than when the page was loaded.
function statusShown(topic) {
  const reference = topic.split(":").slice(1).join(":");
  const row = document.querySelector(`[data-request="${CSS.escape(reference)}"] [data-status]`);
  return row ? row.dataset.status : null;
}

function watchMessages() {
  for (const message of document.querySelectorAll("[data-live-dismiss]")) {
    message.dataset.shownStatus = statusShown(message.dataset.liveDismiss) || "";
  }
  document.addEventListener("live:updated", () => {
    for (const message of document.querySelectorAll("[data-live-dismiss]")) {
      const now = statusShown(message.dataset.liveDismiss);
      if (now && now !== message.dataset.shownStatus) message.remove();
    }
  });
}

function enhance(root) {
  for (const form of root.querySelectorAll("[data-send-form], [data-retry-form]")) {
    form.addEventListener("change", () => updateForm(form));
    const amount = form.querySelector("[data-request-amount]");
    amount?.addEventListener("input", () => { amount.dataset.edited = amount.value ? "yes" : ""; });
    updateForm(form);
  }
  for (const select of root.querySelectorAll("[data-expiry]")) {
    select.addEventListener("change", () => updateExpiry(select));
    updateExpiry(select);
  }
  for (const input of root.querySelectorAll("[data-phone-check]")) {
    input.addEventListener("input", () => checkPhone(input));
    if (input.value) checkPhone(input);
  }
}

document.addEventListener("click", (event) => {
  if (event.target.closest?.("[data-print]")) window.print();
});

enhance(document);
watchMessages();
connect();
