/* Mediation rooms: one reconnecting websocket per room, resumed from the last number seen.
 *
 * The server numbers each room's messages 1, 2, 3, …; this page keeps the highest number it has,
 * drops any number it already shows, and says hello with that number whenever it (re)connects
 * (0 on page load: the whole history comes first). Messages typed while offline wait in an outbox
 * with their client_id and are sent again until acknowledged; the server stores each id once.
 * Everything users wrote is inserted as text, never as HTML.
 */
(function () {
  "use strict";
  var root = document.querySelector("[data-rooms]");
  if (!root) { return; }
  var labels = JSON.parse(document.getElementById("room-labels").textContent);
  var banner = document.getElementById("offline-banner");
  var PING_MS = 20000;
  var rooms = {};

  function newClientId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function socketUrl(id) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + "/ws/rooms/" + id + "/";
  }

  function updateBanner() {
    var down = !navigator.onLine || Object.keys(rooms).some(function (id) { return !rooms[id].open && !rooms[id].refused; });
    banner.hidden = !down;
  }

  function Room(panel) {
    this.id = panel.getAttribute("data-room");
    this.panel = panel;
    this.tab = document.getElementById("tab-" + this.id);
    this.list = panel.querySelector("[data-messages]");
    this.form = panel.querySelector("[data-compose]");
    this.error = panel.querySelector("[data-error]");
    this.typingLine = panel.querySelector("[data-typing]");
    this.presenceLine = panel.querySelector("[data-presence]");
    this.last = 0;
    this.shown = {};
    this.outbox = [];
    this.unread = 0;
    this.open = false;
    this.refused = false;
    this.held = false;
    this.retry = 0;
    this.me = parseInt(root.getAttribute("data-user") || "0", 10);
    this.isCaucus = panel.getAttribute("data-kind") === "caucus";
    this.bind();
    this.connect();
  }

  Room.prototype.bind = function () {
    var self = this;
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = self.form.querySelector("textarea");
      var body = box.value.trim();
      if (!body) { return; }
      var item = { type: "send", body: body, client_id: newClientId() };
      self.outbox.push(item);
      self.showPending(item);
      box.value = "";
      self.error.hidden = true;
      self.flush();
    });
    this.form.querySelector("textarea").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.form.requestSubmit();
      }
    });
    this.form.querySelector("textarea").addEventListener("input", function () {
      if (self.open) { self.socket.send(JSON.stringify({ type: "typing" })); }
    });
    this.tab.addEventListener("click", function () { select(self.id); });
  };

  Room.prototype.connect = function () {
    var self = this;
    if (this.held || this.refused) { return; }
    var socket = new WebSocket(socketUrl(this.id));
    this.socket = socket;
    socket.addEventListener("open", function () {
      self.open = true;
      self.retry = 0;
      socket.send(JSON.stringify({ type: "hello", after: self.last }));
      updateBanner();
    });
    socket.addEventListener("message", function (event) { self.receive(JSON.parse(event.data)); });
    socket.addEventListener("close", function (event) {
      self.open = false;
      self.ready = false;
      window.clearInterval(self.pinger);
      if (event.code === 4403) {
        self.refused = true;
        self.showError(labels.forbidden);
      } else if (!self.held) {
        var delay = Math.min(10000, 500 * Math.pow(2, self.retry++));
        window.setTimeout(function () { self.connect(); }, delay);
      }
      updateBanner();
    });
  };

  Room.prototype.flush = function () {
    if (!this.open || !this.ready) { return; }
    for (var i = 0; i < this.outbox.length; i++) { this.socket.send(JSON.stringify(this.outbox[i])); }
  };

  Room.prototype.receive = function (frame) {
    var self = this;
    if (frame.type === "message") {
      this.addMessage(frame);
    } else if (frame.type === "ready") {
      this.ready = true;
      this.initialised = true;
      this.showPresence(frame.present);
      this.pinger = window.setInterval(function () {
        if (self.open) { self.socket.send(JSON.stringify({ type: "ping" })); }
      }, PING_MS);
      this.flush();
    } else if (frame.type === "released") {
      this.markReleased(frame.seq);
    } else if (frame.type === "ack") {
      this.outbox = this.outbox.filter(function (item) { return item.client_id !== frame.client_id; });
    } else if (frame.type === "presence") {
      this.showPresence(frame.present);
    } else if (frame.type === "typing") {
      this.typingLine.textContent = labels.typing.replace("%(name)s", frame.name);
      window.clearTimeout(this.typingTimer);
      this.typingTimer = window.setTimeout(function () { self.typingLine.textContent = ""; }, 3000);
    } else if (frame.type === "error") {
      if (frame.client_id) {
        this.outbox = this.outbox.filter(function (item) { return item.client_id !== frame.client_id; });
        var pending = this.list.querySelector('[data-client-id="' + frame.client_id + '"]');
        if (pending) { pending.remove(); }
      }
      this.showError(frame.message);
    }
    sitting.receive(this, frame);
  };

  Room.prototype.addMessage = function (frame) {
    if (this.shown[frame.seq]) { return; }
    this.shown[frame.seq] = true;
    if (frame.seq > this.last) { this.last = frame.seq; }
    var item = frame.client_id ? this.list.querySelector('[data-client-id="' + frame.client_id + '"]') : null;
    if (!item) {
      item = document.createElement("li");
      var meta = document.createElement("span");
      meta.className = "meta";
      var body = document.createElement("span");
      body.className = "body";
      item.appendChild(meta);
      item.appendChild(body);
      this.place(item, frame.seq);
    } else {
      item.classList.remove("pending");
      this.list.removeChild(item);
      this.place(item, frame.seq);
    }
    item.setAttribute("data-seq", String(frame.seq));
    var mine = frame.author && frame.author.id === this.me;
    item.className = frame.kind === "system" ? "system" : (mine ? "mine" : "");
    var when = frame.at ? frame.at.slice(11, 16) : "";
    item.querySelector(".meta").textContent = (frame.author ? (mine ? labels.you : frame.author.name) : labels.system) + " · " + when;
    item.querySelector(".body").textContent = frame.body;
    if (mine && this.isCaucus && frame.kind === "text") { this.offerRelease(item, frame); }
    // The history replayed when the page opens is not "unread"; what arrives afterwards is.
    if (this.initialised && !this.isActive() && !mine) {
      this.unread += 1;
      this.showUnread();
    }
    this.list.scrollTop = this.list.scrollHeight;
  };

  Room.prototype.place = function (item, seq) {
    // Keep the list in number order even if a replay arrives after a newer message.
    var after = null;
    var children = this.list.querySelectorAll("li[data-seq]");
    for (var i = children.length - 1; i >= 0; i--) {
      if (parseInt(children[i].getAttribute("data-seq"), 10) < seq) { after = children[i]; break; }
    }
    if (after) {
      after.insertAdjacentElement("afterend", item);
    } else {
      this.list.insertBefore(item, this.list.firstChild);
    }
    var pendings = this.list.querySelectorAll("li.pending");
    for (var j = 0; j < pendings.length; j++) { this.list.appendChild(pendings[j]); }
  };

  /* 在线调解规则 Art 18: only the author can take a caucus statement to the joint room. */
  Room.prototype.offerRelease = function (item, frame) {
    var self = this;
    var old = item.querySelector(".release");
    if (old) { old.remove(); }
    var control;
    if (frame.released) {
      control = document.createElement("span");
      control.textContent = labels.released;
    } else {
      control = document.createElement("button");
      control.type = "button";
      control.className = "link-button";
      control.textContent = labels.release;
      control.addEventListener("click", function () {
        if (self.open) { self.socket.send(JSON.stringify({ type: "release", seq: frame.seq })); }
      });
    }
    control.classList.add("release");
    item.appendChild(control);
  };

  Room.prototype.markReleased = function (seq) {
    var item = this.list.querySelector('li[data-seq="' + seq + '"]');
    if (item) { this.offerRelease(item, { seq: seq, released: true }); }
  };

  Room.prototype.showPending = function (outgoing) {
    var item = document.createElement("li");
    item.className = "mine pending";
    item.setAttribute("data-client-id", outgoing.client_id);
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = labels.you + " · " + labels.pending;
    var body = document.createElement("span");
    body.className = "body";
    body.textContent = outgoing.body;
    item.appendChild(meta);
    item.appendChild(body);
    this.list.appendChild(item);
    this.list.scrollTop = this.list.scrollHeight;
  };

  Room.prototype.showPresence = function (people) {
    this.presenceLine.textContent = labels.present + people.map(function (p) { return p.name; }).join("、");
  };

  Room.prototype.showError = function (message) {
    this.error.textContent = message;
    this.error.hidden = false;
  };

  Room.prototype.isActive = function () { return !this.panel.hidden && document.visibilityState === "visible"; };

  Room.prototype.showUnread = function () {
    var badge = this.tab.querySelector("[data-unread]");
    badge.textContent = String(this.unread);
    badge.hidden = this.unread === 0;
  };

  /* Drop the connection as a network failure would; with hold, stay away until resume(). */
  Room.prototype.drop = function (hold) {
    this.held = Boolean(hold);
    this.ready = false;
    if (this.socket) { this.socket.close(4000); }
  };

  /* --- Sittings (sessions/opening.py): the mediator's mute/move/close, check-in refusals. ---------
   * Self-contained: called with every frame after the handlers above. The server words each
   * notice (frame.message), so this block needs no labels of its own. */
  var sitting = {
    notice: function (text) {
      var box = document.getElementById("sitting-notice");
      if (!box) {
        box = document.createElement("p");
        box.id = "sitting-notice";
        box.className = "message info rooms-banner";
        box.setAttribute("role", "status");
        box.setAttribute("aria-live", "polite");
        root.parentNode.insertBefore(box, root);
      }
      box.textContent = text;
      box.hidden = false;
    },
    receive: function (room, frame) {
      if (frame.type === "muted" || frame.type === "unmuted" || frame.type === "session_closed") {
        this.notice(frame.message);
      } else if (frame.type === "moved") {
        this.notice(frame.message);
        if (rooms[String(frame.to_room)]) { select(String(frame.to_room)); }
      } else if (frame.type === "error" && frame.code === "check_in_required" && frame.check_in_url) {
        var link = document.createElement("a");
        link.href = frame.check_in_url;
        link.className = "check-in-link";
        link.textContent = frame.check_in_url;
        room.error.appendChild(document.createTextNode(" "));
        room.error.appendChild(link);
      }
    }
  };

  function select(id) {
    Object.keys(rooms).forEach(function (other) {
      var room = rooms[other];
      var active = other === id;
      room.panel.hidden = !active;
      room.tab.setAttribute("aria-selected", active ? "true" : "false");
      if (active) {
        room.unread = 0;
        room.showUnread();
      }
    });
  }

  var panels = root.querySelectorAll("section[data-room]");
  for (var i = 0; i < panels.length; i++) {
    var room = new Room(panels[i]);
    rooms[room.id] = room;
  }
  window.addEventListener("online", updateBanner);
  window.addEventListener("offline", updateBanner);

  // For people and tests alike: what a dropped network does, on demand.
  window.fengqiaoRooms = {
    drop: function () { Object.keys(rooms).forEach(function (id) { rooms[id].drop(true); }); },
    resume: function () {
      Object.keys(rooms).forEach(function (id) { rooms[id].held = false; rooms[id].connect(); });
    },
    last: function (id) { return rooms[String(id)].last; }
  };
})();
