// rollcall's demo (docs/operations.md, "Demo"): sign in as a demo user,
// watch your connection count and your organisation's presence change
// live, place an order and see the notification land with the detail your
// role allows. Only the Socket.IO events a real app would use, plus the
// demo's three helper routes (users, token, order: relative to /demo/).
// Every failure is shown in the page; nothing is left to reject unhandled.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const USER_STORE = "rollcall-demo-user";
  const MAX_NOTIFICATIONS = 100;
  let users = [];
  let me = null;
  let socket = null;
  let unread = 0;
  let signingIn = 0;  // the latest sign-in; an older one still running gives up

  function storage(fn) {
    try {
      return fn(window.sessionStorage);
    } catch {
      return null;  // storage disabled: no remembered user
    }
  }

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

  // POST a JSON body to a demo route; resolves with the JSON answer, rejects
  // with an Error whose message is fit for the page (callers catch it).
  async function post(path, body) {
    let res;
    try {
      res = await fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      throw new Error(`${path}: ${e && e.message ? e.message : "network error"}`);
    }
    const json = await res.json().catch(() => null);
    if (!res.ok || !json) throw new Error(`${path}: ${res.status}${json && json.error ? ` ${json.error}` : ""}`);
    return json;
  }

  function roleText(u) {
    return (u.orgs || []).map((o) => `${o.id} (${o.role})`).join(", ");
  }

  function initials(name) {
    return String(name || "?").split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
  }

  function renderSignin() {
    const box = $("users");
    box.replaceChildren();
    for (const u of users) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "user";
      b.setAttribute("data-testid", `user-${u.id}`);
      const avatar = text(document.createElement("span"), initials(u.name));
      avatar.className = "avatar";
      const who = document.createElement("span");
      who.className = "who";
      const name = text(document.createElement("strong"), u.name);
      const small = text(document.createElement("small"), roleText(u));
      who.append(name, small);
      b.append(avatar, who);
      b.addEventListener("click", () => signIn(u.id));
      box.appendChild(b);
    }
  }

  // --- presence of my organisations ---
  const online = new Set();  // user ids online, from presence:list

  function renderMembers() {
    const list = byTestId("org-presence");
    list.replaceChildren();
    if (!me) return;
    const myOrgs = new Set((me.orgs || []).map((o) => o.id));
    for (const u of users) {
      if (!(u.orgs || []).some((o) => myOrgs.has(o.id))) continue;
      const li = document.createElement("li");
      li.setAttribute("data-testid", `member-${u.id}`);
      const on = online.has(u.id);
      const dot = document.createElement("span");
      dot.className = `dot ${on ? "online" : "offline"}`;
      const who = document.createElement("span");
      who.className = "who";
      const name = text(document.createElement("span"), u.id === me.id ? `${u.name} (you)` : u.name);
      const role = text(document.createElement("small"), roleText(u));
      who.append(name, role);
      const state = document.createElement("span");
      state.className = `state ${on ? "online" : "offline"}`;
      text(state, on ? "online" : "offline");
      li.append(dot, who, state);
      list.appendChild(li);
    }
  }

  function askPresence() {
    const s = socket;
    if (!s || !s.connected) return;
    s.emit("presence:list", {}, (reply) => {
      if (s !== socket) return;  // signed out or in again meanwhile
      if (!reply || reply.error) {
        showError(`presence:list: ${reply && reply.error ? reply.error : "no answer"}`);
        return;
      }
      online.clear();
      for (const u of reply.users || []) {
        if (u.online !== false) online.add(u.user);
      }
      renderMembers();
    });
  }
  const refreshPresence = debounce(askPresence, 150);

  // --- notifications ---
  function setUnread(n) {
    unread = Math.max(0, Number(n) || 0);
    text(byTestId("unread"), unread);
  }

  function money(value, currency) {
    const n = Number(value);
    if (!Number.isFinite(n)) return `${value} ${currency || ""}`.trim();
    return `${n.toFixed(2)} ${currency || ""}`.trim();
  }

  // Adds one notification; false when the page has it already.
  function renderNotification(n, atTop) {
    if (!n || n.id === undefined) return false;
    const list = byTestId("notifications");
    if (list.querySelector(`[data-id="${CSS.escape(String(n.id))}"]`)) return false;
    const li = document.createElement("li");
    li.dataset.id = String(n.id);
    li.setAttribute("data-testid", "notification");
    if (!n.read) li.classList.add("unread");
    const data = n.data || {};
    const head = document.createElement("div");
    head.className = "head";
    const type = text(document.createElement("span"), n.type);
    type.className = "type";
    const title = text(document.createElement("span"), data.product || "");
    title.className = "product";
    const when = document.createElement("time");
    if (n.created_at) when.dateTime = n.created_at;
    const d = n.created_at ? new Date(n.created_at) : null;
    text(when, d && !Number.isNaN(d.getTime()) ? d.toLocaleTimeString() : "");
    head.append(type, title, when);
    li.appendChild(head);
    const parties = [data.buyer ? `buyer ${data.buyer}` : "", data.seller ? `seller ${data.seller}` : ""].filter(Boolean);
    if (parties.length) {
      const p = text(document.createElement("div"), parties.join(" / "));
      p.className = "parties";
      li.appendChild(p);
    }
    if (n.detail) {
      const x = n.detail;
      const box = document.createElement("div");
      box.className = "detail";
      box.setAttribute("data-testid", "notification-detail");
      text(box, `order ${x.order}: ${x.quantity} x ${money(x.unit_price, x.currency)}`);
      li.appendChild(box);
    }
    if (atTop) list.prepend(li);
    else list.appendChild(li);
    while (list.children.length > MAX_NOTIFICATIONS) list.lastElementChild.remove();
    $("no-notifications").hidden = true;
    return true;
  }

  function markReadInPage(ids) {
    const list = byTestId("notifications");
    if (ids === "all") {
      for (const li of list.querySelectorAll("li.unread")) li.classList.remove("unread");
      return;
    }
    for (const id of ids || []) {
      const li = list.querySelector(`[data-id="${CSS.escape(String(id))}"]`);
      if (li) li.classList.remove("unread");
    }
  }

  function loadNotifications() {
    const s = socket;
    if (!s || !s.connected) return;
    s.emit("notifications:list", { limit: 20 }, (page) => {
      if (s !== socket) return;
      if (!page || page.error) {
        showError(`notifications:list: ${page && page.error ? page.error : "no answer"}`);
        return;
      }
      byTestId("notifications").replaceChildren();
      for (const n of page.items || []) renderNotification(n, false);
      $("no-notifications").hidden = byTestId("notifications").children.length > 0;
      setUnread(page.unread);
    });
  }

  // --- the session ---
  function closeSocket() {
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
    socket = null;
  }

  async function signIn(id) {
    const ticket = ++signingIn;
    const u = users.find((x) => x.id === id);
    if (!u) {
      text($("signin-error"), `There is no demo user "${id}".`);
      return;
    }
    text($("signin-error"), "");
    let token;
    try {
      token = (await post("token", { user: id })).token;
    } catch (e) {
      if (ticket === signingIn) text($("signin-error"), `Cannot sign in: ${e.message}`);
      return;
    }
    if (ticket !== signingIn) return;
    closeSocket();
    me = u;
    online.clear();
    storage((s) => s.setItem(USER_STORE, id));
    $("signin").hidden = true;
    $("app").hidden = false;
    text($("me-name"), u.name);
    text($("me-avatar"), initials(u.name));
    text($("me-orgs"), roleText(u));
    text(byTestId("my-connections"), "0");
    byTestId("notifications").replaceChildren();
    setUnread(0);
    showError("");
    renderMembers();
    setStatus("connecting");
    const s = io("/", { auth: { token } });
    socket = s;
    s.on("connect", () => {
      setStatus("connected", "connected");
      showError("");
      askPresence();
      loadNotifications();
    });
    s.on("disconnect", (reason) => setStatus(reason === "io server disconnect" ? "disconnected by the server" : "disconnected", "disconnected"));
    s.on("connect_error", (err) => setStatus(`error: ${err && err.message ? err.message : "cannot connect"}`, "error"));
    s.on("me:connections", (m) => {
      if (m && m.connections !== undefined) text(byTestId("my-connections"), m.connections);
    });
    s.on("presence", () => refreshPresence());
    s.on("notification", (n) => {
      if (renderNotification(n, true) && !n.read) setUnread(unread + 1);
    });
    s.on("notifications:read", (r) => {
      if (!r) return;
      markReadInPage(r.all ? "all" : r.ids);
      if (r.unread !== undefined) setUnread(r.unread);
    });
  }

  function signOut() {
    signingIn++;
    closeSocket();
    me = null;
    storage((s) => s.removeItem(USER_STORE));
    $("app").hidden = true;
    $("signin").hidden = false;
    setStatus("signed out");
  }

  $("signout").addEventListener("click", signOut);

  $("place-order").addEventListener("click", async () => {
    if (!me) return;
    const button = $("place-order");
    button.disabled = true;
    try {
      const r = await post("order", { user: me.id });
      showError("");
      text($("order-message"), `Order sent to ${Array.isArray(r.recipients) ? r.recipients.length : r.recipients} people.`);
    } catch (e) {
      showError(`Cannot place the order: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  });

  $("mark-read").addEventListener("click", () => {
    const s = socket;
    if (!s || !s.connected) {
      showError("Not connected.");
      return;
    }
    s.emit("notifications:read", { all: true }, (r) => {
      if (s !== socket) return;
      if (!r || r.error) {
        showError(`notifications:read: ${r && r.error ? r.error : "no answer"}`);
        return;
      }
      markReadInPage("all");
      setUnread(r.unread);
    });
  });

  // #user=<id> signs this tab in as that user; else the tab's last choice.
  function wantedUser() {
    return new URLSearchParams(location.hash.slice(1)).get("user");
  }

  window.addEventListener("hashchange", () => {
    const id = wantedUser();
    if (id && users.length && (!me || me.id !== id)) signIn(id);
  });

  (async () => {
    let res;
    try {
      res = await fetch("users", { cache: "no-store" });
    } catch (e) {
      text($("signin-error"), `Cannot load the demo users: ${e && e.message ? e.message : "network error"}`);
      return;
    }
    const body = await res.json().catch(() => null);
    if (!res.ok || !body || !Array.isArray(body.users)) {
      text($("signin-error"), `Cannot load the demo users: ${res.status}${body && body.error ? ` ${body.error}` : ""}`);
      return;
    }
    users = body.users;
    renderSignin();
    const wanted = wantedUser() || storage((s) => s.getItem(USER_STORE));
    if (wanted) signIn(wanted);
  })();
})();
