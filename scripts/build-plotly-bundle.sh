#!/usr/bin/env bash
# Rebuilds the page's plotly.js: only the trace types the dashboard draws, minified.
#   scripts/build-plotly-bundle.sh
# Needs Node (>= 18) and npm with access to the npm registry. Installs plotly.js and esbuild at
# the pinned versions into a temporary folder (never into the repository), bundles
# plotly.js/lib/core (scatter and every layout component) with the bar, candlestick and heatmap
# traces, and writes assets/vendor/plotly-bar-candlestick-heatmap-<version>.min.js with plotly's
# LICENSE beside it; the third-party licence notices stay at the end of the bundle.
# Traces: heatmap bands and the liquidation map (bar), time x price (candlestick, scatter), the
# estimated heatmap (heatmap, drawn under the candles). A new trace type in a figure needs its
# module added to TRACES here, and a rebuild.
set -euo pipefail
PLOTLY_VERSION=4.1.1
ESBUILD_VERSION=0.28.2
TRACES=(bar candlestick heatmap)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/assets/vendor"
name="plotly-$(IFS=-; echo "${TRACES[*]}")-$PLOTLY_VERSION"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
  "plotly.js@$PLOTLY_VERSION" "esbuild@$ESBUILD_VERSION" >/dev/null

{
  echo "'use strict';"
  echo "var Plotly = require('plotly.js/lib/core');"
  echo "Plotly.register(["
  for trace in "${TRACES[@]}"; do echo "  require('plotly.js/lib/$trace'),"; done
  echo "]);"
  echo "module.exports = Plotly;"
} >entry.js

cat >build.js <<EOF
require('esbuild').build({
  entryPoints: ['entry.js'],
  outfile: 'bundle.min.js',
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'Plotly',
  target: 'es2016',
  legalComments: 'eof',
  // as plotly.js's own esbuild-config.js
  define: {global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false'},
  banner: {js: '/* plotly.js v$PLOTLY_VERSION (MIT), traces: scatter ${TRACES[*]}; ' +
    'built by scripts/build-plotly-bundle.sh */'},
  footer: {js: 'window.Plotly = Plotly;'},
  logLevel: 'warning',
}).catch(() => process.exit(1));
EOF
node build.js

rm -f "$vendor"/plotly-*.min.js "$vendor"/plotly-*.LICENSE.txt
cp bundle.min.js "$vendor/$name.min.js"
cp node_modules/plotly.js/LICENSE "$vendor/$name.LICENSE.txt"
echo "wrote assets/vendor/$name.min.js ($(wc -c <"$vendor/$name.min.js") bytes)"
