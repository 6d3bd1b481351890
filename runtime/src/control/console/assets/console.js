// botbox console: the little the pages need a script for. Everything else works without it.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// A form with data-confirm asks first.
document.addEventListener("submit", (e) => {
  const ask = e.target.dataset && e.target.dataset.confirm;
  if (ask && !window.confirm(ask)) e.preventDefault();
});

// Sends `body` to `url` with the session's CSRF token; answers {notice} or {error}.
async function send(url, body, type) {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": type },
      body,
      credentials: "same-origin",
    });
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch (_) {
      return res.ok ? { notice: text } : { error: text || res.statusText };
    }
  } catch (err) {
    return { error: "the bot did not answer: " + err };
  }
}

function show(el, answer) {
  if (!el) return;
  el.textContent = answer.error || answer.notice || "";
  el.className = answer.error ? "error" : "notice";
}

// Modules: drop a .wasm file (or choose one) to add or swap a module.
const drop = document.getElementById("drop");
if (drop) {
  const result = document.getElementById("upload-result");
  const upload = async (file) => {
    if (!file) return;
    show(result, { notice: "Uploading " + file.name + "…" });
    const answer = await send("/console/modules", file, "application/wasm");
    if (answer.error) {
      show(result, answer);
    } else {
      location.assign("/console/modules?notice=" + encodeURIComponent(answer.notice));
    }
  };
  document.getElementById("wasm").addEventListener("change", (e) => upload(e.target.files[0]));
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });
}

// Data: import JSON lines from a file.
document.querySelectorAll("input[data-import]").forEach((input) => {
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const answer = await send(input.dataset.import, file, "application/x-ndjson");
    if (answer.error) {
      show(document.getElementById("import-result"), answer);
    } else {
      location.assign(location.pathname + "?notice=" + encodeURIComponent(answer.notice));
    }
  });
});

// A module's live log.
const log = document.getElementById("live-log");
if (log && window.EventSource) {
  const source = new EventSource(log.dataset.source);
  source.onmessage = (e) => {
    const line = JSON.parse(e.data);
    const li = document.createElement("li");
    li.className = "level-" + line.level;
    const time = document.createElement("time");
    time.textContent = new Date(line.at_ms).toLocaleTimeString();
    const text = document.createElement("span");
    text.textContent = " " + line.level + " " + line.text;
    li.append(time, text);
    log.append(li);
    while (log.children.length > 500) log.firstChild.remove();
  };
}

// Overview: the charts follow the figures.
const charts = document.getElementById("charts");
if (charts) {
  setInterval(async () => {
    try {
      const res = await fetch("/console", { credentials: "same-origin" });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.getElementById("charts");
      if (fresh) charts.replaceChildren(...fresh.childNodes);
    } catch (_) {
      // The next try will do.
    }
  }, 10000);
}
