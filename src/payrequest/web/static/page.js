// Small behaviours every page may use, declared in the markup (no inline scripts or event
// handler attributes: the Content-Security-Policy allows scripts from /static only).
// - <select data-autosubmit>: choosing an option submits its form (a <noscript> button
//   does it without JavaScript).
// - <a data-print>: prints the page.
// - <form data-confirm="question">: asks before submitting (also forms added by live updates).
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
