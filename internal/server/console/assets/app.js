// agenthook web console: three views over the admin API, no dependencies.
// Every value from the API is put in the page as text (textContent), never
// as HTML: journals hold model output and customer data.
"use strict";

(() => {
  const POLL_MS = 2000;
  const STATUSES = ["queued", "running", "retrying", "awaiting_approval", "deferred", "done", "no_decision", "dead", "filtered", "ignored"];
  const IN_FLIGHT = ["queued", "running", "retrying", "awaiting_approval"];
  const REPLAYABLE = ["done", "no_decision", "dead", "filtered", "ignored"];
  const BY = "web console"; // journaled with an approval or a denial

  const view = document.getElementById("view");
  const conn = document.getElementById("conn");
  let page = null; // {refresh: async fn} of the current view
  let gen = 0; // bumped on every navigation; stale answers are dropped
  let busy = false;

  // el builds an element: el("td", {class: "x", onclick: fn}, "text", child…).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of kids.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  class APIError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      opts.headers["X-Agenthook-UI"] = "1"; // CSRF guard: see README, Web console
      if (body !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(body);
      }
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401) {
      // The login expired or the token changed: the console page logs in again.
      location.assign("/ui/");
      throw new APIError(401, "logged out");
    }
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) throw new APIError(resp.status, (data && data.error) || `${resp.status} ${resp.statusText}`);
    return data;
  }

  function setConn(err) {
    conn.textContent = err ? `⚠ ${err.message}` : "";
    conn.className = err ? "conn error" : "conn";
  }

  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  const timeEl = (iso) => el("time", { datetime: iso, title: iso }, fmtTime(iso));
  const num = (n) => (n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US"));
  const ms = (n) => (n === undefined || n === null ? "–" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n} ms`);
  const badge = (status) => el("span", { class: `status st-${status}`, "data-status": status }, status.replace("_", " "));

  function pretty(v) {
    if (typeof v === "string") {
      try { return JSON.stringify(JSON.parse(v), null, 2); } catch (_) { return v; }
    }
    return JSON.stringify(v, null, 2);
  }
  const code = (v, cls) => el("pre", { class: cls || "json" }, pretty(v));

  function hashParams() {
    const i = location.hash.indexOf("?");
    return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
  }

  // ---- router ---------------------------------------------------------

  function navigate() {
    gen++;
    const h = location.hash || "#/events";
    let m;
    document.querySelectorAll("nav a").forEach((a) => a.classList.remove("active"));
    if ((m = h.match(/^#\/events\/([^/?]+)/))) {
      document.getElementById("nav-events").classList.add("active");
      page = eventPage(decodeURIComponent(m[1]));
    } else if (h.startsWith("#/approvals")) {
      document.getElementById("nav-approvals").classList.add("active");
      page = approvalsPage();
    } else {
      document.getElementById("nav-events").classList.add("active");
      page = eventsPage();
    }
    tick();
  }

  // tick refreshes the current view and the pending count; a tick asked
  // for while one runs follows it.
  let again = false;
  async function tick() {
    if (busy) { again = true; return; }
    busy = true;
    const g = gen;
    try {
      await Promise.all([page.refresh(g), pendingBadge()]);
      setConn(null);
    } catch (err) {
      if (err.status !== 401) setConn(err);
    } finally {
      busy = false;
      if (again) { again = false; tick(); }
    }
  }

  let approvalsAvailable = true;
  async function pendingBadge() {
    if (!approvalsAvailable) return;
    const b = document.getElementById("pending-count");
    try {
      const data = await api("GET", "/api/approvals");
      const n = (data.approvals || []).length;
      b.textContent = n;
      b.hidden = n === 0;
    } catch (err) {
      if (err.status === 404 || err.status === 405) approvalsAvailable = false;
      else throw err;
    }
  }

  // ---- events list ----------------------------------------------------

  function eventsPage() {
    const p = hashParams();
    let limit = 100;
    const status = el("select", { id: "f-status", "aria-label": "status" },
      el("option", { value: "" }, "any status"),
      STATUSES.map((s) => el("option", { value: s, selected: p.get("status") === s }, s.replace("_", " "))));
    const type = el("input", { id: "f-type", type: "search", placeholder: "type (exact), e.g. charge.refunded", list: "types", value: p.get("type") || "" });
    const q = el("input", { id: "f-q", type: "search", placeholder: "id contains", value: p.get("q") || "" });
    const types = el("datalist", { id: "types" });
    const seenTypes = new Set();
    const tbody = el("tbody");
    const info = el("p", { class: "muted", id: "events-info" });
    const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => { limit = Math.min(limit + 100, 500); tick(); } }, "Show more");
    const rows = new Map();

    let debounce;
    const changed = () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        const f = new URLSearchParams();
        if (status.value) f.set("status", status.value);
        if (type.value.trim()) f.set("type", type.value.trim());
        if (q.value.trim()) f.set("q", q.value.trim());
        const s = f.toString();
        history.replaceState(null, "", "#/events" + (s ? "?" + s : ""));
        tick();
      }, 250);
    };
    status.addEventListener("change", changed);
    type.addEventListener("input", changed);
    q.addEventListener("input", changed);

    view.replaceChildren(
      el("h1", {}, "Events"),
      el("form", { class: "filters", onsubmit: (e) => e.preventDefault() }, status, type, types, q),
      el("table", { id: "events-table", class: "events" },
        el("thead", {}, el("tr", {},
          ["Received", "Event", "Type", "Route", "Status", "Attempts", "Tokens in / out", "Last error"].map((h) => el("th", {}, h)))),
        tbody),
      info, more);

    function row(ev) {
      const cells = [
        el("td", { class: "nowrap" }, timeEl(ev.received_at)),
        el("td", {}, el("a", { href: `#/events/${encodeURIComponent(ev.id)}`, class: "mono" }, ev.id)),
        el("td", {}, ev.type),
        el("td", {}, ev.route || "–"),
        el("td", {}, badge(ev.status)),
        el("td", { class: "num" }, ev.attempts),
        el("td", { class: "num" }, `${num(ev.tokens_in)} / ${num(ev.tokens_out)}`),
        el("td", { class: "err", title: ev.last_error || "" }, ev.last_error || ""),
      ];
      return cells;
    }

    return {
      async refresh(g) {
        const f = new URLSearchParams(hashParams());
        f.set("limit", limit);
        const data = await api("GET", "/api/events?" + f.toString());
        if (g !== gen) return;
        const evs = data.events || [];
        const keep = new Set();
        evs.forEach((ev, i) => {
          keep.add(ev.id);
          const sig = [ev.status, ev.attempts, ev.route, ev.tokens_in, ev.tokens_out, ev.last_error, ev.updated_at].join("|");
          let tr = rows.get(ev.id);
          if (!tr) {
            tr = el("tr", { "data-id": ev.id });
            rows.set(ev.id, tr);
          }
          if (tr.dataset.sig !== sig) {
            tr.dataset.sig = sig;
            tr.dataset.status = ev.status;
            tr.replaceChildren(...row(ev));
          }
          if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
          if (!seenTypes.has(ev.type)) {
            seenTypes.add(ev.type);
            types.append(el("option", { value: ev.type }));
          }
        });
        for (const [id, tr] of rows) {
          if (!keep.has(id)) { tr.remove(); rows.delete(id); }
        }
        info.textContent = evs.length === 0
          ? "No events match. Send one with: agenthook trigger charge.refunded"
          : `${evs.length} event(s), newest first · updated ${fmtTime(new Date().toISOString())}`;
        more.hidden = !data.next_cursor || limit >= 500;
      },
    };
  }

  // ---- one event ------------------------------------------------------

  function stepItem(s) {
    const d = s.data || {};
    const item = (cls, title, ...body) =>
      el("li", { class: `step kind-${s.kind} ${cls || ""}`, "data-kind": s.kind },
        el("div", { class: "when" }, timeEl(s.at)),
        el("div", { class: "what" }, el("div", { class: "title" }, title), ...body));
    const kv = (pairs) => el("dl", { class: "kv" },
      pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

    switch (s.kind) {
      case "model_request":
        return item(d.error ? "bad" : "", `Model round ${d.round ?? ""}${d.model ? " · " + d.model : ""}`,
          kv([["tokens in / out", `${num(d.input_tokens)} / ${num(d.output_tokens)}`],
            ["thinking", d.thinking_tokens ? `${num(d.thinking_tokens)} of the output tokens` : ""],
            ["effort / thinking", [d.effort, d.thinking].filter(Boolean).join(" / ")],
            ["cache read / write", d.cache_read_input_tokens || d.cache_creation_input_tokens ? `${num(d.cache_read_input_tokens)} / ${num(d.cache_creation_input_tokens)}` : ""],
            ["latency", ms(d.latency_ms)], ["provider", d.provider], ["tools offered", (d.tools || []).join(", ")],
            ["tool choice", d.tool_choice], ["request id", d.request_id], ["error", d.error]]),
          d.summary ? el("p", { class: "muted" }, d.summary) : null);
      case "decision": {
        const blocks = Array.isArray(d.content) ? d.content : [];
        const texts = blocks.filter((b) => b.type === "text" && b.text).map((b) => b.text);
        const uses = blocks.filter((b) => b.type === "tool_use");
        if (!blocks.length) {
          if (d.text) texts.push(d.text);
          if (d.tool) uses.push({ name: d.tool, id: d.tool_use_id, input: d.input });
        }
        const title = uses.length ? `Decision: call ${uses.map((u) => u.name).join(", ")}` : "Decision: no tool call";
        // Thinking is shown as a fact only: the API never serves its content.
        const thought = blocks.filter((b) => b.type === "thinking" || b.type === "redacted_thinking").length || d.thinking || 0;
        return item(d.truncated ? "bad" : "", title,
          kv([["round", d.round], ["stop reason", d.stop_reason], ["thinking", thought ? `yes (${thought} block${thought > 1 ? "s" : ""}, not shown)` : ""],
            ["truncated", d.truncated ? "yes: raise agent.max_tokens" : ""]]),
          texts.map((t) => el("blockquote", { class: "reasoning" }, t)),
          uses.map((u) => el("div", { class: "call" }, el("div", {}, el("b", {}, u.name), " ", el("span", { class: "muted mono" }, u.id || "")), code(u.input))));
      }
      case "corrective":
        return item("wait", "Corrective round: no tool was called", kv([["after round", d.round]]), el("blockquote", { class: "reasoning" }, d.text || ""));
      case "approval_requested":
        return item("wait", `Approval requested: ${d.tool}`,
          kv([["round", d.round], ["tool_use_id", d.tool_use_id]]), code(d.input),
          d.text ? el("blockquote", { class: "reasoning" }, d.text) : null);
      case "approval":
        return item(d.approved ? "good" : "bad", `${d.approved ? "Approved" : "Denied"}${d.by ? " by " + d.by : ""}`,
          kv([["tool_use_id", d.tool_use_id], ["reason", d.reason]]));
      case "tool_call":
        return item(d.is_error ? "bad" : "good",
          `Tool ${d.tool}: ${d.invalid ? "invalid input, not run" : d.executed ? (d.is_error ? "failed" : "ran") : (d.is_error ? "refused" : "recorded, not run")}`,
          kv([["round", d.round], ["tool_use_id", d.tool_use_id], ["latency", d.executed ? ms(d.latency_ms) : ""]]),
          el("div", { class: "label" }, "input"), code(d.input),
          el("div", { class: "label" }, "result"), code(d.result ?? "", d.is_error ? "json bad" : "json"));
      case "error":
        return item("bad", d.retryable ? "Error (will retry)" : "Error",
          el("p", { class: "err" }, d.error || ""),
          kv([["round", d.round], ["status code", d.status_code], ["retry after", d.retry_after_ms ? ms(d.retry_after_ms) : ""], ["request id", d.request_id]]));
      case "outcome": {
        const u = d.usage || {};
        return item("good", `Outcome: ${d.stop || "?"}`,
          kv([["rounds", d.rounds], ["tokens in / out (this attempt)", `${num(u.input_tokens)} / ${num(u.output_tokens)}`],
            ["thinking", u.thinking_tokens ? num(u.thinking_tokens) : ""], ["corrective round", d.corrective ? "needed" : ""]]));
      }
      case "filtered":
        return item("", `Filtered out by route ${d.route || ""}`, kv([["when", d.when], ["error", d.error]]));
      case "interrupted":
        return item("bad", "Interrupted", code(d));
      case "replay":
        return item("", "Replayed", kv([["previous status", d.previous_status], ["route", d.route]]));
      default:
        return item("", s.kind, code(d));
    }
  }

  function eventPage(id) {
    const msg = el("p", { id: "action-msg", class: "msg", role: "status" });
    let sig = "";
    view.replaceChildren(el("p", { class: "muted" }, "Loading…"));

    async function act(what, fn) {
      msg.textContent = `${what}…`;
      msg.className = "msg";
      try {
        const r = await fn();
        msg.textContent = `${what}: ${(r && r.status) || "ok"}`;
        sig = "";
        await tick();
      } catch (err) {
        msg.textContent = `${what} failed: ${err.message}`;
        msg.className = "msg error";
      }
    }

    function approvalCard(p) {
      const reason = el("input", { type: "text", class: "reason", placeholder: "reason (required), sent back to the model", hidden: true });
      const confirmDeny = el("button", { type: "button", class: "deny confirm", hidden: true }, "Confirm deny");
      const card = el("div", { class: "approval", "data-tool-use-id": p.tool_use_id },
        el("div", { class: "title" }, `Pending: ${p.tool}`, " ", el("span", { class: "muted mono" }, p.tool_use_id)),
        code(p.input), reasoning(p),
        el("div", { class: "actions" },
          el("button", { type: "button", class: "approve", onclick: () => act("Approve", () => api("POST", `/api/events/${encodeURIComponent(id)}/approve`, { tool_use_id: p.tool_use_id, by: BY })) }, "Approve"),
          el("button", { type: "button", class: "deny", onclick: () => { reason.hidden = false; confirmDeny.hidden = false; reason.focus(); } }, "Deny…"),
          reason, confirmDeny));
      confirmDeny.addEventListener("click", () => {
        if (!reason.value.trim()) { reason.focus(); reason.classList.add("invalid"); return; }
        act("Deny", () => api("POST", `/api/events/${encodeURIComponent(id)}/deny`, { tool_use_id: p.tool_use_id, reason: reason.value.trim(), by: BY }));
      });
      return card;
    }

    function render(ev) {
      const steps = ev.steps || [];
      const t = ev.totals || {};
      const toolMs = steps.filter((s) => s.kind === "tool_call").reduce((a, s) => a + ((s.data && s.data.latency_ms) || 0), 0);
      const toolCalls = steps.filter((s) => s.kind === "tool_call").length;

      // Writes the event made: a replay of it needs allow_writes, which
      // confirming here, with the count shown, is the console's way to give.
      const writes = steps.filter((s) => s.kind === "tool_call" && s.data && s.data.write && s.data.executed && !s.data.is_error);
      const replayConfirm = el("span", { class: "confirm-box", hidden: true },
        "Run the agent again with the current config? Tools may run again. ",
        writes.length ? el("b", { id: "replay-writes" }, `It made ${writes.length} write(s) (${[...new Set(writes.map((s) => s.data.tool))].join(", ")}); identical ones are refused, but a replay may make different ones. `) : null,
        el("button", { type: "button", id: "replay-confirm", onclick: () => { replayConfirm.hidden = true; act("Replay", () => api("POST", `/api/events/${encodeURIComponent(id)}/replay`, writes.length ? { allow_writes: true } : undefined)); } }, writes.length ? "Replay, allowing writes" : "Replay now"),
        el("button", { type: "button", class: "secondary", onclick: () => { replayConfirm.hidden = true; } }, "Cancel"));
      const replay = el("button", { type: "button", id: "replay", disabled: !REPLAYABLE.includes(ev.status),
        title: REPLAYABLE.includes(ev.status) ? "queue the event again" : `cannot replay while ${ev.status}`,
        onclick: () => { replayConfirm.hidden = false; } }, "Replay");

      // The server decides what is pending (the store's one rule).
      const pending = Array.isArray(ev.pending) ? ev.pending : [];

      const story = [
        el("li", { class: "step kind-received" }, el("div", { class: "when" }, timeEl(ev.received_at)),
          el("div", { class: "what" }, el("div", { class: "title" }, "Webhook received"),
            el("dl", { class: "kv" }, el("dt", {}, "type"), el("dd", {}, ev.type),
              el("dt", {}, "mode"), el("dd", {}, ev.livemode ? "live" : "test"),
              el("dt", {}, "created by Stripe"), el("dd", {}, ev.created ? timeEl(new Date(ev.created * 1000).toISOString()) : "–")))),
        el("li", { class: "step kind-verified" }, el("div", { class: "when" }, ""),
          el("div", { class: "what" }, el("div", { class: "title" },
            ev.route ? `Signature verified, stored, queued for route ${ev.route}` : "Signature verified, stored; no route matched (ignored)"))),
      ];
      let attempt = 0;
      for (const s of steps) {
        if (s.attempt && s.attempt !== attempt && s.kind !== "replay") {
          attempt = s.attempt;
          story.push(el("li", { class: "attempt" }, `Attempt ${attempt}`));
        }
        story.push(stepItem(s));
      }
      const end = {
        done: ["good", "Done"], dead: ["bad", "Dead: gave up"], filtered: ["", "Filtered: no model call"],
        ignored: ["", "Ignored: no route matched"], awaiting_approval: ["wait", "Waiting for an operator"],
        queued: ["", "Queued"], running: ["", "Running…"], retrying: ["bad", "Retrying"],
        deferred: ["wait", "Deferred: over its route budget"],
        no_decision: ["bad", "No decision: the model called no tool"],
      }[ev.status] || ["", ev.status];
      story.push(el("li", { class: `step kind-end ${end[0]}` }, el("div", { class: "when" }, timeEl(ev.updated_at)),
        el("div", { class: "what" }, el("div", { class: "title" }, end[1]), ev.last_error ? el("p", { class: "err" }, ev.last_error) : null)));

      const totals = [
        ["model requests", num(t.model_requests)], ["tokens in", num(t.tokens_in)], ["tokens out", num(t.tokens_out)], ["thinking", num(t.thinking_tokens)],
        ["cache read", num(t.cache_read_tokens)], ["cache write", num(t.cache_write_tokens)],
        ["model latency", ms(t.model_latency_ms)], ["tool calls", `${toolCalls} · ${ms(toolMs)}`],
      ];
      if (typeof ev.cost_usd === "number") totals.push(["cost", "$" + ev.cost_usd.toFixed(4)]);

      view.replaceChildren(...[
        el("p", {}, el("a", { href: "#/events" }, "← Events")),
        el("h1", {}, el("span", { class: "mono", id: "event-id" }, ev.id), " ", badge(ev.status)),
        el("p", { class: "sub" }, `${ev.type} · route ${ev.route || "none"} · ${ev.attempts} attempt(s)`),
        el("div", { class: "actions" }, replay, replayConfirm),
        msg,
        pending.length ? el("section", { class: "pending", id: "pending" }, el("h2", {}, "Needs your decision"), pending.map(approvalCard)) : null,
        el("section", { class: "totals", id: "totals" }, totals.map(([k, v]) => el("div", {}, el("span", { class: "k" }, k), el("span", { class: "v" }, v)))),
        el("h2", {}, "Story"),
        el("ol", { class: "timeline", id: "timeline" }, story),
      ].filter(Boolean));
    }

    return {
      async refresh(g) {
        let ev;
        try {
          ev = await api("GET", `/api/events/${encodeURIComponent(id)}`);
        } catch (err) {
          if (g === gen && err.status === 404) {
            view.replaceChildren(el("p", {}, el("a", { href: "#/events" }, "← Events")), el("p", { class: "error" }, err.message));
            return;
          }
          throw err;
        }
        if (g !== gen) return;
        // Re-render only on change, so a reason being typed is kept.
        const s = [ev.status, ev.updated_at, (ev.steps || []).length, ev.attempts].join("|");
        if (s === sig) return;
        sig = s;
        render(ev);
      },
    };
  }

  // ---- approvals ------------------------------------------------------

  // The model's reasoning beside a pending call, marked for what it is:
  // written after reading text a customer or cardholder controls.
  function reasoning(p) {
    if (!p.text) return null;
    const label = p.text_label || "model's reasoning — written after reading customer-controlled text; verify against the event";
    return el("div", { class: "untrusted-reasoning" },
      el("div", { class: "label warn" }, label),
      el("blockquote", { class: "reasoning untrusted" }, p.text));
  }

  function approvalsPage() {
    const list = el("div", { id: "approvals" });
    const info = el("p", { class: "muted", id: "approvals-info" });
    const cards = new Map();
    view.replaceChildren(el("h1", {}, "Pending approvals"), info, list);

    function card(a) {
      const msg = el("p", { class: "msg", role: "status" });
      const reason = el("input", { type: "text", class: "reason", placeholder: "reason (required), sent back to the model", hidden: true });
      const buttons = [];
      const send = async (what, path, body) => {
        buttons.forEach((b) => { b.disabled = true; });
        msg.textContent = `${what}…`;
        msg.className = "msg";
        try {
          const r = await api("POST", path, body);
          msg.textContent = `${what}: ${(r && r.status) || "ok"}`;
          await tick();
        } catch (err) {
          buttons.forEach((b) => { b.disabled = false; });
          msg.textContent = `${what} failed: ${err.message}`;
          msg.className = "msg error";
        }
      };
      const base = `/api/events/${encodeURIComponent(a.event_id)}`;
      const approve = el("button", { type: "button", class: "approve", onclick: () => send("Approve", base + "/approve", { tool_use_id: a.tool_use_id, by: BY }) }, "Approve");
      const confirmDeny = el("button", { type: "button", class: "deny confirm", hidden: true, onclick: () => {
        if (!reason.value.trim()) { reason.classList.add("invalid"); reason.focus(); return; }
        send("Deny", base + "/deny", { tool_use_id: a.tool_use_id, reason: reason.value.trim(), by: BY });
      } }, "Confirm deny");
      const deny = el("button", { type: "button", class: "deny", onclick: () => { reason.hidden = false; confirmDeny.hidden = false; reason.focus(); } }, "Deny…");
      buttons.push(approve, deny, confirmDeny);
      return el("div", { class: "approval", "data-event-id": a.event_id, "data-tool-use-id": a.tool_use_id },
        el("div", { class: "title" }, el("b", {}, a.tool), " for ",
          el("a", { href: `#/events/${encodeURIComponent(a.event_id)}`, class: "mono" }, a.event_id), " ",
          el("span", { class: "muted" }, a.event_type || ""), " · requested ", timeEl(a.requested_at)),
        code(a.input), reasoning(a),
        el("div", { class: "actions" }, approve, deny, reason, confirmDeny), msg);
    }

    return {
      async refresh(g) {
        let data;
        try {
          data = await api("GET", "/api/approvals");
        } catch (err) {
          if (g === gen && (err.status === 404 || err.status === 405)) {
            info.textContent = "This agenthook has no approvals API.";
            return;
          }
          throw err;
        }
        if (g !== gen) return;
        const as = data.approvals || [];
        const keep = new Set();
        as.forEach((a, i) => {
          const key = `${a.event_id}/${a.tool_use_id}`;
          keep.add(key);
          let c = cards.get(key);
          if (!c) { c = card(a); cards.set(key, c); }
          if (list.children[i] !== c) list.insertBefore(c, list.children[i] || null);
        });
        for (const [k, c] of cards) {
          if (!keep.has(k)) { c.remove(); cards.delete(k); }
        }
        info.textContent = as.length ? `${as.length} tool call(s) wait for a decision.` : "Nothing waits for approval.";
      },
    };
  }

  window.addEventListener("hashchange", navigate);
  setInterval(tick, POLL_MS);
  navigate();
})();
