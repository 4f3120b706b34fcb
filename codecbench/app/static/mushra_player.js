/* codecbench MUSHRA player: Web Audio playback of one trial inside the participant page.
 *
 * All stimuli of a trial are decoded into one AudioContext and run in lockstep as looping
 * AudioBufferSourceNodes started at one shared time, each behind its own GainNode; exactly one
 * is audible. Switching schedules a 5 ms raised-cosine fade-out of the old stimulus, then a 5 ms
 * fade-in of the new one at the same sample position (no cross-fade). Mono is sent to both
 * output channels explicitly through a ChannelMerger. The page knows stimuli only by opaque
 * tokens; play events and ratings go to the server, which decides whether a trial may end.
 */
(function () {
  "use strict";

  const FADE_S = 0.005;
  const LEAD_S = 0.01; // schedule changes slightly ahead so that no ramp starts in the past
  const MIN_LOOP_S = 0.5;
  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-", "="];
  // What a key does on a slider that has no rating yet (the browser would move from 0).
  const UNSET_KEYS = { Home: 0, End: 100, ArrowDown: 0, ArrowLeft: 0, PageDown: 0, ArrowUp: 1, ArrowRight: 1, PageUp: 10 };
  const SCALE = [
    [100, 80, "Excellent"],
    [80, 60, "Good"],
    [60, 40, "Fair"],
    [40, 20, "Poor"],
    [20, 0, "Bad"],
  ];

  function raisedCosine(seconds, sampleRate, rising) {
    const n = Math.max(2, Math.round(seconds * sampleRate));
    const curve = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = 0.5 - 0.5 * Math.cos((Math.PI * i) / (n - 1));
      curve[i] = rising ? x : 1 - x;
    }
    return curve;
  }

  /* Plays N equally long buffers from one shared position; one of them is audible. */
  class MushraEngine {
    constructor(context, buffers, destination) {
      this.context = context;
      this.buffers = buffers;
      this.duration = Math.min(...buffers.map((b) => b.duration));
      this.output = context.createChannelMerger(2);
      this.output.connect(destination || context.destination);
      this.fadeIn = raisedCosine(FADE_S, context.sampleRate, true);
      this.fadeOut = raisedCosine(FADE_S, context.sampleRate, false);
      this.selected = 0;
      this.loopStart = 0;
      this.loopEnd = this.duration;
      this.offset = 0;
      this.generation = null;
      this.onAudible = null; // (index, audible: bool) => void
    }

    get playing() {
      return this.generation !== null;
    }

    position() {
      if (!this.generation) return this.offset;
      const elapsed = Math.max(0, this.context.currentTime - this.generation.startedAt);
      let p = this.generation.offset + elapsed;
      const span = this.loopEnd - this.loopStart;
      if (p >= this.loopEnd) p = this.loopStart + ((p - this.loopStart) % span);
      return p;
    }

    play(lead = LEAD_S) {
      if (this.generation) return;
      this.generation = this._start(this.context.currentTime + lead, this.offset);
      this._notify(this.selected, true);
    }

    pause() {
      if (!this.generation) return;
      this.offset = this.position();
      this._stop(this.generation, this.context.currentTime + LEAD_S);
      this.generation = null;
      this._notify(this.selected, false);
    }

    toggle() {
      if (this.playing) this.pause();
      else this.play();
    }

    select(index) {
      if (index === this.selected || index < 0 || index >= this.buffers.length) return;
      const previous = this.selected;
      this.selected = index;
      if (!this.generation) return;
      const t0 = this.context.currentTime + LEAD_S;
      const oldGain = this.generation.gains[previous].gain;
      const newGain = this.generation.gains[index].gain;
      oldGain.cancelScheduledValues(t0);
      oldGain.setValueCurveAtTime(this.fadeOut, t0, FADE_S);
      newGain.cancelScheduledValues(t0);
      newGain.setValueAtTime(0, t0);
      newGain.setValueCurveAtTime(this.fadeIn, t0 + FADE_S, FADE_S);
      this._notify(previous, false);
      this._notify(index, true);
    }

    setLoop(start, end) {
      start = Math.max(0, Math.min(start, this.duration));
      end = Math.max(0, Math.min(end, this.duration));
      if (end < start) [start, end] = [end, start];
      if (end - start < MIN_LOOP_S) {
        const middle = (start + end) / 2;
        start = Math.max(0, Math.min(middle - MIN_LOOP_S / 2, this.duration - MIN_LOOP_S));
        end = Math.min(this.duration, start + MIN_LOOP_S);
      }
      this.loopStart = start;
      this.loopEnd = end;
      const current = this.position();
      const inside = current >= start && current < end ? current : start;
      this.seek(inside);
    }

    seek(seconds) {
      const target = Math.max(this.loopStart, Math.min(seconds, this.loopEnd - 1e-3));
      if (!this.generation) {
        this.offset = target;
        return;
      }
      const t0 = this.context.currentTime + LEAD_S;
      this._stop(this.generation, t0);
      this.generation = this._start(t0 + FADE_S, target);
    }

    close() {
      if (this.generation) this.pause();
      this.output.disconnect();
    }

    _start(when, offset) {
      const gains = [];
      const sources = this.buffers.map((buffer, i) => {
        const gain = this.context.createGain();
        gain.gain.value = 0;
        gain.connect(this.output, 0, 0); // mono on both channels
        gain.connect(this.output, 0, 1);
        const source = this.context.createBufferSource();
        source.buffer = buffer;
        source.loop = true;
        source.loopStart = this.loopStart;
        source.loopEnd = this.loopEnd;
        source.connect(gain);
        source.start(when, offset);
        gains.push(gain);
        return source;
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
      generation.sources.forEach((source) => source.stop(when + FADE_S));
      setTimeout(() => generation.gains.forEach((g) => g.disconnect()), (when - this.context.currentTime + 0.1) * 1000);
    }

    _notify(index, audible) {
      if (this.onAudible) this.onAudible(index, audible);
    }
  }

  /* Talks to the participant API; play events are queued so a submission can wait for them. */
  class MushraApi {
    constructor(base, sessionToken) {
      this.base = base;
      this.session = sessionToken;
      this.pending = new Set();
    }

    async _post(path, body, attempts = 4) {
      for (let attempt = 1; ; attempt++) {
        let response;
        try {
          response = await fetch(this.base + path, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(body),
            keepalive: true,
          });
        } catch (networkError) {
          if (attempt >= attempts) throw new Error("The connection was lost. Please check it and try again.");
          await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
          continue;
        }
        const payload = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(payload.detail || "The server refused the request (" + response.status + ").");
        return payload;
      }
    }

    logPlay(stimulus, kind, position, listened) {
      const request = this._post("/sessions/" + this.session + "/plays", {
        stimulus,
        kind,
        position_s: position,
        listened_s: listened,
      }).catch((error) => console.warn("play event not stored:", error.message));
      this.pending.add(request);
      request.finally(() => this.pending.delete(request));
    }

    async flush() {
      await Promise.allSettled([...this.pending]);
    }

    submit(trial, ratings) {
      return this._post("/sessions/" + this.session + "/trials/" + trial, { ratings });
    }

    async audio(context, token) {
      const response = await fetch(this.base + "/stimuli/" + token);
      if (!response.ok) throw new Error("A recording could not be loaded (" + response.status + "). Please reload the page.");
      return context.decodeAudioData(await response.arrayBuffer());
    }
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function newContext(sampleRate) {
    const Context = window.AudioContext || window.webkitAudioContext;
    try {
      return new Context({ sampleRate });
    } catch (unsupportedRate) {
      return new Context();
    }
  }

  /* The waveform of the reference with the loop region and the playhead. */
  class Waveform {
    constructor(engine, buffer) {
      this.engine = engine;
      this.canvas = el("canvas", { class: "mushra-waveform", height: "96", "aria-label": "waveform: drag to loop a part" });
      this.peaks = null;
      this.buffer = buffer;
      let dragFrom = null;
      const timeAt = (event) => {
        const box = this.canvas.getBoundingClientRect();
        return ((event.clientX - box.left) / box.width) * engine.duration;
      };
      this.canvas.addEventListener("pointerdown", (event) => {
        dragFrom = timeAt(event);
        this.canvas.setPointerCapture(event.pointerId);
      });
      this.canvas.addEventListener("pointerup", (event) => {
        if (dragFrom === null) return;
        const to = timeAt(event);
        if (Math.abs(to - dragFrom) * (this.canvas.clientWidth / engine.duration) > 4) engine.setLoop(dragFrom, to);
        else engine.seek(to);
        dragFrom = null;
      });
      this.canvas.addEventListener("dblclick", () => engine.setLoop(0, engine.duration));
    }

    draw() {
      const canvas = this.canvas;
      const width = (canvas.width = Math.max(200, canvas.clientWidth || 600));
      const height = canvas.height;
      const g = canvas.getContext("2d");
      if (!this.peaks || this.peaks.length !== width) {
        const data = this.buffer.getChannelData(0);
        const step = data.length / width;
        this.peaks = new Float32Array(width * 2);
        for (let x = 0; x < width; x++) {
          let low = 0, high = 0;
          for (let i = Math.floor(x * step); i < Math.floor((x + 1) * step); i++) {
            if (data[i] < low) low = data[i];
            if (data[i] > high) high = data[i];
          }
          this.peaks[2 * x] = low;
          this.peaks[2 * x + 1] = high;
        }
        this.scale = height / 2 / Math.max(1e-3, ...this.peaks.map(Math.abs));
      }
      const engine = this.engine;
      const toX = (t) => (t / engine.duration) * width;
      g.clearRect(0, 0, width, height);
      g.fillStyle = "rgba(37, 99, 235, 0.12)";
      g.fillRect(toX(engine.loopStart), 0, toX(engine.loopEnd) - toX(engine.loopStart), height);
      g.fillStyle = "#64748b";
      const scale = this.scale;
      for (let x = 0; x < width; x++) {
        const top = height / 2 - this.peaks[2 * x + 1] * scale;
        const bottom = height / 2 - this.peaks[2 * x] * scale;
        g.fillRect(x, top, 1, Math.max(1, bottom - top));
      }
      g.fillStyle = "#dc2626";
      g.fillRect(toX(engine.position()) - 1, 0, 2, height);
    }
  }

  /* One trial (or the level check): loads the audio, draws the player, sends events and ratings. */
  class TrialScreen {
    constructor(root, view, api, onSubmitted) {
      this.root = root;
      this.view = view;
      this.api = api;
      this.onSubmitted = onSubmitted;
      this.trial = view.trial;
      this.closed = false;
      this.audibleSince = {};
      this.played = new Set();
      this.ratings = {};
    }

    get tokens() {
      if (!this.trial) return [this.view.level_check_token];
      return [this.trial.reference_token, ...this.trial.stimuli.map((s) => s.token)];
    }

    async open() {
      this.status = el("p", { class: "mushra-status", role: "status" }, "Loading the recordings…");
      this.root.replaceChildren(this.status);
      this.context = newContext(this.trial ? this.trial.sample_rate_hz : undefined);
      let buffers;
      try {
        buffers = await Promise.all(this.tokens.map((token) => this.api.audio(this.context, token)));
      } catch (error) {
        this.status.textContent = error.message;
        return;
      }
      if (this.closed) return;
      this.engine = new MushraEngine(this.context, buffers);
      this.engine.onAudible = (index, audible) => this._audible(index, audible);
      this.waveform = new Waveform(this.engine, buffers[0]);
      this.trial ? this._renderTrial() : this._renderLevelCheck();
      this.keyHandler = (event) => this._key(event);
      document.addEventListener("keydown", this.keyHandler);
      const animate = () => {
        if (this.closed) return;
        this.waveform.draw();
        this._refresh();
        this.frame = requestAnimationFrame(animate);
      };
      animate();
    }

    close() {
      this.closed = true;
      if (this.frame) cancelAnimationFrame(this.frame);
      if (this.keyHandler) document.removeEventListener("keydown", this.keyHandler);
      if (this.engine) this.engine.close();
      if (this.context) this.context.close();
    }

    _transport() {
      this.playButton = el("button", { class: "mushra-play", type: "button", onclick: () => this._toggle() }, "Play");
      this.positionText = el("span", { class: "mushra-position" }, "");
      return el("div", { class: "mushra-transport" }, this.playButton, this.positionText,
        el("button", { class: "mushra-loop-reset", type: "button", onclick: () => this.engine.setLoop(0, this.engine.duration) }, "Loop whole"));
    }

    _renderLevelCheck() {
      this.status.textContent = "";
      this.root.replaceChildren(
        el("h2", { class: "mushra-trial-title" }, "Level check"),
        el("p", {}, "Play this recording and set your volume to a comfortable level. Keep the volume as it is for the rest of the test."),
        this.waveform.canvas,
        this._transport(),
        this.status,
      );
    }

    _renderTrial() {
      const trial = this.trial;
      const title = trial.is_training ? "Training trial (practice)" : "Trial " + trial.number + " of " + trial.total;
      const done = trial.is_training ? 0 : trial.number - 1;
      const progress = el("progress", { class: "mushra-progress", max: String(trial.total), value: String(done),
        "aria-label": done + " of " + trial.total + " trials done" });
      const progressText = el("span", { class: "mushra-progress-text" },
        trial.is_training ? "Practice first: it is not scored. Then " + trial.total + " trials."
          : done + " of " + trial.total + " done");
      const draft = JSON.parse(localStorage.getItem(this._draftKey()) || "{}");
      trial.stimuli.forEach((s) => s.played && this.played.add(s.token));
      this.referenceButton = el("button", { class: "mushra-select mushra-reference", type: "button", onclick: () => this._select(0) }, "Reference (R)");
      const scale = el("div", { class: "mushra-scale" }, ...SCALE.map(([, , name]) => el("div", {}, name)));
      this.columns = trial.stimuli.map((stimulus, i) => {
        const slider = el("input", { type: "range", min: "0", max: "100", step: "1", class: "mushra-slider unset",
          "aria-label": "rating of " + stimulus.label, "aria-valuetext": "not rated", "data-token": stimulus.token });
        slider.value = "0";
        const value = el("output", { class: "mushra-value unset" }, "not rated");
        const setValue = (v) => {
          slider.value = String(v);
          slider.classList.remove("unset");
          value.classList.remove("unset");
          slider.setAttribute("aria-valuetext", String(v));
          value.textContent = String(v);
          this.ratings[stimulus.token] = Number(v);
        };
        if (stimulus.token in draft) setValue(draft[stimulus.token]);
        const store = (v) => {
          setValue(v === undefined ? slider.value : v);
          localStorage.setItem(this._draftKey(), JSON.stringify(this.ratings));
          this._updateMessage();
        };
        slider.addEventListener("input", () => store());
        // A click that lands on the unset slider's resting value changes nothing, so no "input".
        slider.addEventListener("pointerup", () => slider.classList.contains("unset") && store());
        // Keys on an unset slider: the browser moves from the resting 0, so Home and the downward
        // keys would change nothing; give every key its meaning from "no value" instead.
        slider.addEventListener("keydown", (event) => {
          if (!slider.classList.contains("unset")) return;
          const target = UNSET_KEYS[event.key];
          if (target === undefined) return;
          event.preventDefault();
          store(target);
        });
        const button = el("button", { class: "mushra-select", type: "button", onclick: () => this._select(i + 1),
          title: "key " + KEYS[i] }, stimulus.label);
        const tick = el("span", { class: "mushra-played" }, "");
        return { stimulus, slider, value, button, tick,
          node: el("div", { class: "mushra-column" }, value, slider, button, el("small", {}, "key " + KEYS[i]), tick) };
      });
      this.message = el("p", { class: "mushra-message", role: "alert", "aria-live": "polite" }, "");
      this.refused = false; // the server refused a submission: its message is kept up to date
      this.nextButton = el("button", { class: "mushra-next", type: "button", onclick: () => this._submit() },
        trial.is_training || trial.number < trial.total ? "Next" : "Finish");
      this.status.textContent = "";
      this.root.replaceChildren(
        el("div", { class: "mushra-trial-header" }, el("h2", { class: "mushra-trial-title" }, title), progress, progressText),
        this.waveform.canvas,
        this._transport(),
        el("div", { class: "mushra-reference-row" }, this.referenceButton),
        el("div", { class: "mushra-rating" }, scale, ...this.columns.map((c) => c.node)),
        el("div", { class: "mushra-actions" }, this.nextButton),
        this.message,
        this.status,
      );
    }

    _refresh() {
      const engine = this.engine;
      this.playButton.textContent = engine.playing ? "Pause (space)" : "Play (space)";
      this.positionText.textContent = engine.position().toFixed(1) + " s · loop " + engine.loopStart.toFixed(1) + "–" + engine.loopEnd.toFixed(1) + " s";
      if (!this.columns) return;
      this.referenceButton.classList.toggle("selected", engine.selected === 0);
      this.columns.forEach((column, i) => {
        column.button.classList.toggle("selected", engine.selected === i + 1);
        const played = this.played.has(column.stimulus.token);
        column.tick.textContent = played ? "played" : "";
        column.node.classList.toggle("is-played", played);
      });
    }

    async _toggle() {
      if (this.context.state === "suspended") await this.context.resume();
      this.engine.toggle();
    }

    async _select(index) {
      if (this.context.state === "suspended") await this.context.resume();
      this.engine.select(index);
      if (!this.engine.playing) this.engine.play();
    }

    /* After a refused Next, say what is still missing as the participant fixes it, and clear it
     * when nothing is; the server still decides (e.g. minimum listening time). */
    _updateMessage() {
      if (!this.refused || !this.columns) return;
      const unplayed = this.columns.filter((c) => !this.played.has(c.stimulus.token)).map((c) => c.stimulus.label);
      const unrated = this.columns.filter((c) => !(c.stimulus.token in this.ratings)).map((c) => c.stimulus.label);
      const parts = [];
      if (unplayed.length) parts.push("Please play every version before going on (not yet: " + unplayed.join(", ") + ").");
      if (unrated.length) parts.push("Please rate every version (missing: " + unrated.join(", ") + ").");
      this.message.textContent = parts.join(" ");
    }

    _audible(index, audible) {
      const token = this.tokens[index];
      const now = this.context.currentTime;
      if (audible) {
        this.audibleSince[token] = now;
        const isNew = !this.played.has(token);
        this.played.add(token);
        if (isNew) this._updateMessage();
        this.api.logPlay(token, "start", this.engine.position(), 0);
      } else if (token in this.audibleSince) {
        const listened = Math.max(0, now - this.audibleSince[token]);
        delete this.audibleSince[token];
        this.api.logPlay(token, "stop", this.engine.position(), listened);
      }
    }

    _key(event) {
      const target = event.target;
      if (target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "range"))) return;
      if (event.key === " ") {
        event.preventDefault();
        this._toggle();
      } else if (event.key === "r" || event.key === "R") {
        this._select(0);
      } else if (this.columns) {
        const index = KEYS.indexOf(event.key);
        if (index >= 0 && index < this.columns.length) {
          event.preventDefault();
          this._select(index + 1);
        }
      }
    }

    _draftKey() {
      return "codecbench-mushra-draft:" + this.trial.token;
    }

    async _submit() {
      this.nextButton.disabled = true;
      this.message.textContent = "";
      this.refused = false;
      this.engine.pause();
      try {
        await this.api.flush();
        await this.api.submit(this.trial.token, this.ratings);
        localStorage.removeItem(this._draftKey());
        this.message.textContent = "Saved.";
        this.onSubmitted();
      } catch (error) {
        this.message.textContent = error.message;
        // Rules the page can follow live; a minimum listening time only the server can judge.
        this.refused = /every version/.test(error.message) && !(this.trial.min_listen_s > 0);
        this.nextButton.disabled = false;
      }
    }
  }

  /* The antiphase headphone check: six trials of three tones; the participant picks the quietest.
   * The audio comes by session and trial number; the order of the tones stays on the server,
   * which grades the answers. Each trial plays once, as in Woods et al. (2017). */
  class HeadphoneScreen {
    constructor(root, view, api, onDone) {
      this.root = root;
      this.view = view;
      this.api = api;
      this.onDone = onDone;
      this.picks = [];
      this.closed = false;
    }

    async open() {
      this.status = el("p", { class: "mushra-status", role: "status" }, "Preparing the headphone check…");
      this.root.replaceChildren(this.status);
      try {
        const started = await this.api._post("/sessions/" + this.api.session + "/headphone-check", {});
        this.total = started.trials;
        if (started.answered) {  // answered before a reload: the first answer is final, go on
          await this.api._post("/sessions/" + this.api.session + "/advance", { from_stage: "headphone_check" });
          this.onDone();
          return;
        }
      } catch (error) {
        this.status.textContent = error.message;
        return;
      }
      this.context = newContext();
      this._showTrial();
    }

    close() {
      this.closed = true;
      if (this.source) this.source.stop();
      if (this.context) this.context.close();
    }

    _showTrial() {
      if (this.closed) return;
      const number = this.picks.length + 1;
      let pick = null;
      const message = el("p", { class: "mushra-message", role: "alert", "aria-live": "polite" }, "");
      const next = el("button", { class: "mushra-next", type: "button", disabled: "" }, number < this.total ? "Next" : "Finish");
      const choices = [1, 2, 3].map((n) => el("button", { class: "mushra-select mushra-hp-choice", type: "button", disabled: "",
        "aria-pressed": "false" }, "Tone " + n));
      choices.forEach((button, i) => button.addEventListener("click", () => {
        pick = i + 1;
        choices.forEach((b, j) => { b.classList.toggle("selected", j === i); b.setAttribute("aria-pressed", String(j === i)); });
        next.disabled = false;
      }));
      const play = el("button", { class: "mushra-play mushra-hp-play", type: "button" }, "Play the three tones");
      play.addEventListener("click", async () => {
        play.disabled = true;
        message.textContent = "";
        try {
          if (this.context.state === "suspended") await this.context.resume();
          const url = this.api.base + "/sessions/" + this.api.session + "/headphone-check/" + number;
          const response = await fetch(url);
          if (!response.ok) throw new Error("The tones could not be loaded (" + response.status + "). Please reload the page.");
          const buffer = await this.context.decodeAudioData(await response.arrayBuffer());
          this.source = this.context.createBufferSource();
          this.source.buffer = buffer;
          this.source.connect(this.context.destination);
          this.source.onended = () => {
            play.textContent = "Played";
            choices.forEach((b) => { b.disabled = false; });
          };
          this.source.start();
          play.textContent = "Playing…";
        } catch (error) {
          message.textContent = error.message;
          play.disabled = false;
        }
      });
      next.addEventListener("click", () => {
        if (pick === null) return;
        this.picks.push(pick);
        if (this.picks.length < this.total) this._showTrial();
        else this._finish(message, next);
      });
      const done = number - 1;
      this.root.replaceChildren(
        el("div", { class: "mushra-trial-header" },
          el("h2", { class: "mushra-trial-title" }, "Headphone check " + number + " of " + this.total),
          el("progress", { class: "mushra-progress", max: String(this.total), value: String(done) })),
        el("p", {}, "Wear your headphones. Play the three tones once, then choose the quietest of them."),
        el("div", { class: "mushra-transport" }, play),
        el("div", { class: "mushra-reference-row" }, ...choices),
        el("div", { class: "mushra-actions" }, next),
        message,
      );
    }

    async _finish(message, next) {
      next.disabled = true;
      try {
        await this.api._post("/sessions/" + this.api.session + "/headphone-check/answer", { responses: this.picks });
        await this.api._post("/sessions/" + this.api.session + "/advance", { from_stage: "headphone_check" });
        this.onDone();
      } catch (error) {
        message.textContent = error.message;
        next.disabled = false;
      }
    }
  }

  /* Called by the page's gr.HTML component (js_on_load) with Gradio's element, props and helpers. */
  function mount(element, props, trigger, watch, apiBase) {
    const root = element.querySelector(".mushra-player-root") || element;
    let screen = null;
    let shownKey = null;
    const show = () => {
      const view = props.value;
      if (!view || !view.session_token) return;
      const url = new URL(window.location.href);
      if (url.searchParams.get("session") !== view.session_token) {
        url.searchParams.set("session", view.session_token);
        history.replaceState(null, "", url.toString());
      }
      const key = view.stage + ":" + (view.trial ? view.trial.token : view.level_check_token || "");
      if (key === shownKey) return;
      shownKey = key;
      if (screen) screen.close();
      screen = null;
      root.replaceChildren();
      if (view.stage === "trials" || view.stage === "level_check") {
        const api = new MushraApi(apiBase, view.session_token);
        screen = new TrialScreen(root, view, api, () => trigger("submit"));
        window.codecbenchMushraScreen = screen;
        screen.open();
      } else if (view.stage === "headphone_check") {
        screen = new HeadphoneScreen(root, view, new MushraApi(apiBase, view.session_token), () => trigger("submit"));
        screen.open();
      } else if (view.stage === "complete" && view.redirect_url) {
        setTimeout(() => { window.location.href = view.redirect_url; }, 5000);
      }
    };
    watch("value", show);
    show();
  }

  window.CodecbenchMushra = { MushraEngine, mount, raisedCosine, FADE_S, MIN_LOOP_S };
})();
