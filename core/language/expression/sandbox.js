// The sandbox glue of digpy.core.language.expression, evaluated once per QuickJS context.
// The glue between Python and the expressions. It receives moment.js's factory, keeps the zone
// tables in a closure, pins Date's "now" to the evaluation's clock, freezes every reachable object
// (so one evaluation cannot leave state for the next) and returns a dispatcher:
//   api(0, scopeJson, zone, nowMs)  start an evaluation
//   api(1, code)                    evaluate one expression: a string, or null when a zone table has
//                                   to be loaded first (api(5) names it; then evaluate again)
//   api(2, key, string), api(3, key, json)  replace one top-level key of the scope
//   api(4, zone, tableJson)         load a zone table ("null" marks an unknown zone)
//   api(5)                          the zone the last evaluation was missing
//   api(6, code)                    compile an expression without running it (a syntax check)
(function (factory) {
  "use strict";
  var g = globalThis;
  delete g.__date_clock;
  var NativeDate = g.Date;
  var state = { zone: "UTC", now: 0, scope: {}, missing: null };
  var zones = new Map();

  function offset(zone, ms) {
    var table = zones.get(zone);
    if (table === undefined) {
      state.missing = zone;
      throw new RangeError("time zone '" + zone + "' is not loaded");
    }
    if (table === null) return NaN;
    var starts = table[0], lo = 0, hi = starts.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= ms) lo = mid + 1; else hi = mid;
    }
    return table[1][lo];
  }
  var moment = factory({
    offset: offset,
    zone: function () { return state.zone; },
    now: function () { return state.now; }
  });

  // Date's local time is the workflow's time zone (Digdag runs its JavaScript with the JVM's time
  // zone set to it), not the machine's: the local getters, setters, the component constructor,
  // local ISO strings ("2016-01-30T10:00") and the string forms go through the zone table.
  var MINUTE = 60000, proto = NativeDate.prototype, timeOf = proto.getTime, setTime = proto.setTime;
  var DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var LOCAL_ISO = /^[+-]?\d{4,6}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?$/;
  function zoneOffset(ms) { return ms === ms ? offset(state.zone, ms) : NaN; }
  function utcOfWall(wallMs) {  // the instant whose wall time in the zone is wallMs (read as UTC)
    var before = zoneOffset(wallMs);
    var t = wallMs - zoneOffset(wallMs - before * MINUTE) * MINUTE;
    if (t + zoneOffset(t) * MINUTE === wallMs) return t;  // it exists (twice: the first one)
    return Math.max(t, wallMs - before * MINUTE);  // a daylight-saving gap: forward, as V8 and Java do
  }
  function wall(date) { var t = timeOf.call(date); return new NativeDate(t + zoneOffset(t) * MINUTE); }
  function pad(n, width) { var s = String(Math.abs(n)); while (s.length < width) s = "0" + s; return s; }
  function zoneName(t) {
    var o = zoneOffset(t);
    return "GMT" + (o < 0 ? "-" : "+") + pad(Math.floor(Math.abs(o) / 60), 2) + pad(Math.abs(o) % 60, 2);
  }
  function datePart(w) {
    var y = w.getUTCFullYear();
    return DAYS[w.getUTCDay()] + " " + MONTHS[w.getUTCMonth()] + " " + pad(w.getUTCDate(), 2) + " " +
      (y < 0 ? "-" : "") + pad(y, 4);
  }
  function timePart(w) {
    return pad(w.getUTCHours(), 2) + ":" + pad(w.getUTCMinutes(), 2) + ":" + pad(w.getUTCSeconds(), 2);
  }
  function twelveHour(w) {
    var h = w.getUTCHours() % 12 || 12;
    return pad(h, 2) + ":" + pad(w.getUTCMinutes(), 2) + ":" + pad(w.getUTCSeconds(), 2) +
      (w.getUTCHours() < 12 ? " AM" : " PM");
  }
  function slashDate(w) { return pad(w.getUTCMonth() + 1, 2) + "/" + pad(w.getUTCDate(), 2) + "/" + pad(w.getUTCFullYear(), 4); }
  var zoned = Object.create(proto);
  function define(name, fn) {
    Object.defineProperty(zoned, name, { value: fn, writable: true, enumerable: false, configurable: true });
  }
  ["FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds"].forEach(function (f) {
    var get = proto["getUTC" + f], set = proto["setUTC" + f];
    define("get" + f, function () { return get.call(wall(this)); });
    if (set) {
      define("set" + f, function () {
        var w = wall(this);
        set.apply(w, arguments);
        return setTime.call(this, utcOfWall(timeOf.call(w)));
      });
    }
  });
  define("getYear", function () { return this.getFullYear() - 1900; });
  define("getTimezoneOffset", function () { return -zoneOffset(timeOf.call(this)); });
  function invalid(date) { var t = timeOf.call(date); return t !== t; }
  define("toString", function () {
    if (invalid(this)) return "Invalid Date";
    var w = wall(this);
    return datePart(w) + " " + timePart(w) + " " + zoneName(timeOf.call(this));
  });
  define("toDateString", function () { return invalid(this) ? "Invalid Date" : datePart(wall(this)); });
  define("toTimeString", function () {
    return invalid(this) ? "Invalid Date" : timePart(wall(this)) + " " + zoneName(timeOf.call(this));
  });
  define("toLocaleString", function () {
    return invalid(this) ? "Invalid Date" : slashDate(wall(this)) + ", " + twelveHour(wall(this));
  });
  define("toLocaleDateString", function () { return invalid(this) ? "Invalid Date" : slashDate(wall(this)); });
  define("toLocaleTimeString", function () { return invalid(this) ? "Invalid Date" : twelveHour(wall(this)); });

  function PinnedDate() {
    if (new.target === undefined) return new PinnedDate().toString();
    var args;
    if (arguments.length === 0) {
      args = [state.now];
    } else if (arguments.length === 1) {
      var a = arguments[0];
      args = [typeof a === "string" && LOCAL_ISO.test(a) ? utcOfWall(NativeDate.parse(a + "Z")) : a];
    } else {
      args = [utcOfWall(NativeDate.UTC.apply(null, arguments))];
    }
    return Reflect.construct(NativeDate, args, new.target);
  }
  define("constructor", PinnedDate);
  PinnedDate.prototype = zoned;
  PinnedDate.now = function () { return state.now; };
  PinnedDate.UTC = NativeDate.UTC;
  PinnedDate.parse = function (text) {
    var s = String(text);
    return LOCAL_ISO.test(s) ? utcOfWall(NativeDate.parse(s + "Z")) : NativeDate.parse(s);
  };
  NativeDate.prototype.constructor = PinnedDate;
  g.Date = PinnedDate;
  Object.defineProperty(g, "moment", { value: moment, writable: false, enumerable: false, configurable: false });

  // Freeze everything reachable from the global object, and the intrinsics that are reachable
  // only through instances (iterators, generator and async function prototypes).
  var seen = new Set();
  var stack = [g, function* () {}, async function () {}, async function* () {}, (function* () {})(),
    (async function* () {})(), [][Symbol.iterator](), new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](), ""[Symbol.iterator](), /a/[Symbol.matchAll]("")];
  while (stack.length) {
    var o = stack.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    Object.freeze(o);
    stack.push(Object.getPrototypeOf(o));
    Reflect.ownKeys(o).forEach(function (k) {
      var d = Object.getOwnPropertyDescriptor(o, k);
      stack.push(d.value, d.get, d.set);
    });
  }
  seen = null;

  var compiled = new Map();
  function compile(code) {  // parses only: a SyntaxError is thrown here, and nothing of the code runs
    var fn = compiled.get(code);
    if (fn === undefined) {
      fn = new Function("with (this) { return (" + code + "\n); }");
      Object.freeze(fn.prototype);
      Object.freeze(fn);
      if (compiled.size >= 2048) compiled.clear();
      compiled.set(code, fn);
    }
    return fn;
  }
  function run(code) {
    var v = compile(code).call(state.scope);
    if (v === null || v === undefined) return "";
    if (typeof v === "object" && typeof v.then === "function") {
      throw new TypeError("the value is a Promise; import() and asynchronous code are not available");
    }
    var text = typeof v === "string" ? v : String(JSON.stringify(v));
    if (text.indexOf("\u0000") !== -1) throw new TypeError("the value contains a NUL character");
    return text;
  }
  function evaluate(code) {
    state.missing = null;
    var result;
    try {
      result = run(code);
    } catch (e) {
      if (state.missing === null) throw e;
    }
    return state.missing === null ? result : null;
  }
  function setKey(key, value) {
    Object.defineProperty(state.scope, key, { value: value, writable: true, enumerable: true, configurable: true });
    return null;
  }
  return function (op, a, b, c) {
    switch (op) {
      case 0: state.scope = JSON.parse(a); state.zone = b; state.now = c; return null;
      case 1: return evaluate(a);
      case 2: return setKey(a, b);
      case 3: return setKey(a, JSON.parse(b));
      case 4: zones.set(a, JSON.parse(b)); return null;
      case 5: return state.missing;
      case 6: compile(a); return null;
    }
    throw new TypeError("unknown operation");
  };
})
