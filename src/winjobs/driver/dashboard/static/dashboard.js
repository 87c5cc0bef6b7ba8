/* winjobs dashboard: live refresh, and nothing else the pages need.

   Every element with `data-live="/fragment/..."` is refreshed every
   <body data-refresh-ms> milliseconds: the fragment is fetched with the page's own
   query string (so the filters stay) and merged in place. Elements marked `data-key`
   are compared one by one and only the changed ones are replaced, so the aria-live
   regions announce what changed, not the whole page, and an element holding the
   keyboard focus or a form being edited is left alone until the user moves on.
   Without JavaScript the pages work the same, only without the refresh. */
(function () {
  "use strict";

  var period = Number(document.body.getAttribute("data-refresh-ms")) || 0;
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  var status = document.querySelector("[data-live-status]");
  var paused = false;
  var stopped = false;
  var timer = null;

  // A form the user started typing in is "dirty" until submitted.
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form");
    if (form) { form.setAttribute("data-dirty", ""); }
  });

  if (!period || !regions.length) { return; }

  function busy(element) {
    var focused = document.activeElement;
    if (focused && focused !== document.body && element.contains(focused)) { return true; }
    return Boolean(element.querySelector("form[data-dirty]"));
  }

  // Keyed elements of `root` that are not inside another keyed element of `root`.
  function topKeyed(root) {
    var all = root.querySelectorAll("[data-key]");
    var top = [];
    for (var i = 0; i < all.length; i++) {
      var parent = all[i].parentElement && all[i].parentElement.closest("[data-key]");
      if (!parent || !root.contains(parent) || parent === root) { top.push(all[i]); }
    }
    return top.filter(function (el) { return el !== root; });
  }

  // The markup of `element` with its keyed children reduced to placeholders.
  function skeleton(element) {
    var copy = element.cloneNode(true);
    var inner = topKeyed(copy);
    inner.forEach(function (el) {
      var slot = document.createElement("slot");
      slot.setAttribute("name", el.getAttribute("data-key"));
      el.replaceWith(slot);
    });
    return copy.innerHTML;
  }

  function keys(list) { return list.map(function (el) { return el.getAttribute("data-key"); }).join("\n"); }

  // Keep <details> the user opened open in the new markup.
  function keepOpen(from, to) {
    Array.prototype.forEach.call(from.querySelectorAll("details[open][id]"), function (old) {
      var twin = to.querySelector("#" + CSS.escape(old.id));
      if (twin) { twin.setAttribute("open", ""); }
    });
  }

  // Make `current` (in the page) look like `fresh` (parsed), touching as little as possible.
  function merge(current, fresh) {
    keepOpen(current, fresh);
    if (current.innerHTML === fresh.innerHTML) { return; }
    var oldKeyed = topKeyed(current);
    var newKeyed = topKeyed(fresh);
    if (oldKeyed.length && keys(oldKeyed) === keys(newKeyed) &&
        skeleton(current) === skeleton(fresh)) {
      for (var i = 0; i < oldKeyed.length; i++) {
        if (oldKeyed[i].outerHTML === newKeyed[i].outerHTML) { continue; }
        if (topKeyed(oldKeyed[i]).length) { mergeElement(oldKeyed[i], newKeyed[i]); }
        else if (!busy(oldKeyed[i])) { oldKeyed[i].replaceWith(newKeyed[i]); }
      }
      return;
    }
    if (!busy(current)) { current.innerHTML = fresh.innerHTML; }
  }

  function mergeElement(current, fresh) {
    var same = current.cloneNode(false).outerHTML === fresh.cloneNode(false).outerHTML;
    if (same) { merge(current, fresh); }
    else if (!busy(current)) { current.replaceWith(fresh); }
  }

  var statusText = null;
  var pauseButton = null;

  function say(text, stale) {
    if (!status) { return; }
    if (!statusText) {
      statusText = document.createElement("span");
      pauseButton = document.createElement("button");
      pauseButton.type = "button";
      pauseButton.addEventListener("click", function () {
        paused = !paused;
        say(paused ? "Live updates paused." : "Live updates on.");
        if (!paused) { tick(); }
      });
      status.appendChild(statusText);
      status.appendChild(pauseButton);
      status.hidden = false;
    }
    statusText.textContent = text;
    statusText.classList.toggle("live-stale", Boolean(stale));
    pauseButton.textContent = paused ? "Resume live updates" : "Pause live updates";
    pauseButton.hidden = stopped;
  }

  function refresh(region) {
    var url = region.getAttribute("data-live") + window.location.search;
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) {
          stopped = true;
          say("Signed out: reload the page to sign in again.", true);
          return;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text().then(function (html) {
          var template = document.createElement("template");
          template.innerHTML = html;
          var fresh = document.createElement("div");
          fresh.appendChild(template.content);
          region.setAttribute("aria-busy", "true");
          merge(region, fresh);
          region.removeAttribute("aria-busy");
        });
      });
  }

  function tick() {
    clearTimeout(timer);
    if (stopped) { return; }
    if (paused || document.hidden) { timer = setTimeout(tick, period); return; }
    Promise.all(regions.map(refresh))
      .then(function () {
        if (!stopped && !paused) { say("Live: updated " + new Date().toLocaleTimeString() + "."); }
      })
      .catch(function () { say("The driver did not answer; trying again.", true); })
      .then(function () { if (!stopped) { timer = setTimeout(tick, period); } });
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) { tick(); } });
  say("Live updates on.");
  timer = setTimeout(tick, period);
})();
