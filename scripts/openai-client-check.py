#!/usr/bin/env python3
"""The official `openai` Python client against RAGChat's OpenAI-compatible routes.

    python scripts/openai-client-check.py BASE_URL [KEY]

Lists the models, asks one question without and with streaming (the streamed text must be the
same answer, and both must carry the passages in `sources`), checks that errors surface as the
client's own exceptions, and, with KEY (the server's RAGCHAT_SERVER_KEY), that a wrong key is an
AuthenticationError. Prints a JSON summary; exits 1 on the first failed check.
"""
import json
import sys

import openai

base, key = sys.argv[1].rstrip("/"), (sys.argv[2] if len(sys.argv) > 2 else "no-key-needed")
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)
question = "Quel est le secret d'une bonne tarte aux pommes ?"
summary = {"openai": openai.__version__}


def check(condition, message):
    if not condition:
        print("openai-client-check: FAIL:", message, file=sys.stderr)
        sys.exit(1)


models = client.models.list()
check([m.id for m in models.data] == ["ragchat"], f"models: {models}")

messages = [{"role": "system", "content": "Réponds en français."}, {"role": "user", "content": question}]
whole = client.chat.completions.create(model="ragchat", messages=messages)
answer = whole.choices[0].message.content or ""
check(whole.object == "chat.completion" and whole.choices[0].finish_reason == "stop", f"shape: {whole}")
check("secret" in answer.lower(), f"answer: {answer!r}")
sources = (whole.model_extra or {}).get("sources") or []
check(sources and all("file" in s and "text" in s for s in sources), f"sources: {sources}")
summary.update(answer=answer[:120], sources=[s["file"] for s in sources])

pieces, finish, streamed_sources, chunks = [], None, None, 0
for chunk in client.chat.completions.create(model="any-name", messages=messages, stream=True):
    chunks += 1
    check(chunk.object == "chat.completion.chunk" and chunk.model == "any-name", f"chunk: {chunk}")
    choice = chunk.choices[0]
    if choice.delta.content:
        pieces.append(choice.delta.content)
    if choice.finish_reason:
        finish = choice.finish_reason
        streamed_sources = (chunk.model_extra or {}).get("sources")
check(finish == "stop", f"stream ended without finish_reason: {finish}")
check("".join(pieces) == answer, f"streamed answer differs: {''.join(pieces)!r} vs {answer!r}")
check(streamed_sources == sources, "the last chunk's sources differ from the whole answer's")
summary.update(stream_chunks=chunks)

# A follow-up with history, and content given as parts.
follow = client.chat.completions.create(model="ragchat", messages=messages + [
    {"role": "assistant", "content": answer},
    {"role": "user", "content": [{"type": "text", "text": "Et comment faire la pâte brisée ?"}]}])
check(len(follow.choices[0].message.content or "") > 20, f"follow-up: {follow}")

try:
    client.chat.completions.create(model="ragchat", messages=[{"role": "assistant", "content": "x"}])
    check(False, "a conversation that does not end with the user was accepted")
except openai.BadRequestError as e:
    summary["bad_request"] = e.status_code

if len(sys.argv) > 2:
    wrong = openai.OpenAI(base_url=base + "/v1", api_key="wrong-key-0123456789", max_retries=0)
    try:
        wrong.chat.completions.create(model="ragchat", messages=messages)
        check(False, "a wrong key was accepted")
    except openai.AuthenticationError as e:
        summary["wrong_key"] = e.status_code

print(json.dumps(summary, ensure_ascii=False))
print("openai-client-check: OK")
