"""Replays a scripted Anthropic-style agent conversation against a local test server.

Usage: conversation.py PORT MODE TURNS
  MODE=stable     system prompt fixed, turns appended: the prompt cache should hit.
  MODE=timestamp  a timestamp in the cached system prompt changes every request: every
                  request breaks the cache (the injected breaker).
"""
import http.client, json, ssl, sys, time

port, mode, turns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl._create_unverified_context()
conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
tools = [{"name": "lookup_invoice", "description": "Find an invoice by id. " * 40,
          "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}}}]
base_system = "You are a meticulous assistant for an accounting team. " * 60
history = []
for turn in range(turns):
    system = base_system
    if mode == "timestamp":
        system = f"Current time: {time.time_ns()}. " + base_system
    history.append({"role": "user", "content": f"Question number {turn}: what is the status of invoice {1000 + turn}?"})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 256, "tools": tools,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": history}
    conn.request("POST", "/v1/messages", body=json.dumps(body),
                 headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    history.append({"role": "assistant", "content": data["content"][0]["text"]})
    time.sleep(0.05)
