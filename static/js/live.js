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
// 2. T-minus clocks: <span data-countdown="2027-01-26T16:00:00Z"></span>. With data-now (the
//    server's time when it rendered the clock), the browser's own clock being off does not count.
function tick() {
  var now = Date.now();
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    if (el.liveSkew === undefined) {
      var server = el.dataset.now ? Date.parse(el.dataset.now) : NaN;
      el.liveSkew = isNaN(server) ? 0 : server - now;
    }
    var left = Math.round((Date.parse(el.dataset.countdown) - now - el.liveSkew) / 1000);
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
// 3. A live part whose refresh fails (the server or the network is down, an error answer, a
//    time-out, or a redirect to the sign-in page) is dimmed, and its <... data-stale-for="id">
//    says since when what is shown is stale; the next answer that comes back clears both.
function liveElement(event) {
  var el = event.detail && event.detail.elt;
  return el && el.hasAttribute && el.hasAttribute("data-live") && el.id ? el : null;
}
function staleMarker(el) {
  return document.querySelector('[data-stale-for="' + el.id + '"]');
}
function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19) + " UTC";
}
function markStale(el) {
  var current = document.getElementById(el.id) || el;
  current.classList.add("is-stale");
  var marker = staleMarker(el);
  if (!marker) return;
  if (!marker.dataset.since) {
    var fresh = Date.parse(current.dataset.freshAt || "");
    marker.dataset.since = String(isNaN(fresh) ? Date.now() : fresh);
  }
  marker.textContent = "Stale since " + clock(Number(marker.dataset.since)) +
    ": the portal is not answering. What is shown may be out of date; retrying.";
  marker.hidden = false;
}
function markFresh(el) {
  var marker = staleMarker(el);
  if (marker) {
    marker.hidden = true;
    marker.textContent = "";
    delete marker.dataset.since;
  }
  var current = document.getElementById(el.id);
  if (current) current.classList.remove("is-stale");
}
// Judged before the swap: after an outerHTML swap htmx tells the element's ancestors, not it.
document.addEventListener("htmx:beforeSwap", function (event) {
  var el = liveElement(event);
  if (!el) return;
  var asked = event.detail.pathInfo && event.detail.pathInfo.finalRequestPath;
  var answered = event.detail.xhr && event.detail.xhr.responseURL;
  if (asked && answered && new URL(answered).pathname !== new URL(asked, location.href).pathname) {
    event.detail.shouldSwap = false; // redirected (signed out?): keep what is shown, say stale
    event.detail.isError = true;
  }
  if (event.detail.isError) {
    markStale(el);
  } else {
    markFresh(el);
  }
});
["htmx:sendError", "htmx:timeout"].forEach(function (name) {
  document.addEventListener(name, function (event) {
    var el = liveElement(event);
    if (el) markStale(el);
  });
});
// 4. A <details id="..."> a person opened inside a live part stays open when the part refreshes.
var openDetails = {};
document.addEventListener("htmx:beforeSwap", function (event) {
  var el = liveElement(event);
  if (!el) return;
  openDetails[el.id] = Array.prototype.map.call(el.querySelectorAll("details[open][id]"),
    function (d) { return d.id; });
});
document.addEventListener("htmx:afterSwap", function (event) {
  var el = liveElement(event);
  if (!el || !openDetails[el.id]) return;
  openDetails[el.id].forEach(function (id) {
    var details = document.getElementById(id);
    if (details) details.open = true;
  });
  delete openDetails[el.id];
});
// 5. Relative times: <time datetime="2027-01-26T15:57:00+00:00" data-relative>2027-01-26 15:57
//    UTC</time> reads "3 minutes ago" (as Django's timesince says it, largest unit first). The
//    server writes the absolute time: a cached row stays right however old it is.
var UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
             ["hour", 3600], ["minute", 60]];
function since(seconds) {
  if (seconds < 60) return "0 minutes";
  for (var i = 0; i < UNITS.length; i++) {
    var count = Math.floor(seconds / UNITS[i][1]);
    if (count) {
      var text = count + "\u00a0" + UNITS[i][0] + (count === 1 ? "" : "s");
      var next = UNITS[i + 1];
      var rest = next ? Math.floor((seconds - count * UNITS[i][1]) / next[1]) : 0;
      return rest ? text + ", " + rest + "\u00a0" + next[0] + (rest === 1 ? "" : "s") : text;
    }
  }
}
function relativeTimes() {
  var now = Date.now();
  document.querySelectorAll("time[data-relative]").forEach(function (el) {
    var at = Date.parse(el.getAttribute("datetime"));
    if (!isNaN(at)) el.textContent = since(Math.max(0, (now - at) / 1000)) + " ago";
  });
}
relativeTimes();
setInterval(relativeTimes, 30000);
document.addEventListener("htmx:afterSwap", relativeTimes);
