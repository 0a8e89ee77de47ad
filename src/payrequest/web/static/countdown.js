// Counts down `data-countdown-ms` elements to zero; survives live fragment swaps.
function tick() {
  for (const element of document.querySelectorAll("[data-countdown-ms]")) {
    if (!element.dataset.deadline) {
      element.dataset.deadline = String(Date.now() + Number(element.dataset.countdownMs));
    }
    const left = Math.max(0, Number(element.dataset.deadline) - Date.now());
    const minutes = Math.floor(left / 60000);
    const hours = Math.floor(minutes / 60);
    const seconds = Math.floor((left % 60000) / 1000);
    element.textContent = hours > 0
      ? `${hours} h ${minutes % 60} min`
      : `${minutes}:${String(seconds).padStart(2, "0")}`;
  }
}
tick();
setInterval(tick, 1000);
