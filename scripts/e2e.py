#!/usr/bin/env python3
"""End-to-end check of the chat page with headless Chromium driven through WebDriver
(chromedriver), standard library only.

Opens the page, types a question and presses Enter, waits for the streamed answer, then checks
that the answer text, its sources and two loaded <audio> elements (question and answer) are
there, and saves a screenshot. Exit status 0 on success, 1 with a message otherwise.

With --upload FILE (a PDF), the document is first uploaded through the page's documents panel
and indexed; the answer must cite it, its citation must open the PDF at --expect-page, the
conversation must survive a reload and go with "Nouvelle conversation", and the document is
deleted through the page at the end.

Usage: e2e.py URL [--question Q] [--screenshot FILE] [--timeout S] [--upload PDF --expect-page N]
"""
import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, binary, driver, width, height):
        self.port = free_port()
        # Chromium's profile in a folder of our own, removed by close(): the profile chromedriver
        # would create otherwise (/tmp/org.chromium.Chromium.scoped_dir.*, ~18 MB) outlives a
        # terminated driver.
        self.profile = tempfile.mkdtemp(prefix="ragchat-e2e-chromium-")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 20
        while True:
            try:
                self.call("GET", "/status")
                break
            except Exception:
                if time.time() > deadline:
                    raise RuntimeError("chromedriver did not start")
                time.sleep(0.2)
        options = {
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={max(width, 800)},{height}", "--autoplay-policy=no-user-gesture-required",
                     "--mute-audio", "--no-first-run", "--disable-extensions", f"--user-data-dir={self.profile}"],
        }
        if width < 800:
            # Headless windows are at least ~500 px wide: emulate a phone's viewport instead.
            options["mobileEmulation"] = {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1, "touch": True}}
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def script(self, source, *args):
        return self.s("POST", "/execute/sync", {"script": source, "args": list(args)})

    def close(self):
        try:
            self.s("DELETE", "")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_for(wd, script, timeout, *args):
    """Polls `script` (returning a truthy value when done) until `timeout` seconds; its last value."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = wd.script(script, *args)
        if value:
            return value
        time.sleep(0.25)
    return value


def element(wd, css):
    found = wd.s("POST", "/element", {"using": "css selector", "value": css})
    return next(iter(found.values()))


def upload_through_page(wd, path, timeout):
    """Opens the documents panel, picks `path` in its file input and waits until the list shows
    the file indexed. Returns a list of problems."""
    name = os.path.basename(path)
    if not wait_for(wd, "return !document.querySelector('#documents-toggle').hidden", 10):
        return ["the page shows no Documents button"]
    wd.s("POST", f"/element/{element(wd, '#documents-toggle')}/click", {})
    if not wait_for(wd, "return !document.querySelector('#documents').hidden", 5):
        return ["the documents panel did not open"]
    wd.s("POST", f"/element/{element(wd, '#upload')}/value", {"text": os.path.abspath(path)})
    status = wait_for(wd, "const li = document.querySelector(`#documents-list li[data-file=\"${arguments[0]}\"]`);"
                          "return li && li.dataset.status === 'indexed' ? 'indexed' : (li && li.dataset.status === 'failed' ? 'failed' : null);",
                      timeout, name)
    if status != "indexed":
        message = wd.script("return document.querySelector('#documents-message').textContent")
        return [f"{name} was not indexed within {timeout:.0f} s (status {status}, message {message!r})"]
    return []


def drop_on_page(wd, name, text, timeout):
    """Drops a text file on the page (the drag-and-drop events a browser sends, with a File in
    their DataTransfer) and waits until the documents list shows it indexed."""
    wd.script("""
        const dt = new DataTransfer();
        dt.items.add(new File([arguments[1]], arguments[0], {type: 'text/plain'}));
        for (const type of ['dragenter', 'dragover', 'drop']) {
          document.body.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""", name, text)
    status = wait_for(wd, "const li = document.querySelector(`#documents-list li[data-file=\"${arguments[0]}\"]`);"
                          "return li && li.dataset.status === 'indexed' ? 'indexed' : null;", timeout, name)
    return [] if status == "indexed" else [f"{name}, dropped on the page, was not indexed within {timeout:.0f} s"]


def check_citation(wd, name, page, shots):
    """The answer's citation of `name` must link to the PDF at `page` and the link must serve it."""
    href = wd.script("for (const li of document.querySelectorAll('.exchange .sources li')) {"
                     "  if (li.querySelector('.where').textContent.includes(arguments[0])) {"
                     "    const a = li.querySelector('a.open-source'); return a ? a.href : ''; } } return null;", name)
    if href is None:
        return [f"no source from {name}"]
    if not href:
        return [f"the source from {name} has no link to open it"]
    problems = []
    if not href.endswith(f"#page={page}"):
        problems.append(f"the citation opens {href}, not page {page}")
    fetched = wd.s("POST", "/execute/async", {"script": """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0].split('#')[0], {headers: withKey()}).then(async (r) => {
          const bytes = new Uint8Array(await r.arrayBuffer());
          done({status: r.status, type: r.headers.get('content-type'), head: String.fromCharCode(...bytes.slice(0, 5))});
        }).catch((e) => done({error: String(e)}));""", "args": [href]})
    if not fetched or fetched.get("status") != 200 or fetched.get("type") != "application/pdf" or fetched.get("head") != "%PDF-":
        problems.append(f"the citation's link does not serve the PDF: {fetched}")
    if wd.script("return !!serverKey"):
        return problems   # a plain navigation cannot send the key (the page opens a blob instead)
    # The cited source as the browser opens it (the PDF viewer at that page).
    page_url = wd.s("GET", "/url")
    wd.s("POST", "/url", {"url": href})
    time.sleep(2)
    with open(shots("source"), "wb") as f:
        f.write(base64.b64decode(wd.s("GET", "/screenshot")))
    wd.s("POST", "/url", {"url": page_url})
    return problems


def check_conversation_kept(wd, answer):
    """After a reload the exchange is still there; "Nouvelle conversation" clears it."""
    wd.s("POST", "/refresh", {})
    restored = wait_for(wd, "const ex = document.querySelector('.exchange');"
                            "return ex ? ex.querySelector('.answer .text').textContent : null;", 10)
    problems = []
    if not restored or restored.strip() != answer.strip():
        problems.append(f"the conversation was not kept across a reload (found {str(restored)[:80]!r})")
    wd.s("POST", f"/element/{element(wd, '#new-conversation')}/click", {})
    left = wd.script("return [document.querySelectorAll('.exchange').length, localStorage.getItem('ragchat-conversation')]")
    if left[0] != 0 or left[1]:
        problems.append(f"'Nouvelle conversation' left {left[0]} exchanges and storage {str(left[1])[:80]!r}")
    return problems


def delete_through_page(wd, name, timeout):
    """Deletes `name` with its button in the documents panel (accepting the confirmation)."""
    if wd.script("return document.querySelector('#documents').hidden"):
        wd.s("POST", f"/element/{element(wd, '#documents-toggle')}/click", {})
    button = wait_for(wd, "return document.querySelector(`#documents-list li[data-file=\"${arguments[0]}\"] .doc-delete`) ? true : null",
                      10, name)
    if not button:
        return [f"no delete button for {name}"]
    selector = '#documents-list li[data-file="%s"] .doc-delete' % name
    # The list is redrawn whenever indexing progresses: a button found a moment ago may be gone.
    for attempt in range(10):
        try:
            wd.s("POST", f"/element/{element(wd, selector)}/click", {})
            break
        except RuntimeError as e:
            if "stale element" not in str(e) or attempt == 9:
                raise
            time.sleep(0.2)
    wd.s("POST", "/alert/accept", {})
    gone = wait_for(wd, "return document.querySelector(`#documents-list li[data-file=\"${arguments[0]}\"]`) ? null : true",
                    timeout, name)
    return [] if gone else [f"{name} is still listed {timeout:.0f} s after its deletion"]


STATE_JS = """
const ex = document.querySelector('.exchange');
if (!ex) return {started: false};
const err = ex.querySelector('.error');
const audios = [...ex.querySelectorAll('audio')].map(a => ({
  src: a.src, readyState: a.readyState, duration: isFinite(a.duration) ? a.duration : 0}));
return {
  started: true,
  done: ex.dataset.done === 'true',
  error: err && !err.hidden ? err.textContent : null,
  answer: ex.querySelector('.answer .text').textContent,
  sources: [...ex.querySelectorAll('.sources li .where')].map(s => s.textContent),
  passages: [...ex.querySelectorAll('.sources li p')].map(p => p.textContent.length),
  audios,
  busy: document.querySelector('#send').disabled,
};
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--question", default="Quel est le secret d'une bonne tarte aux pommes ?")
    ap.add_argument("--expect-file", default=None, help="a source file name that must be cited")
    ap.add_argument("--screenshot", default=".build/e2e/screenshot.png")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--width", type=int, default=412)   # phone width
    ap.add_argument("--height", type=int, default=915)
    ap.add_argument("--key", default=None, help="the server key to type when the page asks for it")
    ap.add_argument("--upload", default=None, help="a PDF to upload through the page before asking")
    ap.add_argument("--expect-page", type=int, default=None, help="the page the citation of --upload must open")
    args = ap.parse_args()
    if args.upload:
        args.expect_file = os.path.basename(args.upload)
    stem, ext = os.path.splitext(args.screenshot)
    shots = lambda label: f"{stem}-{label}{ext}"

    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        print("e2e: needs the Debian packages chromium and chromium-driver", file=sys.stderr)
        return 1
    wd = WebDriver(binary, driver, args.width, args.height)
    try:
        wd.s("POST", "/url", {"url": args.url})
        # Record what the page's player plays, to check the question is spoken before the answer.
        wd.script("window.__played = []; player.addEventListener('play', "
                  "() => window.__played.push(player.src));")
        if args.key:
            # A server with a key: the page asks for it (status poll), then keeps it for the tab.
            deadline = time.time() + 20
            while time.time() < deadline and not wd.script("return !document.querySelector('#key-form').hidden"):
                time.sleep(0.25)
            if wd.script("return document.querySelector('#key-form').hidden"):
                print("e2e: FAIL: the page did not ask for the server key", file=sys.stderr)
                return 1
            key_el = wd.s("POST", "/element", {"using": "css selector", "value": "#server-key"})
            wd.s("POST", f"/element/{next(iter(key_el.values()))}/value", {"text": args.key + "\ue007"})
        problems = []
        if args.upload:
            problems += upload_through_page(wd, args.upload, args.timeout)
            with open(shots("documents"), "wb") as f:
                f.write(base64.b64decode(wd.s("GET", "/screenshot")))
            if problems:
                print("e2e: FAIL:", problems[0], file=sys.stderr)
                return 1
        el = wd.s("POST", "/element", {"using": "css selector", "value": "#question"})
        el_id = next(iter(el.values()))
        # Type the question and press Enter (U+E007): Enter must send.
        wd.s("POST", f"/element/{el_id}/value", {"text": args.question + "\ue007"})
        start = time.time()
        state = {}
        while time.time() - start < args.timeout:
            state = wd.script(STATE_JS) or {}
            if state.get("error") or state.get("done"):
                break
            time.sleep(0.25)
        answered = time.time() - start
        # Give the audio elements a moment to load their clips.
        while state.get("done") and time.time() - start < args.timeout:
            if all(a["readyState"] >= 2 for a in state["audios"]):
                break
            time.sleep(0.25)
            state = wd.script(STATE_JS) or {}
        # Let the player start the first clips.
        for _ in range(20):
            played = wd.script("return window.__played || []") or []
            if len(played) >= 2:
                break
            time.sleep(0.25)
        # Open the sources and the first passage for the screenshot.
        wd.script("const ex = document.querySelector('.exchange'); if (ex) { const b = ex.querySelector('.sources-box'); "
                  "if (b) b.open = true; const d = ex.querySelector('.sources li details'); if (d) d.open = true; }")
        time.sleep(0.3)
        os.makedirs(os.path.dirname(args.screenshot) or ".", exist_ok=True)
        png = base64.b64decode(wd.s("GET", "/screenshot"))
        with open(args.screenshot, "wb") as f:
            f.write(png)

        if not state.get("started"):
            problems.append("no exchange appeared after pressing Enter")
        if state.get("error"):
            problems.append(f"the page shows an error: {state['error']}")
        if not state.get("done"):
            problems.append(f"no complete answer within {args.timeout:.0f} s")
        if len((state.get("answer") or "").strip()) < 10:
            problems.append(f"answer too short: {state.get('answer')!r}")
        sources = state.get("sources") or []
        if not sources:
            problems.append("no sources shown")
        if args.expect_file and not any(args.expect_file in s for s in sources):
            problems.append(f"no source from {args.expect_file}: {sources}")
        audios = state.get("audios") or []
        loaded = [a for a in audios if a["src"] and a["readyState"] >= 2 and a["duration"] > 0.3]
        if len(loaded) < 2:
            problems.append(f"expected two loaded audio elements, got {audios}")
        question_clip = audios[0]["src"] if audios else None
        if not played:
            problems.append("nothing was played aloud")
        elif played[0] != question_clip:
            problems.append(f"the question was not spoken first: played {played}, question clip {question_clip}")
        elif len(played) < 2:
            problems.append(f"the answer was not spoken after the question: played {played}")
        if args.upload and state.get("done"):
            name = os.path.basename(args.upload)
            problems += check_citation(wd, name, args.expect_page, shots)
            problems += check_conversation_kept(wd, state.get("answer") or "")
            problems += delete_through_page(wd, name, args.timeout)
            dropped = "carnet-de-route.txt"
            problems += drop_on_page(wd, dropped, "Carnet de route.\n\nLa source du Pré Long ne tarit jamais.\n", args.timeout)
            problems += delete_through_page(wd, dropped, args.timeout)
        print(json.dumps({"played": played, "answer_seconds": round(answered, 2), "answer": (state.get("answer") or "")[:300],
                          "sources": sources, "audios": audios, "screenshot": args.screenshot}, ensure_ascii=False, indent=1))
        if problems:
            for p in problems:
                print("e2e: FAIL:", p, file=sys.stderr)
            return 1
        print("e2e: OK")
        return 0
    finally:
        wd.close()


if __name__ == "__main__":
    sys.exit(main())
