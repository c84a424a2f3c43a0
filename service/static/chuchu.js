// chuchu: the pages work without this file; with it, results come without a reload, "/" focuses
// the search box, citations copy with one click, and n / p step between cited passages.
// No inline script anywhere: the Content-Security-Policy allows only this file.
"use strict";

(function () {
  const body = document.body;
  const say = (name) => body.dataset[name] || "";
  const status = () => document.getElementById("status");

  // The status line: shown while searching and when something fails; "results are ready" is
  // only read out, since the results themselves show it.
  function announce(text, state) {
    const region = status();
    if (!region) return;
    region.textContent = text;
    region.classList.toggle("busy", state === "busy");
    region.classList.toggle("visually-hidden", state === "quiet");
  }

  // What needs JavaScript is hidden in the HTML and shown here, so a reader without it never
  // sees a button that does nothing.
  function reveal(root) {
    root.querySelectorAll(".js-only[hidden], button.copy[hidden]").forEach((el) => { el.hidden = false; });
  }

  // "/" focuses the search box, unless the reader is typing somewhere.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const box = document.getElementById("q");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });

  // --- Results without a reload, the question kept in the URL so it can be shared and Back works.

  const SWAPPED = ["intro", "results", "lang-switch"];
  let pending = null;

  function searchUrl(form) {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim() !== "") params.append(name, value);
    }
    return form.action + "?" + params.toString();
  }

  function swap(html, withForm) {
    const next = new DOMParser().parseFromString(html, "text/html");
    const ids = withForm ? [...SWAPPED, "search-form"] : SWAPPED;
    for (const id of ids) {
      const here = document.getElementById(id);
      const there = next.getElementById(id);
      if (here && there) here.replaceWith(document.importNode(there, true));
    }
    document.title = next.title;
    body.className = next.body.className;
    reveal(document);
  }

  async function load(url, push, withForm) {
    if (pending) pending.abort();
    pending = new AbortController();
    const main = document.getElementById("main");
    main.setAttribute("aria-busy", "true");
    announce(say("searching"), "busy");
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, signal: pending.signal });
      const type = response.headers.get("Content-Type") || "";
      if (!type.startsWith("text/html")) throw new Error("not a page");
      swap(await response.text(), withForm);
      if (push) history.pushState({ chuchu: true }, "", url);
      main.removeAttribute("aria-busy");
      announce(say("done"), "quiet");
    } catch (error) {
      if (error.name === "AbortError") return;
      main.removeAttribute("aria-busy");
      announce(say("failed"), "shown");
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id !== "search-form" || !document.getElementById("results")) return;
    if (!form.checkValidity()) return;
    event.preventDefault();
    load(searchUrl(form), true, false);
  });

  // Example questions and "search all documents" links load in place too.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("#results a[href^='/search?']");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    load(link.href, true, true);
  });

  if (document.getElementById("results")) {
    history.replaceState({ chuchu: true }, "", location.href);
    window.addEventListener("popstate", (event) => {
      if (event.state && event.state.chuchu) load(location.href, false, true);
    });
  }

  // --- Copy a citation.

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Plain http to another host has no clipboard API: copy from a selection instead.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("copy refused");
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest && event.target.closest("button.copy");
    if (!button) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    try {
      await copy(button.dataset.citation);
      button.textContent = say("copied");
      button.classList.add("done");
      announce(say("copied"), "quiet");
    } catch (error) {
      announce(say("copyFailed"), "shown");
    }
    setTimeout(() => { button.textContent = label; button.classList.remove("done"); }, 2000);
  });

  // --- The document view: n / p (or j / k) step between the cited passages.

  const article = document.querySelector("article.document[data-stops]");
  if (article && article.dataset.stops) {
    const stops = article.dataset.stops.split(",").map(Number);
    const counter = document.querySelector(".docnav .stops");
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    let at = stops.indexOf(Number((location.hash.match(/^#p(\d+)$/) || [])[1]));

    function go(index) {
      at = (index + stops.length) % stops.length; // round the ends, as the links do
      const target = document.getElementById("p" + stops[at]);
      if (!target) return;
      // Focusable only when stepped to: a tabindex in the HTML would ring the cited passage on load.
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "center", behavior: reduced ? "auto" : "smooth" });
      history.replaceState(history.state, "", "#p" + stops[at]);
      if (counter && counter.dataset.of) {
        counter.textContent = counter.dataset.of.replace("{i}", at + 1).replace("{n}", stops.length);
      }
    }

    const previous = () => (at < 0 ? stops.length - 1 : at - 1);

    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
      if (event.key === "n" || event.key === "j") { event.preventDefault(); go(at + 1); }
      if (event.key === "p" || event.key === "k") { event.preventDefault(); go(previous()); }
    });
    document.querySelectorAll(".docnav .prev, .docnav .next").forEach((link) => {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        go(link.classList.contains("next") ? at + 1 : previous());
      });
    });
  }

  reveal(document);
})();
