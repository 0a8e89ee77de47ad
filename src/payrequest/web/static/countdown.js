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
    if (hours >= 48) element.textContent = `${Math.floor(hours / 24)} d ${hours % 24} h`;
    else if (hours > 0) element.textContent = `${hours} h ${minutes % 60} min`;
    else element.textContent = `${minutes}:${String(seconds).padStart(2, "0")}`;
  }
}
tick();
setInterval(tick, 1000);
