"""A fake LLM HTTP server on 127.0.0.1 that speaks the real wire protocols.

Anthropic Messages (streaming SSE) for Claude Code, OpenAI Responses (streaming) for
Codex, OpenAI Chat Completions (streaming, and plain for aider's commit messages), and
Gemini's generateContent / streamGenerateContent (SSE with `alt=sse`) for Gemini CLI.
The real clients talk to it through their own SDKs; nothing of theirs is faked.

What it answers is steered by words in the last user prompt:
- `FAKE_DELAY=N`   wait N seconds before the reply starts (the agent shows its spinner);
- `FAKE_SLEEP=N`   stream the first words, then hold the reply open N seconds;
- `FAKE_ERROR=400` answer with that HTTP status and an error body (`FAKE_ERROR=500x3`:
  only the first three requests of that prompt, then answer normally);
- `FAKE_BASH cmd`  call the agent's shell tool (Bash / exec_command);
- `FAKE_TOOL name {json}` call any tool with these arguments;
- `FAKE_FILE path text` (chat completions) reply in aider's whole-file format;
- `FAKE_PLAN [{"name": …, "input": {…}}, …]` (Anthropic) call these tools one per turn,
  then end the turn with `FAKE_DONE: plan finished` (or `FAKE_DONE: no tool NAME` when the
  request does not offer the next one, as a real model cannot call it); an input string `@N.key` is the
  `key` of the JSON the N-th tool result (from 0) carried (an id a tool returned);
- `FAKE_LOOP` (Anthropic) call `list_files` on every turn, never ending it.
After a tool result it replies `FAKE_DONE: tool finished`. Every reply carries usage
(deterministic, different per request) and `self.replies` records what was sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    protocol: str
    kind: str  # "turn", "tool-done", "title", "commit", "error"
    prompt: str
    usage: dict[str, int] = field(default_factory=dict)


def _usage(n: int) -> dict[str, int]:
    return {
        "input_tokens": 1000 + 17 * n,
        "output_tokens": 40 + 3 * n,
        "cache_read_input_tokens": 100 * n,
        "cache_creation_input_tokens": 50,
    }


class FakeLLM:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, int] = {}  # prompt -> errors answered (FAKE_ERROR=500x3)
        self.latency = 0.0  # seconds before any answer starts, as a real model takes
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, reply: Reply) -> dict[str, int]:
        with self.lock:
            reply.usage = _usage(len(self.replies) + 1)
            self.replies.append(reply)
        return reply.usage

    def prompts(self) -> list[tuple[float, float | None, str]]:
        """Every request's last user prompt (as the model received it), with the time the
        request arrived and the time its reply was fully sent."""
        with self.lock:
            requests = list(self.requests)
        return [(r["t"], r["done"], prompt_of(r["body"])) for r in requests]

    def billed(self, protocol: str) -> list[Reply]:
        """Replies that carried usage to the agent (errors carry none)."""
        return [r for r in self.replies if r.protocol == protocol and r.kind != "error"]


# --- steering ---------------------------------------------------------------


def _sleep_for(prompt: str) -> float:
    m = re.search(r"FAKE_SLEEP=(\d+(?:\.\d+)?)", prompt)
    return float(m.group(1)) if m else 0.0


def _delay_for(prompt: str) -> float:
    m = re.search(r"FAKE_DELAY=(\d+(?:\.\d+)?)", prompt)
    return float(m.group(1)) if m else 0.0


def _error_for(prompt: str, failures: dict[str, int]) -> int | None:
    """`FAKE_ERROR=500` fails every request of that prompt; `FAKE_ERROR=500x3` only the
    first three, so the client's own retries then recover."""
    m = re.search(r"FAKE_ERROR=(\d{3})(?:x(\d+))?", prompt)
    if not m:
        return None
    if m.group(2) is not None:
        done = failures.get(prompt, 0)
        if done >= int(m.group(2)):
            return None
        failures[prompt] = done + 1
    return int(m.group(1))


def _tool_for(prompt: str, shell_tool: str) -> tuple[str, dict[str, Any]] | None:
    m = re.search(r"FAKE_TOOL (\S+) (\{.*\})", prompt, re.S)
    if m:
        return m.group(1), json.loads(m.group(2))
    m = re.search(r"FAKE_BASH (.+)", prompt)
    if m:
        cmd = m.group(1).strip()
        if shell_tool == "Bash":
            return "Bash", {"command": cmd, "description": "fake bash call"}
        return shell_tool, {"cmd": cmd}
    return None


def _plan_for(prompt: str) -> list[tuple[str, dict[str, Any]]] | None:
    m = re.search(r"FAKE_PLAN (\[.*\])", prompt, re.S)
    if m:
        return [(step["name"], step.get("input", {})) for step in json.loads(m.group(1))]
    if "FAKE_LOOP" in prompt:
        return [("list_files", {})] * 10_000
    return None


def _result_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text of every tool result in the conversation, in order."""
    texts = []
    for m in messages:
        for b in m.get("content") if isinstance(m.get("content"), list) else []:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                inner = b.get("content")
                texts.append(inner if isinstance(inner, str) else _text_of(inner))
    return texts


def _resolve(value: Any, results: list[str]) -> Any:
    """`@N.key` strings replaced by the key of the N-th tool result's JSON."""
    if isinstance(value, dict):
        return {k: _resolve(v, results) for k, v in value.items()}
    m = re.fullmatch(r"@(\d+)\.(\w+)", value) if isinstance(value, str) else None
    if m is None or int(m.group(1)) >= len(results):
        return value
    text = results[int(m.group(1))]
    start = text.find("{")
    try:
        return json.loads(text[start:])[m.group(2)]
    except (ValueError, KeyError, TypeError):
        return value


def _tool_results(messages: list[dict[str, Any]]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
    )


def _text_of(content: Any) -> str:
    """The user's text in a message: its last text block that is not a reminder (a turn
    that failed leaves its prompt in the same message as the next one)."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") in ("text", "input_text"):
            text = str(block.get("text", ""))
            if not text.lstrip().startswith("<system-reminder>"):
                parts.append(text)
    return parts[-1] if parts else ""


def _fill(schema: dict[str, Any]) -> Any:
    """A value that satisfies a (Gemini-style) JSON schema: the first enum value, or a
    plain one per type, with every listed property."""
    kind = str(schema.get("type", "object")).lower()
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        return {k: _fill(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    return {"string": "fake", "integer": 10, "number": 10, "boolean": False}.get(kind)


def prompt_of(body: dict[str, Any]) -> str:
    """The last user text of a request in any of the four wire formats."""
    if "contents" in body:  # Gemini
        for item in reversed(body.get("contents") or []):
            texts = [
                str(p["text"])
                for p in item.get("parts") or []
                if isinstance(p.get("text"), str) and not p["text"].startswith("<session_context>")
            ]
            if item.get("role") == "user" and "".join(texts).strip():
                return texts[-1]
        return ""
    items = body.get("messages") or body.get("input") or []
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item.get("role") == "user" and _text_of(item.get("content")).strip():
            return _text_of(item.get("content"))
    return ""


# --- HTTP ---------------------------------------------------------------------


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._json(200, {"data": [{"id": "fake", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            entry: dict[str, Any] = {"path": self.path, "body": body, "t": time.time(), "done": None}
            with fake.lock:
                fake.requests.append(entry)
            try:
                time.sleep(fake.latency)
                self._route(body)
            finally:
                entry["done"] = time.time()  # when the reply (or error) was fully sent

        def _route(self, body: dict[str, Any]) -> None:
            path = self.path.split("?")[0]
            if path.endswith("/messages"):
                self._anthropic(body)
            elif path.endswith("/responses"):
                self._responses(body)
            elif path.endswith("/chat/completions"):
                self._chat(body)
            elif ":streamGenerateContent" in path or ":generateContent" in path:
                self._gemini(body, stream=":streamGenerateContent" in path, model=path.split("/")[-1])
            elif ":countTokens" in path:
                self._json(200, {"totalTokens": 1000})
            else:
                self._json(404, {"error": {"message": f"no route {path}"}})

        # plumbing
        def _json(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _sse_start(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _event(self, name: str | None, obj: Any) -> None:
            head = f"event: {name}\n" if name else ""
            payload = obj if isinstance(obj, str) else json.dumps(obj)
            self.wfile.write(f"{head}data: {payload}\n\n".encode())
            self.wfile.flush()

        def _error(self, protocol: str, prompt: str, status: int) -> None:
            with fake.lock:
                fake.replies.append(Reply(protocol, "error", prompt))
            if protocol == "anthropic":
                body: Any = {
                    "type": "error",
                    "error": {"type": "api_error", "message": f"fake error {status}"},
                }
            elif protocol == "gemini":
                body = {"error": {"code": status, "message": f"fake error {status}", "status": "INTERNAL"}}
            else:
                body = {"error": {"type": "api_error", "message": f"fake error {status}", "code": None}}
            self._json(status, body)

        # Anthropic Messages -----------------------------------------------
        def _anthropic(self, body: dict[str, Any]) -> None:
            messages = [m for m in body.get("messages", []) if m.get("role") != "system"]
            last = messages[-1] if messages else {"content": ""}
            content = last.get("content")
            after_tool = isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content
            )
            prompt = ""
            for m in reversed(messages):
                if m.get("role") == "user" and _text_of(m.get("content")).strip():
                    prompt = _text_of(m.get("content"))
                    break
            fmt = (body.get("output_config") or {}).get("format") or {}
            if fmt.get("type") == "json_schema":
                self._anthropic_reply(
                    body, Reply("anthropic", "title", prompt), text='{"title": "Fake title"}'
                )
                return
            plan = _plan_for(prompt)
            if plan is not None:  # a scripted sequence of tool calls, one per turn
                done = _tool_results(messages)
                offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
                if done < len(plan) and plan[done][0] not in offered:  # a model calls only what it is given
                    self._anthropic_reply(
                        body, Reply("anthropic", "turn", prompt), text=f"FAKE_DONE: no tool {plan[done][0]}"
                    )
                elif done < len(plan):
                    name, args = plan[done]
                    tool = (name, _resolve(args, _result_texts(messages)))
                    self._anthropic_reply(body, Reply("anthropic", "turn", prompt), tool=tool)
                else:
                    self._anthropic_reply(
                        body, Reply("anthropic", "turn", prompt), text="FAKE_DONE: plan finished"
                    )
                return
            if not after_tool:
                time.sleep(_delay_for(prompt))
            if not after_tool and (status := _error_for(prompt, fake.failures)):
                self._error("anthropic", prompt, status)
                return
            tool = None if after_tool else _tool_for(prompt, "Bash")
            if after_tool:
                self._anthropic_reply(
                    body, Reply("anthropic", "tool-done", prompt), text="FAKE_DONE: tool finished"
                )
            elif tool:
                self._anthropic_reply(body, Reply("anthropic", "turn", prompt), tool=tool)
            else:
                text = f"Hello from the fake LLM. You said: {prompt.strip()[:80]}"
                self._anthropic_reply(
                    body, Reply("anthropic", "turn", prompt), text=text, sleep=_sleep_for(prompt)
                )

        def _anthropic_reply(
            self,
            body: dict[str, Any],
            reply: Reply,
            text: str = "",
            tool: tuple[str, dict[str, Any]] | None = None,
            sleep: float = 0.0,
        ) -> None:
            usage = fake.record(reply)
            model = body.get("model", "claude-fake")
            msg_id = f"msg_fake{len(fake.replies):04d}"
            start_usage = {
                "input_tokens": usage["input_tokens"],
                "output_tokens": 1,
                "cache_read_input_tokens": usage["cache_read_input_tokens"],
                "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
            }
            if not body.get("stream"):
                blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
                if tool:
                    blocks = [
                        {"type": "tool_use", "id": f"toolu_{msg_id}", "name": tool[0], "input": tool[1]}
                    ]
                self._json(
                    200,
                    {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": blocks,
                        "stop_reason": "tool_use" if tool else "end_turn",
                        "stop_sequence": None,
                        "usage": usage,
                    },
                )
                return
            self._sse_start()
            self._event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": msg_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": start_usage,
                    },
                },
            )
            if tool:
                block = {"type": "tool_use", "id": f"toolu_{msg_id}", "name": tool[0], "input": {}}
                self._event(
                    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
                )
                delta = {"type": "input_json_delta", "partial_json": json.dumps(tool[1])}
                self._event(
                    "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
                )
            else:
                block = {"type": "text", "text": ""}
                self._event(
                    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
                )
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    delta = {"type": "text_delta", "text": piece}
                    self._event(
                        "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
                    )
                    if i == 1 and sleep:
                        time.sleep(sleep)
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
            self._event("message_stop", {"type": "message_stop"})

        # OpenAI Responses -------------------------------------------------
        def _responses(self, body: dict[str, Any]) -> None:
            items = body.get("input") or []
            if isinstance(items, str):
                items = [{"type": "message", "role": "user", "content": items}]
            after_tool = bool(items) and items[-1].get("type") == "function_call_output"
            prompt = ""
            for item in reversed(items):
                if item.get("role") == "user" and _text_of(item.get("content")).strip():
                    prompt = _text_of(item.get("content"))
                    break
            if not body.get("tools"):  # Codex asks for a session title without tools
                self._responses_reply(body, Reply("responses", "title", prompt), text="Fake session title")
                return
            if not after_tool:
                time.sleep(_delay_for(prompt))
            if not after_tool and (status := _error_for(prompt, fake.failures)):
                self._error("responses", prompt, status)
                return
            if after_tool:
                self._responses_reply(
                    body, Reply("responses", "tool-done", prompt), text="FAKE_DONE: tool finished"
                )
                return
            tool = _tool_for(prompt, "exec_command")
            text = f"Hello from the fake LLM. You said: {prompt.strip()[:80]}"
            self._responses_reply(
                body, Reply("responses", "turn", prompt), text=text, tool=tool, sleep=_sleep_for(prompt)
            )

        def _responses_reply(
            self,
            body: dict[str, Any],
            reply: Reply,
            text: str = "",
            tool: tuple[str, dict[str, Any]] | None = None,
            sleep: float = 0.0,
        ) -> None:
            usage = fake.record(reply)
            n = len(fake.replies)
            rid = f"resp_fake{n:04d}"
            wire_usage = {
                "input_tokens": usage["input_tokens"],
                "input_tokens_details": {"cached_tokens": usage["cache_read_input_tokens"]},
                "output_tokens": usage["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            }
            model = body.get("model", "fake-model")
            base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model}
            self._sse_start()
            self._event(
                "response.created",
                {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}},
            )
            if tool:
                item: dict[str, Any] = {
                    "type": "function_call",
                    "id": f"fc_fake{n:04d}",
                    "call_id": f"call_fake{n:04d}",
                    "name": tool[0],
                    "arguments": json.dumps(tool[1]),
                    "status": "completed",
                }
                self._event(
                    "response.output_item.added",
                    {
                        "type": "response.output_item.added",
                        "output_index": 0,
                        "item": {**item, "arguments": ""},
                    },
                )
            else:
                mid = f"msg_fake{n:04d}"
                empty = {
                    "type": "message",
                    "id": mid,
                    "role": "assistant",
                    "status": "in_progress",
                    "content": [],
                }
                self._event(
                    "response.output_item.added",
                    {"type": "response.output_item.added", "output_index": 0, "item": empty},
                )
                part = {"type": "output_text", "text": "", "annotations": []}
                self._event(
                    "response.content_part.added",
                    {
                        "type": "response.content_part.added",
                        "item_id": mid,
                        "output_index": 0,
                        "content_index": 0,
                        "part": part,
                    },
                )
                for i, word in enumerate(text.split(" ")):
                    piece = word if i == 0 else " " + word
                    self._event(
                        "response.output_text.delta",
                        {
                            "type": "response.output_text.delta",
                            "item_id": mid,
                            "output_index": 0,
                            "content_index": 0,
                            "delta": piece,
                        },
                    )
                    if i == 1 and sleep:
                        time.sleep(sleep)
                done_part = {"type": "output_text", "text": text, "annotations": []}
                self._event(
                    "response.output_text.done",
                    {
                        "type": "response.output_text.done",
                        "item_id": mid,
                        "output_index": 0,
                        "content_index": 0,
                        "text": text,
                    },
                )
                self._event(
                    "response.content_part.done",
                    {
                        "type": "response.content_part.done",
                        "item_id": mid,
                        "output_index": 0,
                        "content_index": 0,
                        "part": done_part,
                    },
                )
                item = {**empty, "status": "completed", "content": [done_part]}
            self._event(
                "response.output_item.done",
                {"type": "response.output_item.done", "output_index": 0, "item": item},
            )
            self._event(
                "response.completed",
                {
                    "type": "response.completed",
                    "response": {**base, "status": "completed", "output": [item], "usage": wire_usage},
                },
            )

        # Gemini generateContent -------------------------------------------
        def _gemini(self, body: dict[str, Any], stream: bool, model: str) -> None:
            contents = body.get("contents") or []
            last = contents[-1] if contents else {"parts": []}
            after_tool = any("functionResponse" in p for p in last.get("parts") or [])
            prompt = ""
            for item in reversed(contents):
                texts = [
                    str(p["text"])
                    for p in item.get("parts") or []
                    if isinstance(p.get("text"), str) and not p["text"].startswith("<session_context>")
                ]
                if item.get("role") == "user" and "".join(texts).strip():
                    prompt = texts[-1]
                    break
            config = body.get("generationConfig") or {}
            if not stream or config.get("responseMimeType") == "application/json":
                # side requests (model routing, next-speaker checks): JSON that fits their schema
                schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
                text = json.dumps(_fill(schema)) if schema else "Fake answer"
                self._gemini_reply(body, Reply("gemini", "side", prompt), model, stream, text=text)
                return
            if not after_tool:
                time.sleep(_delay_for(prompt))
            if not after_tool and (status := _error_for(prompt, fake.failures)):
                self._error("gemini", prompt, status)
                return
            if after_tool:
                self._gemini_reply(
                    body, Reply("gemini", "tool-done", prompt), model, stream, text="FAKE_DONE: tool finished"
                )
                return
            tool = _tool_for(prompt, "run_shell_command")
            if tool and tool[0] == "run_shell_command":
                tool = ("run_shell_command", {"command": tool[1]["cmd"], "description": "fake shell call"})
            text = f"Hello from the fake LLM. You said: {prompt.strip()[:80]}"
            self._gemini_reply(
                body,
                Reply("gemini", "turn", prompt),
                model,
                stream,
                text=text,
                tool=tool,
                sleep=_sleep_for(prompt),
            )

        def _gemini_reply(
            self,
            body: dict[str, Any],
            reply: Reply,
            model: str,
            stream: bool,
            text: str = "",
            tool: tuple[str, dict[str, Any]] | None = None,
            sleep: float = 0.0,
        ) -> None:
            usage = fake.record(reply)
            name = model.split(":")[0]
            meta = {
                "promptTokenCount": usage["input_tokens"] + usage["cache_read_input_tokens"],
                "candidatesTokenCount": usage["output_tokens"],
                "cachedContentTokenCount": usage["cache_read_input_tokens"],
                "totalTokenCount": usage["input_tokens"]
                + usage["cache_read_input_tokens"]
                + usage["output_tokens"],
            }

            def chunk(parts: list[dict[str, Any]], finish: str | None, with_usage: bool) -> dict[str, Any]:
                candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
                if finish:
                    candidate["finishReason"] = finish
                out: dict[str, Any] = {"candidates": [candidate], "modelVersion": name}
                out["responseId"] = f"fake{len(fake.replies):04d}"
                if with_usage:
                    out["usageMetadata"] = meta
                return out

            pieces: list[list[dict[str, Any]]]
            if tool:
                pieces = [[{"functionCall": {"name": tool[0], "args": tool[1]}}]]
            else:
                words = text.split(" ")
                pieces = [[{"text": (w if i == 0 else " " + w)}] for i, w in enumerate(words)]
            if not stream:
                joined: list[dict[str, Any]] = [{"text": text}] if not tool else pieces[0]
                self._json(200, chunk(joined, "STOP", True))
                return
            self._sse_start()
            for i, parts in enumerate(pieces):
                final = i == len(pieces) - 1
                self._event(None, chunk(parts, "STOP" if final else None, final))
                if i == 1 and sleep:
                    time.sleep(sleep)

        # OpenAI Chat Completions -----------------------------------------
        def _chat(self, body: dict[str, Any]) -> None:
            messages = body.get("messages") or []
            system = " ".join(_text_of(m.get("content")) for m in messages if m.get("role") == "system")
            prompt = next(
                (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
            )
            if not body.get("stream") and "commit message" in system.lower():
                usage = fake.record(Reply("chat", "commit", prompt))
                time.sleep(_sleep_for(prompt))  # the diff may carry FAKE_SLEEP too
                self._json(
                    200,
                    {
                        "id": f"chatcmpl-fake{len(fake.replies):04d}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "fake: automated commit"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": usage["input_tokens"],
                            "completion_tokens": usage["output_tokens"],
                            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
                        },
                    },
                )
                return
            time.sleep(_delay_for(prompt))
            if status := _error_for(prompt, fake.failures):
                self._error("chat", prompt, status)
                return
            m = re.search(r"FAKE_FILE (\S+) ([^\n]+)", prompt)
            if m:
                content = m.group(2).strip().replace("\\n", "\n")
                text = f"Creating {m.group(1)}.\n\n{m.group(1)}\n```\n{content}\n```\n"
            else:
                text = f"Hello from the fake LLM. You said: {prompt.strip()[:80]}"
            usage = fake.record(Reply("chat", "turn", prompt))
            cid = f"chatcmpl-fake{len(fake.replies):04d}"
            self._sse_start()
            sleep = _sleep_for(prompt)
            for i, word in enumerate(text.split(" ")):
                piece = word if i == 0 else " " + word
                chunk = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
                    ],
                }
                self._event(None, chunk)
                if i == 1 and sleep:
                    time.sleep(sleep)
            end = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": usage["input_tokens"],
                    "completion_tokens": usage["output_tokens"],
                    "total_tokens": usage["input_tokens"] + usage["output_tokens"],
                },
            }
            self._event(None, end)
            self._event(None, "[DONE]")

    return Handler


if __name__ == "__main__":  # a manual run: `python tests/fakellm.py`
    server = FakeLLM().start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
