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

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function csrfToken() {
    var field = root.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function formatSize(bytes) {
    if (bytes < 1024) { return fill(labels.bytes, { size: bytes }); }
    if (bytes < 1048576) { return fill(labels.kilobytes, { size: (bytes / 1024).toFixed(1) }); }
    return fill(labels.megabytes, { size: (bytes / 1048576).toFixed(1) });
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
    this.upload = panel.querySelector("[data-upload]");
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
    if (this.upload) {
      this.upload.addEventListener("submit", function (event) { event.preventDefault(); });
      this.upload.querySelector("[data-file]").addEventListener("change", function (event) {
        var file = event.target.files[0];
        if (file) { self.sendFile(file, event.target); }
      });
    }
  };

  /* The file goes over HTTP (same checks as evidence); its message then arrives on the socket. */
  Room.prototype.sendFile = function (file, input) {
    var self = this;
    var progress = this.upload.querySelector("[data-progress]");
    var status = this.upload.querySelector("[data-upload-status]");
    var error = this.upload.querySelector("[data-upload-error]");
    var body = new FormData();
    body.append("file", file);
    var request = new XMLHttpRequest();
    request.open("POST", this.upload.getAttribute("action"));
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.responseType = "json";
    error.hidden = true;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = fill(labels.uploading, { name: file.name, percent: "0%" });
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) { return; }
      var percent = Math.round(100 * event.loaded / event.total);
      progress.value = percent;
      status.textContent = fill(labels.uploading, { name: file.name, percent: percent + "%" });
    });
    request.addEventListener("load", function () {
      progress.hidden = true;
      status.textContent = "";
      input.value = "";
      var answer = request.response;
      if (request.status >= 400) {
        error.textContent = answer && answer.error ? answer.error.message : labels.upload_failed;
        error.hidden = false;
      }
    });
    request.addEventListener("error", function () {
      progress.hidden = true;
      status.textContent = "";
      error.textContent = labels.upload_failed;
      error.hidden = false;
    });
    request.send(body);
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
      // The history replayed on page load is already in the page's state; later events are news.
      if (this.negotiation && this.initialised && frame.kind === "system" && frame.event &&
          (frame.event.type === "offer" || frame.event.type === "blind_bid")) {
        this.negotiation.refresh();
      }
    } else if (this.negotiation && (frame.type === "done" || (frame.type === "error" && !frame.client_id && this.negotiation.waiting))) {
      this.negotiation.answered(frame);
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
    if (frame.attachment) { this.showAttachment(item, frame.attachment); }
    if (mine && this.isCaucus && (frame.kind === "text" || frame.kind === "file")) { this.offerRelease(item, frame); }
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

  /* A file message: its name (as text) as the download link, and its size. */
  Room.prototype.showAttachment = function (item, attachment) {
    var body = item.querySelector(".body");
    body.textContent = "";
    var link = document.createElement("a");
    link.className = "attachment";
    link.href = attachment.url;
    link.setAttribute("download", "");
    link.textContent = attachment.name;
    var size = document.createElement("span");
    size.className = "size";
    size.textContent = " (" + formatSize(attachment.size) + ")";
    body.appendChild(link);
    body.appendChild(size);
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

  /* Offers and blind bidding in the joint room. The server's state (the view's json_script, then
   * the JSON endpoint each time a system message says an offer or round changed) is redrawn whole;
   * actions go over the joint room's socket. 在线调解规则 Art 18: a sealed figure is sent once and
   * never shown, not even back to its own side; the state never contains one. */
  function Negotiation(room, box, state) {
    this.room = room;
    this.box = box;
    this.state = state;
    this.url = root.getAttribute("data-negotiation-url");
    this.list = box.querySelector("[data-offers]");
    this.error = box.querySelector("[data-negotiation-error]");
    this.offerBox = box.querySelector("[data-offer-box]");
    this.offerForm = box.querySelector("[data-offer-form]");
    this.rows = box.querySelector("[data-instalment-rows]");
    this.rowTemplate = box.querySelector("[data-instalment-template]");
    this.roundLine = box.querySelector("[data-round]");
    this.openForm = box.querySelector("[data-open-bidding]");
    this.cancelRound = box.querySelector("[data-cancel-round]");
    this.bidForm = box.querySelector("[data-bid-form]");
    this.bidSent = box.querySelector("[data-bid-sent]");
    this.counterTo = null;
    this.waiting = false;
    this.bind();
    this.draw();
  }

  Negotiation.prototype.send = function (frame) {
    var room = this.room;
    if (!room.open || !room.ready) { this.showError(labels.not_connected); return false; }
    this.error.hidden = true;
    this.waiting = true;
    room.socket.send(JSON.stringify(frame));
    return true;
  };

  Negotiation.prototype.answered = function (frame) {
    this.waiting = false;
    if (frame.type === "error") {
      this.showError(frame.message);
      return;
    }
    if (frame.action === "offer") {
      this.offerForm.reset();
      this.rows.textContent = "";
      this.setCounter(null);
      this.offerBox.open = false;
    } else if (frame.action === "bid") {
      this.bidSent.textContent = labels.bid_sent;
      this.bidSent.hidden = false;
    }
    this.refresh();
  };

  Negotiation.prototype.showError = function (message) {
    this.error.textContent = message;
    this.error.hidden = false;
  };

  Negotiation.prototype.bind = function () {
    var self = this;
    this.box.querySelector("[data-add-instalment]").addEventListener("click", function () { self.addRow(); });
    this.box.querySelector("[data-cancel-counter]").textContent = labels.cancel_counter;
    this.box.querySelector("[data-cancel-counter]").addEventListener("click", function () { self.setCounter(null); });
    this.offerForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var frame = { type: "offer", terms: self.readTerms() };
      if (self.counterTo) { frame.counter_to = self.counterTo; }
      self.send(frame);
    });
    if (this.openForm) {
      this.openForm.addEventListener("submit", function (event) {
        event.preventDefault();
        self.send({ type: "open_bidding", agreed_gap: self.openForm.elements.agreed_gap.value.trim() || "0" });
      });
      this.cancelRound.textContent = labels.cancel_round;
      this.cancelRound.addEventListener("click", function () {
        if (self.state.round) { self.send({ type: "cancel_bidding", round: self.state.round.number }); }
      });
    }
    if (this.bidForm) {
      this.bidForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var input = self.bidForm.elements.figure;
        var figure = input.value.trim();
        input.value = "";  // gone from the page the moment it is sent
        if (figure && self.state.round) { self.send({ type: "bid", round: self.state.round.number, figure: figure }); }
      });
    }
  };

  Negotiation.prototype.addRow = function (values) {
    var row = this.rowTemplate.content.firstElementChild.cloneNode(true);
    if (values) {
      row.querySelector("[name=due_date]").value = values.due_date;
      row.querySelector("[name=instalment_amount]").value = values.amount;
    }
    row.querySelector("[data-remove-instalment]").addEventListener("click", function () { row.remove(); });
    this.rows.appendChild(row);
  };

  Negotiation.prototype.readTerms = function () {
    var form = this.offerForm.elements;
    var instalments = [];
    var rows = this.rows.querySelectorAll("li");
    for (var i = 0; i < rows.length; i++) {
      var due = rows[i].querySelector("[name=due_date]").value;
      var amount = rows[i].querySelector("[name=instalment_amount]").value.trim();
      if (due || amount) { instalments.push({ due_date: due, amount: amount }); }
    }
    var waivers = form.waivers.value.split("\n").map(function (line) { return line.trim(); })
      .filter(function (line) { return line; });
    return { amount: form.amount.value.trim(), instalments: instalments, waivers: waivers, other_terms: form.other_terms.value };
  };

  /* Counter an offer: the form opens with its terms to change. */
  Negotiation.prototype.setCounter = function (offer) {
    var note = this.box.querySelector("[data-countering]");
    this.counterTo = offer ? offer.number : null;
    note.hidden = !offer;
    if (!offer) { return; }
    this.box.querySelector("[data-countering-text]").textContent = fill(labels.countering, { number: offer.number });
    var form = this.offerForm.elements;
    form.amount.value = offer.terms.amount;
    form.waivers.value = offer.terms.waivers.join("\n");
    form.other_terms.value = offer.terms.other_terms;
    this.rows.textContent = "";
    for (var i = 0; i < offer.terms.instalments.length; i++) { this.addRow(offer.terms.instalments[i]); }
    this.offerBox.open = true;
    form.amount.focus();
  };

  Negotiation.prototype.refresh = function () {
    var self = this;
    window.fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) { if (state) { self.state = state; self.draw(); } })
      .catch(function () { /* the next event or reconnect refreshes again */ });
  };

  Negotiation.prototype.draw = function () {
    this.drawOffers();
    this.drawRound();
  };

  Negotiation.prototype.drawOffers = function () {
    var self = this;
    var offers = this.state.offers;
    this.list.textContent = "";
    if (!offers.length) {
      var none = document.createElement("li");
      none.className = "help";
      none.textContent = labels.no_offers;
      this.list.appendChild(none);
      return;
    }
    offers.slice().reverse().forEach(function (offer) { self.list.appendChild(self.offerItem(offer)); });
  };

  function line(parent, className, text) {
    var element = document.createElement("p");
    element.className = className;
    element.textContent = text;
    parent.appendChild(element);
    return element;
  }

  Negotiation.prototype.offerItem = function (offer) {
    var self = this;
    var item = document.createElement("li");
    item.className = "offer offer-" + offer.state;
    item.setAttribute("data-offer", String(offer.number));
    var head = document.createElement("p");
    head.className = "offer-head";
    var title = document.createElement("strong");
    title.textContent = fill(labels.offer_title, { number: offer.number }) +
      (offer.counter_to ? fill(labels.counter_of, { number: offer.counter_to }) : "");
    var badge = document.createElement("span");
    badge.className = "badge offer-state";
    badge.setAttribute("data-offer-state", offer.state);
    badge.textContent = labels["offer_state_" + offer.state] || offer.state;
    head.appendChild(title);
    head.appendChild(document.createTextNode(" "));
    head.appendChild(badge);
    item.appendChild(head);
    line(item, "help", fill(labels.proposed_by, { name: offer.proposed_by }) + " · " + (labels["side_" + offer.side] || offer.side));
    line(item, "offer-amount", fill(labels.amount, { amount: offer.terms.amount }));
    offer.terms.instalments.forEach(function (row, index) {
      line(item, "offer-line", fill(labels.instalment, { n: index + 1, date: row.due_date, amount: row.amount }));
    });
    offer.terms.waivers.forEach(function (text) { line(item, "offer-line", fill(labels.waiver, { text: text })); });
    if (offer.terms.other_terms) { line(item, "offer-line", fill(labels.other_terms, { text: offer.terms.other_terms })); }
    if (offer.state === "open" && offer.accepted_sides.length) { line(item, "help", labels.waiting_other); }
    var actions = document.createElement("p");
    actions.className = "button-row offer-actions";
    this.actionsFor(offer).forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = action === "accept" ? "primary" : "button";
      button.setAttribute("data-action", action);
      button.textContent = labels[action];
      button.addEventListener("click", function () { self.act(action, offer); });
      actions.appendChild(button);
    });
    if (actions.childNodes.length) { item.appendChild(actions); }
    return item;
  };

  /* What the viewer may do with an offer (the server decides again). */
  Negotiation.prototype.actionsFor = function (offer) {
    var side = this.state.side;
    if (offer.state !== "open" || !this.state.mediating) { return []; }
    if (offer.side === side) { return ["withdraw"]; }
    if (side === "mediator") { return []; }
    if (offer.accepted_sides.indexOf(side) !== -1) { return []; }
    return ["accept", "reject", "counter"];
  };

  Negotiation.prototype.act = function (action, offer) {
    if (action === "counter") { this.setCounter(offer); return; }
    if (action === "withdraw") { this.send({ type: "withdraw_offer", offer: offer.number }); return; }
    this.send({ type: "answer_offer", offer: offer.number, accept: action === "accept" });
  };

  Negotiation.prototype.drawRound = function () {
    var round = this.state.round;
    var open = Boolean(round && round.state === "open");
    this.roundLine.textContent = "";
    if (round) {
      line(this.roundLine, "round-title", fill(labels.round_title, { number: round.number }));
      line(this.roundLine, "help", fill(labels.round_gap, { gap: round.agreed_gap }));
      var outcome = {
        open: labels.round_open,
        settled: fill(labels.round_settled, { amount: round.settled_amount }),
        no_overlap: labels.round_no_overlap,
        cancelled: labels.round_cancelled
      }[round.state];
      line(this.roundLine, "round-outcome", outcome).setAttribute("data-round-state", round.state);
      if (open && round.submitted.length) {
        var sides = round.submitted.map(function (side) { return labels["side_" + side] || side; }).join("、");
        line(this.roundLine, "help", fill(labels.round_submitted, { sides: sides }));
      }
    }
    if (this.openForm) {
      this.openForm.hidden = open || !this.state.mediating;
      this.cancelRound.hidden = !open;
    }
    if (this.bidForm) { this.bidForm.hidden = !open || !this.state.mediating; }
    if (!open) { this.bidSent.hidden = true; }
  };

  var panels = root.querySelectorAll("section[data-room]");
  for (var i = 0; i < panels.length; i++) {
    var room = new Room(panels[i]);
    rooms[room.id] = room;
  }
  var negotiationBox = root.querySelector("[data-negotiation]");
  if (negotiationBox) {
    var jointRoom = rooms[negotiationBox.closest("section[data-room]").getAttribute("data-room")];
    var initial = JSON.parse(document.getElementById("negotiation-state").textContent);
    jointRoom.negotiation = new Negotiation(jointRoom, negotiationBox, initial);
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
