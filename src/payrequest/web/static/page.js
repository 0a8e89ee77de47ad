// Small behaviours every page may use, declared in the markup (no inline scripts or event
// handler attributes: the Content-Security-Policy allows scripts from /static only).
// - <select data-autosubmit>: choosing an option submits its form (a <noscript> button
//   does it without JavaScript).
// - <a data-print>: prints the page.
// - <form data-confirm="question">: asks before submitting (also forms added by live updates).
// - <element data-shown-for="id" data-values="a b">: shown only while the control with that id
//   has one of the values (without JavaScript: always shown, and the server ignores it).
// A classic script in <head>: the listeners sit on the document before the body is parsed, so
// they work from the first moment, like the attributes they replace.

document.addEventListener("change", (event) => {
  const select = event.target.closest?.("select[data-autosubmit]");
  if (select?.form) select.form.submit();
});

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("[data-print]");
  if (!link) return;
  event.preventDefault();
  window.print();
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset?.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

function showDependents() {
  for (const element of document.querySelectorAll("[data-shown-for]")) {
    const control = document.getElementById(element.dataset.shownFor);
    if (control) element.hidden = !element.dataset.values.split(" ").includes(control.value);
  }
}

document.addEventListener("change", (event) => {
  if (event.target.id) showDependents();
});
document.addEventListener("DOMContentLoaded", showDependents);
