/* codecbench Listen page: the results of one comparison, drawn in the browser.
 *
 * Gradio only tells this script the run id (an element `.listen-run[data-run]`). The script
 * polls `listen-api/runs/<id>/state` until the comparison and its scores are complete, and
 * draws: a status line, the lockstep player, the spectrogram strips aligned under it with a
 * moving cursor and the loop region, one card per condition, and the scores as they arrive.
 *
 * Lockstep player (as the MUSHRA one): the original and every reconstruction are decoded into
 * one AudioContext and run as looping AudioBufferSourceNodes started at one shared time, each
 * behind its own GainNode; exactly one is audible. Switching (click, or keys 1-9) fades the old
 * one out over 5 ms and the new one in at the same position: no restart, no gap.
 * Every text that comes from a user (the file name) is set with textContent, never as HTML; so is
 * every other text of the record (titles, errors, token figures and their warnings).
 */
(function () {
  "use strict";
  if (window.codecbenchListenStart) return;

  const POLL_MS = 300;
  const FADE_S = 0.005;
  const LEAD_S = 0.01;
  const MIN_LOOP_S = 0.1;
  const API = "listen-api/runs/";
  // Stop polling a comparison after this long (ViSQOL on a 10-minute clip takes well under a minute).
  const MAX_WAIT_MS = 15 * 60 * 1000;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function raisedCosine(seconds, sampleRate, rising) {
    const n = Math.max(2, Math.round(seconds * sampleRate));
    const curve = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = 0.5 - 0.5 * Math.cos((Math.PI * i) / (n - 1));
      curve[i] = rising ? x : 1 - x;
    }
    return curve;
  }

  /* Plays the decoded tracks from one shared position; the selected one is audible. */
  class LockstepEngine {
    constructor(context) {
      this.context = context;
      this.tracks = []; // AudioBuffer or null (not decoded yet, or failed)
      this.output = context.createChannelMerger(2);
      this.output.connect(context.destination);
      this.fadeIn = raisedCosine(FADE_S, context.sampleRate, true);
      this.fadeOut = raisedCosine(FADE_S, context.sampleRate, false);
      this.selected = 0;
      this.loopStart = 0;
      this.loopEnd = 0;
      this.offset = 0;
      this.generation = null;
      this.switches = 0;
    }

    get duration() {
      const buffers = this.tracks.filter(Boolean);
      return buffers.length ? Math.min(...buffers.map((b) => b.duration)) : 0;
    }

    get playing() {
      return this.generation !== null;
    }

    add(index, buffer) {
      const wholeLoop = this.loopEnd === 0 || this.loopEnd >= this.duration - 1e-6;
      this.tracks[index] = buffer;
      if (wholeLoop || this.loopEnd > this.duration) this.loopEnd = this.duration;
      this.loopStart = Math.min(this.loopStart, Math.max(0, this.loopEnd - MIN_LOOP_S));
      if (this.playing) this._restart(); // the new track joins the running ones
    }

    position() {
      if (!this.generation) return this.offset;
      const elapsed = Math.max(0, this.context.currentTime - this.generation.startedAt);
      let p = this.generation.offset + elapsed;
      const span = this.loopEnd - this.loopStart;
      if (p >= this.loopEnd && span > 0) p = this.loopStart + ((p - this.loopStart) % span);
      return p;
    }

    play() {
      if (this.generation || !this.tracks[this.selected]) return;
      this.context.resume();
      this.generation = this._start(this.context.currentTime + LEAD_S, this.offset);
    }

    pause() {
      if (!this.generation) return;
      this.offset = this.position();
      this._stop(this.generation, this.context.currentTime + LEAD_S);
      this.generation = null;
    }

    select(index) {
      if (index === this.selected || !this.tracks[index]) return false;
      const previous = this.selected;
      this.selected = index;
      this.switches += 1;
      if (!this.generation) return true;
      const when = this.context.currentTime + LEAD_S;
      const oldGain = this.generation.gains[previous].gain;
      const newGain = this.generation.gains[index].gain;
      oldGain.cancelScheduledValues(when);
      oldGain.setValueCurveAtTime(this.fadeOut, when, FADE_S);
      newGain.cancelScheduledValues(when);
      newGain.setValueCurveAtTime(this.fadeIn, when + FADE_S, FADE_S);
      return true;
    }

    seek(seconds) {
      this.offset = Math.max(this.loopStart, Math.min(seconds, this.loopEnd - 1e-3));
      if (this.generation) this._restart(this.offset);
    }

    setLoop(start, end) {
      start = Math.max(0, Math.min(start, this.duration));
      end = Math.max(0, Math.min(end, this.duration));
      if (end - start < MIN_LOOP_S) return;
      const position = this.position();
      this.loopStart = start;
      this.loopEnd = end;
      const inside = position >= start && position < end ? position : start;
      this.offset = inside;
      if (this.generation) this._restart(inside);
    }

    close() {
      this.pause();
      this.output.disconnect();
    }

    _restart(offset) {
      const at = offset === undefined ? this.position() : offset;
      this.pause();
      this.offset = Math.max(this.loopStart, Math.min(at, this.loopEnd - 1e-3));
      this.play();
    }

    _start(when, offset) {
      const sources = [];
      const gains = [];
      this.tracks.forEach((buffer, index) => {
        const gain = this.context.createGain();
        gain.gain.value = 0;
        gains[index] = gain;
        if (!buffer) return;
        gain.connect(this.output, 0, 0); // mono on both channels
        gain.connect(this.output, 0, 1);
        const source = this.context.createBufferSource();
        source.buffer = buffer;
        source.loop = true;
        source.loopStart = this.loopStart;
        source.loopEnd = this.loopEnd;
        source.connect(gain);
        source.start(when, offset);
        sources.push(source);
      });
      const selected = gains[this.selected].gain;
      selected.setValueAtTime(0, when);
      selected.setValueCurveAtTime(this.fadeIn, when, FADE_S);
      return { sources, gains, startedAt: when, offset };
    }

    _stop(generation, when) {
      const gain = generation.gains[this.selected].gain;
      gain.cancelScheduledValues(when);
      gain.setValueCurveAtTime(this.fadeOut, when, FADE_S);
      generation.sources.forEach((s) => s.stop(when + FADE_S));
      setTimeout(() => generation.gains.forEach((g) => g.disconnect()), (when - this.context.currentTime + 0.1) * 1000);
    }
  }

  function fileUrl(runId, name) {
    return API + encodeURIComponent(runId) + "/files/" + encodeURIComponent(name);
  }

  function formatValue(result) {
    if (result.value === null) return "n/a";
    return result.metric === "sisnr" ? result.value.toFixed(1) + " dB" : result.value.toFixed(2);
  }

  function scoreTable(results) {
    const head = el("tr", {}, ...results.map((r) => el("th", { text: r.label })));
    const cells = results.map((r) => {
      if (r.not_applicable) return el("td", { class: "metric-na", title: r.not_applicable, text: "n/a" });
      if (r.error) return el("td", { class: "metric-failed", title: r.error, text: "n/a" });
      return el("td", { text: formatValue(r) });
    });
    const notes = results.filter((r) => r.not_applicable || r.error)
      .map((r) => el("li", { text: r.label + ": " + (r.not_applicable || r.error) }));
    return [el("table", {}, el("thead", {}, head), el("tbody", {}, el("tr", {}, ...cells))),
            notes.length ? el("ul", { class: "score-notes" }, ...notes) : null];
  }

  function rateText(summary) {
    if (summary.measured_kbps === null) return "no bitstream (anchor)";
    let text = summary.measured_kbps.toFixed(2) + " kbps measured (nominal " + summary.nominal_kbps + ")";
    if (summary.side_info_bits) text += " + " + summary.side_info_bits + " bits of side information per clip";
    return text;
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? "n/a" : value.toFixed(digits);
  }

  function percent(share) {
    return share === null || share === undefined ? "n/a" : (100 * share).toFixed(1) + " %";
  }

  /* A token codec's figures for the clip (outcome.tokens: the record `codecbench tokens` prints),
   * or why there are none (outcome.tokens_note: a classical codec or an anchor sends no tokens). */
  function tokenFigures(outcome) {
    const t = outcome.tokens;
    if (!t) {
      if (!outcome.tokens_note) return null;
      const note = outcome.tokens_note;
      return el("p", { class: "condition-tokens condition-no-tokens",
        text: note.charAt(0).toUpperCase() + note.slice(1) + "." });
    }
    const nominal = outcome.summary.nominal_kbps;
    const parts = [
      el("p", { class: "tokens-rates", text: "Tokens: " + fixed(t.entropy_coded_kbps, 2) + " kbps entropy-coded · " +
        fixed(t.measured_kbps, 2) + " kbps measured · " + (nominal === null ? "n/a" : nominal) + " kbps nominal" }),
      el("p", { class: "tokens-codebooks", text: "codebook utilisation " + percent(t.mean_utilisation) + " · entropy " +
        fixed(t.mean_entropy_bits, 2) + " bits/token (means over codebooks) · " + t.tokens + " tokens, " +
        t.bits_per_token + " bits each as sent" }),
    ];
    if (t.streams.length > 1) {
      const head = el("tr", {}, ...[["stream", "FACodec's attribute streams"], ["codebooks", null],
        ["coded kbps", "entropy-coded kbps"], ["bits/token", "entropy-coded bits per token"],
        ["used", "mean codebook utilisation"]].map(([name, title]) => el("th", { text: name, title })));
      const rows = t.streams.map((s) => el("tr", {}, el("td", { text: s.stream }), el("td", { text: String(s.codebooks) }),
        el("td", { text: fixed(s.entropy_coded_kbps, 2) }), el("td", { text: fixed(s.coded_bits_per_token, 2) }),
        el("td", { text: percent(s.mean_utilisation) })));
      parts.push(el("table", { class: "tokens-streams" }, el("thead", {}, head), el("tbody", {}, ...rows)));
    }
    if (t.warnings.length) {
      parts.push(el("details", { class: "tokens-warnings" },
        el("summary", { text: t.warnings.length + " warning(s) about these figures" }),
        el("ul", {}, ...t.warnings.map((w) => el("li", { text: w })))));
    }
    return el("div", { class: "condition-tokens" }, ...parts);
  }

  /* One comparison on the page: its record, its cards, its player. */
  class Run {
    constructor(id, board, statusLine, context) {
      this.id = id;
      this.board = board;
      this.statusLine = statusLine;
      this.engine = new LockstepEngine(context);
      this.record = null;
      this.trackIndex = new Map(); // condition (or "original") -> track index
      this.decoding = new Set();
      this.decoded = 0;
      this.cards = new Map();
      this.finished = false;
      this.error = null;
      this.startedAt = Date.now();
      this._build();
    }

    get ready() {
      const record = this.record;
      if (!record || !record.done) return false;
      const wanted = 1 + record.outcomes.filter((o) => !o.error).length;
      return this.decoded >= wanted;
    }

    _build() {
      this.board.replaceChildren();
      this.header = el("div", { class: "original-card" });
      this.links = el("div", { class: "listen-links" });
      this.trackButtons = el("div", { class: "listen-tracks", role: "group", "aria-label": "what you hear" });
      this.playButton = el("button", { class: "listen-play", type: "button", onclick: () => this.toggle() }, "Play");
      this.positionText = el("span", { class: "listen-position" });
      const loopWhole = el("button", { class: "listen-loop-reset", type: "button",
        onclick: () => this.engine.setLoop(0, this.engine.duration) }, "Loop whole");
      this.strips = el("div", { class: "listen-strips" });
      this.loopShade = el("div", { class: "listen-loop" });
      this.cursor = el("div", { class: "listen-cursor" });
      this.strips.append(this.loopShade, this.cursor);
      this.player = el("div", { class: "listen-player" },
        el("div", { class: "listen-transport" }, this.playButton, loopWhole, this.positionText),
        this.trackButtons,
        el("p", { class: "listen-hint", text: "Click a name or a spectrogram, or press 1-9, to switch at the same " +
          "moment; drag across the spectrograms to loop a part." }),
        this.strips);
      this.cardGrid = el("div", { class: "listen-cards" });
      this.board.append(this.header, this.links, this.player, this.cardGrid);
      this._wireStrips();
    }

    toggle() {
      if (this.engine.playing) this.engine.pause();
      else this.engine.play();
    }

    select(index) {
      this.engine.select(index);
      this._markSelected();
    }

    update(record) {
      const first = this.record === null;
      this.record = record;
      if (first) this._drawHeader(record);
      this._addTrack("original", "original", record.original.audio, record.original.strip);
      for (const outcome of record.outcomes) {
        this._drawCard(outcome, record.scores);
        if (!outcome.error) this._addTrack(outcome.condition, outcome.title, outcome.audio, outcome.strip);
      }
      for (const condition of record.conditions.slice(record.outcomes.length)) this._drawPending(condition);
      this._drawStatus(record);
      this.finished = record.done && (record.scores.done || record.outcomes.every((o) => o.error));
    }

    _drawHeader(record) {
      this.header.append(el("h3", { text: "Original" }), el("div", {
        text: record.source_name + " · " + record.duration_s.toFixed(2) + " s · " +
          (record.sample_rate_hz / 1000) + " kHz (mono)" }));
      const base = API + encodeURIComponent(this.id);
      const share = location.origin + location.pathname + "?c=" +
        record.conditions.map((c) => encodeURIComponent(c).replace(/%40/g, "@")).join(",") +
        "&protocol=" + encodeURIComponent(record.visqol_protocol);
      const shareBox = el("input", { class: "listen-share", type: "text", readonly: true, value: share,
        "aria-label": "link to these conditions", onfocus: (e) => e.target.select() });
      this.links.append(
        el("a", { class: "listen-download-zip", href: base + "/download.zip", download: "comparison.zip" },
          "Download all (zip)"),
        el("a", { class: "listen-download-csv", href: base + "/scores.csv", download: "scores.csv" }, "Scores (CSV)"),
        el("label", { class: "listen-share-label" }, "Link to these conditions (your audio is not shared): ", shareBox));
    }

    _drawStatus(record) {
      const total = record.conditions.length;
      const done = record.outcomes.length;
      const failed = record.outcomes.filter((o) => o.error).length;
      let text;
      if (!record.done) {
        text = "Running " + record.conditions[done] + " (" + (done + 1) + " of " + total + ")…";
      } else {
        text = "Done: " + total + " condition(s)" + (failed ? ", " + failed + " failed (see below)." : ".");
        if (!record.scores.done && failed < total) text += " Scoring…";
        if (record.scores.error) text += " Scoring failed: " + record.scores.error;
      }
      if (this.statusLine.textContent !== text) this.statusLine.textContent = text;
    }

    _card(condition, title) {
      let card = this.cards.get(condition);
      if (!card) {
        card = el("div", { class: "condition-card", "data-condition": condition }, el("h3", { text: title }));
        this.cards.set(condition, card);
        this.cardGrid.append(card);
      }
      return card;
    }

    _drawPending(condition) {
      const card = this._card(condition, condition);
      if (!card.dataset.state) {
        card.dataset.state = "pending";
        card.append(el("p", { class: "condition-pending", text: "waiting…" }));
      }
    }

    _drawCard(outcome, scores) {
      const card = this._card(outcome.condition, outcome.title);
      if (card.dataset.state !== "done") {
        card.dataset.state = "done";
        card.querySelector("h3").textContent = outcome.title;
        card.querySelector(".condition-pending")?.remove();
        if (outcome.error) {
          card.append(el("p", { class: "condition-error", text: "Failed: " + outcome.error }));
        } else {
          const s = outcome.summary;
          const track = this.trackIndex.size; // the number key this condition will get (original is 1)
          card.append(...[
            el("p", { class: "condition-result", text: rateText(s) + " · processed in " + s.processing_s.toFixed(2) +
              " s (" + s.realtime_factor.toFixed(3) + "× real time)" }),
            tokenFigures(outcome),
            el("div", { class: "condition-scores", text: "scoring…" }),
            el("img", { class: "condition-spectrogram", alt: "spectrogram of " + outcome.title,
              src: fileUrl(this.id, outcome.spectrogram) }),
            outcome.codes ? el("div", { class: "condition-codes" },
              el("img", { alt: "codes of " + outcome.title, src: fileUrl(this.id, outcome.codes) })) : null,
            el("details", { class: "condition-alone" }, el("summary", { text: "This reconstruction alone" }),
              el("audio", { controls: true, preload: "metadata", src: fileUrl(this.id, outcome.audio) }),
              el("a", { href: fileUrl(this.id, outcome.audio), download: outcome.audio, text: " download" })),
          ].filter(Boolean));
          card.dataset.track = String(track);
        }
      }
      const results = scores.scores[outcome.condition];
      const table = card.querySelector(".condition-scores");
      if (table && !table.dataset.filled) {
        if (results) {
          table.replaceChildren(...scoreTable(results).filter(Boolean));
          table.dataset.filled = "1";
        } else if (scores.done) {
          table.textContent = "Scoring failed: " + (scores.error || "no scores came back");
          table.dataset.filled = "1";
        }
      }
    }

    _addTrack(key, title, audio, strip) {
      if (this.trackIndex.has(key)) return;
      const index = this.trackIndex.size;
      this.trackIndex.set(key, index);
      this.engine.tracks[index] = null;
      const label = (index < 9 ? index + 1 + " " : "") + title;
      const button = el("button", { class: "listen-track", type: "button", "data-track": String(index),
        disabled: true, onclick: () => this.select(index) }, label);
      this.trackButtons.append(button);
      const row = el("div", { class: "listen-strip", "data-track": String(index) },
        el("span", { class: "listen-strip-label", text: label }),
        el("img", { src: fileUrl(this.id, strip), alt: "spectrogram of " + title, draggable: "false" }));
      this.strips.insertBefore(row, this.loopShade);
      this._decode(index, audio, button);
      this._markSelected();
    }

    async _decode(index, name, button) {
      try {
        const response = await fetch(fileUrl(this.id, name));
        if (!response.ok) throw new Error("HTTP " + response.status);
        const buffer = await this.engine.context.decodeAudioData(await response.arrayBuffer());
        this.engine.add(index, buffer);
        this.decoded += 1;
        button.disabled = false;
      } catch (error) {
        button.title = "could not load this audio: " + error.message;
        this.error = String(error);
      }
    }

    _markSelected() {
      for (const node of this.board.querySelectorAll("[data-track]")) {
        if (node.classList.contains("condition-card")) continue;
        node.classList.toggle("selected", Number(node.dataset.track) === this.engine.selected);
        if (node.tagName === "BUTTON") node.setAttribute("aria-pressed", String(Number(node.dataset.track) === this.engine.selected));
      }
    }

    _wireStrips() {
      let down = null;
      const seconds = (event) => {
        const box = this.strips.getBoundingClientRect();
        const x = Math.max(0, Math.min(event.clientX - box.left, box.width));
        return (x / Math.max(1, box.width)) * this.engine.duration;
      };
      this.strips.addEventListener("pointerdown", (event) => {
        down = { x: event.clientX, at: seconds(event), row: event.target.closest(".listen-strip") };
        this.strips.setPointerCapture?.(event.pointerId);
      });
      this.strips.addEventListener("pointerup", (event) => {
        if (!down) return;
        const at = seconds(event);
        if (Math.abs(event.clientX - down.x) > 4) {
          this.engine.setLoop(Math.min(down.at, at), Math.max(down.at, at));
        } else {
          if (down.row) this.select(Number(down.row.dataset.track));
          this.engine.seek(at);
        }
        down = null;
      });
    }

    /* Called every animation frame: cursor, loop shade, position text, play button. */
    tick() {
      const duration = this.engine.duration;
      if (!duration) return;
      const pct = (s) => ((100 * s) / duration).toFixed(3) + "%";
      const position = this.engine.position();
      this.cursor.style.left = pct(position);
      this.loopShade.style.left = pct(this.engine.loopStart);
      this.loopShade.style.width = pct(this.engine.loopEnd - this.engine.loopStart);
      this.positionText.textContent = position.toFixed(2) + " s · loop " + this.engine.loopStart.toFixed(2) +
        "–" + this.engine.loopEnd.toFixed(2) + " s";
      this.playButton.textContent = this.engine.playing ? "Pause" : "Play";
    }

    close() {
      this.engine.close();
    }
  }

  window.codecbenchListenStart = function (host, css) {
    const state = { run: null, context: null, polling: false };
    window.codecbenchListen = { run: () => state.run, engine: () => state.run && state.run.engine };
    if (!document.getElementById("listen-player-style")) {
      document.head.append(el("style", { id: "listen-player-style", text: css }));
    }
    const board = () => host.querySelector(".listen-board") || host;

    async function poll() {
      const marker = document.querySelector(".listen-run[data-run]");
      const id = marker && marker.dataset.run;
      if (!id) return;
      if (!state.run || state.run.id !== id) {
        if (state.run) state.run.close();
        const Context = window.AudioContext || window.webkitAudioContext;
        state.context = state.context || new Context();
        const status = document.querySelector("#listen-status") || el("div");
        state.run = new Run(id, board(), status, state.context);
        board().scrollIntoView({ behavior: "smooth", block: "start" });
      }
      const run = state.run;
      if (run.finished || state.polling) return;
      if (Date.now() - run.startedAt > MAX_WAIT_MS) {
        run.finished = true;
        run.statusLine.textContent += " The results stopped arriving; press Compare to try again.";
        return;
      }
      state.polling = true;
      try {
        const response = await fetch(API + encodeURIComponent(id) + "/state", { cache: "no-store" });
        if (response.ok && state.run === run) run.update(await response.json());
      } catch (error) {
        // the next poll tries again
      } finally {
        state.polling = false;
      }
    }

    setInterval(poll, POLL_MS);
    const frame = () => {
      if (state.run) state.run.tick();
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);

    document.addEventListener("keydown", (event) => {
      const run = state.run;
      if (!run || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
      // Only while the player is on screen: not from the Leaderboard tab, where it is hidden.
      if (!run.player || !run.player.isConnected || run.player.offsetParent === null) return;
      if (/^[1-9]$/.test(event.key)) {
        run.select(Number(event.key) - 1);
        event.preventDefault();
      }
    });
  };
})();
