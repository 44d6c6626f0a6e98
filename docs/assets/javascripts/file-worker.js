/* A stand-in for `Worker` on pages opened from file://.
 *
 * Browsers refuse `new Worker(url)` when the page is a file, so the theme's search
 * worker would never start and the search box would stay at "Initializing search".
 * This runs the worker script in a hidden same-origin iframe instead and carries the
 * messages between the two windows. It replaces `Worker` only for file:// pages; over
 * http(s) the browser's own workers are used. Loaded from the site itself (see
 * mkdocs_hooks.py), so the offline site fetches nothing from the network.
 */
(function () {
  "use strict";
  if (location.protocol !== "file:") {
    return;
  }

  /* Runs inside the frame: load scripts one after the other (the search worker awaits
   * the result of importScripts, so a promise is enough). */
  function frameImportScripts() {
    var urls = Array.prototype.slice.call(arguments);
    return urls.reduce(function (done, url) {
      return done.then(function () {
        return new Promise(function (resolve, reject) {
          var script = document.createElement("script");
          script.src = url;
          script.onload = resolve;
          script.onerror = function () { reject(new Error("cannot load " + url)); };
          document.body.appendChild(script);
        });
      });
    }, Promise.resolve());
  }

  function FrameWorker(url) {
    var target = new EventTarget();
    var self = this;
    var frame = document.createElement("iframe");
    this.url = String(url);
    this.onmessage = null;
    this.onerror = null;
    frame.hidden = true;
    document.body.appendChild(frame);
    this._frame = frame;

    this.addEventListener = target.addEventListener.bind(target);
    this.removeEventListener = target.removeEventListener.bind(target);
    this.dispatchEvent = target.dispatchEvent.bind(target);

    this._onWindowMessage = function (event) {
      if (event.source !== frame.contentWindow) {
        return;
      }
      var message = new MessageEvent("message", { data: event.data });
      self.dispatchEvent(message);
      if (typeof self.onmessage === "function") {
        self.onmessage(message);
      }
    };
    window.addEventListener("message", this._onWindowMessage);

    /* The frame's own postMessage and importScripts must be defined in the frame, so
     * that its messages come from the frame's window: they are written in as source. */
    var prelude =
      "postMessage = function (data) { parent.postMessage(data, '*'); };" +
      "importScripts = " + frameImportScripts.toString() + ";" +
      "addEventListener('error', function (event) {" +
      "  if (frameElement && frameElement.onWorkerError) {" +
      "    frameElement.onWorkerError(event.message, event.error);" +
      "  }" +
      "});";
    frame.onWorkerError = function (text, cause) {
      var error = new ErrorEvent("error", { message: text, filename: self.url, error: cause });
      self.dispatchEvent(error);
      if (typeof self.onerror === "function") {
        self.onerror(error);
      }
    };
    var win = frame.contentWindow;
    var doc = win.document;
    doc.open();
    doc.write("<!doctype html><html><body><script>" + prelude + "<\/script>" +
      "<script src=\"" + this.url.replace(/"/g, "&quot;") + "\"><\/script></body></html>");
    doc.close();
    this._ready = new Promise(function (resolve) {
      win.onload = resolve;
    });
  }

  FrameWorker.prototype.postMessage = function (data) {
    var frame = this._frame;
    var copy = structuredClone(data);
    this._ready.then(function () {
      if (frame.contentWindow) {
        frame.contentWindow.dispatchEvent(new MessageEvent("message", { data: copy }));
      }
    });
  };

  FrameWorker.prototype.terminate = function () {
    window.removeEventListener("message", this._onWindowMessage);
    this._frame.remove();
  };

  /* The theme's search worker looks for this name to find its language files. */
  window.IFrameWorker = FrameWorker;
  window.Worker = FrameWorker;
})();
