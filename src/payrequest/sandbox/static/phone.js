// The phone emulator's pages: no inline script (the product's Content-Security-Policy).
(function () {
  "use strict";
  // The index page: "Open a phone" goes to that number's page.
  var opener = document.querySelector("form[data-open-phone]");
  if (opener) {
    opener.addEventListener("submit", function (event) {
      event.preventDefault();
      location.href = opener.getAttribute("data-open-phone") + opener.n.value.replace(/\D/g, "");
    });
  }

  // A phone's page: poll its live fragment, count down, press Approve / Reject.
  var live = document.getElementById("live");
  if (!live) { return; }
  var url = live.getAttribute("data-live-url");
  var busy = false;
  var holdUntil = 0;  // keep an action's result on screen for a moment before polling again
  var loadedAt = Date.now();

  function swap(html) {
    if (live.innerHTML !== html) { live.innerHTML = html; }
    loadedAt = Date.now();
    tick();
  }

  function typing() {  // a reply being written: a refresh would replace what is typed
    var el = document.activeElement;
    return el !== null && el.tagName === "INPUT" && live.contains(el);
  }

  function refresh() {
    if (busy || Date.now() < holdUntil || typing()) { return; }
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && !busy) { swap(html); } })
      .catch(function () { /* offline for a moment: try again on the next poll */ });
  }

  function tick() {
    var els = live.querySelectorAll("[data-remaining-ms]");
    for (var i = 0; i < els.length; i++) {
      var left = Math.max(0, parseInt(els[i].getAttribute("data-remaining-ms"), 10) - (Date.now() - loadedAt));
      var s = Math.floor(left / 1000);
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      els[i].textContent = (h ? h + "h " : "") + m + "m " + (sec < 10 ? "0" : "") + sec + "s";
    }
  }

  live.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action-url]");
    if (!button) { return; }
    busy = true;
    button.disabled = true;
    fetch(button.getAttribute("data-action-url"), { method: "POST" })
      .then(function (r) { return r.text(); })
      .then(function (html) { busy = false; holdUntil = Date.now() + 3000; swap(html); })
      .catch(function () { busy = false; button.disabled = false; });
  });

  // "Reply" under a message: post the form, show the fragment that comes back.
  live.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-reply-form]");
    if (!form) { return; }
    event.preventDefault();
    busy = true;
    fetch(form.getAttribute("action"), { method: "POST", body: new URLSearchParams(new FormData(form)) })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        busy = false;
        holdUntil = Date.now() + 3000;
        if (document.activeElement) { document.activeElement.blur(); }
        swap(html);
      })
      .catch(function () { busy = false; });
  });

  setInterval(refresh, 1500);
  setInterval(tick, 1000);
  tick();
})();
