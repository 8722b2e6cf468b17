// rollcall's live dashboard (docs/operations.md). Counts and transitions
// are pushed by the admin namespace /rollcall-admin; the tables are fetched
// from /v1/admin/... when those pushes say something changed (debounced),
// never on a timer. No inline script or style: the page's CSP forbids them.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const KEY_STORE = "rollcall-admin-key";
  const MAX_TRANSITIONS = 200;
  let key = null;
  let socket = null;
  let selectedUser = null;
  let usersCursor = null;

  function setStatus(text, cls) {
    const el = byTestId("status");
    el.textContent = text;
    el.className = `status ${cls || ""}`;
  }

  function showError(message) {
    $("error").textContent = message || "";
  }

  function text(el, value) {
    el.textContent = value === undefined || value === null ? "" : String(value);
    return el;
  }

  function cell(row, value) {
    row.appendChild(text(document.createElement("td"), value));
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }

  // GET/POST /v1/admin/<path>; resolves with the JSON, or null after
  // showing the error (never throws: no unhandled rejections).
  async function call(method, path) {
    try {
      const res = await fetch(`/v1/admin/${path}`, {
        method,
        headers: { authorization: `Bearer ${key}` },
        cache: "no-store",
      });
      const body = await res.json().catch(() => null);
      if (res.status === 401 || res.status === 403) {
        logout(body && body.error ? body.error : "the admin key was refused");
        return null;
      }
      if (!res.ok) {
        showError(`${method} ${path}: ${res.status} ${body && body.error ? body.error : ""}`);
        return null;
      }
      showError("");
      return body;
    } catch (e) {
      showError(`${method} ${path}: ${e.message}`);
      return null;
    }
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    };
  }

  // --- counts (pushed) ---
  function showStats(s) {
    text(byTestId("online-users"), s.online);
    text(byTestId("connections"), s.connections);
  }

  // --- users ---
  async function loadUsers(more) {
    const q = new URLSearchParams({ online: "true", limit: "100" });
    if (more && usersCursor) q.set("cursor", usersCursor);
    const page = await call("GET", `users?${q}`);
    if (!page) return;
    const body = byTestId("users");
    if (!more) body.replaceChildren();
    for (const u of page.users) {
      const row = document.createElement("tr");
      row.className = "clickable";
      row.dataset.user = u.user;
      row.setAttribute("data-testid", `user-row-${u.user}`);
      if (u.user === selectedUser) row.classList.add("selected");
      cell(row, u.user);
      cell(row, u.name || "");
      cell(row, u.connections);
      cell(row, time(u.since));
      row.addEventListener("click", () => selectUser(u.user));
      body.appendChild(row);
    }
    usersCursor = page.next;
    $("more-users").hidden = !page.next;
  }

  async function selectUser(user) {
    selectedUser = user;
    for (const row of byTestId("users").querySelectorAll("tr")) {
      row.classList.toggle("selected", row.dataset.user === user);
    }
    await loadDetail();
  }

  async function loadDetail() {
    if (!selectedUser) return;
    const panel = $("user-detail");
    panel.hidden = false;
    text($("detail-user"), selectedUser);
    text($("detail-message"), "");
    const res = await fetch(`/v1/admin/users/${encodeURIComponent(selectedUser)}`, {
      headers: { authorization: `Bearer ${key}` },
      cache: "no-store",
    }).catch((e) => {
      showError(e.message);
      return null;
    });
    if (!res) return;
    const body = await res.json().catch(() => null);
    const rows = $("detail-connections");
    rows.replaceChildren();
    if (res.status === 404) {
      text($("detail-message"), "not online");
      text($("detail-agent"), "");
      return;
    }
    if (!res.ok || !body) {
      showError(`user ${selectedUser}: ${res.status}`);
      return;
    }
    const agents = new Set();
    for (const c of body.details || []) {
      const row = document.createElement("tr");
      cell(row, c.socket);
      cell(row, c.nsp);
      cell(row, c.transport);
      cell(row, c.address);
      cell(row, c.node || "");
      cell(row, time(c.since));
      rows.appendChild(row);
      if (c.userAgent) agents.add(c.userAgent);
    }
    text($("detail-agent"), [...agents].join(" | "));
  }

  async function disconnectSelected() {
    if (!selectedUser) return;
    const r = await call("POST", `users/${encodeURIComponent(selectedUser)}/disconnect`);
    if (r) text($("detail-message"), "disconnected");
  }

  // --- transitions ---
  function addTransition(t, atTop) {
    const list = byTestId("transitions");
    if (list.querySelector(`[data-id="${CSS.escape(t.id)}"]`)) return;
    const item = document.createElement("li");
    item.dataset.id = t.id;
    item.setAttribute("data-testid", "transition");
    const when = document.createElement("time");
    text(when, time(t.at));
    const type = document.createElement("span");
    type.className = t.type === "user.online" ? "online" : "offline";
    text(type, t.type);
    item.append(when, type, document.createTextNode(` ${t.user} (seq ${t.seq}, ${t.connections} connection${t.connections === 1 ? "" : "s"})`));
    if (atTop) list.prepend(item);
    else list.appendChild(item);
    while (list.children.length > MAX_TRANSITIONS) list.lastElementChild.remove();
  }

  async function loadTransitions() {
    const r = await call("GET", "transitions?limit=50");
    if (!r) return;
    for (const t of r.transitions) addTransition(t, false);
  }

  // --- webhooks and nodes ---
  async function loadWebhooks() {
    const q = await call("GET", "webhooks");
    if (!q) return;
    text($("wh-enabled"), q.enabled ? "yes" : "no (webhooks.url unset)");
    text($("wh-pending"), q.pending);
    text($("wh-retrying"), q.retrying);
    text($("wh-dead"), q.dead);
    text($("wh-oldest"), q.oldest ? `${q.oldest.type} ${q.oldest.user} at ${time(q.oldest.at)}, ${q.oldest.attempts} attempt(s)` : "none");
    $("retry-dead").disabled = q.dead === 0;
  }

  async function retryDead() {
    const r = await call("POST", "webhooks/dead/retry");
    if (r) text($("retry-message"), `${r.retried} queued again`);
    await loadWebhooks();
  }

  async function loadNodes() {
    const r = await call("GET", "nodes");
    if (!r) return;
    const body = byTestId("nodes");
    body.replaceChildren();
    for (const n of r.nodes) {
      const row = document.createElement("tr");
      cell(row, n.self ? `${n.id} (this one)` : n.id);
      cell(row, n.address);
      cell(row, n.connections);
      cell(row, `${n.leaseAgeMs} ms`);
      body.appendChild(row);
    }
    text($("node-count"), r.nodes.length);
  }

  const refreshUsers = debounce(() => {
    loadUsers(false);
    loadDetail();
  }, 300);
  const refreshSide = debounce(() => {
    loadWebhooks();
    loadNodes();
  }, 500);

  // --- the admin namespace ---
  function connect() {
    setStatus("connecting");
    socket = io("/rollcall-admin", { auth: { key } });
    socket.on("connect", () => {
      setStatus("connected", "connected");
      loadUsers(false);
      loadTransitions();
      loadWebhooks();
      loadNodes();
    });
    socket.on("disconnect", () => setStatus("disconnected", "disconnected"));
    socket.on("connect_error", (err) => {
      if (err && err.message === "invalid admin key") {
        logout("the admin key was refused");
        return;
      }
      setStatus(`error: ${err && err.message ? err.message : "cannot connect"}`, "error");
    });
    socket.on("stats", (s) => {
      showStats(s);
      refreshUsers();
      refreshSide();
    });
    socket.on("transition", (t) => {
      addTransition(t, true);
      refreshUsers();
      refreshSide();
    });
  }

  function start(k) {
    key = k;
    sessionStorage.setItem(KEY_STORE, k);
    $("login").hidden = true;
    $("dashboard").hidden = false;
    connect();
  }

  function logout(message) {
    if (socket) {
      socket.disconnect();
      socket = null;
    }
    sessionStorage.removeItem(KEY_STORE);
    key = null;
    $("dashboard").hidden = true;
    $("login").hidden = false;
    text($("login-error"), message || "");
    setStatus("signed out", "error");
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    const k = $("key").value.trim();
    if (k) start(k);
  });
  $("more-users").addEventListener("click", () => loadUsers(true));
  $("disconnect").addEventListener("click", disconnectSelected);
  $("retry-dead").addEventListener("click", retryDead);

  // The key: from #key=... (then out of the address bar), else this tab's
  // sessionStorage, else the form. A fragment never reaches the server.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromUrl = fragment.get("key");
  if (fromUrl) history.replaceState(null, "", location.pathname + location.search);
  const saved = fromUrl || sessionStorage.getItem(KEY_STORE);
  if (saved) start(saved);
  else logout("");
})();
