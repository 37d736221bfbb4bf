// semsearch's search page, made live. Without this file the page works as it is: a form GET to /?q=…
// and links to /term/…, rendered on the server. With it, results follow the typing (debounced), links
// open in place, and the keyboard drives it. Every view is the server's own HTML page for that URL: its
// <main> is parsed (DOMParser runs no script) and moved in, so the page and the no-JavaScript path
// cannot differ, and no glossary text ever passes through innerHTML here.
"use strict";
(function () {
  var DEBOUNCE_MS = 120;
  var box = document.getElementById("q");
  var form = document.getElementById("search");
  var main = document.getElementById("main");
  if (!box || !form || !main) return;
  var latest = 0; // the number of the newest request: an older response is dropped when it arrives
  var controller = null;
  var timer = null;
  var shownQuery = box.value;
  var shown = 0; // the number of the request whose answer is shown (latest once it has come)
  var pending = null; // the newest request (its promise), so that Enter can wait for its answer

  function isPageLink(a) {
    if (!a || a.origin !== location.origin || a.target) return false;
    return a.pathname === "/" || a.pathname.indexOf("/term/") === 0;
  }

  function load(url, then) {
    var number = ++latest;
    if (controller) controller.abort();
    controller = typeof AbortController === "function" ? new AbortController() : null;
    var options = { headers: { Accept: "text/html" }, credentials: "same-origin" };
    if (controller) options.signal = controller.signal;
    document.documentElement.classList.add("loading");
    var status = 0;
    pending = fetch(url, options)
      .then(function (response) { status = response.status; return response.text(); })
      .then(function (text) {
        if (number !== latest) return; // a newer request was made meanwhile
        var page = new DOMParser().parseFromString(text, "text/html");
        var fresh = page.getElementById("main") || refusal(page, status);
        var nodes = Array.prototype.map.call(fresh.childNodes, function (node) {
          return document.importNode(node, true);
        });
        main.replaceChildren.apply(main, nodes);
        shown = number;
        document.title = page.title;
        document.documentElement.classList.remove("loading");
        if (then) then();
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (number === latest) document.documentElement.classList.remove("loading");
      });
    return pending;
  }

  // An answer that is no page (the server refused the request before reading it: 414, a URL too
  // long): a <main> saying so, its text set as text.
  function refusal(page, status) {
    var fresh = page.createElement("main");
    var section = fresh.appendChild(page.createElement("section"));
    section.className = "message error";
    section.appendChild(page.createElement("p")).textContent =
      "The server answered " + status + " without a page" + (status === 414 ? ": the question is too long." : ".");
    return fresh;
  }

  function searchUrl(question) {
    return question.trim() ? "/?q=" + encodeURIComponent(question) : "/";
  }

  function search(question) {
    clearTimeout(timer);
    timer = null;
    shownQuery = question;
    var url = searchUrl(question);
    if (location.pathname + location.search !== url) {
      // The question typed so far replaces the URL; a search after a term view is a new entry.
      if (location.pathname === "/") history.replaceState({ semsearch: true }, "", url);
      else history.pushState({ semsearch: true }, "", url);
    }
    return load(url);
  }

  function open(url) {
    history.pushState({ semsearch: true, opened: true }, "", url);
    load(url, function () { window.scrollTo(0, 0); });
  }

  function cards() {
    return Array.prototype.slice.call(main.querySelectorAll(".card"));
  }

  function select(card) {
    cards().forEach(function (c) { c.classList.toggle("selected", c === card); });
    if (card) {
      var link = card.querySelector("a.names");
      if (link) link.focus();
      card.scrollIntoView({ block: "nearest" });
    }
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(box.value); }, DEBOUNCE_MS);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (timer !== null || shownQuery !== box.value) {
      search(box.value);
      return;
    }
    if (shown !== latest) {
      // The question's answer is on its way: open its first card when it comes, not the old one's.
      var asked = latest;
      pending.then(function () { if (shown === asked && latest === asked) openChosen(); });
      return;
    }
    openChosen();
  });

  function openChosen() {
    var chosen = main.querySelector(".card.selected a.names") || main.querySelector(".card a.names");
    if (chosen) open(chosen.getAttribute("href"));
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!isPageLink(link)) return;
    event.preventDefault();
    if (link.pathname === "/") {
      var question = new URLSearchParams(link.search).get("q") || "";
      box.value = question;
      search(question);
    } else {
      open(link.pathname + link.search);
    }
  });

  window.addEventListener("popstate", function () {
    if (location.pathname === "/") {
      var question = new URLSearchParams(location.search).get("q") || "";
      box.value = question;
      shownQuery = question;
    }
    load(location.pathname + location.search);
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    var inBox = document.activeElement === box;
    var typing = inBox || /^(INPUT|TEXTAREA|SELECT)$/.test((document.activeElement || {}).tagName || "");
    if (event.key === "/" && !typing) {
      event.preventDefault();
      box.focus();
      box.select();
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var all = cards();
      if (!all.length) return;
      var at = all.indexOf(main.querySelector(".card.selected"));
      if (inBox) at = event.key === "ArrowDown" ? -1 : all.length;
      else if (typing) return;
      var next = at + (event.key === "ArrowDown" ? 1 : -1);
      event.preventDefault();
      if (next < 0) {
        select(null);
        box.focus();
      } else {
        select(all[Math.min(next, all.length - 1)]);
      }
      return;
    }
    if (event.key === "Escape") {
      if (location.pathname.indexOf("/term/") === 0) {
        event.preventDefault();
        if (history.state && history.state.opened) history.back();
        else {
          history.pushState({ semsearch: true }, "", searchUrl(box.value));
          load(searchUrl(box.value));
        }
      } else if (!inBox) {
        event.preventDefault();
        select(null);
        box.focus();
      }
    }
  });
})();
