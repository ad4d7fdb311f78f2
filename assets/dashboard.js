/* The dashboard's browser side: one clientside namespace ("heatmap") and keyboard shortcuts. */
(function () {
  "use strict";

  function fixed(value, places) {
    return typeof value === "number" ? value.toFixed(places) : "";
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    heatmap: {
      /* The auto-refresh switch: off pauses the dcc.Interval. */
      pauseRefresh: function (on) {
        return !on;
      },
      /* The root's class names the view shown; CSS shows that view and hides the others. */
      showView: function (view) {
        return "hm-app show-" + (view || "estimated");
      },
      strengthLabel: function (dragging, value) {
        return fixed(dragging === undefined || dragging === null ? value : dragging, 2);
      },
      thresholdLabel: function (dragging, value) {
        var v = dragging === undefined || dragging === null ? value : dragging;
        return typeof v === "number" ? fixed(v, 0) + " %" : "";
      },
      distanceLabel: function (dragging, value) {
        var v = dragging === undefined || dragging === null ? value : dragging;
        return typeof v === "number" ? fixed(v, 1) + " %" : "";
      },
    },
  });

  /* Keyboard: "/" opens the symbol search; 1-5 pick a view. Typing while the symbol list is
     open goes to its search box (Dash's dropdown focuses the selected option on open). */
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.isContentEditable) && target.type !== "radio" && target.type !== "checkbox";
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var search = document.querySelector(".dash-dropdown-content .dash-dropdown-search");
    if (search && document.activeElement !== search && event.key.length === 1 &&
        !typing(document.activeElement)) {
      search.focus();
      return; /* the key's default action now types into the search box */
    }
    if (typing(event.target) || search) {
      return;
    }
    if (event.key === "/") {
      var trigger = document.getElementById("symbol");
      if (trigger) {
        event.preventDefault();
        trigger.click();
      }
    } else if (event.key >= "1" && event.key <= "5") {
      var options = document.querySelectorAll("#view input[type=radio]");
      var option = options[Number(event.key) - 1];
      if (option) {
        option.click();
      }
    }
  });
})();
