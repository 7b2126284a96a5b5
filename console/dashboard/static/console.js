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

  // Rows ticked for a bulk action stay ticked when the region is replaced.
  function selectedValues() {
    const values = new Set();
    for (const box of region.querySelectorAll("input[data-select]:checked")) values.add(box.value);
    return values;
  }

  function restoreSelection(values) {
    for (const box of region.querySelectorAll("input[data-select]")) {
      if (values.has(box.value)) box.checked = true;
    }
    region.dispatchEvent(new Event("baton:replaced", { bubbles: true }));
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
        const ticked = selectedValues();
        region.innerHTML = html;
        restoreSelection(ticked);
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

// Bulk selection on the workflows list: a "select all on this page" box (shown only with this
// script), the count of ticked rows, and the "... selected" buttons enabled only when a row is
// ticked. Without this script the boxes and buttons still work (an empty selection is refused).
(() => {
  "use strict";
  const form = document.getElementById("bulk-selected");
  if (!form) return;
  const count = document.getElementById("selected-count");
  const buttons = form.querySelectorAll("button[type=submit]");

  function boxes() {
    return document.querySelectorAll("input[data-select]");
  }

  function update() {
    const all = Array.from(boxes());
    const ticked = all.filter((box) => box.checked).length;
    if (count) count.textContent = ticked ? "(" + ticked + ")" : "";
    for (const button of buttons) button.disabled = ticked === 0;
    const master = document.querySelector("input[data-select-all]");
    if (master) {
      master.hidden = all.length === 0;
      master.checked = all.length > 0 && ticked === all.length;
      master.indeterminate = ticked > 0 && ticked < all.length;
    }
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.matches("input[data-select-all]")) {
      for (const box of boxes()) box.checked = target.checked;
    }
    if (target.matches("input[data-select], input[data-select-all]")) update();
  });
  document.addEventListener("baton:replaced", update);
  window.addEventListener("pageshow", update);
  update();
})();
