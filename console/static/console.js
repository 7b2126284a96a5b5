// Baton console: tidy filter URLs, and live refresh of a page's #live region.
//
// A filter form leaves out its empty fields and the fields still at their default (data-default),
// so a filtered page's URL says only what was chosen. Without this script the form still works.
(() => {
  "use strict";
  for (const form of document.querySelectorAll("form[data-compact]")) {
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        if (!field.name) continue;
        const fallback = field.dataset.default;
        if (field.value === "" || (fallback !== undefined && field.value === fallback)) {
          field.disabled = true;
        }
      }
    });
  }
  // Coming back through the history cache must show the fields usable again.
  window.addEventListener("pageshow", () => {
    for (const field of document.querySelectorAll("form[data-compact] [disabled]")) {
      field.disabled = false;
    }
  });
})();

//
// Every data-refresh-ms milliseconds (0: never) the page's own URL is fetched again with the
// X-Baton-Partial header, and the server answers with the region alone, which replaces the old one.
// One request at a time; none while the tab is hidden, while paused, or while the keyboard focus
// or a text selection is inside the region (replacing it would take them away).
(() => {
  "use strict";
  const region = document.getElementById("live");
  if (!region) return;
  const intervalMs = Number(region.dataset.refreshMs || "0");
  if (!(intervalMs > 0)) return;
  const status = document.getElementById("refresh-status");
  const toggle = document.getElementById("refresh-toggle");
  let paused = false;
  let timer = 0;
  let busy = false;

  function say(text) {
    if (status) status.textContent = text;
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!paused && document.visibilityState === "visible") {
      timer = window.setTimeout(refresh, intervalMs);
    }
  }

  function userIsInside() {
    const active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) return true;
    const selection = window.getSelection();
    return Boolean(selection && !selection.isCollapsed && region.contains(selection.anchorNode));
  }

  async function refresh() {
    if (busy || paused) return;
    if (userIsInside()) {
      schedule();
      return;
    }
    busy = true;
    const abort = new AbortController();
    const deadline = window.setTimeout(() => abort.abort(), Math.max(intervalMs, 10000));
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Baton-Partial": "live" },
        cache: "no-store",
        credentials: "same-origin",
        signal: abort.signal,
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const html = await response.text();
      if (!userIsInside()) {
        region.innerHTML = html;
        say("Updated " + new Date().toLocaleTimeString());
      }
    } catch (error) {
      say("Refresh failed; retrying");
    } finally {
      window.clearTimeout(deadline);
      busy = false;
      schedule();
    }
  }

  if (toggle) {
    toggle.addEventListener("click", () => {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      toggle.textContent = paused ? "Resume" : "Pause";
      say(paused ? "Live refresh paused" : "Live refresh on");
      if (paused) window.clearTimeout(timer);
      else refresh();
    });
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
    else window.clearTimeout(timer);
  });

  schedule();
})();
