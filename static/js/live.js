// Live parts of the pages, without inline script (the Content-Security-Policy forbids it).
// 1. htmx polls elements marked data-live; no request is made while the tab is hidden, and a
//    visible tab catches up at once.
document.addEventListener("htmx:beforeRequest", function (event) {
  if (document.hidden && event.detail.elt.hasAttribute("data-live")) {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", function () {
  if (!document.hidden && window.htmx) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      window.htmx.trigger(el, "refresh");
    });
  }
});
// 2. T-minus clocks: <span data-countdown="2027-01-26T16:00:00Z"></span>
function tick() {
  var now = Date.now();
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var left = Math.round((Date.parse(el.dataset.countdown) - now) / 1000);
    var sign = left >= 0 ? "T-" : "T+";
    left = Math.abs(left);
    var d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600);
    var m = Math.floor((left % 3600) / 60), s = left % 60;
    el.textContent = sign + (d ? d + "d " : "") + String(h).padStart(2, "0") + ":" +
      String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  });
}
tick();
setInterval(tick, 1000);
