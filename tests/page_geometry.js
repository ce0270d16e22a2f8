// A function of one argument, called in a report or index page once its charts are drawn (tests/test_report.py):
// the page's own geometry (getBoundingClientRect), and what is wrong with it: {width, problems: [...], counts}.
//   - nothing sticks out of the viewport sideways, and the page does not scroll sideways;
//   - a table wider than its box scrolls inside the box (the box itself stays within the page), and only where
//     the argument `tablesMayScroll` allows it (a phone); on a desktop every table fits its box;
//   - no heading, table cell, card, chart title, legend, tick label or toolbar overlaps another of them;
//   - no text overflows its own element (a word wider than its cell or card);
//   - a chart's titles, legend, tick labels and toolbar lie inside the chart's box.
(function (tablesMayScroll) {
  function box(el) {
    var r = el.getBoundingClientRect();
    return {left: r.left + scrollX, right: r.right + scrollX, top: r.top + scrollY, bottom: r.bottom + scrollY,
            width: r.width, height: r.height};
  }
  function name(el) {
    var text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    var cls = typeof el.className === 'string' ? el.className : (el.className && el.className.baseVal) || '';
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls.split(' ').join('.') : '') +
      (text ? ' "' + text + '"' : '');
  }
  function overlap(a, b) {
    var x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    var y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return x > 1 && y > 1;
  }
  function visible(el) {
    var r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    for (var e = el; e && e.nodeType === 1; e = e.parentNode) {
      var s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
    }
    return true;
  }
  function shown(el) {  // the part of its box that its scrolling boxes do not hide, or null
    var b = box(el);
    for (var e = el.parentElement; e; e = e.parentElement) {
      var s = getComputedStyle(e);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      var c = box(e);
      b = {left: Math.max(b.left, c.left), right: Math.min(b.right, c.right), top: Math.max(b.top, c.top),
           bottom: Math.min(b.bottom, c.bottom)};
      if (b.right - b.left < 1 || b.bottom - b.top < 1) return null;
    }
    return b;
  }
  function scroller(el) {  // the nearest box that scrolls sideways, or null
    for (var e = el.parentElement; e; e = e.parentElement) {
      var s = getComputedStyle(e).overflowX;
      if (s === 'auto' || s === 'scroll') return e;
    }
    return null;
  }
  function check() {
    var problems = [], width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) {
      problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' px wide in ' + width);
    }
    // the page's own text: headings, paragraphs, cards, the verdict, table cells (the first rows of long lists)
    var items = [];
    document.querySelectorAll('h1, h2, h3, h4, nav a, p, li, .card, .verdict, .window-switch button, .key, ' +
                              '.scroll, table').forEach(function (el) { if (visible(el)) items.push(el); });
    document.querySelectorAll('table').forEach(function (t) {
      Array.prototype.slice.call(t.rows, 0, 40).forEach(function (row) {
        Array.prototype.forEach.call(row.cells, function (c) { if (visible(c)) items.push(c); });
      });
    });
    items.forEach(function (el) {
      var b = box(el), inside = scroller(el);
      if (inside) {
        var s = box(inside);
        if (s.left < -1 || s.right > width + 1) problems.push(name(inside) + ' sticks out of the page');
      } else if (b.left < -1 || b.right > width + 1) {
        problems.push(name(el) + ' sticks out of the page: ' + Math.round(b.left) + '..' + Math.round(b.right) +
                      ' of ' + width);
      }
      var s = getComputedStyle(el);
      if (el.tagName !== 'TABLE' && !el.classList.contains('scroll') && s.overflowX === 'visible' &&
          el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
        problems.push(name(el) + ' overflows its own box: ' + el.scrollWidth + ' px of text in ' + el.clientWidth);
      }
    });
    // a table's box holds it, or scrolls; wider than its box only where the box scrolls
    document.querySelectorAll('.scroll').forEach(function (s) {
      var o = getComputedStyle(s).overflowX;
      if (s.scrollWidth > s.clientWidth + 1 && (!tablesMayScroll || (o !== 'auto' && o !== 'scroll'))) {
        problems.push(name(s) + ' is wider than its box: ' + s.scrollWidth + ' px in ' + s.clientWidth);
      }
    });
    // the charts: titles, legends, tick labels, buttons and the toolbar, each inside the chart's box
    var marks = [];
    document.querySelectorAll('.js-plotly-plot').forEach(function (plot, n) {
      var frame = box(plot.closest('.chart') || plot);
      plot.querySelectorAll('.gtitle, .legend, .annotation, .updatemenu-button, .modebar, .xtick text, .ytick text, ' +
                             '.g-xtitle, .g-ytitle').forEach(function (el) {
        if (!visible(el) && !el.classList.contains('modebar')) return;
        var b = box(el);
        if (b.width < 1) return;
        if (b.left < frame.left - 1 || b.right > frame.right + 1 || b.top < frame.top - 1 ||
            b.bottom > frame.bottom + 1) {
          problems.push('chart ' + (plot.id || n) + ': ' + name(el) + ' outside the chart');
        }
        marks.push({el: el, box: b, chart: plot.id || String(n)});
      });
    });
    // nothing overlaps: the page's text with itself (except what holds what), the charts' marks with each other
    var boxes = items.map(function (el) { return {el: el, box: shown(el)}; })
      .filter(function (b) { return b.box; }).concat(marks);
    boxes.sort(function (a, b) { return a.box.top - b.box.top; });
    for (var i = 0; i < boxes.length; i++) {
      for (var j = i + 1; j < boxes.length && boxes[j].box.top < boxes[i].box.bottom; j++) {
        var a = boxes[i], b = boxes[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        if (a.chart !== b.chart && (a.chart || b.chart)) continue;  // a chart's marks against its own only
        if (overlap(a.box, b.box)) problems.push(name(a.el) + ' overlaps ' + name(b.el));
      }
    }
    var counts = {charts: document.querySelectorAll('.js-plotly-plot .main-svg').length,
                  legends: document.querySelectorAll('.js-plotly-plot .legend').length,
                  modebars: document.querySelectorAll('.js-plotly-plot .modebar').length, items: items.length};
    return {width: width, problems: problems, counts: counts};
  }
  return check();
})
