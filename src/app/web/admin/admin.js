// rollcall's live dashboard (docs/operations.md). Counts and transitions
// are pushed by the admin namespace /rollcall-admin; the tables are fetched
// from /v1/admin/... when those pushes say something changed (debounced),
// never on a timer. No inline script or style: the page's CSP forbids them.
// Every failure is shown in the page; nothing is left to reject unhandled.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const KEY_STORE = "rollcall-admin-key";
  const MAX_TRANSITIONS = 200;
  const API = "/v1/admin/";
  let key = null;
  let socket = null;
  let selectedUser = null;
  let usersCursor = null;
  // Answers that arrive after a newer request of the same kind are dropped.
  const latest = { users: 0, detail: 0, webhooks: 0, nodes: 0 };

  function storage(fn) {
    try {
      return fn(window.sessionStorage);
    } catch {
      return null;  // storage disabled: the key lives in this page only
    }
  }

  function text(el, value) {
    el.textContent = value === undefined || value === null ? "" : String(value);
    return el;
  }

  function setStatus(value, cls) {
    const el = byTestId("status");
    text(el, value);
    el.className = `status ${cls || ""}`;
  }

  function showError(message) {
    text($("error"), message || "");
  }

  function cell(row, value, cls) {
    const td = text(document.createElement("td"), value);
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function emptyRow(body, columns, message) {
    const row = document.createElement("tr");
    const td = text(document.createElement("td"), message);
    td.colSpan = columns;
    td.className = "empty";
    row.appendChild(td);
    body.appendChild(row);
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
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

  // One admin API request. Resolves with { status, body } (body: the JSON
  // or null), or with null after a network failure or a refused key, both
  // already shown in the page. Never rejects.
  async function request(method, path) {
    if (!key) return null;
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers: { authorization: `Bearer ${key}` },
        cache: "no-store",
      });
    } catch (e) {
      showError(`${method} ${API}${path}: ${e && e.message ? e.message : "network error"}`);
      return null;
    }
    const body = await res.json().catch(() => null);
    if (res.status === 401 || res.status === 403) {
      signOut(body && body.error ? body.error : `the admin key was refused (${res.status})`);
      return null;
    }
    return { status: res.status, body };
  }

  // request() for answers that must be 2xx: resolves with the body or null.
  async function call(method, path) {
    const r = await request(method, path);
    if (!r) return null;
    if (r.status < 200 || r.status > 299 || !r.body) {
      showError(`${method} ${API}${path}: ${r.status}${r.body && r.body.error ? ` ${r.body.error}` : ""}`);
      return null;
    }
    return r.body;
  }

  // --- counts (pushed) ---
  function showStats(s) {
    if (!s) return;
    text(byTestId("online-users"), s.online);
    text(byTestId("connections"), s.connections);
    if (s.node) text($("node-id"), s.node);
  }

  // --- users ---
  // Fetches the first (or the next) page of online users; resolves with
  // true when the table now shows this answer.
  async function loadUsers(more) {
    const q = new URLSearchParams({ online: "true", limit: "100" });
    if (more && usersCursor) q.set("cursor", usersCursor);
    const ticket = ++latest.users;
    const page = await call("GET", `users?${q}`);
    if (!page || ticket !== latest.users) return false;
    const body = byTestId("users");
    if (!more) body.replaceChildren();
    for (const u of page.users || []) {
      // a cluster's pages may repeat a user that came online meanwhile
      if (body.querySelector(`tr[data-user="${CSS.escape(String(u.user))}"]`)) continue;
      const row = document.createElement("tr");
      row.className = "clickable";
      row.dataset.user = u.user;
      row.tabIndex = 0;
      row.setAttribute("data-testid", `user-row-${u.user}`);
      if (u.user === selectedUser) row.classList.add("selected");
      cell(row, u.user, "mono");
      cell(row, u.name || "");
      cell(row, (u.orgs || []).map((o) => `${o.id} (${o.role})`).join(", "));
      cell(row, u.connections, "num");
      cell(row, u.online ? time(u.since) : "in grace");
      row.addEventListener("click", () => selectUser(u.user));
      row.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          selectUser(u.user);
        }
      });
      body.appendChild(row);
    }
    if (!body.children.length) emptyRow(body, 5, "nobody is online");
    usersCursor = page.next || null;
    $("more-users").hidden = !usersCursor;
    return true;
  }

  // Whether the users table shows `user`, or cannot tell (more pages).
  function maybeListed(user) {
    return usersCursor !== null || !!byTestId("users").querySelector(`tr[data-user="${CSS.escape(String(user))}"]`);
  }

  function showNotOnline() {
    const rows = $("detail-connections");
    rows.replaceChildren();
    emptyRow(rows, 6, "not online");
    text($("detail-agent"), "");
    $("disconnect").disabled = true;
  }

  // The users table, then the selected user's connections: asked for only
  // while the table lists the user (the API answers 404 for a user offline,
  // which the browser would log as a failed request).
  async function refreshUsersNow() {
    if (!(await loadUsers(false)) || !selectedUser) return;
    if (maybeListed(selectedUser)) loadDetail();
    else {
      ++latest.detail;
      showNotOnline();
    }
  }

  function selectUser(user) {
    selectedUser = user;
    for (const row of byTestId("users").querySelectorAll("tr[data-user]")) {
      row.classList.toggle("selected", row.dataset.user === user);
    }
    text($("detail-message"), "");
    loadDetail();
  }

  async function loadDetail() {
    if (!selectedUser) return;
    const user = selectedUser;
    $("user-detail").hidden = false;
    text($("detail-user"), user);
    const ticket = ++latest.detail;
    const r = await request("GET", `users/${encodeURIComponent(user)}`);
    if (!r || ticket !== latest.detail || user !== selectedUser) return;
    const rows = $("detail-connections");
    rows.replaceChildren();
    if (r.status === 404) {
      showNotOnline();
      return;
    }
    if (r.status < 200 || r.status > 299 || !r.body) {
      showError(`GET ${API}users/${user}: ${r.status}${r.body && r.body.error ? ` ${r.body.error}` : ""}`);
      return;
    }
    const details = r.body.details || [];
    const agents = new Set();
    for (const c of details) {
      const row = document.createElement("tr");
      cell(row, c.socket, "mono");
      cell(row, c.nsp, "mono");
      cell(row, c.transport);
      cell(row, c.address, "mono");
      cell(row, c.node || "");
      cell(row, time(c.since));
      rows.appendChild(row);
      if (c.userAgent) agents.add(c.userAgent);
    }
    if (!details.length) emptyRow(rows, 6, "no connection left (in grace)");
    text($("detail-agent"), [...agents].join(" | "));
    $("disconnect").disabled = details.length === 0;
  }

  async function disconnectSelected() {
    if (!selectedUser) return;
    const user = selectedUser;
    $("disconnect").disabled = true;
    const r = await call("POST", `users/${encodeURIComponent(user)}/disconnect`);
    if (r && user === selectedUser) text($("detail-message"), "disconnect sent to every connection");
    refreshUsers();
  }

  // --- transitions ---
  function transitionItem(t) {
    const item = document.createElement("li");
    item.dataset.id = String(t.id);
    item.dataset.at = String(t.at || "");
    item.setAttribute("data-testid", "transition");
    const when = document.createElement("time");
    if (t.at) when.dateTime = t.at;
    text(when, time(t.at));
    const type = document.createElement("span");
    type.className = `type ${t.type === "user.online" ? "online" : "offline"}`;
    text(type, t.type);
    const user = text(document.createElement("span"), t.user);
    user.className = "user mono";
    const n = Number(t.connections);
    const more = text(document.createElement("span"), `seq ${t.seq}, ${n} connection${n === 1 ? "" : "s"}`);
    more.className = "more";
    item.append(when, type, user, more);
    return item;
  }

  // Newest first: by `at`, a pushed one before a listed one of the same time.
  function addTransition(t, pushed) {
    if (!t || t.id === undefined) return;
    const list = byTestId("transitions");
    if (list.querySelector(`[data-id="${CSS.escape(String(t.id))}"]`)) return;
    const item = transitionItem(t);
    const at = String(t.at || "");
    let before = null;
    for (const li of list.children) {
      if (pushed ? li.dataset.at <= at : li.dataset.at < at) {
        before = li;
        break;
      }
    }
    list.insertBefore(item, before);
    while (list.children.length > MAX_TRANSITIONS) list.lastElementChild.remove();
    $("no-transitions").hidden = true;
  }

  async function loadTransitions() {
    const r = await call("GET", "transitions?limit=50");
    if (!r) return;
    for (const t of r.transitions || []) addTransition(t, false);
    $("no-transitions").hidden = byTestId("transitions").children.length > 0;
  }

  // --- webhooks and nodes ---
  async function loadWebhooks() {
    const ticket = ++latest.webhooks;
    const q = await call("GET", "webhooks");
    if (!q || ticket !== latest.webhooks) return;
    text($("wh-enabled"), q.enabled ? "yes" : "no (webhooks.url unset)");
    text($("wh-pending"), q.pending);
    text($("wh-retrying"), q.retrying);
    text($("wh-dead"), q.dead);
    text($("wh-oldest"), q.oldest
      ? `${q.oldest.type} ${q.oldest.user} at ${time(q.oldest.at)}, ${q.oldest.attempts} attempt(s)`
      : "none");
    $("retry-dead").disabled = !q.dead;
    const body = $("dead-letters");
    body.replaceChildren();
    for (const d of q.deadLetters || []) {
      const row = document.createElement("tr");
      cell(row, d.type);
      cell(row, d.user, "mono");
      cell(row, d.attempts, "num");
      cell(row, time(d.deadAt));
      cell(row, d.reason || "");
      body.appendChild(row);
    }
    $("dead-letters-table").hidden = !body.children.length;
  }

  async function retryDead() {
    $("retry-dead").disabled = true;
    const r = await call("POST", "webhooks/dead/retry");
    if (r) text($("retry-message"), `${r.retried} queued again`);
    await loadWebhooks();
  }

  async function loadNodes() {
    const ticket = ++latest.nodes;
    const r = await call("GET", "nodes");
    if (!r || ticket !== latest.nodes) return;
    const body = byTestId("nodes");
    body.replaceChildren();
    const nodes = r.nodes || [];
    for (const n of nodes) {
      const row = document.createElement("tr");
      cell(row, n.self ? `${n.id} (this one)` : n.id, "mono");
      cell(row, n.address, "mono");
      cell(row, n.connections, "num");
      cell(row, `${n.leaseAgeMs} ms`, "num");
      body.appendChild(row);
    }
    if (!nodes.length) emptyRow(body, 4, "no live node");
    text($("node-count"), nodes.length);
  }

  const refreshUsers = debounce(refreshUsersNow, 300);
  const refreshSide = debounce(() => {
    loadWebhooks();
    loadNodes();
  }, 500);

  function loadAll() {
    showError("");
    refreshUsersNow();
    loadTransitions();
    loadWebhooks();
    loadNodes();
  }

  // --- the admin namespace ---
  function connect() {
    setStatus("disconnected", "disconnected");
    socket = io("/rollcall-admin", { auth: { key } });
    socket.on("connect", () => {
      setStatus("connected", "connected");
      loadAll();
    });
    socket.on("disconnect", () => setStatus("disconnected", "disconnected"));
    socket.on("connect_error", (err) => {
      const message = err && err.message ? err.message : "cannot connect";
      if (message === "invalid admin key") {
        signOut("the admin key was refused");
        return;
      }
      setStatus(`error: ${message}`, "error");
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
    if (socket) {
      socket.disconnect();
      socket = null;
    }
    key = k;
    storage((s) => s.setItem(KEY_STORE, k));
    text($("login-error"), "");
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("signout").hidden = false;
    connect();
  }

  function signOut(message) {
    if (socket) {
      socket.disconnect();
      socket = null;
    }
    storage((s) => s.removeItem(KEY_STORE));
    key = null;
    $("dashboard").hidden = true;
    $("signout").hidden = true;
    $("login").hidden = false;
    text($("login-error"), message || "");
    setStatus("disconnected", "disconnected");
    $("key").focus();
  }

  // The key: from #key=... (then out of the address bar), else this tab's
  // sessionStorage, else the form. A fragment never reaches the server.
  function keyFromFragment() {
    const k = new URLSearchParams(location.hash.slice(1)).get("key");
    if (k !== null) history.replaceState(null, "", location.pathname + location.search);
    return k ? k.trim() : "";
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    const k = $("key").value.trim();
    $("key").value = "";
    if (k) start(k);
  });
  $("more-users").addEventListener("click", () => loadUsers(true));
  $("disconnect").addEventListener("click", disconnectSelected);
  $("retry-dead").addEventListener("click", retryDead);
  $("signout").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", () => {
    const k = keyFromFragment();
    if (k) start(k);
  });

  const initial = keyFromFragment() || storage((s) => s.getItem(KEY_STORE));
  if (initial) start(initial);
  else signOut("");
})();
