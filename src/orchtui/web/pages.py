"""The phone-sized approvals page: what waits for a person, approved or rejected (with a
reason) in one tap, kept current by the event stream. Plain HTML and a little script; the
text it shows is set as text, never as markup."""

APPROVALS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>orchtui · approvals</title>
<style>
  :root { color-scheme: dark; --bg: #161b26; --card: #1f2636; --fg: #d7dde8; --dim: #8a94a8;
          --ok: #3fb87f; --no: #e5534b; --accent: #6cb6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--fg);
         font: 16px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { position: sticky; top: 0; background: var(--bg); padding: 14px 16px 8px;
           border-bottom: 1px solid #2a3245; display: flex; align-items: baseline; gap: 10px; }
  h1 { font-size: 20px; margin: 0; }
  #state { color: var(--dim); font-size: 13px; margin-left: auto; }
  main { padding: 12px 12px 40px; display: flex; flex-direction: column; gap: 12px; }
  .card { background: var(--card); border-radius: 12px; padding: 14px; }
  .head { display: flex; justify-content: space-between; gap: 8px; font-weight: 600; }
  .about { color: var(--accent); }
  .action { color: var(--dim); font-size: 13px; margin-top: 2px; }
  pre { white-space: pre-wrap; word-break: break-word; font: 13px/1.45 ui-monospace, monospace;
        background: #141925; border-radius: 8px; padding: 10px; margin: 10px 0; }
  .buttons { display: flex; gap: 10px; }
  button { flex: 1; min-height: 48px; border: 0; border-radius: 10px; font-size: 17px;
           font-weight: 600; color: white; }
  button.approve { background: var(--ok); }
  button.reject { background: var(--no); }
  button:disabled { opacity: .5; }
  textarea { width: 100%; min-height: 70px; margin: 10px 0 0; border-radius: 8px; border: 1px solid #39425a;
             background: #141925; color: var(--fg); padding: 8px; font-size: 16px; }
  .empty { color: var(--dim); text-align: center; padding: 40px 0; }
  .error { color: var(--no); font-size: 14px; margin-top: 8px; }
</style>
</head>
<body>
<header><h1>Approvals</h1><span id="count"></span><span id="state">connecting…</span></header>
<main id="list"><p class="empty">Loading…</p></main>
<script>
const list = document.getElementById("list");
const state = document.getElementById("state");
const count = document.getElementById("count");

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function decide(url, body, card) {
  card.querySelectorAll("button").forEach(b => b.disabled = true);
  const res = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Requested-With": "orchtui"},
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const body = await res.json().catch(() => ({error: res.statusText}));
    card.querySelectorAll("button").forEach(b => b.disabled = false);
    const err = card.querySelector(".error") || card.appendChild(el("div", "error"));
    err.textContent = body.error || res.statusText;
    return;
  }
  load();
}

function card(key, title, right, action, shown, send) {
  const node = el("section", "card");
  node.dataset.key = key;
  const head = el("div", "head");
  head.append(el("span", "about", title), el("span", "", right));
  node.append(head, el("div", "action", action), el("pre", "", shown));
  const buttons = el("div", "buttons");
  const yes = el("button", "approve", "Approve");
  const no = el("button", "reject", "Reject");
  yes.onclick = () => send("approve", null, node);
  no.onclick = () => {
    let why = node.querySelector("textarea");
    if (!why) {
      why = el("textarea");
      why.placeholder = "Why? (recorded with the rejection)";
      node.insertBefore(why, buttons);
      why.focus();
      no.textContent = "Send rejection";
      return;
    }
    if (!why.value.trim()) { why.focus(); return; }
    send("reject", why.value.trim(), node);
  };
  buttons.append(yes, no);
  node.append(buttons);
  return node;
}

function approvalCard(a) {
  const about = a.run ? "run " + a.run : "session " + a.session;
  return card(`approval-${a.id}`, `#${a.id} · ${about}`, a.stage, a.action, a.summary,
    (decision, reason, node) => decide(`/api/approvals/${a.id}/${decision}`, {reason}, node));
}

function agentCard(s) {
  return card(`session-${s.id}`, `${s.agent} · ${s.task}`, s.id, s.status_detail || "asks permission",
    s.screen, (decision, reason, node) => decide(`/api/sessions/${s.id}/answer`, {decision, reason}, node));
}

async function load() {
  const [approvals, agents] = await Promise.all(["/api/approvals", "/api/waiting"].map(
    url => fetch(url, {credentials: "same-origin"}).then(r => r.ok ? r.json() : Promise.reject(r.status))))
    .catch(status => { state.textContent = `error ${status}`; return [null, null]; });
  if (approvals === null) return;
  const cards = [...agents.map(agentCard), ...approvals.map(approvalCard)];
  const typing = list.querySelector("textarea");
  if (typing && cards.some(c => c.dataset.key === typing.closest(".card").dataset.key)) return;
  list.replaceChildren(...(cards.length ? cards : [el("p", "empty", "Nothing waits for you.")]));
  count.textContent = cards.length ? `${cards.length} waiting` : "";
}

const events = new EventSource("/api/stream");
events.onopen = () => { state.textContent = "live"; };
events.onerror = () => { state.textContent = "reconnecting…"; };
events.addEventListener("event", e => {
  const ev = JSON.parse(e.data);
  if (ev.kind === "status" || ev.kind.startsWith("approval") || ev.kind.startsWith("run.")) load();
});
load();
</script>
</body>
</html>
"""
