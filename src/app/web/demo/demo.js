// rollcall's demo (docs/operations.md, "Demo"): sign in as a demo user,
// watch your connection count and your organisation's presence change
// live, place an order and see the notification land with the detail your
// role allows. Only the Socket.IO events a real app would use, plus the
// demo's three helper routes (/demo/users, /demo/token, /demo/order).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const USER_STORE = "rollcall-demo-user";
  let users = [];
  let me = null;
  let socket = null;
  let unread = 0;

  function text(el, value) {
    el.textContent = value === undefined || value === null ? "" : String(value);
    return el;
  }

  function showError(message) {
    text($("error"), message || "");
  }

  function setStatus(value, cls) {
    const el = byTestId("status");
    text(el, value);
    el.className = `status ${cls || ""}`;
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${json && json.error ? json.error : ""}`);
    return json;
  }

  function roleText(u) {
    return u.orgs.map((o) => `${o.id} (${o.role})`).join(", ");
  }

  function renderSignin() {
    const box = $("users");
    box.replaceChildren();
    for (const u of users) {
      const b = document.createElement("button");
      b.setAttribute("data-testid", `user-${u.id}`);
      const name = document.createElement("span");
      text(name, u.name);
      const small = document.createElement("small");
      text(small, roleText(u));
      b.append(name, small);
      b.addEventListener("click", () => signIn(u.id));
      box.appendChild(b);
    }
  }

  // --- presence of my organisation ---
  const online = new Set();  // users online, from presence:list

  function renderMembers() {
    const list = byTestId("org-presence");
    list.replaceChildren();
    const myOrgs = new Set(me.orgs.map((o) => o.id));
    for (const u of users) {
      if (!u.orgs.some((o) => myOrgs.has(o.id))) continue;
      const li = document.createElement("li");
      li.setAttribute("data-testid", `member-${u.id}`);
      const name = document.createElement("span");
      text(name, `${u.name} - ${roleText(u)}`);
      const state = document.createElement("span");
      const on = online.has(u.id);
      state.className = on ? "online" : "offline";
      text(state, on ? "online" : "offline");
      li.append(name, state);
      list.appendChild(li);
    }
  }

  function refreshPresence() {
    if (!socket) return;
    socket.emit("presence:list", {}, (reply) => {
      if (!reply || reply.error) {
        showError(`presence:list: ${reply ? reply.error : "no answer"}`);
        return;
      }
      online.clear();
      for (const u of reply.users) online.add(u.user);
      renderMembers();
    });
  }

  // --- notifications ---
  function setUnread(n) {
    unread = Math.max(0, n);
    text(byTestId("unread"), unread);
  }

  function renderNotification(n, atTop) {
    const list = byTestId("notifications");
    if (list.querySelector(`[data-id="${n.id}"]`)) return;
    const li = document.createElement("li");
    li.dataset.id = String(n.id);
    li.setAttribute("data-testid", "notification");
    if (!n.read) li.classList.add("unread");
    const data = n.data || {};
    const title = document.createElement("span");
    text(title, `${n.type}: ${data.product || ""}${data.buyer ? ` for ${data.buyer}` : ""}`);
    const when = document.createElement("time");
    text(when, n.created_at ? new Date(n.created_at).toLocaleTimeString() : "");
    li.append(title, when);
    if (n.detail) {
      const d = document.createElement("div");
      d.className = "detail";
      d.setAttribute("data-testid", "notification-detail");
      const x = n.detail;
      text(d, `order ${x.order}: ${x.quantity} x ${x.unit_price} ${x.currency}`);
      li.appendChild(d);
    }
    if (atTop) list.prepend(li);
    else list.appendChild(li);
  }

  function markAllReadInPage() {
    for (const li of byTestId("notifications").querySelectorAll("li.unread")) li.classList.remove("unread");
  }

  function loadNotifications() {
    socket.emit("notifications:list", { limit: 20 }, (page) => {
      if (!page || page.error) {
        showError(`notifications:list: ${page ? page.error : "no answer"}`);
        return;
      }
      byTestId("notifications").replaceChildren();
      for (const n of page.items) renderNotification(n, false);
      setUnread(page.unread);
    });
  }

  // --- the session ---
  async function signIn(id) {
    const u = users.find((x) => x.id === id);
    if (!u) {
      text($("signin-error"), `no demo user '${id}'`);
      return;
    }
    let token;
    try {
      token = (await post("/demo/token", { user: id })).token;
    } catch (e) {
      text($("signin-error"), e.message);
      return;
    }
    me = u;
    sessionStorage.setItem(USER_STORE, id);
    $("signin").hidden = true;
    $("app").hidden = false;
    text($("me-name"), `Signed in as ${u.name}`);
    text($("me-orgs"), roleText(u));
    renderMembers();
    setStatus("connecting");
    socket = io("/", { auth: { token } });
    socket.on("connect", () => {
      setStatus("connected", "connected");
      showError("");
      refreshPresence();
      loadNotifications();
    });
    socket.on("disconnect", (reason) => setStatus(`disconnected (${reason})`));
    socket.on("connect_error", (err) => setStatus(`error: ${err && err.message ? err.message : "cannot connect"}`));
    socket.on("me:connections", (m) => text(byTestId("my-connections"), m.connections));
    socket.on("presence", () => refreshPresence());
    socket.on("notification", (n) => {
      renderNotification(n, true);
      if (!n.read) setUnread(unread + 1);
    });
    socket.on("notifications:read", (r) => {
      if (r.all) markAllReadInPage();
      for (const id of r.ids || []) {
        const li = byTestId("notifications").querySelector(`[data-id="${id}"]`);
        if (li) li.classList.remove("unread");
      }
      setUnread(r.unread);
    });
  }

  function signOut() {
    if (socket) socket.disconnect();
    socket = null;
    me = null;
    sessionStorage.removeItem(USER_STORE);
    $("app").hidden = true;
    $("signin").hidden = false;
    setStatus("signed out");
  }

  $("signout").addEventListener("click", signOut);
  $("place-order").addEventListener("click", async () => {
    try {
      await post("/demo/order", { user: me.id });
      showError("");
    } catch (e) {
      showError(e.message);
    }
  });
  $("mark-read").addEventListener("click", () => {
    socket.emit("notifications:read", { all: true }, (r) => {
      if (!r || r.error) {
        showError(`notifications:read: ${r ? r.error : "no answer"}`);
        return;
      }
      markAllReadInPage();
      setUnread(r.unread);
    });
  });

  (async () => {
    try {
      const res = await fetch("/demo/users", { cache: "no-store" });
      users = (await res.json()).users;
    } catch (e) {
      text($("signin-error"), `cannot load the demo users: ${e.message}`);
      return;
    }
    renderSignin();
    // #user=<id> signs this tab in directly; else the tab's last choice.
    const wanted = new URLSearchParams(location.hash.slice(1)).get("user") || sessionStorage.getItem(USER_STORE);
    if (wanted) signIn(wanted);
  })();
})();
