/* slipway: live updates for the dashboard and the build page, plus small niceties
   (local times, confirm dialogs, large type). Plain ES2017, no libraries. Pages pass
   their data in data-* attributes; this file is the only script they load. */
(function () {
  'use strict';

  const FINISHED = ['passed', 'failed', 'cancelled', 'interrupted', 'error'];
  const DASHBOARD_EVERY_MS = 5000;
  const TIMELINE_THROTTLE_MS = 500;

  // ---- Formatting: the same rules as the server's (format.rs, timeline.rs) ----

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function formatDuration(ms) {
    ms = Math.max(0, Math.floor(ms));
    if (ms < 1000) return ms + 'ms';
    if (ms < 10000) return Math.floor(ms / 1000) + '.' + Math.floor((ms % 1000) / 100) + 's';
    const secs = Math.floor(ms / 1000);
    if (secs < 60) return secs + 's';
    if (secs < 3600) return Math.floor(secs / 60) + 'm ' + pad2(secs % 60) + 's';
    return Math.floor(secs / 3600) + 'h ' + pad2(Math.floor((secs % 3600) / 60)) + 'm';
  }

  function percent(part, whole) {
    const value = (part * 100) / Math.max(1, whole);
    return String(Number(value.toFixed(3))) + '%';
  }

  const TICK_STEPS = [
    1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000,
    7200000, 10800000, 21600000, 43200000, 86400000,
  ];
  const MAX_TICKS = 8;

  function ticks(span) {
    let step = TICK_STEPS.find(function (s) { return Math.floor(span / s) <= MAX_TICKS; });
    if (step === undefined) step = Math.ceil(span / MAX_TICKS);
    const out = [];
    for (let i = 0; i <= Math.floor(span / step); i++) out.push(i * step);
    return out;
  }

  function tickLabel(ms) {
    const secs = Math.floor(ms / 1000);
    const h = Math.floor(secs / 3600);
    const m = Math.floor((secs % 3600) / 60);
    const s = secs % 60;
    if (h === 0 && m === 0) return s + 's';
    if (h === 0) return s === 0 ? m + 'm' : m + 'm' + s + 's';
    return m === 0 ? h + 'h' : h + 'h' + m + 'm';
  }

  function relativeTime(date, now) {
    const secs = Math.round((now - date.getTime()) / 1000);
    // Small clock differences between server and browser read as "just now".
    if (secs < 10) return 'just now';
    if (secs < 60) return secs + ' s ago';
    const mins = Math.floor(secs / 60);
    if (mins < 60) return mins + ' min ago';
    const hours = Math.floor(mins / 60);
    if (hours < 24) return hours + ' h ago';
    const days = Math.floor(hours / 24);
    if (days < 30) return days === 1 ? '1 day ago' : days + ' days ago';
    return date.toLocaleDateString();
  }

  // ---- Page-wide helpers ----

  function refreshTimes(root) {
    (root || document).querySelectorAll('time.ts[datetime]').forEach(function (el) {
      const date = new Date(el.getAttribute('datetime'));
      if (isNaN(date.getTime())) return;
      el.title = date.toLocaleString();
      el.textContent = relativeTime(date, Date.now());
    });
  }

  function setStale(stale) {
    document.body.classList.toggle('stale', stale);
  }

  /** Fetches a page fragment and returns its element with `id`, or throws. */
  async function fetchFragment(url, id) {
    const response = await fetch(url, {
      headers: { Accept: 'text/html' },
      cache: 'no-store',
      credentials: 'same-origin',
    });
    if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
    const template = document.createElement('template');
    template.innerHTML = await response.text();
    const element = template.content.getElementById(id);
    // A login page (expired session) or an error page has no such element.
    if (!element) throw new Error(url + ': no #' + id);
    return element;
  }

  function markCurrentNav() {
    document.querySelectorAll('.main-nav a').forEach(function (a) {
      const href = a.getAttribute('href');
      const current = href === '/' ? location.pathname === '/' : location.pathname.indexOf(href) === 0;
      if (current) a.setAttribute('aria-current', 'page');
    });
  }

  /** The login link brings people back to where they were. */
  function loginReturnsHere() {
    const link = document.getElementById('login-link');
    if (!link || location.pathname === '/login') return;
    link.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
  }

  function confirmForms() {
    document.addEventListener('submit', function (event) {
      const form = event.target;
      const question = form && form.dataset ? form.dataset.confirm : undefined;
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }

  /** A link to #log-N opens that step's log. */
  function openLinkedLog() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id.indexOf('log-') !== 0) return;
    const log = document.getElementById(id);
    if (log && log.tagName === 'DETAILS') log.open = true;
  }

  // ---- Dashboard ----

  const TV_KEY = 'slipway.tv';

  function storedTv() {
    try {
      return localStorage.getItem(TV_KEY) === '1';
    } catch (e) {
      return false;
    }
  }

  function setTv(on) {
    document.documentElement.classList.toggle('tv', on);
    document.querySelectorAll('[data-action="toggle-tv"]').forEach(function (button) {
      button.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    try {
      localStorage.setItem(TV_KEY, on ? '1' : '0');
    } catch (e) {
      // Private mode: it just isn't remembered.
    }
  }

  function startDashboard(tiles) {
    const url = tiles.dataset.refreshUrl || '/fragments/dashboard';
    // ?tv=1 (or ?tv=0) in the address, handy for a kiosk browser, wins over the stored choice.
    const query = new URLSearchParams(location.search);
    setTv(query.has('tv') ? query.get('tv') !== '0' : storedTv());
    document.addEventListener('click', function (event) {
      const button = event.target.closest('[data-action="toggle-tv"]');
      if (button) setTv(!document.documentElement.classList.contains('tv'));
    });

    let busy = false;
    async function refresh() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const fresh = await fetchFragment(url, 'tiles');
        const current = document.getElementById('tiles');
        if (current) current.replaceWith(fresh);
        refreshTimes(fresh);
        setStale(false);
      } catch (e) {
        // Keep showing the last tiles, marked stale; the next round tries again.
        setStale(true);
      } finally {
        busy = false;
      }
    }
    setInterval(refresh, DASHBOARD_EVERY_MS);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refresh();
    });
  }

  // ---- Build page ----

  function startBuild(page) {
    const buildId = page.dataset.buildId;
    const base = '/builds/' + encodeURIComponent(buildId);
    const renderedUpTo = parseInt(page.dataset.lastEventId, 10) || 0;
    let lastId = renderedUpTo;
    let source = null;
    let finished = false;
    let retryMs = 1000;
    const labels = {};

    // Step labels the page already knows, for log sections that appear later.
    document.querySelectorAll('[data-step][data-label]').forEach(function (el) {
      labels[el.dataset.step] = el.dataset.label;
    });

    /** The step's label, or undefined when no event or element has told it yet. */
    function labelOf(key) {
      if (labels[key]) return labels[key];
      const bar = document.querySelector('#timeline .bar[data-step="' + key + '"]');
      return bar && bar.dataset.label ? bar.dataset.label : undefined;
    }

    /** Log sections made before their label was known get it from the fresh timeline. */
    function fixGuessedLabels() {
      document.querySelectorAll('details.log[data-guessed]').forEach(function (log) {
        const label = labelOf(log.dataset.step);
        if (label === undefined) return;
        log.dataset.label = label;
        delete log.dataset.guessed;
        const title = log.querySelector('.log-title');
        if (title) title.textContent = label;
      });
    }

    function connect() {
      source = new EventSource(base + '/events?after=' + lastId);
      source.onopen = function () {
        retryMs = 1000;
        setStale(false);
      };
      source.onmessage = function (message) {
        const id = parseInt(message.lastEventId, 10);
        if (!isNaN(id) && id > lastId) lastId = id;
        let data;
        try {
          data = JSON.parse(message.data);
        } catch (e) {
          return;
        }
        if (data && typeof data.event === 'string') handle(data, id);
      };
      source.onerror = function () {
        if (finished) return;
        setStale(true);
        // The browser reconnects by itself (sending Last-Event-ID) unless the stream
        // failed for good, e.g. with an HTTP error; then retry with a growing pause.
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          setTimeout(connect, retryMs);
          retryMs = Math.min(retryMs * 2, 30000);
        }
      };
    }

    function handle(data, id) {
      switch (data.event) {
        case 'run_started':
          (data.steps || []).forEach(function (step) {
            labels[String(step.id)] = step.label;
          });
          break;
        case 'step_started': {
          if (data.label) labels[String(data.step)] = data.label;
          const log = ensureLog(data.step);
          if (log) {
            log.open = true;
            setLogStatus(log, 'running');
          }
          scheduleTimeline();
          break;
        }
        case 'step_phase':
          setPhase(data.step, data.message);
          break;
        case 'step_output':
          // Output means the command runs: the setup phase ("waiting for db…") is over.
          setPhase(data.step, '');
          queueLine(data.step, data.html, data.line, '');
          break;
        case 'image_output':
          if (data.step !== null && data.step !== undefined) queueLine(data.step, null, data.line, 'ln-image');
          break;
        case 'step_finished': {
          const log = ensureLog(data.step);
          if (log) setLogStatus(log, data.will_retry ? 'running' : data.status);
          setPhase(data.step, data.will_retry ? 'retrying…' : '');
          scheduleTimeline();
          break;
        }
        case 'notice':
          addNotice(data.message);
          break;
        case 'build_status':
          setBuildStatus(data.status);
          if (FINISHED.indexOf(data.status) >= 0) finish();
          else scheduleTimeline();
          break;
        case 'run_finished':
          // Only news: an end the rendered page already included must not reload it again.
          if (isNaN(id) || id > renderedUpTo) finish();
          break;
        default:
          // test_results, image_started, image_finished, …: the reload at the end shows them.
          break;
      }
    }

    function finish() {
      if (finished) return;
      finished = true;
      if (source) source.close();
      // Reload once to show tests and the final state; if this build reloaded moments
      // ago (its status lagging behind the run), wait longer rather than loop.
      const key = 'slipway.reloaded.' + buildId;
      let last = 0;
      try {
        last = parseInt(sessionStorage.getItem(key), 10) || 0;
      } catch (e) {
        last = 0;
      }
      setTimeout(function () {
        try {
          sessionStorage.setItem(key, String(Date.now()));
        } catch (e) {
          // Not remembered: at worst one quicker reload.
        }
        location.reload();
      }, Date.now() - last < 5000 ? 5000 : 500);
    }

    function setBuildStatus(status) {
      if (typeof status !== 'string' || !/^[a-z_]+$/.test(status)) return;
      const badge = document.querySelector('#build-status .badge');
      if (!badge) return;
      badge.className = 'badge status-' + status;
      badge.dataset.status = status;
      badge.textContent = status;
    }

    function addNotice(message) {
      const notices = document.getElementById('notices');
      if (!notices || typeof message !== 'string') return;
      const p = document.createElement('p');
      p.className = 'notice';
      p.textContent = message;
      notices.appendChild(p);
    }

    // -- Logs: the same markup as logs.rs --

    function ensureLog(step) {
      if (step === null || step === undefined) return null;
      const key = String(step);
      const existing = document.getElementById('log-' + key);
      if (existing) return existing;
      const section = document.getElementById('logs');
      if (!section) return null;
      const log = document.createElement('details');
      log.className = 'log';
      log.id = 'log-' + key;
      log.dataset.step = key;
      const label = labelOf(key);
      log.dataset.label = label === undefined ? 'step ' + key : label;
      if (label === undefined) log.dataset.guessed = 'true';
      log.open = true;
      const summary = document.createElement('summary');
      const title = document.createElement('span');
      title.className = 'log-title';
      title.textContent = log.dataset.label;
      const badge = document.createElement('span');
      badge.className = 'badge';
      const phase = document.createElement('span');
      phase.className = 'phase';
      summary.append(title, ' ', badge, ' ', phase);
      const lines = document.createElement('code');
      lines.className = 'log-lines';
      log.append(summary, lines);
      setLogStatus(log, 'running');
      // Keep sections in step order.
      const after = Array.prototype.find.call(section.querySelectorAll('details.log'), function (other) {
        return Number(other.dataset.step) > Number(key);
      });
      section.insertBefore(log, after || null);
      const empty = section.querySelector('.empty');
      if (empty) empty.remove();
      return log;
    }

    function setLogStatus(log, status) {
      if (typeof status !== 'string' || !/^[a-z_]+$/.test(status)) return;
      const badge = log.querySelector('summary .badge');
      if (!badge) return;
      badge.className = 'badge status-' + status;
      badge.dataset.status = status;
      badge.textContent = status.replace(/_/g, ' ');
    }

    function setPhase(step, message) {
      const log = ensureLog(step);
      const phase = log && log.querySelector('.phase');
      const text = typeof message === 'string' ? message : '';
      if (phase && phase.textContent !== text) phase.textContent = text;
    }

    // Lines arrive in bursts: collect them and add them once per frame.
    const pending = new Map();
    let flushScheduled = false;

    function queueLine(step, html, text, extraClass) {
      if (step === null || step === undefined) return;
      const key = String(step);
      if (!pending.has(key)) pending.set(key, []);
      pending.get(key).push({ html: html, text: text, extraClass: extraClass });
      if (flushScheduled) return;
      flushScheduled = true;
      // Animation frames stop in a background tab; a timer still runs there.
      if (document.hidden) setTimeout(flushLines, 1000);
      else requestAnimationFrame(flushLines);
    }

    function flushLines() {
      flushScheduled = false;
      const root = document.documentElement;
      const pageAtBottom = window.innerHeight + window.scrollY >= root.scrollHeight - 4;
      pending.forEach(function (lines, key) {
        const log = ensureLog(key);
        const box = log && log.querySelector('.log-lines');
        if (!box) return;
        const boxAtBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
        const fragment = document.createDocumentFragment();
        lines.forEach(function (line) {
          const ln = document.createElement('span');
          ln.className = line.extraClass ? 'ln ' + line.extraClass : 'ln';
          // `html` is the server's escaped rendering of the line; anything else is text.
          if (typeof line.html === 'string') ln.innerHTML = line.html;
          else ln.textContent = typeof line.text === 'string' ? line.text : '';
          fragment.appendChild(ln);
        });
        box.appendChild(fragment);
        if (boxAtBottom) box.scrollTop = box.scrollHeight;
      });
      pending.clear();
      if (pageAtBottom) window.scrollTo(0, root.scrollHeight);
    }

    // -- Timeline: re-fetched on step changes, stretched every second in between --

    let timelineTimer = null;
    let timelineBusy = false;
    let timelineAgain = false;
    let timelineLast = 0;
    let clock = null;

    function scheduleTimeline() {
      if (timelineBusy) {
        timelineAgain = true;
        return;
      }
      if (timelineTimer !== null) return;
      const wait = Math.max(0, TIMELINE_THROTTLE_MS - (Date.now() - timelineLast));
      timelineTimer = setTimeout(refreshTimeline, wait);
    }

    async function refreshTimeline() {
      timelineTimer = null;
      timelineBusy = true;
      timelineLast = Date.now();
      try {
        const fresh = await fetchFragment(base + '/fragments/timeline', 'timeline');
        const current = document.getElementById('timeline');
        if (current) current.replaceWith(fresh);
        clock = null;
        fixGuessedLabels();
      } catch (e) {
        // Keep the old one; the next step event tries again.
      } finally {
        timelineBusy = false;
        if (timelineAgain) {
          timelineAgain = false;
          scheduleTimeline();
        }
      }
    }

    function renderTicks(box, span) {
      const fragment = document.createDocumentFragment();
      ticks(span).forEach(function (ms) {
        const tick = document.createElement('span');
        tick.className = 'tick';
        tick.style.left = percent(ms, span);
        tick.dataset.ms = String(ms);
        const label = document.createElement('span');
        label.className = 'tick-label';
        label.textContent = tickLabel(ms);
        tick.appendChild(label);
        fragment.appendChild(tick);
      });
      box.replaceChildren(fragment);
    }

    function advanceTimeline() {
      const timeline = document.getElementById('timeline');
      if (finished || !timeline || timeline.dataset.running !== 'true') return;
      if (!clock || clock.element !== timeline) {
        clock = { element: timeline, span: Number(timeline.dataset.spanMs) || 0, at: performance.now() };
      }
      const span = Math.max(1, clock.span + (performance.now() - clock.at));
      timeline.querySelectorAll('.bar').forEach(function (bar) {
        const start = Number(bar.dataset.startMs) || 0;
        const running = bar.dataset.endMs === undefined;
        const end = running ? span : Number(bar.dataset.endMs);
        bar.style.left = percent(start, span);
        bar.style.width = percent(Math.max(0, end - start), span);
        const took = bar.querySelector('.bar-dur');
        if (running && took) took.textContent = formatDuration(end - start);
      });
      const box = timeline.querySelector('.tl-ticks');
      if (box) renderTicks(box, span);
    }

    function advanceDuration() {
      if (finished) return;
      document.querySelectorAll('.live-duration[data-elapsed-ms]').forEach(function (el) {
        if (el.dataset.loadedAt === undefined) el.dataset.loadedAt = String(performance.now());
        const elapsed = Number(el.dataset.elapsedMs) + performance.now() - Number(el.dataset.loadedAt);
        el.textContent = formatDuration(elapsed);
      });
    }

    setInterval(function () {
      advanceTimeline();
      advanceDuration();
    }, 1000);
    connect();
  }

  // ---- Start ----

  function start() {
    markCurrentNav();
    loginReturnsHere();
    confirmForms();
    refreshTimes();
    setInterval(refreshTimes, 30000);
    window.addEventListener('hashchange', openLinkedLog);
    openLinkedLog();
    const tiles = document.getElementById('tiles');
    if (tiles) startDashboard(tiles);
    const page = document.getElementById('build-page');
    if (page && page.dataset.live === 'true') startBuild(page);
  }

  // For the console and for tests of the shared formatting rules.
  window.slipway = { formatDuration: formatDuration, percent: percent, ticks: ticks, tickLabel: tickLabel };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
