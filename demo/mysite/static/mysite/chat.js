// The demo's chat: one WebSocket to /ws/chat/lobby/ through nginx, ws: or wss:
// as the page was loaded. The server names the process holding this socket in
// its first frame ("hello") and, on each message, the process that sent it.
"use strict";

(function () {
  const status = document.getElementById("chat-status");
  const socketInfo = document.getElementById("chat-socket");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const send = document.getElementById("chat-send");
  const log = document.getElementById("chat-log");
  if (!form) {
    return;  // the deployment serves no WebSockets
  }
  const url = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/ws/chat/lobby/";
  let socket = null;

  function show(text, kind) {
    const item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
  }

  function connect() {
    socket = new WebSocket(url);
    window.demoChatSocket = socket;
    socket.addEventListener("message", function (event) {
      const frame = JSON.parse(event.data);
      if (frame.type === "hello") {
        status.textContent = "connected";
        status.dataset.pid = frame.pid;
        socketInfo.textContent = "(" + url.split(":")[0] + ", held by pid " + frame.pid + ")";
        send.disabled = false;
      } else if (frame.type === "message") {
        show(frame.message + " (sent through pid " + frame.sender_pid + ", delivered by pid " + frame.pid + ")", "message");
      }
    });
    socket.addEventListener("close", function () {
      status.textContent = "disconnected, retrying";
      send.disabled = true;
      setTimeout(connect, 2000);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (input.value && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(input.value);
      input.value = "";
    }
  });

  connect();
}());
