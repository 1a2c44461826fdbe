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

  function PinnedDate() {
    if (new.target === undefined) return new NativeDate(state.now).toString();
    var args = arguments.length === 0 ? [state.now] : arguments;
    return Reflect.construct(NativeDate, args, new.target);
  }
  PinnedDate.prototype = NativeDate.prototype;
  PinnedDate.now = function () { return state.now; };
  PinnedDate.UTC = NativeDate.UTC;
  PinnedDate.parse = NativeDate.parse;
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
  function run(code) {
    var fn = compiled.get(code);
    if (fn === undefined) {
      fn = new Function("with (this) { return (" + code + "\n); }");
      Object.freeze(fn.prototype);
      Object.freeze(fn);
      if (compiled.size >= 2048) compiled.clear();
      compiled.set(code, fn);
    }
    var v = fn.call(state.scope);
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
    }
    throw new TypeError("unknown operation");
  };
})
