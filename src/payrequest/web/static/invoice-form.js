// The invoice form (invoices/form.html).
// The warning under the currency: shown while the chosen (or the customer's) currency is one
// the sales unit does not take.
const currency = document.querySelector("[data-payable]");
const warning = document.querySelector("[data-currency-warning]");
const customerChoice = document.querySelector("select[name=customer_id]");
if (currency && warning) {
  const check = () => {
    const chosen = currency.value || customerChoice?.selectedOptions[0]?.dataset.currency || "";
    warning.hidden = !chosen || currency.dataset.payable.split(" ").includes(chosen);
  };
  currency.addEventListener("change", check);
  customerChoice?.addEventListener("change", check);
  check();
}
// More line rows without a reload: copy the last row, empty it, renumber its ids and labels.
const body = document.querySelector("[data-lines]");
const add = document.querySelector("[data-add-line]");
if (body && add) {
  add.hidden = false;
  add.addEventListener("click", () => {
    const last = body.querySelector("tr[data-line]:last-of-type");
    const row = last.cloneNode(true);
    const n = body.querySelectorAll("tr[data-line]").length + 1;
    for (const element of row.querySelectorAll("[id], [for]")) {
      for (const attribute of ["id", "for"]) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replace(/^line-\d+-/, `line-${n}-`));
      }
    }
    for (const label of row.querySelectorAll("label")) {
      label.textContent = label.textContent.replace(/\d+\s*$/, String(n));
    }
    for (const input of row.querySelectorAll("input")) {
      input.value = input.name === "quantity" ? "1" : "";
    }
    const vat = row.querySelector("select");
    if (vat) vat.selectedIndex = 0;
    body.append(row);
    row.querySelector("input")?.focus();
  });
}
