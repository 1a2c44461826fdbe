// A subset of the moment() date API for digpy's ${...} expressions.
//
// Written for digpy: it follows the documented behaviour of moment.js 2.x (and of
// moment-timezone for .tz()), not its code. The file is one function expression; the sandbox
// calls it once with these functions (all JavaScript, over data the engine loads) and installs
// the result as the global `moment`:
//
//   host.offset(zone, epochMs) -> minutes east of UTC in that zone (NaN: unknown zone)
//   host.zone()                -> the workflow time zone ("local" time for moment())
//   host.now()                 -> the current time in epoch ms, pinned per evaluation
//
// A moment is an instant (_t, epoch ms, NaN when invalid) seen through a zone: an IANA name
// (_z) or, when _z is null, a fixed offset in minutes (_f; 0 means UTC mode).
(function (host) {
  "use strict";

  var NativeDate = Date;
  var MIN = 6e4;
  var HOUR = 36e5;
  var DAY = 864e5;
  var WEEK = 7 * DAY;

  var MONTHS = "January February March April May June July August September October November December".split(" ");
  var MONTHS_SHORT = MONTHS.map(function (m) { return m.slice(0, 3); });
  var WEEKDAYS = "Sunday Monday Tuesday Wednesday Thursday Friday Saturday".split(" ");
  var WEEKDAYS_SHORT = WEEKDAYS.map(function (d) { return d.slice(0, 3); });
  var WEEKDAYS_MIN = WEEKDAYS.map(function (d) { return d.slice(0, 2); });
  var LONG_FORMATS = {
    LT: "h:mm A", LTS: "h:mm:ss A", L: "MM/DD/YYYY", LL: "MMMM D, YYYY",
    LLL: "MMMM D, YYYY h:mm A", LLLL: "dddd, MMMM D, YYYY h:mm A",
    l: "M/D/YYYY", ll: "MMM D, YYYY", lll: "MMM D, YYYY h:mm A", llll: "ddd, MMM D, YYYY h:mm A"
  };
  // Zones whose zero offset is formatted as "Z" by the default format after .tz(zone).
  var UTC_ZONES = ["UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "GMT", "Zulu", "Universal", "UCT"];
  var ISO_8601 = function () {};  // marker accepted as a format, like moment.ISO_8601

  // ---------------------------------------------------------------- units

  var UNITS = {};
  function unitNames(unit, names) { names.forEach(function (n) { UNITS[n] = unit; }); }
  unitNames("year", ["y", "year", "years"]);
  unitNames("quarter", ["Q", "quarter", "quarters"]);
  unitNames("month", ["M", "month", "months"]);
  unitNames("week", ["w", "week", "weeks"]);
  unitNames("isoWeek", ["W", "isoWeek", "isoWeeks", "isoweek", "isoweeks"]);
  unitNames("day", ["d", "day", "days"]);
  unitNames("date", ["D", "date", "dates"]);
  unitNames("hour", ["h", "hour", "hours"]);
  unitNames("minute", ["m", "minute", "minutes"]);
  unitNames("second", ["s", "second", "seconds"]);
  unitNames("millisecond", ["ms", "millisecond", "milliseconds"]);
  unitNames("dayOfYear", ["DDD", "dayOfYear", "dayOfYears", "dayofyear"]);
  unitNames("isoWeekday", ["E", "isoWeekday", "isoWeekdays", "isoweekday"]);
  unitNames("weekday", ["e", "weekday", "weekdays"]);
  unitNames("weekYear", ["gg", "weekYear", "weekyear"]);
  unitNames("isoWeekYear", ["GG", "isoWeekYear", "isoweekyear"]);

  function normalizeUnit(unit) {
    if (typeof unit !== "string") return undefined;
    return Object.prototype.hasOwnProperty.call(UNITS, unit) ? UNITS[unit]
      : Object.prototype.hasOwnProperty.call(UNITS, unit.toLowerCase()) ? UNITS[unit.toLowerCase()] : undefined;
  }

  function requireUnit(unit) {
    var u = normalizeUnit(unit);
    if (u === undefined) throw new RangeError("unknown unit of time '" + unit + "'");
    return u;
  }

  // ---------------------------------------------------------------- calendar arithmetic

  function mod(a, b) { return ((a % b) + b) % b; }
  function absRound(n) { return n < 0 ? -Math.round(-n) : Math.round(n); }
  function absFloor(n) { return n < 0 ? Math.ceil(n) || 0 : Math.floor(n); }
  function isLeap(y) { return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0; }
  function daysIn(y, m) { var mm = mod(m, 12); y += (m - mm) / 12; return mm === 1 ? (isLeap(y) ? 29 : 28) : 31 - (mm % 7) % 2; }
  function pad(n, width) {
    var s = String(Math.abs(n));
    while (s.length < width) s = "0" + s;
    return (n < 0 ? "-" : "") + s;
  }
  function ordinal(n) {
    var b = n % 10;
    var suffix = Math.floor((n % 100) / 10) === 1 ? "th" : b === 1 ? "st" : b === 2 ? "nd" : b === 3 ? "rd" : "th";
    return n + suffix;
  }

  // Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), and back; the usual
  // era-of-400-years arithmetic, exact for any integer year.
  function daysFromCivil(y, m, d) {
    y -= m <= 2 ? 1 : 0;
    var era = Math.floor(y / 400);
    var yoe = y - era * 400;
    var doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
    return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  }

  // Wall-clock time written as if it were UTC ("local ms"); fields overflow like Date's setters.
  function wallMs(y, M, D, h, m, s, ms) {
    var months = mod(M, 12);
    var days = daysFromCivil(y + (M - months) / 12, months + 1, 1) + (D === undefined ? 1 : D) - 1;
    var t = days * DAY + (h || 0) * HOUR + (m || 0) * MIN + (s || 0) * 1e3 + (ms || 0);
    return Math.abs(t) <= 864e13 ? t : NaN;
  }

  function fieldsOf(local) {
    var days = Math.floor(local / DAY);
    var rest = local - days * DAY;
    var z = days + 719468;
    var era = Math.floor(z / 146097);
    var doe = z - era * 146097;
    var yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    var doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    var mp = Math.floor((5 * doy + 2) / 153);
    var month = mp < 10 ? mp + 3 : mp - 9;
    return {
      y: yoe + era * 400 + (month <= 2 ? 1 : 0), M: month - 1, D: doy - Math.floor((153 * mp + 2) / 5) + 1,
      h: Math.floor(rest / HOUR), m: Math.floor((rest % HOUR) / MIN), s: Math.floor((rest % MIN) / 1e3),
      ms: Math.floor(rest % 1e3), dow: mod(days + 4, 7)
    };
  }

  function dayOfYear(f) { return Math.round((wallMs(f.y, f.M, f.D) - wallMs(f.y, 0, 1)) / DAY) + 1; }

  // Week numbering: weeks start on `dow`, week 1 holds January (7 + dow - doy). The week belongs
  // to the year of its day number (doy - dow): Saturday for en-US weeks, Thursday for ISO weeks.
  function weekOf(f, dow, doy) {
    var anchor = fieldsOf(wallMs(f.y, f.M, f.D - mod(f.dow - dow, 7) + (doy - dow)));
    return { week: Math.floor((dayOfYear(anchor) - 1) / 7) + 1, year: anchor.y };
  }
  function weeksInYear(y, dow, doy) {
    var last = weekOf(fieldsOf(wallMs(y, 11, 31)), dow, doy);
    return last.year === y ? last.week : weekOf(fieldsOf(wallMs(y, 11, 24)), dow, doy).week;
  }

  // ---------------------------------------------------------------- zones

  function zoneOffset(zone, t) {
    if (zone === "UTC") return 0;
    var o = host.offset(zone, t);
    if (o !== o) throw new RangeError("unknown time zone '" + zone + "'");
    return o;
  }

  // Wall time in `zone` -> instant. Ambiguous times (clocks turned back) take the earlier
  // instant; times in a gap (clocks turned forward) move forward by the gap, like moment.
  function wallToInstant(zone, w) {
    var before = zoneOffset(zone, w - DAY);
    var after = zoneOffset(zone, w + DAY);
    var t1 = w - before * MIN;
    if (before === after) return t1;
    var t2 = w - after * MIN;
    var ok1 = zoneOffset(zone, t1) === before;
    var ok2 = zoneOffset(zone, t2) === after;
    if (ok1 && ok2) return Math.min(t1, t2);
    return ok2 && !ok1 ? t2 : t1;
  }

  function parseOffset(text) {
    if (text === "Z" || text === "z") return 0;
    var m = /^([+-])(\d\d):?(\d\d)?$/.exec(text);
    if (!m) return undefined;
    var minutes = Number(m[2]) * 60 + Number(m[3] || 0);
    return m[1] === "-" ? -minutes : minutes;
  }

  function offsetText(off, sep) {
    var a = Math.round(Math.abs(off));
    return (off < 0 ? "-" : "+") + pad(Math.floor(a / 60), 2) + sep + pad(a % 60, 2);
  }

  // ---------------------------------------------------------------- the Moment type

  function Moment(t, zone, fixed, explicitZone) {
    this._t = t;
    this._z = zone;
    this._f = fixed;
    this._x = explicitZone;
    this._oc = NaN;
    this._ov = 0;
  }
  var proto = Moment.prototype;

  function isMoment(x) { return x instanceof Moment; }

  proto.isValid = function () { return this._t === this._t && Math.abs(this._t) <= 864e13; };

  proto.utcOffset = function (input, keepLocalTime) {
    if (input === undefined || input === null) {
      if (!this.isValid()) return NaN;
      if (this._z === null) return this._f;
      if (this._oc !== this._t) { this._ov = zoneOffset(this._z, this._t); this._oc = this._t; }
      return this._ov;
    }
    var off = typeof input === "string" ? parseOffset(input.trim()) : Number(input);
    if (off === undefined || off !== off) return this;
    if (Math.abs(off) < 16) off *= 60;
    var wall = this._local();
    this._z = null;
    this._f = off;
    this._x = false;
    if (keepLocalTime && this.isValid()) this._setLocal(wall);
    return this;
  };

  proto._local = function () { return this._t + this.utcOffset() * MIN; };
  proto._fields = function () { return fieldsOf(this._local()); };
  proto._setLocal = function (w) {
    this._t = this._z === null ? w - this._f * MIN : wallToInstant(this._z, w);
    return this;
  };
  proto._setWall = function (y, M, D, h, m, s, ms) { return this._setLocal(wallMs(y, M, D, h, m, s, ms)); };

  proto.clone = function () { return new Moment(this._t, this._z, this._f, this._x); };
  proto.valueOf = function () { return this._t; };
  proto.unix = function () { return Math.floor(this._t / 1000); };
  proto.toDate = function () { return new NativeDate(this._t); };
  proto.isUtc = proto.isUTC = function () {
    if (!this.isValid() || this.utcOffset() !== 0) return false;
    return this._z === null || (this._x && UTC_ZONES.indexOf(this._z) >= 0);
  };
  proto.isLocal = function () { return this._z !== null && !this._x; };
  proto.isDST = function () {
    if (!this.isValid() || this._z === null) return false;
    var y = this.year();
    var jan = zoneOffset(this._z, wallMs(y, 0, 1));
    var jul = zoneOffset(this._z, wallMs(y, 6, 1));
    return jan !== jul && this.utcOffset() === Math.max(jan, jul);
  };
  proto.locale = function (name) { return name === undefined ? "en" : this; };

  proto.utc = function (keepLocalTime) { return this.utcOffset(0, keepLocalTime); };
  proto.local = function (keepLocalTime) { return this._setZone(host.zone(), false, keepLocalTime); };
  proto.tz = function (zone, keepLocalTime) {
    if (zone === undefined) return this._x ? this._z : undefined;
    return this._setZone(String(zone), true, keepLocalTime);
  };
  proto._setZone = function (zone, explicit, keepLocalTime) {
    zoneOffset(zone, this.isValid() ? this._t : 0);
    var wall = this.isValid() ? this._local() : NaN;
    this._z = zone;
    this._f = 0;
    this._x = explicit;
    this._oc = NaN;
    if (keepLocalTime && this.isValid()) this._setLocal(wall);
    return this;
  };

  // ---------------------------------------------------------------- getters and setters

  function monthIndex(value) {
    if (typeof value !== "string" || /^\s*-?\d+\s*$/.test(value)) return Math.trunc(Number(value));
    var v = value.toLowerCase();
    for (var i = 0; i < 12; i++) {
      if (MONTHS[i].toLowerCase() === v || MONTHS_SHORT[i].toLowerCase() === v) return i;
    }
    return NaN;
  }
  function weekdayIndex(value) {
    if (typeof value !== "string" || /^\s*-?\d+\s*$/.test(value)) return Math.trunc(Number(value));
    var v = value.toLowerCase();
    for (var i = 0; i < 7; i++) {
      if (WEEKDAYS[i].toLowerCase() === v || WEEKDAYS_SHORT[i].toLowerCase() === v || WEEKDAYS_MIN[i].toLowerCase() === v) return i;
    }
    return NaN;
  }

  function accessor(names, get, set, parse) {
    var fn = function (value) {
      if (value === undefined) return this.isValid() ? get(this._fields(), this) : NaN;
      var v = (parse || Math.trunc)(typeof value === "string" && !parse ? Number(value) : value);
      if (this.isValid() && v === v) set(this, v, this._fields());
      return this;
    };
    names.forEach(function (n) { proto[n] = fn; });
  }
  function shiftDays(m, days) { return addDuration(m, new Duration(0, days, 0), 1); }

  accessor(["year", "years"], function (f) { return f.y; },
    function (m, v, f) { m._setWall(v, f.M, Math.min(f.D, daysIn(v, f.M)), f.h, f.m, f.s, f.ms); });
  accessor(["month", "months"], function (f) { return f.M; },
    function (m, v, f) { m._setWall(f.y, v, Math.min(f.D, daysIn(f.y, v)), f.h, f.m, f.s, f.ms); }, monthIndex);
  accessor(["quarter", "quarters"], function (f) { return Math.floor(f.M / 3) + 1; },
    function (m, v, f) { m.month((v - 1) * 3 + f.M % 3); });
  accessor(["date", "dates"], function (f) { return f.D; },
    function (m, v, f) { m._setWall(f.y, f.M, v, f.h, f.m, f.s, f.ms); });
  accessor(["day", "days", "weekday"], function (f) { return f.dow; },
    function (m, v, f) { shiftDays(m, v - f.dow); }, weekdayIndex);
  accessor(["isoWeekday"], function (f) { return f.dow || 7; },
    function (m, v, f) { shiftDays(m, v - (f.dow || 7)); },
    function (v) { var i = weekdayIndex(v); return typeof v === "string" && i === 0 ? 7 : i; });
  accessor(["dayOfYear"], dayOfYear, function (m, v, f) { shiftDays(m, v - dayOfYear(f)); });
  accessor(["week", "weeks"], function (f) { return weekOf(f, 0, 6).week; },
    function (m, v, f) { shiftDays(m, (v - weekOf(f, 0, 6).week) * 7); });
  accessor(["isoWeek", "isoWeeks"], function (f) { return weekOf(f, 1, 4).week; },
    function (m, v, f) { shiftDays(m, (v - weekOf(f, 1, 4).week) * 7); });
  accessor(["weekYear"], function (f) { return weekOf(f, 0, 6).year; },
    function (m, v, f) { shiftDays(m, Math.round((wallMs(v, 0, 7) - wallMs(weekOf(f, 0, 6).year, 0, 7)) / WEEK) * 7); });
  accessor(["isoWeekYear"], function (f) { return weekOf(f, 1, 4).year; },
    function (m, v, f) { shiftDays(m, Math.round((wallMs(v, 0, 7) - wallMs(weekOf(f, 1, 4).year, 0, 7)) / WEEK) * 7); });
  accessor(["hour", "hours"], function (f) { return f.h; },
    function (m, v, f) { m._setWall(f.y, f.M, f.D, v, f.m, f.s, f.ms); });
  accessor(["minute", "minutes"], function (f) { return f.m; },
    function (m, v, f) { m._setWall(f.y, f.M, f.D, f.h, v, f.s, f.ms); });
  accessor(["second", "seconds"], function (f) { return f.s; },
    function (m, v, f) { m._setWall(f.y, f.M, f.D, f.h, f.m, v, f.ms); });
  accessor(["millisecond", "milliseconds"], function (f) { return f.ms; },
    function (m, v, f) { m._setWall(f.y, f.M, f.D, f.h, f.m, f.s, v); });

  proto.daysInMonth = function () { var f = this._fields(); return daysIn(f.y, f.M); };
  proto.isLeapYear = function () { return isLeap(this.year()); };
  proto.weeksInYear = function () { return weeksInYear(this.weekYear(), 0, 6); };
  proto.isoWeeksInYear = function () { return weeksInYear(this.isoWeekYear(), 1, 4); };

  var SET_ORDER = ["year", "month", "date", "hour", "minute", "second", "millisecond",
    "quarter", "weekYear", "isoWeekYear", "week", "isoWeek", "dayOfYear", "day", "weekday", "isoWeekday"];
  proto.get = function (unit) { return this[requireUnit(unit)](); };
  proto.set = function (unit, value) {
    if (unit !== null && typeof unit === "object") {
      var values = {};
      Object.keys(unit).forEach(function (k) { values[requireUnit(k)] = unit[k]; });
      for (var i = 0; i < SET_ORDER.length; i++) {
        if (Object.prototype.hasOwnProperty.call(values, SET_ORDER[i])) this[SET_ORDER[i]](values[SET_ORDER[i]]);
      }
      return this;
    }
    return this[requireUnit(unit)](value);
  };
  proto.toArray = function () { var f = this._fields(); return [f.y, f.M, f.D, f.h, f.m, f.s, f.ms]; };
  proto.toObject = function () {
    var f = this._fields();
    return { years: f.y, months: f.M, date: f.D, hours: f.h, minutes: f.m, seconds: f.s, milliseconds: f.ms };
  };

  // ---------------------------------------------------------------- durations and arithmetic

  // A duration keeps milliseconds, days and months apart, because a day is not always 24 hours
  // in a zone with DST and a month has no fixed length.
  function Duration(ms, days, months) {
    this._ms = ms;
    this._d = days;
    this._M = months;
  }
  var dproto = Duration.prototype;
  function isDuration(x) { return x instanceof Duration; }

  // What one of each unit adds: [milliseconds, days, months].
  var DURATION_UNITS = {
    millisecond: [1, 0, 0], second: [1e3, 0, 0], minute: [MIN, 0, 0], hour: [HOUR, 0, 0],
    day: [0, 1, 0], date: [0, 1, 0], week: [0, 7, 0], isoWeek: [0, 7, 0],
    month: [0, 0, 1], quarter: [0, 0, 3], year: [0, 0, 12]
  };
  function durationUnit(unit) {
    var u = requireUnit(unit);
    if (!Object.prototype.hasOwnProperty.call(DURATION_UNITS, u)) throw new RangeError("a duration cannot be in '" + unit + "'");
    return DURATION_UNITS[u];
  }
  function durationOf(values) {
    var ms = 0, days = 0, months = 0;
    Object.keys(values).forEach(function (k) {
      var f = durationUnit(k);
      var v = Number(values[k] || 0);
      if (v !== v) throw new RangeError("invalid duration amount for " + k);
      ms += v * f[0];
      days += v * f[1];
      months += v * f[2];
    });
    return new Duration(ms, days, months);
  }

  var ISO_DURATION = /^([-+])?P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/i;
  var CLOCK_DURATION = /^([-+])?(?:(\d+)[. ])?(\d+):(\d\d)(?::(\d\d)(?:\.(\d{1,3})\d*)?)?$/;

  function parseDurationText(text) {
    var s = text.trim();
    var m = ISO_DURATION.exec(s);
    var num = function (x) { return x ? Number(x.replace(",", ".")) : 0; };
    var d;
    if (m && /\d/.test(s)) {
      d = durationOf({ year: num(m[2]), month: num(m[3]), week: num(m[4]), day: num(m[5]),
        hour: num(m[6]), minute: num(m[7]), second: num(m[8]) });
    } else if ((m = CLOCK_DURATION.exec(s))) {
      d = durationOf({ day: num(m[2]), hour: num(m[3]), minute: num(m[4]), second: num(m[5]),
        millisecond: m[6] ? Number((m[6] + "00").slice(0, 3)) : 0 });
    } else {
      throw new RangeError("invalid duration '" + text + "'");
    }
    return m[1] === "-" ? new Duration(-d._ms, -d._d, -d._M) : d;
  }

  function toDuration(amount, unit) {
    if (isDuration(amount)) return amount;
    if (typeof amount === "string" && typeof unit === "number") { var swap = amount; amount = unit; unit = swap; }
    if (typeof amount === "number" || (typeof amount === "string" && unit !== undefined && /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/.test(amount))) {
      var n = Number(amount);
      var f = unit === undefined ? DURATION_UNITS.millisecond : durationUnit(unit);
      return new Duration(n * f[0], n * f[1], n * f[2]);
    }
    if (typeof amount === "string") return parseDurationText(amount);
    if (amount !== null && typeof amount === "object") return durationOf(amount);
    throw new TypeError("cannot add " + amount + " to a moment");
  }

  function addDuration(m, d, sign) {
    if (!m.isValid()) return m;
    var days = absRound(d._d);
    var months = absRound(d._M);
    if (months) {  // months first, then days, then the fixed-length part, as moment does
      var g = m._fields();
      var total = g.M + months * sign;
      var y = g.y + Math.floor(total / 12);
      var mo = mod(total, 12);
      m._setWall(y, mo, Math.min(g.D, daysIn(y, mo)), g.h, g.m, g.s, g.ms);
    }
    if (days) { var f = m._fields(); m._setWall(f.y, f.M, f.D + days * sign, f.h, f.m, f.s, f.ms); }
    if (d._ms) m._t = Math.trunc(m._t + d._ms * sign);
    return m;
  }

  proto.add = function (amount, unit) { return addDuration(this, toDuration(amount, unit), 1); };
  proto.subtract = function (amount, unit) { return addDuration(this, toDuration(amount, unit), -1); };

  proto.startOf = function (unit) {
    var u = requireUnit(unit);
    if (!this.isValid()) return this;
    var f = this._fields();
    switch (u) {
      case "year": return this._setWall(f.y, 0, 1);
      case "quarter": return this._setWall(f.y, f.M - f.M % 3, 1);
      case "month": return this._setWall(f.y, f.M, 1);
      case "week": return this._setWall(f.y, f.M, f.D - f.dow);
      case "isoWeek": return this._setWall(f.y, f.M, f.D - mod(f.dow - 1, 7));
      case "day": case "date": return this._setWall(f.y, f.M, f.D);
      case "hour": return this._floor(HOUR);
      case "minute": return this._floor(MIN);
      case "second": return this._floor(1000);
      case "millisecond": return this;
    }
    throw new RangeError("startOf/endOf does not support the unit '" + unit + "'");
  };
  proto._floor = function (size) {
    this._t -= mod(this._local(), size);
    return this;
  };
  proto.endOf = function (unit) {
    var u = requireUnit(unit);
    if (!this.isValid() || u === "millisecond") return this;
    var f = this._fields();
    switch (u) {
      case "year": this._setWall(f.y + 1, 0, 1); break;
      case "quarter": this._setWall(f.y, f.M - f.M % 3 + 3, 1); break;
      case "month": this._setWall(f.y, f.M + 1, 1); break;
      case "week": this._setWall(f.y, f.M, f.D - f.dow + 7); break;
      case "isoWeek": this._setWall(f.y, f.M, f.D - mod(f.dow - 1, 7) + 7); break;
      case "day": case "date": this._setWall(f.y, f.M, f.D + 1); break;
      case "hour": this._floor(HOUR)._t += HOUR; break;
      case "minute": this._floor(MIN)._t += MIN; break;
      case "second": this._floor(1000)._t += 1000; break;
      default: throw new RangeError("startOf/endOf does not support the unit '" + unit + "'");
    }
    this._t -= 1;
    return this;
  };

  // ---------------------------------------------------------------- comparison and difference

  function toMoment(input) { return isMoment(input) ? input : createMoment([input], localTarget()); }

  // `other` seen in the zone of `m`, as moment does before comparing calendar units.
  function inZoneOf(other, m) {
    var c = toMoment(other).clone();
    c._z = m._z;
    c._f = m._f;
    c._x = m._x;
    c._oc = NaN;
    return c;
  }

  proto.isBefore = function (other, unit) {
    var that = toMoment(other);
    if (!this.isValid() || !that.isValid()) return false;
    if (unit === undefined || requireUnit(unit) === "millisecond") return this._t < that._t;
    return this.clone().endOf(unit)._t < that._t;
  };
  proto.isAfter = function (other, unit) {
    var that = toMoment(other);
    if (!this.isValid() || !that.isValid()) return false;
    if (unit === undefined || requireUnit(unit) === "millisecond") return this._t > that._t;
    return that._t < this.clone().startOf(unit)._t;
  };
  proto.isSame = function (other, unit) {
    var that = toMoment(other);
    if (!this.isValid() || !that.isValid()) return false;
    if (unit === undefined || requireUnit(unit) === "millisecond") return this._t === that._t;
    return this.clone().startOf(unit)._t <= that._t && that._t <= this.clone().endOf(unit)._t;
  };
  proto.isSameOrBefore = function (other, unit) { return this.isSame(other, unit) || this.isBefore(other, unit); };
  proto.isSameOrAfter = function (other, unit) { return this.isSame(other, unit) || this.isAfter(other, unit); };
  proto.isBetween = function (from, to, unit, inclusivity) {
    var incl = inclusivity || "()";
    var afterFrom = incl[0] === "[" ? this.isSameOrAfter(from, unit) : this.isAfter(from, unit);
    var beforeTo = incl[1] === "]" ? this.isSameOrBefore(to, unit) : this.isBefore(to, unit);
    return afterFrom && beforeTo;
  };

  // Months between two moments, with the fraction measured against the month it falls in.
  // Counting from the later day of month keeps month ends whole (Feb 29 -> Feb 28 is a year).
  function monthDiff(a, b) {
    var fa = a._fields();
    var fb = b._fields();
    if (fa.D < fb.D) return -monthDiff(b, a);
    var whole = (fb.y - fa.y) * 12 + (fb.M - fa.M);
    var anchor = a.clone().add(whole, "M")._t;
    var adjust;
    if (b._t - anchor < 0) {
      adjust = (b._t - anchor) / (anchor - a.clone().add(whole - 1, "M")._t);
    } else {
      adjust = (b._t - anchor) / (a.clone().add(whole + 1, "M")._t - anchor);
    }
    return -(whole + adjust) || 0;
  }

  proto.diff = function (other, unit, asFloat) {
    if (!this.isValid() || !toMoment(other).isValid()) return NaN;
    var that = inZoneOf(other, this);
    var u = unit === undefined ? "millisecond" : requireUnit(unit);
    var zoneDelta = (that.utcOffset() - this.utcOffset()) * MIN;
    var out;
    switch (u) {
      case "year": out = monthDiff(this, that) / 12; break;
      case "quarter": out = monthDiff(this, that) / 3; break;
      case "month": out = monthDiff(this, that); break;
      case "week": case "isoWeek": out = (this._t - that._t - zoneDelta) / WEEK; break;
      case "day": case "date": out = (this._t - that._t - zoneDelta) / DAY; break;
      case "hour": out = (this._t - that._t) / HOUR; break;
      case "minute": out = (this._t - that._t) / MIN; break;
      case "second": out = (this._t - that._t) / 1e3; break;
      case "millisecond": out = this._t - that._t; break;
      default: throw new RangeError("diff does not support the unit '" + unit + "'");
    }
    return asFloat ? out : absFloor(out);
  };

  // ---------------------------------------------------------------- formatting

  var TOKENS = ["YYYYYY", "YYYY", "YY", "Y", "MMMM", "MMM", "Mo", "MM", "M", "DDDD", "DDDo", "DDD", "Do",
    "DD", "D", "dddd", "ddd", "dd", "do", "d", "E", "e", "HH", "H", "hh", "h", "kk", "k", "mm", "m",
    "ss", "s", "SSSSSSSSS", "SSSSSSSS", "SSSSSSS", "SSSSSS", "SSSSS", "SSSS", "SSS", "SS", "S", "A", "a",
    "ZZ", "Z", "X", "x", "Qo", "Q", "WW", "Wo", "W", "ww", "wo", "w", "GGGG", "GG", "gggg", "gg", "zz",
    "z", "LTS", "LT", "LLLL", "LLL", "LL", "L", "llll", "lll", "ll", "l"
  ].sort(function (a, b) { return b.length - a.length; });
  var TOKEN_RE = new RegExp("\\[[^\\]]*\\]|\\\\[\\s\\S]|" + TOKENS.join("|") + "|[\\s\\S]", "g");

  // A format string compiled to a list of {tok} and {lit} pieces, long-date tokens expanded.
  var compiled = new Map();
  function compileFormat(fmt) {
    var pieces = compiled.get(fmt);
    if (pieces) return pieces;
    pieces = [];
    var pushLit = function (text) {
      var last = pieces[pieces.length - 1];
      if (last && last.lit !== undefined) last.lit += text; else pieces.push({ lit: text });
    };
    (fmt.match(TOKEN_RE) || []).forEach(function (part) {
      if (part.length >= 2 && part[0] === "[" && part[part.length - 1] === "]") pushLit(part.slice(1, -1));
      else if (part.length === 2 && part[0] === "\\") pushLit(part[1]);
      else if (Object.prototype.hasOwnProperty.call(LONG_FORMATS, part)) {
        compileFormat(LONG_FORMATS[part]).forEach(function (p) { if (p.lit !== undefined) pushLit(p.lit); else pieces.push(p); });
      } else if (TOKENS.indexOf(part) >= 0) pieces.push({ tok: part });
      else pushLit(part);
    });
    if (compiled.size > 256) compiled.clear();
    compiled.set(fmt, pieces);
    return pieces;
  }

  function fraction(digits) { return function (f) { return (pad(f.ms, 3) + "000000").slice(0, digits); }; }
  var FORMATTERS = {
    Y: function (f) { return f.y <= 9999 ? String(f.y) : "+" + f.y; },
    YY: function (f) { return pad(mod(f.y, 100), 2); },
    YYYY: function (f) { return f.y <= 9999 ? pad(f.y, 4) : "+" + f.y; },
    YYYYYY: function (f) { return (f.y < 0 ? "-" : "+") + pad(Math.abs(f.y), 6); },
    M: function (f) { return String(f.M + 1); },
    MM: function (f) { return pad(f.M + 1, 2); },
    Mo: function (f) { return ordinal(f.M + 1); },
    MMM: function (f) { return MONTHS_SHORT[f.M]; },
    MMMM: function (f) { return MONTHS[f.M]; },
    D: function (f) { return String(f.D); },
    DD: function (f) { return pad(f.D, 2); },
    Do: function (f) { return ordinal(f.D); },
    DDD: function (f) { return String(dayOfYear(f)); },
    DDDD: function (f) { return pad(dayOfYear(f), 3); },
    DDDo: function (f) { return ordinal(dayOfYear(f)); },
    d: function (f) { return String(f.dow); },
    do: function (f) { return ordinal(f.dow); },
    dd: function (f) { return WEEKDAYS_MIN[f.dow]; },
    ddd: function (f) { return WEEKDAYS_SHORT[f.dow]; },
    dddd: function (f) { return WEEKDAYS[f.dow]; },
    e: function (f) { return String(f.dow); },
    E: function (f) { return String(f.dow || 7); },
    H: function (f) { return String(f.h); },
    HH: function (f) { return pad(f.h, 2); },
    h: function (f) { return String(f.h % 12 || 12); },
    hh: function (f) { return pad(f.h % 12 || 12, 2); },
    k: function (f) { return String(f.h || 24); },
    kk: function (f) { return pad(f.h || 24, 2); },
    m: function (f) { return String(f.m); },
    mm: function (f) { return pad(f.m, 2); },
    s: function (f) { return String(f.s); },
    ss: function (f) { return pad(f.s, 2); },
    A: function (f) { return f.h < 12 ? "AM" : "PM"; },
    a: function (f) { return f.h < 12 ? "am" : "pm"; },
    Z: function (f, m) { return offsetText(m.utcOffset(), ":"); },
    ZZ: function (f, m) { return offsetText(m.utcOffset(), ""); },
    X: function (f, m) { return String(m.unix()); },
    x: function (f, m) { return String(m._t); },
    Q: function (f) { return String(Math.floor(f.M / 3) + 1); },
    Qo: function (f) { return ordinal(Math.floor(f.M / 3) + 1); },
    w: function (f) { return String(weekOf(f, 0, 6).week); },
    ww: function (f) { return pad(weekOf(f, 0, 6).week, 2); },
    wo: function (f) { return ordinal(weekOf(f, 0, 6).week); },
    W: function (f) { return String(weekOf(f, 1, 4).week); },
    WW: function (f) { return pad(weekOf(f, 1, 4).week, 2); },
    Wo: function (f) { return ordinal(weekOf(f, 1, 4).week); },
    gg: function (f) { return pad(mod(weekOf(f, 0, 6).year, 100), 2); },
    gggg: function (f) { return pad(weekOf(f, 0, 6).year, 4); },
    GG: function (f) { return pad(mod(weekOf(f, 1, 4).year, 100), 2); },
    GGGG: function (f) { return pad(weekOf(f, 1, 4).year, 4); },
    z: function (f, m) { return m.isUtc() ? "UTC" : ""; },
    zz: function (f, m) { return m.isUtc() ? "UTC" : ""; }
  };
  for (var digits = 1; digits <= 9; digits++) FORMATTERS["SSSSSSSSS".slice(0, digits)] = fraction(digits);

  proto.format = function (fmt) {
    if (!this.isValid()) return "Invalid date";
    if (fmt === undefined || fmt === null || fmt === "") {
      fmt = this.isUtc() ? "YYYY-MM-DDTHH:mm:ss[Z]" : "YYYY-MM-DDTHH:mm:ssZ";
    }
    var pieces = compileFormat(String(fmt));
    var f = this._fields();
    var out = "";
    for (var i = 0; i < pieces.length; i++) {
      out += pieces[i].lit !== undefined ? pieces[i].lit : FORMATTERS[pieces[i].tok](f, this);
    }
    return out;
  };
  proto.toISOString = function (keepOffset) {
    if (!this.isValid()) return null;
    var off = keepOffset ? this.utcOffset() : 0;
    var f = fieldsOf(this._t + off * MIN);
    var year = f.y >= 0 && f.y <= 9999 ? pad(f.y, 4) : (f.y < 0 ? "-" : "+") + pad(Math.abs(f.y), 6);
    return year + "-" + pad(f.M + 1, 2) + "-" + pad(f.D, 2) + "T" + pad(f.h, 2) + ":" + pad(f.m, 2) + ":" +
      pad(f.s, 2) + "." + pad(f.ms, 3) + (keepOffset ? offsetText(off, ":") : "Z");
  };
  proto.toJSON = function () { return this.isValid() ? this.toISOString() : null; };
  proto.toString = function () {
    return this.isValid() ? this.format("ddd MMM DD YYYY HH:mm:ss [GMT]ZZ") : "Invalid date";
  };

  // ---------------------------------------------------------------- parsing

  // ISO 8601 as moment accepts it: 2016-01-30, 20160130, 2016-01-30T10:00, "2016-01-30 10:00:00",
  // fractions with . or , and an optional Z / +09:00 / +0900 / +09 offset.
  var ISO_RE = /^\s*(\d{4})(?:-(\d\d)(?:-(\d\d))?|(\d\d)(\d\d))?(?:(?:T|t|\s+)(\d\d)(?::?(\d\d)(?::?(\d\d)(?:[.,](\d+))?)?)?)?\s*(Z|z|[+-]\d\d(?::?\d\d)?)?\s*$/;
  var RFC2822_RE = /^\s*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?(\d{1,2})\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{2,4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-]\d{4}|UT|GMT|Z|[ECMP][SD]T)\s*$/i;
  var US_ZONES = { UT: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420 };

  function valid(p) {
    if (p.M < 0 || p.M > 11 || p.D < 1 || p.D > daysIn(p.y, p.M)) return null;
    if (p.m > 59 || p.s > 59 || p.ms > 999) return null;
    if (p.h > 24 || (p.h === 24 && (p.m || p.s || p.ms))) return null;
    return p;
  }

  function parseIso(text) {
    var m = ISO_RE.exec(text);
    if (!m) return null;
    var num = function (x, dflt) { return x === undefined ? dflt : Number(x); };
    return valid({
      y: Number(m[1]), M: num(m[2] || m[4], 1) - 1, D: num(m[3] || m[5], 1),
      h: num(m[6], 0), m: num(m[7], 0), s: num(m[8], 0),
      ms: m[9] ? Math.round(Number("0." + m[9]) * 1000) % 1000 : 0,
      off: m[10] === undefined ? undefined : parseOffset(m[10].toUpperCase())
    });
  }

  function parseRfc2822(text) {
    var m = RFC2822_RE.exec(text);
    if (!m) return null;
    var y = Number(m[3]);
    if (m[3].length === 2) y += y < 50 ? 2000 : 1900;
    var zone = m[7].toUpperCase();
    return valid({
      y: y, M: monthIndex(m[2]), D: Number(m[1]), h: Number(m[4]), m: Number(m[5]),
      s: Number(m[6] || 0), ms: 0, off: Object.prototype.hasOwnProperty.call(US_ZONES, zone) ? US_ZONES[zone] : parseOffset(zone)
    });
  }

  var NAME = /[A-Za-z]+\.?/;
  var PARSERS = {
    YYYYYY: [/[+-]?\d{1,6}/, /[+-]\d{6}/, function (r, v) { r.y = Number(v); }],
    YYYY: [/\d{1,4}/, /\d{4}/, function (r, v) { r.y = Number(v); }],
    Y: [/[+-]?\d+/, /[+-]?\d+/, function (r, v) { r.y = Number(v); }],
    YY: [/\d\d?/, /\d\d/, function (r, v) { var n = Number(v); r.y = n + (n > 68 ? 1900 : 2000); }],
    M: [/\d\d?/, /\d\d?/, function (r, v) { r.M = Number(v) - 1; }],
    MM: [/\d\d?/, /\d\d/, function (r, v) { r.M = Number(v) - 1; }],
    MMM: [NAME, NAME, function (r, v) { r.M = monthIndex(v.replace(".", "")); }],
    D: [/\d\d?/, /\d\d?/, function (r, v) { r.D = Number(v); }],
    DD: [/\d\d?/, /\d\d/, function (r, v) { r.D = Number(v); }],
    DDD: [/\d{1,3}/, /\d{1,3}/, function (r, v) { r.doy = Number(v); }],
    DDDD: [/\d{1,3}/, /\d{3}/, function (r, v) { r.doy = Number(v); }],
    H: [/\d\d?/, /\d\d?/, function (r, v) { r.h = Number(v); }],
    HH: [/\d\d?/, /\d\d/, function (r, v) { r.h = Number(v); }],
    m: [/\d\d?/, /\d\d?/, function (r, v) { r.m = Number(v); }],
    mm: [/\d\d?/, /\d\d/, function (r, v) { r.m = Number(v); }],
    s: [/\d\d?/, /\d\d?/, function (r, v) { r.s = Number(v); }],
    ss: [/\d\d?/, /\d\d/, function (r, v) { r.s = Number(v); }],
    S: [/\d+/, /\d/, function (r, v) { r.ms = Math.round(Number("0." + v) * 1000); }],
    SS: [/\d+/, /\d\d/, function (r, v) { r.ms = Math.round(Number("0." + v) * 1000); }],
    SSS: [/\d+/, /\d{3}/, function (r, v) { r.ms = Math.round(Number("0." + v) * 1000); }],
    a: [/[AaPp]\.?[Mm]?\.?/, /[AaPp]\.?[Mm]?\.?/, function (r, v) { r.pm = v[0].toLowerCase() === "p"; }],
    Z: [/Z|z|[+-]\d\d:?\d\d/, /Z|z|[+-]\d\d:?\d\d/, function (r, v) { r.off = parseOffset(v); }],
    X: [/[+-]?\d+(?:\.\d{1,3})?/, /[+-]?\d+(?:\.\d{1,3})?/, function (r, v) { r.t = Math.round(Number(v) * 1000); }],
    x: [/[+-]?\d+/, /[+-]?\d+/, function (r, v) { r.t = Number(v); }],
    Q: [/[1-4]/, /[1-4]/, function (r, v) { r.M = (Number(v) - 1) * 3; }],
    Do: [/\d\d?(?:st|nd|rd|th)?/, /\d\d?(?:st|nd|rd|th)/, function (r, v) { r.D = parseInt(v, 10); }],
    ignoreNumber: [/\d+(?:st|nd|rd|th)?/, /\d+(?:st|nd|rd|th)?/, function () {}],
    ignoreName: [NAME, NAME, function () {}]
  };
  ["SSSS", "SSSSS", "SSSSSS", "SSSSSSS", "SSSSSSSS", "SSSSSSSSS"].forEach(function (t) { PARSERS[t] = PARSERS.SSS; });
  PARSERS.MMMM = PARSERS.MMM;
  PARSERS.h = PARSERS.k = PARSERS.H;
  PARSERS.hh = PARSERS.kk = PARSERS.HH;
  PARSERS.A = PARSERS.a;
  PARSERS.ZZ = PARSERS.Z;
  ["Mo", "DDDo", "do", "d", "e", "E", "Qo", "W", "WW", "Wo", "w", "ww", "wo", "GG", "GGGG", "gg", "gggg"].forEach(function (t) {
    PARSERS[t] = PARSERS.ignoreNumber;
  });
  ["dd", "ddd", "dddd", "z", "zz"].forEach(function (t) { PARSERS[t] = PARSERS.ignoreName; });
  var stickyCache = new Map();
  function tokenRegex(re, strict) {
    var key = re.source + (strict ? "/y" : "/g");
    var compiledRe = stickyCache.get(key);
    if (!compiledRe) { compiledRe = new RegExp(re.source, strict ? "y" : "g"); stickyCache.set(key, compiledRe); }
    return compiledRe;
  }

  // Non-strict parsing skips input it cannot use, as moment does; strict parsing requires the
  // literal text and the token widths to match exactly and the whole input to be used.
  function parseFormat(text, fmt, strict, target) {
    var pieces = compileFormat(fmt);
    var r = {};
    var pos = 0;
    for (var i = 0; i < pieces.length; i++) {
      var piece = pieces[i];
      if (piece.lit !== undefined) {
        if (text.substr(pos, piece.lit.length) === piece.lit) pos += piece.lit.length;
        else if (strict) return null;
        continue;
      }
      var parser = PARSERS[piece.tok];
      var re = tokenRegex(parser[strict ? 1 : 0], strict);
      re.lastIndex = pos;
      var m = re.exec(text);
      if (!m) return null;
      parser[2](r, m[0]);
      pos = m.index + m[0].length;
    }
    if (strict && pos !== text.length) return null;
    return complete(r, target);
  }

  // Fill in what a parsed date leaves out as moment does: no date at all means today, a day
  // without a month means this month, a missing year means this year; the time defaults to 0.
  function complete(r, target) {
    if (r.t !== undefined) return r;
    var today = null;
    var now = function () { return today || (today = new Moment(host.now(), target._z, target._f, false)._fields()); };
    if (r.doy !== undefined) {
      if (r.y === undefined) r.y = now().y;
      if (r.doy < 1 || r.doy > (isLeap(r.y) ? 366 : 365)) return null;
      var fromDoy = fieldsOf(wallMs(r.y, 0, r.doy));
      r.M = fromDoy.M;
      r.D = fromDoy.D;
    }
    if (r.y === undefined && r.M === undefined && r.D === undefined) { r.y = now().y; r.M = now().M; r.D = now().D; }
    if (r.D !== undefined && r.M === undefined) r.M = now().M;
    if (r.y === undefined) r.y = now().y;
    if (r.M === undefined) r.M = 0;
    if (r.D === undefined) r.D = 1;
    if (r.h === undefined) r.h = 0;
    if (r.pm !== undefined) {
      if (r.h > 12) return null;
      if (r.pm && r.h < 12) r.h += 12;
      if (!r.pm && r.h === 12) r.h = 0;
    }
    var numbers = [r.y, r.M, r.D, r.h, r.m || 0, r.s || 0, r.ms || 0];
    for (var i = 0; i < numbers.length; i++) if (!Number.isFinite(numbers[i])) return null;
    return valid({ y: r.y, M: r.M, D: r.D, h: r.h, m: r.m || 0, s: r.s || 0, ms: r.ms || 0, off: r.off });
  }

  function fromParts(m, p, keepZone) {
    if (!p) { m._t = NaN; return m; }
    if (p.t !== undefined) { m._t = p.t; return m; }
    var w = wallMs(p.y, p.M, p.D, p.h, p.m, p.s, p.ms);
    if (p.off === undefined) return m._setLocal(w);
    m._t = w - p.off * MIN;
    if (keepZone) { m._z = null; m._f = p.off; m._x = false; }
    return m;
  }

  var ARRAY_FIELDS = ["y", "M", "D", "h", "m", "s", "ms"];
  var OBJECT_FIELDS = { year: "y", month: "M", date: "D", day: "D", hour: "h", minute: "m", second: "s", millisecond: "ms" };

  function partsOf(input, target) {
    var r = {};
    if (Array.isArray(input)) {
      input.slice(0, 7).forEach(function (v, i) { r[ARRAY_FIELDS[i]] = Number(v); });
    } else {
      Object.keys(input).forEach(function (k) {
        var field = OBJECT_FIELDS[requireUnit(k)];
        if (field === undefined) throw new RangeError("moment() does not take the unit '" + k + "' in an object");
        r[field] = Number(input[k]);
      });
    }
    return complete(r, target);
  }

  // Build a moment from moment()-style arguments into `m`, which carries the target zone.
  function createMoment(args, m, keepZone) {
    var input = args[0];
    if (args.length === 0 || input === undefined) { m._t = host.now(); return m; }
    if (input === null || input === "") { m._t = NaN; return m; }
    if (isMoment(input)) { m._t = input._t; return m; }
    if (input instanceof NativeDate) { m._t = input.getTime(); return m; }
    if (typeof input === "number") { m._t = Math.abs(input) <= 864e13 ? Math.trunc(input) : NaN; return m; }
    if (typeof input === "object") return fromParts(m, partsOf(input, m));
    if (typeof input !== "string") { m._t = NaN; return m; }
    var format = args[1];
    var strict = typeof args[2] === "boolean" ? args[2] : args[3] === true;
    if (format === undefined || format === null) return fromParts(m, parseIso(input) || parseRfc2822(input), keepZone);
    var formats = Array.isArray(format) ? format : [format];
    for (var i = 0; i < formats.length; i++) {
      var p = formats[i] === ISO_8601 ? parseIso(input) : parseFormat(input, String(formats[i]), strict, m);
      if (p) return fromParts(m, p, keepZone);
    }
    m._t = NaN;
    return m;
  }

  function localTarget() { return new Moment(NaN, host.zone(), 0, false); }

  // ---------------------------------------------------------------- the moment namespace

  function moment() {
    if (isMoment(arguments[0])) return arguments[0].clone();
    return createMoment(arguments, localTarget(), false);
  }
  moment.utc = function () {
    if (isMoment(arguments[0])) return arguments[0].clone().utc();
    return createMoment(arguments, new Moment(NaN, null, 0, false), false);
  };
  moment.parseZone = function () {
    if (isMoment(arguments[0])) return arguments[0].clone();
    return createMoment(arguments, new Moment(NaN, null, 0, false), true);
  };
  moment.unix = function (seconds) { return createMoment([Number(seconds) * 1000], localTarget(), false); };
  moment.tz = function () {
    var zone = String(arguments[arguments.length - 1]);
    zoneOffset(zone, 0);
    var args = Array.prototype.slice.call(arguments, 0, -1);
    if (isMoment(args[0])) return args[0].clone().tz(zone);
    return createMoment(args, new Moment(NaN, zone, 0, true), false);
  };
  moment.tz.guess = function () { return host.zone(); };
  moment.duration = function (amount, unit) { var d = toDuration(amount === undefined ? 0 : amount, unit); return new Duration(d._ms, d._d, d._M); };
  moment.isMoment = isMoment;
  moment.isDuration = isDuration;
  moment.isDate = function (x) { return x instanceof NativeDate; };
  moment.invalid = function () { return new Moment(NaN, host.zone(), 0, false); };
  moment.now = function () { return host.now(); };
  moment.min = function () {
    var list = Array.isArray(arguments[0]) ? arguments[0] : Array.prototype.slice.call(arguments);
    return list.map(toMoment).reduce(function (a, b) { return b._t < a._t ? b : a; });
  };
  moment.max = function () {
    var list = Array.isArray(arguments[0]) ? arguments[0] : Array.prototype.slice.call(arguments);
    return list.map(toMoment).reduce(function (a, b) { return b._t > a._t ? b : a; });
  };
  moment.normalizeUnits = normalizeUnit;
  moment.locale = function () { return "en"; };
  moment.ISO_8601 = ISO_8601;
  moment.fn = proto;
  moment.duration.fn = dproto;
  moment.version = "2.x-subset (digpy)";

  // ---------------------------------------------------------------- durations

  dproto.as = function (unit) {
    var u = requireUnit(unit);
    if (u === "month" || u === "quarter" || u === "year") {
      var months = this._M + (this._d + this._ms / DAY) * 4800 / 146097;
      return u === "month" ? months : u === "quarter" ? months / 3 : months / 12;
    }
    var days = this._d + Math.round(this._M * 146097 / 4800);
    switch (u) {
      case "week": case "isoWeek": return days / 7 + this._ms / WEEK;
      case "day": case "date": return days + this._ms / DAY;
      case "hour": return days * 24 + this._ms / HOUR;
      case "minute": return days * 1440 + this._ms / MIN;
      case "second": return days * 86400 + this._ms / 1000;
      case "millisecond": return Math.floor(days * DAY) + this._ms;
    }
    throw new RangeError("a duration cannot be expressed in '" + unit + "'");
  };
  ["Milliseconds", "Seconds", "Minutes", "Hours", "Days", "Weeks", "Months", "Quarters", "Years"].forEach(function (name) {
    var unit = name.toLowerCase();
    dproto["as" + name] = function () { return this.as(unit); };
  });
  dproto.valueOf = function () { return this.as("ms"); };
  dproto.toISOString = function () {
    var neg = this._ms < 0 || this._d < 0 || this._M < 0;
    var sign = neg ? -1 : 1;
    var months = Math.abs(this._M);
    var ms = Math.abs(this._ms);
    var y = Math.trunc(months / 12);
    var mo = months % 12;
    var d = Math.abs(this._d);
    var h = Math.trunc(ms / HOUR);
    var mi = Math.trunc((ms % HOUR) / MIN);
    var s = (ms % MIN) / 1000;
    var date = (y ? y + "Y" : "") + (mo ? mo + "M" : "") + (d ? d + "D" : "");
    var time = (h ? h + "H" : "") + (mi ? mi + "M" : "") + (s ? Number(s.toFixed(3)) + "S" : "");
    if (!date && !time) return "P0D";
    return (sign < 0 ? "-" : "") + "P" + date + (time ? "T" + time : "");
  };
  dproto.toJSON = dproto.toString = dproto.toISOString;

  return moment;
})
